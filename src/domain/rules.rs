//! The severity rule set: data, versioned, in `checklists/_severity-rules/v<N>.toml`, checked at
//! load like a checklist template. Text signals say which words point to which grade and hazard.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::severity::{Hazard, Severity};
use super::text::{self, Clause, Normaliser, Pattern};

/// The rule-set file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetFile {
    /// How far back a failure for the same customer counts as a repeat.
    pub repeat_window_days: u32,
    /// Services whose loss, for a vulnerable occupant, is a danger to health.
    pub essential_services: Vec<String>,
    /// Common misspellings and abbreviations: written form → intended word(s).
    #[serde(default)]
    pub spelling: BTreeMap<String, String>,
    pub negation: NegationFile,
    pub signals: Vec<SignalFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegationFile {
    /// Words that negate what follows them in the same clause ("no", "not", "without").
    pub negators: Vec<String>,
    /// How many words before a finding a negator may stand.
    pub window: usize,
    /// Words that start a new clause, so a negation does not reach past them ("but", "and").
    pub clause_breaks: Vec<String>,
    /// Phrases that negate a finding they follow ("did not go off").
    pub after: Vec<String>,
}

/// One text signal: a rule id, the grade it points to, and the words that fire it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalFile {
    pub rule: String,
    pub severity: Severity,
    #[serde(default)]
    pub hazard: Option<Hazard>,
    /// Whether "no …"/"not …" can cancel this signal (false for signals of doubt: "not sure if gas").
    #[serde(default = "yes")]
    pub negatable: bool,
    /// Contiguous phrases ("smell of gas").
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Words that must occur together in one clause: `"water|drip + light|socket"`.
    #[serde(default)]
    pub together: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A loaded, validated rule set.
pub struct RuleSet {
    /// E.g. `severity-rules/v1`: recorded on every classification.
    pub version: String,
    pub repeat_window_days: u32,
    pub essential_services: Vec<String>,
    normaliser: Normaliser,
    negators: HashSet<String>,
    window: usize,
    after: Vec<Vec<String>>,
    signals: Vec<Signal>,
}

struct Signal {
    rule: String,
    severity: Severity,
    hazard: Option<Hazard>,
    negatable: bool,
    patterns: Vec<Pattern>,
}

/// A text signal found in a note.
#[derive(Debug, Clone, PartialEq)]
pub struct TextFinding {
    pub rule: String,
    pub severity: Severity,
    pub hazard: Option<Hazard>,
    /// The pattern that matched and the clause it matched in.
    pub pattern: String,
    pub clause: String,
    pub negated: bool,
}

impl RuleSet {
    /// Validates and compiles `file`; returns every problem found.
    pub fn compile(version: String, file: RuleSetFile) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if !(1..=6).contains(&file.negation.window) {
            problems.push("negation.window: must be 1 to 6 words".to_owned());
        }
        if file.repeat_window_days == 0 {
            problems.push("repeat_window_days: must be at least 1".to_owned());
        }
        for (from, to) in &file.spelling {
            if from.is_empty() || from.chars().any(|c| !c.is_alphanumeric()) || from.to_lowercase() != *from {
                problems.push(format!("spelling `{from}`: must be one lowercase word"));
            }
            if to.trim().is_empty() {
                problems.push(format!("spelling `{from}`: needs the intended word"));
            }
        }
        let mut seen = HashSet::new();
        for signal in &file.signals {
            let at = format!("signal `{}`", signal.rule);
            if !seen.insert(signal.rule.as_str()) {
                problems.push(format!("{at}: rule id appears more than once"));
            }
            if !signal.rule.starts_with("text.") || signal.rule.len() > 64 {
                problems.push(format!("{at}: rule ids of text signals start with `text.`"));
            }
            if signal.phrases.is_empty() && signal.together.is_empty() {
                problems.push(format!("{at}: needs phrases or together"));
            }
            if signal
                .phrases
                .iter()
                .chain(&signal.together)
                .any(|p| p.split(['+', '|']).any(|part| part.trim().is_empty()))
            {
                problems.push(format!("{at}: has an empty phrase or alternative"));
            }
            if let Some(h) = signal.hazard
                && h.endangers_people()
                && signal.severity != Severity::SafetyCritical
            {
                problems.push(format!("{at}: a danger to people ({h:?}) must grade safety_critical"));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }

        let intended: Vec<String> =
            file.spelling.values().flat_map(|v| v.split_whitespace().map(str::to_owned)).collect();
        let mut normaliser = Normaliser::new(file.spelling, &file.negation.clause_breaks);
        let vocabulary: Vec<String> = file
            .signals
            .iter()
            .flat_map(|s| s.phrases.iter().chain(&s.together))
            .flat_map(|p| normaliser.words(p))
            .chain(intended)
            .collect();
        normaliser.set_vocabulary(vocabulary);
        let negators = file.negation.negators.iter().map(|w| normaliser.stem(&w.to_lowercase())).collect();
        let after = file.negation.after.iter().map(|p| normaliser.phrase(p)).collect();
        let signals = file
            .signals
            .into_iter()
            .map(|s| Signal {
                patterns: s.phrases.iter().chain(&s.together).map(|p| normaliser.pattern(p)).collect(),
                rule: s.rule,
                severity: s.severity,
                hazard: s.hazard,
                negatable: s.negatable,
            })
            .collect();
        Ok(Self {
            version,
            repeat_window_days: file.repeat_window_days,
            essential_services: file.essential_services,
            normaliser,
            negators,
            window: file.negation.window,
            after,
            signals,
        })
    }

    /// Every signal in `text`, clause by clause; at most one finding per rule and clause.
    pub fn scan(&self, text: &str) -> Vec<TextFinding> {
        let clauses = self.normaliser.clauses(text);
        let mut findings = Vec::new();
        for clause in &clauses {
            for signal in &self.signals {
                if let Some(finding) = self.find_signal(signal, clause) {
                    findings.push(finding);
                }
            }
        }
        findings
    }

    fn find_signal(&self, signal: &Signal, clause: &Clause) -> Option<TextFinding> {
        let mut negated_match = None;
        for pattern in &signal.patterns {
            let Some(span) = text::match_in(pattern, clause) else { continue };
            let negated = signal.negatable && text::is_negated(clause, span, &self.negators, self.window, &self.after);
            let finding = TextFinding {
                rule: signal.rule.clone(),
                severity: signal.severity,
                hazard: signal.hazard,
                pattern: pattern.source.clone(),
                clause: clause.text(),
                negated,
            };
            if !negated {
                return Some(finding);
            }
            negated_match.get_or_insert(finding);
        }
        negated_match
    }
}
