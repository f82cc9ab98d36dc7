//! Judging a rule set on labelled notes: the confusion matrix (expected grade × graded, with triage
//! as its own column), the figures the safety targets are stated in, and every miss with the rules
//! that fired. Used by `fieldproof rules eval` and by the evaluation test.

use serde::Deserialize;

use super::rules::RuleSet;
use super::severity::{Classification, FailureFacts, Severity, classify};

/// A note with the grade a person gave it.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelledNote {
    #[serde(default)]
    pub id: String,
    pub note: String,
    pub expected: Severity,
}

impl LabelledNote {
    /// Reads JSON lines (`{"note", "expected", "id"?}`) or, for any line not starting with `{`,
    /// tab-separated `expected<TAB>note`. Line numbers stand in for missing ids.
    pub fn parse_many(text: &str) -> Result<Vec<Self>, String> {
        let mut notes = Vec::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let mut note: LabelledNote = if line.trim_start().starts_with('{') {
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?
            } else {
                let (expected, note) =
                    line.split_once('\t').ok_or_else(|| format!("line {}: expected<TAB>note", n + 1))?;
                let expected = Severity::parse(expected.trim())
                    .ok_or_else(|| format!("line {}: `{expected}` is not a grade", n + 1))?;
                LabelledNote { id: String::new(), note: note.to_owned(), expected }
            };
            if note.id.is_empty() {
                note.id = format!("line {}", n + 1);
            }
            notes.push(note);
        }
        Ok(notes)
    }
}

/// The grade a note got: a severity, or the triage lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Graded {
    Severity(Severity),
    Triage,
}

impl Graded {
    pub fn of(verdict: &Classification) -> Self {
        if verdict.triage.is_some() { Self::Triage } else { Self::Severity(verdict.severity) }
    }

    fn column(self) -> usize {
        match self {
            Self::Severity(s) => s.rank() as usize,
            Self::Triage => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Severity(s) => s.as_str(),
            Self::Triage => "triage",
        }
    }
}

/// A note graded otherwise than its label.
#[derive(Debug, Clone)]
pub struct Miss {
    pub id: String,
    pub note: String,
    pub expected: Severity,
    pub graded: Graded,
    /// `rule: evidence` for every reason given.
    pub reasons: Vec<String>,
}

/// The scores of one rule set on one set of notes.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub rules_version: String,
    /// Rows: expected nuisance, service-impacting, safety-critical. Columns: the same, then triage.
    pub matrix: [[usize; 4]; 3],
    pub misses: Vec<Miss>,
}

impl Evaluation {
    /// Grades every note's text alone (no failed items, no structured facts).
    pub fn run(notes: &[LabelledNote], rules: &RuleSet) -> Self {
        Self::graded_by(notes, &rules.version, |_, note| classify(&FailureFacts::text(&note.note), rules))
    }

    /// Grades each note (and its index) with `grade`.
    pub fn graded_by(
        notes: &[LabelledNote],
        rules_version: &str,
        mut grade: impl FnMut(usize, &LabelledNote) -> Classification,
    ) -> Self {
        let mut matrix = [[0usize; 4]; 3];
        let mut misses = Vec::new();
        for (i, note) in notes.iter().enumerate() {
            let verdict = grade(i, note);
            let graded = Graded::of(&verdict);
            matrix[note.expected.rank() as usize][graded.column()] += 1;
            if graded != Graded::Severity(note.expected) {
                misses.push(Miss {
                    id: note.id.clone(),
                    note: note.note.clone(),
                    expected: note.expected,
                    graded,
                    reasons: verdict.reasons.iter().map(|r| format!("{}: {}", r.rule, r.evidence)).collect(),
                });
            }
        }
        Self { rules_version: rules_version.to_owned(), matrix, misses }
    }

    pub fn total(&self) -> usize {
        self.matrix.iter().flatten().sum()
    }

    pub fn safety(&self) -> usize {
        self.matrix[2].iter().sum()
    }

    /// Safety-critical notes graded safety-critical.
    pub fn safety_caught(&self) -> usize {
        self.matrix[2][2]
    }

    /// Safety-critical notes graded nuisance or service-impacting without going to triage.
    pub fn safety_missed(&self) -> usize {
        self.matrix[2][0] + self.matrix[2][1]
    }

    pub fn others(&self) -> usize {
        self.total() - self.safety()
    }

    /// Other notes kept below safety-critical (triage is not a grade, so it counts as kept).
    pub fn others_kept_below(&self) -> usize {
        self.others() - self.matrix[0][2] - self.matrix[1][2]
    }

    pub fn triaged(&self) -> usize {
        self.matrix.iter().map(|row| row[3]).sum()
    }

    /// The matrix and the headline figures, as printed by `rules eval` and the evaluation test.
    pub fn report(&self, title: &str) -> String {
        let mut out = format!(
            "{title}: {} notes, rules {}; rows expected, columns graded\n{:>20} {:>10} {:>10} {:>10} {:>10}\n",
            self.total(),
            self.rules_version,
            "",
            "nuisance",
            "service",
            "safety",
            "triage"
        );
        for (expected, row) in Severity::ALL.iter().zip(self.matrix) {
            out += &format!("{:>20} {:>10} {:>10} {:>10} {:>10}\n", expected.as_str(), row[0], row[1], row[2], row[3]);
        }
        out += &format!(
            "safety recall {}/{} ({:.1} %); safety graded below safety-critical without triage: {}; \
             others kept below safety-critical {}/{} ({:.1} %); triage {}/{} ({:.1} %)\n",
            self.safety_caught(),
            self.safety(),
            percent(self.safety_caught(), self.safety()),
            self.safety_missed(),
            self.others_kept_below(),
            self.others(),
            percent(self.others_kept_below(), self.others()),
            self.triaged(),
            self.total(),
            percent(self.triaged(), self.total()),
        );
        out
    }
}

/// `part` of `whole` in per cent (0 for an empty whole).
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { 100.0 * part as f64 / whole as f64 }
}
