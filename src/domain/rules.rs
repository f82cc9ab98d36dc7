//! The severity rule set: data, versioned, in `checklists/_severity-rules/v<N>.toml`, checked at
//! load like a checklist template. Text signals say which words point to which grade and hazard.

use std::collections::{BTreeMap, HashSet};

use rustc_hash::FxHashSet;

use serde::Deserialize;

use super::net::Net;
use super::severity::{Hazard, Severity};
use super::text::{self, Clause, Normaliser, Pattern, StemId};

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
    /// Named word lists (the hazard taxonomy's equipment, states and people), used in phrases and
    /// `together` groups as `@name`: `"@gas_appliance + @overheating"`.
    #[serde(default)]
    pub vocabulary: BTreeMap<String, Vec<String>>,
    /// Words that point back to the clause before ("it", "they"): in a clause holding one, the
    /// earlier groups of a `together` may be found in the clause before ("the alarm was fine at
    /// first but it went off twice"). Empty: every clause stands alone.
    #[serde(default)]
    pub refers_back: Vec<String>,
    pub signals: Vec<SignalFile>,
    /// Harmless uses of hazard words: figures of speech ("burning question", "shocking price"),
    /// places and things named after a hazard ("ambulance station", "van alarm"). Phrases only (a
    /// run of words, alternatives with `|` and `@name` allowed), never `+` groups: a group may sit
    /// anywhere in a clause, and blanking it there could blank a real hazard's words. In a clause
    /// holding one, its words are read by no signal, and the clause's other words still are.
    #[serde(default)]
    pub harmless: Vec<String>,
    /// Letters read as a space between words, besides every character that is neither a letter nor
    /// a digit (from v11: `["º"]`, the ordinal sign typed for a degree sign, so "140ºF" reads
    /// "140 f"). Only lowercase letters outside ASCII (see [`text::is_word_break`]).
    #[serde(default)]
    pub word_breaks: Vec<char>,
    /// Innocent causes a note can give for what a danger finding read (from version 21; see
    /// [`ExplainedFile`]).
    #[serde(default)]
    pub explained: Vec<ExplainedFile>,
    /// The statistical safety net under the rules (`fieldproof rules train`), if this version has one.
    #[serde(default)]
    pub net: Option<NetRef>,
}

/// An innocent cause a note gives for what it reports (from version 21): a smoke or CO alarm that
/// chirped for its battery, which was changed, and has been quiet since.
///
/// A danger finding is explained only when every word it read lies inside a `what` or a `reads`
/// phrase of its clause (the alarm and its chirp: never a symptom, smoke from a socket or the
/// battery smoking), its clause names one of `what`, each `by` group is asserted (not denied) in it
/// or in the three clauses after it (the cause, its remedy, the quiet since), and no
/// `unless` phrase occurs anywhere in the note ("went off", "again", "battery out"). An explained
/// finding is a `text.explained` reason pointing to nuisance, not a danger; the statistical net
/// still reads the note, as it reads any note the rules find no danger in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainedFile {
    /// What the explanation is about: phrases (`@name` allowed).
    pub what: Vec<String>,
    /// Besides `what`, the only phrases an explained finding may have read ("chirping", "low battery").
    pub reads: Vec<String>,
    /// The cause, its remedy and what came after, each group told near the finding: groups joined
    /// by `+` (at least two), alternatives by `|`.
    pub by: String,
    /// Phrases that void the explanation anywhere in the note.
    #[serde(default)]
    pub unless: Vec<String>,
}

/// Names the net's file, beside the rule set (`weights = "v5.net.json"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetRef {
    pub weights: String,
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
    /// Whether `after` phrases and harmless uses holding a clause-breaking word ("fitted and
    /// tested") keep a note's clause whole where the note holds them, as signal phrases always do.
    /// From version 9; versions before it leave this off, and such phrases of theirs never match.
    #[serde(default)]
    pub join_after_and_harmless: bool,
    /// Whether, in a note-wide (`anywhere`) pattern, a negator that another part of the pattern
    /// matched ("none of the pull cords … getting through", `pull cord + none + getting through`)
    /// is part of the finding and does not deny its subject. From version 14; earlier versions
    /// leave this off, and such a word before the subject denies it.
    #[serde(default)]
    pub own_words_never_deny: bool,
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
    /// Whether the signal stands for doubt rather than a danger seen: a smell nobody has explained,
    /// "not sure if it's gas" (from version 14). When every danger the rules find is doubtful and
    /// the statistical net finds none either, a person grades the report (triage) instead of the
    /// machine grading it safety-critical.
    #[serde(default)]
    pub doubtful: bool,
    /// Contiguous phrases ("smell of gas").
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Words that must occur together in one clause: `"water|drip + light|socket"`.
    #[serde(default)]
    pub together: Vec<String>,
    /// Words that must occur anywhere in the same note, in any clause: a situation told across
    /// several clauses ("92 years old, on her own, no heating, snow tonight"). The first group is
    /// the subject: it must be asserted somewhere, not only denied.
    #[serde(default)]
    pub anywhere: Vec<String>,
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
    negation: text::Negation,
    /// See `NegationFile::own_words_never_deny`.
    own_words_never_deny: bool,
    refers_back: FxHashSet<StemId>,
    signals: Vec<Signal>,
    /// Raises to safety-critical a note the rules found no danger in, when confident it holds one.
    pub net: Option<Net>,
    /// Every clause pattern as (signal, pattern) in rule order, and its index.
    clause_patterns: Vec<(usize, usize)>,
    clause_index: text::PatternIndex,
    /// Every `anywhere` pattern as (signal, pattern), and its index.
    note_patterns: Vec<(usize, usize)>,
    note_index: text::PatternIndex,
    /// The harmless uses, each blanked out of a clause before the signals read it.
    harmless: text::PatternIndex,
    explanations: Vec<Explanation>,
    /// Every explanation's `what` phrases: a note naming none is read by no explanation.
    explained_what: Phrases,
}

/// Phrases (stem sequences) looked for in a clause, with the first stem of each, sorted: a clause is
/// compared with them only where a word begins one, so most notes, which hold none, are passed
/// over after one look at each word.
struct Phrases {
    phrases: Vec<Vec<StemId>>,
    begins: Vec<StemId>,
}

impl Phrases {
    fn new(mut phrases: Vec<Vec<StemId>>) -> Self {
        phrases.sort_unstable();
        phrases.dedup();
        let mut begins: Vec<StemId> = phrases.iter().filter_map(|p| p.first().copied()).collect();
        begins.dedup();
        Self { phrases, begins }
    }

    /// Whether `stems` hold one of the phrases.
    fn in_clause(&self, stems: &[StemId]) -> bool {
        (0..stems.len()).any(|i| {
            self.begins.binary_search(&stems[i]).is_ok()
                && self.phrases.iter().any(|p| p.first() == Some(&stems[i]) && stems[i..].starts_with(p))
        })
    }
}

/// A compiled [`ExplainedFile`].
struct Explanation {
    /// `by` as written, for the evidence.
    source: String,
    what: Phrases,
    /// `what` and `reads`: the phrases an explained finding's words must lie in.
    reads: Vec<Vec<StemId>>,
    /// One pattern per group of `by`.
    by: Vec<Pattern>,
    unless: Phrases,
}

/// How far after a finding's clause the groups of an explanation may be told: in it or up to three
/// clauses after ("... was chirping. He found it was a low battery, replaced it, and it has been
/// silent since"), never before it (a battery changed in something else, then an alarm beeping).
const EXPLANATION_REACH: usize = 3;

/// Where an explanation holds in a note: per clause, which words lie in its `what` or `reads`
/// phrases and whether the clause names `what`; per `by` group, the clauses asserting it.
struct ExplainedIn {
    covered: Vec<Vec<bool>>,
    names_what: Vec<bool>,
    by: Vec<Vec<bool>>,
}

impl Explanation {
    /// Where this explanation may hold in `clauses` (read before harmless uses are blanked), or
    /// `None` when the note names none of `what`, lacks a `by` group or holds an `unless` phrase.
    fn read(&self, clauses: &[Clause], negation: &text::Negation) -> Option<ExplainedIn> {
        let names_what: Vec<bool> = clauses.iter().map(|c| self.what.in_clause(&c.stems)).collect();
        if !names_what.contains(&true) || clauses.iter().any(|c| self.unless.in_clause(&c.stems)) {
            return None;
        }
        let by: Vec<Vec<bool>> = (self.by.iter())
            .map(|group| {
                (clauses.iter())
                    .map(|c| text::match_in(group, c).is_some_and(|span| !negation.is_negated(c, group, span)))
                    .collect()
            })
            .collect();
        if by.iter().any(|asserted| !asserted.contains(&true)) {
            return None;
        }
        let covered = (clauses.iter())
            .map(|c| {
                let mut covered = vec![false; c.stems.len()];
                for phrase in &self.reads {
                    for span in text::occurrences(&c.stems, phrase) {
                        covered[span.start..span.end].fill(true);
                    }
                }
                covered
            })
            .collect();
        Some(ExplainedIn { covered, names_what, by })
    }
}

impl ExplainedIn {
    /// Whether a finding of `pattern` in `clause` (numbered `at`), whose groups were all found in
    /// that clause (`groups`), is explained. Every place in the clause where any alternative of any
    /// of the pattern's groups occurs must lie in a `what` or `reads` phrase, not only the first
    /// place the finding names: in "the smoke detector battery is smoking" the "smoke" of the
    /// detector is covered, and the "smoking" is not, so nothing is explained.
    fn explains(&self, at: usize, clause: &Clause, pattern: &Pattern, groups: &[text::GroupHit]) -> bool {
        let near = at..=(at + EXPLANATION_REACH).min(self.names_what.len() - 1);
        self.names_what[at]
            && groups.iter().all(Option::is_some)
            && self.by.iter().all(|asserted| asserted[near.clone()].contains(&true))
            && (pattern.groups().iter().flatten()).all(|alternative| {
                text::occurrences(&clause.stems, alternative)
                    .all(|span| self.covered[at][span.start..span.end].iter().all(|&c| c))
            })
    }
}

/// How a pattern was read in its clause: asserted, explained by an innocent cause the note gives,
/// or denied. In this order a signal keeps the first of its patterns read best in a clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reading {
    Asserted,
    Explained(usize),
    Negated,
}

struct Signal {
    rule: String,
    severity: Severity,
    hazard: Option<Hazard>,
    negatable: bool,
    doubtful: bool,
    patterns: Vec<Pattern>,
    anywhere: Vec<Pattern>,
    /// The first group of each `anywhere` pattern alone: the subject that must not only be denied.
    subjects: Vec<Pattern>,
}

/// A text signal found in a note (its rule and pattern borrowed from the rule set).
#[derive(Debug, Clone, PartialEq)]
pub struct TextFinding<'r> {
    pub rule: &'r str,
    pub severity: Severity,
    pub hazard: Option<Hazard>,
    /// The pattern that matched and the clause it matched in.
    pub pattern: &'r str,
    pub clause: String,
    pub negated: bool,
    /// Found by a doubtful signal (see `SignalFile::doubtful`).
    pub doubtful: bool,
    /// The innocent cause the note gives for it (`by` as written), if explained (see
    /// [`ExplainedFile`]); an explained finding is not a danger.
    pub explained_by: Option<&'r str>,
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
        for phrase in file.harmless.iter().filter(|p| p.contains('+') || p.trim().is_empty()) {
            problems.push(format!("harmless `{phrase}`: must be a phrase, without `+` groups"));
        }
        for (from, to) in &file.spelling {
            if from.is_empty() || from.chars().any(|c| !c.is_alphanumeric()) || from.to_lowercase() != *from {
                problems.push(format!("spelling `{from}`: must be one lowercase word"));
            }
            if to.trim().is_empty() {
                problems.push(format!("spelling `{from}`: needs the intended word"));
            }
        }
        for c in file.word_breaks.iter().filter(|c| !text::is_word_break(**c)) {
            problems.push(format!(
                "word_breaks {c:?}: must be a lowercase letter outside ASCII (other characters already \
                 break words, and an ASCII letter would split English words)"
            ));
        }
        for (name, words) in &file.vocabulary {
            if words.is_empty() || words.iter().any(|w| w.trim().is_empty() || w.contains(['+', '|', '@'])) {
                problems.push(format!("vocabulary `{name}`: needs words, each without `+`, `|` or `@`"));
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
            if signal.phrases.is_empty() && signal.together.is_empty() && signal.anywhere.is_empty() {
                problems.push(format!("{at}: needs phrases, together or anywhere"));
            }
            if signal
                .phrases
                .iter()
                .chain(&signal.together)
                .chain(&signal.anywhere)
                .any(|p| p.split(['+', '|']).any(|part| part.trim().is_empty()))
            {
                problems.push(format!("{at}: has an empty phrase or alternative"));
            }
            for unknown in signal
                .phrases
                .iter()
                .chain(&signal.together)
                .chain(&signal.anywhere)
                .flat_map(|p| p.split(['+', '|']))
                .filter_map(|alt| alt.trim().strip_prefix('@'))
                .filter(|name| !file.vocabulary.contains_key(*name))
            {
                problems.push(format!("{at}: `@{unknown}` is not in [vocabulary]"));
            }
            if let Some(h) = signal.hazard
                && h.endangers_people()
                && signal.severity != Severity::SafetyCritical
            {
                problems.push(format!("{at}: a danger to people ({h:?}) must grade safety_critical"));
            }
        }
        for (n, explained) in file.explained.iter().enumerate() {
            let at = format!("explained #{}", n + 1);
            if explained.by.split('+').count() < 2 {
                problems.push(format!("{at}: `by` needs at least two `+` groups (a cause and what came of it)"));
            }
            if explained.what.is_empty() || explained.reads.is_empty() {
                problems.push(format!("{at}: needs `what` and `reads`"));
            }
            let phrases = || explained.what.iter().chain(&explained.reads).chain(&explained.unless);
            if phrases().any(|p| p.contains(['+', '|'])) {
                problems.push(format!("{at}: `what`, `reads` and `unless` hold phrases, without `+` or `|`"));
            }
            let sources = || phrases().chain([&explained.by]);
            if sources().any(|p| p.split(['+', '|']).any(|part| part.trim().is_empty())) {
                problems.push(format!("{at}: has an empty phrase or alternative"));
            }
            // A phrase is matched within one clause: a clause-breaking word in it could never match.
            let breaks = |p: &&String| {
                p.split(['+', '|'])
                    .flat_map(str::split_whitespace)
                    .any(|w| file.negation.clause_breaks.iter().any(|b| b == w))
            };
            if let Some(p) = sources().find(breaks) {
                problems.push(format!("{at}: `{p}` holds a clause-breaking word"));
            }
            for unknown in sources()
                .flat_map(|p| p.split(['+', '|']))
                .filter_map(|alt| alt.trim().strip_prefix('@'))
                .filter(|name| !file.vocabulary.contains_key(*name))
            {
                problems.push(format!("{at}: `@{unknown}` is not in [vocabulary]"));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }

        let expand = |source: &String| expand_vocabulary(source, &file.vocabulary);
        let intended: Vec<String> =
            file.spelling.values().flat_map(|v| v.split_whitespace().map(str::to_owned)).collect();
        let mut normaliser = Normaliser::new(file.spelling.clone(), &file.negation.clause_breaks);
        normaliser.set_word_breaks(&file.word_breaks);
        let vocabulary: Vec<String> = file
            .signals
            .iter()
            .flat_map(|s| s.phrases.iter().chain(&s.together).chain(&s.anywhere))
            .map(expand)
            .flat_map(|p| normaliser.words(&p))
            .chain(intended)
            .collect();
        normaliser.set_vocabulary(vocabulary);
        let negation_and_harmless: Vec<String> = if file.negation.join_after_and_harmless {
            file.negation.after.iter().chain(&file.harmless).cloned().collect()
        } else {
            Vec::new()
        };
        normaliser.set_joined_phrases(
            file.signals
                .iter()
                .flat_map(|s| s.phrases.iter().chain(&s.together).chain(&s.anywhere))
                .chain(&negation_and_harmless)
                .map(expand)
                .flat_map(|p| p.split(['+', '|']).map(|alt| alt.trim().to_owned()).collect::<Vec<_>>()),
        );
        let negators: FxHashSet<StemId> = file.negation.negators.iter().map(|w| normaliser.word_id(w)).collect();
        let after: Vec<Vec<StemId>> = file.negation.after.iter().map(|p| normaliser.phrase(p)).collect();
        // The source stays as written (`@gas_appliance + @heat`), so evidence stays readable.
        let mut compile = |source: &String| normaliser.pattern(&expand(source)).with_source(source);
        let signals = file
            .signals
            .into_iter()
            .map(|s| {
                let anywhere: Vec<Pattern> = s.anywhere.iter().map(&mut compile).collect();
                Signal {
                    patterns: s.phrases.iter().chain(&s.together).map(&mut compile).collect(),
                    subjects: anywhere.iter().map(|p| Pattern::new(&p.source, p.groups()[..1].to_vec())).collect(),
                    anywhere,
                    rule: s.rule,
                    severity: s.severity,
                    hazard: s.hazard,
                    negatable: s.negatable,
                    doubtful: s.doubtful,
                }
            })
            .collect::<Vec<Signal>>();
        let harmless: Vec<Pattern> = file.harmless.iter().map(&mut compile).collect();
        let harmless = text::PatternIndex::new(&harmless);
        let mut explanations = Vec::new();
        for (n, e) in file.explained.iter().enumerate() {
            let by = e.by.split('+').map(|group| normaliser.pattern(&expand(&group.trim().to_owned()))).collect();
            // Each phrase's alternatives, as stems.
            let mut stems_of = |phrase: &String| -> Vec<Vec<StemId>> {
                expand(phrase).split('|').map(|alt| normaliser.phrase(alt)).collect()
            };
            let what: Vec<Vec<StemId>> = e.what.iter().flat_map(&mut stems_of).collect();
            let reads: Vec<Vec<StemId>> = what.iter().cloned().chain(e.reads.iter().flat_map(&mut stems_of)).collect();
            let mut unless = Vec::new();
            for phrase in &e.unless {
                let stems = stems_of(phrase);
                // An `unless` phrase that reads as the words of a `what` phrase ("alarming" stems to
                // "alarm") would void the explanation wherever it could apply.
                if stems.iter().any(|u| what.iter().any(|w| text::occurrences(w, u).next().is_some())) {
                    problems.push(format!("explained #{}: `unless` phrase `{phrase}` reads as a `what` phrase", n + 1));
                }
                unless.extend(stems);
            }
            let (what, unless) = (Phrases::new(what), Phrases::new(unless));
            explanations.push(Explanation { source: e.by.trim().to_owned(), what, reads, by, unless });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let explained_what = Phrases::new(explanations.iter().flat_map(|e| e.what.phrases.iter().cloned()).collect());
        let refers_back = file.refers_back.iter().map(|w| normaliser.word_id(w)).collect();
        let clause_patterns: Vec<(usize, usize)> =
            signals.iter().enumerate().flat_map(|(s, sig)| (0..sig.patterns.len()).map(move |p| (s, p))).collect();
        let note_patterns: Vec<(usize, usize)> =
            signals.iter().enumerate().flat_map(|(s, sig)| (0..sig.anywhere.len()).map(move |p| (s, p))).collect();
        let clause_index = text::PatternIndex::new(clause_patterns.iter().map(|&(s, p)| &signals[s].patterns[p]));
        let note_index = text::PatternIndex::new(note_patterns.iter().map(|&(s, p)| &signals[s].anywhere[p]));
        Ok(Self {
            clause_patterns,
            clause_index,
            note_patterns,
            note_index,
            harmless,
            explanations,
            explained_what,
            version,
            repeat_window_days: file.repeat_window_days,
            essential_services: file.essential_services,
            normaliser,
            negation: text::Negation::new(negators, file.negation.window, after),
            own_words_never_deny: file.negation.own_words_never_deny,
            refers_back,
            signals,
            net: None,
        })
    }

    /// Every signal in `text`, clause by clause; at most one finding per rule and clause (its first
    /// pattern not negated, else its first negated one), then the signals told across clauses.
    pub fn scan(&self, text: &str) -> Vec<TextFinding<'_>> {
        let mut clauses = self.normaliser.clauses(text);
        // An explanation is read in the note as written, before harmless uses are blanked.
        let names_what = clauses.iter().any(|c| self.explained_what.in_clause(&c.stems));
        let explained: Vec<(usize, ExplainedIn)> = if names_what {
            (self.explanations.iter().enumerate())
                .filter_map(|(e, explanation)| explanation.read(&clauses, &self.negation).map(|within| (e, within)))
                .collect()
        } else {
            Vec::new()
        };
        if !self.harmless.is_empty() {
            let mut scratch = self.harmless.scratch();
            for clause in &mut clauses {
                let found = self.harmless.hits(&clause.stems, &mut scratch, text::Found::Whole);
                for (_, groups) in found.iter() {
                    for span in groups.iter().flatten().map(|(span, _)| *span) {
                        clause.stems[span.start..span.end].fill(text::UNKNOWN_STEM);
                    }
                }
            }
        }
        // A clause that refers back reads the patterns it completes with the clause before: both
        // list the patterns only partly found in them, the others only the whole ones.
        let refers_back: Vec<bool> = (clauses.iter().enumerate())
            .map(|(i, c)| i > 0 && c.stems.iter().any(|s| self.refers_back.contains(s)))
            .collect();
        let mut scratch = self.clause_index.scratch();
        let hits: Vec<text::Hits> = (clauses.iter().enumerate())
            .map(|(i, c)| {
                let partly = refers_back[i] || refers_back.get(i + 1).is_some_and(|next| *next);
                let wanted = if partly { text::Found::Any } else { text::Found::Whole };
                self.clause_index.hits(&c.stems, &mut scratch, wanted)
            })
            .collect();
        let mut findings = Vec::new();
        for (i, clause) in clauses.iter().enumerate() {
            let context = if refers_back[i] { Some(&hits[i - 1]) } else { None };
            let may_negate = clause.stems.iter().any(|s| self.negation.may_negate(*s));
            // Per signal (in rule order): its first pattern read best (asserted, else explained,
            // else negated). Kept as (pattern, reading) so the finding's strings are built once, at
            // the end. Patterns are numbered signal by signal in rule order, and `hits` lists them
            // in that order: a signal's entry, once made, is the last in the list.
            let mut found: Vec<(usize, (usize, Reading))> = Vec::new();
            for (id, own) in hits[i].iter() {
                let (s, p) = self.clause_patterns[id as usize];
                if found.last().is_some_and(|&(signal, (_, read))| signal == s && read == Reading::Asserted) {
                    continue;
                }
                let span = text::span_of(own).or_else(|| context.and_then(|c| text::span_with_context(own, c.get(id))));
                let Some(span) = span else { continue };
                let (signal, pattern) = (&self.signals[s], &self.signals[s].patterns[p]);
                let read = if signal.negatable && may_negate && self.negation.is_negated(clause, pattern, span) {
                    Reading::Negated
                } else {
                    // Only a danger is explained, and only from words all read in this clause.
                    let danger = signal.severity == Severity::SafetyCritical;
                    let by = explained.iter().find(|(_, within)| danger && within.explains(i, clause, pattern, own));
                    by.map_or(Reading::Asserted, |&(e, _)| Reading::Explained(e))
                };
                match found.last_mut().filter(|(signal, _)| *signal == s) {
                    None => found.push((s, (p, read))),
                    Some(entry) if read < entry.1.1 => entry.1 = (p, read),
                    Some(_) => {}
                }
            }
            findings.extend(found.into_iter().map(|(s, (p, read))| {
                let signal = &self.signals[s];
                let mut finding =
                    self.finding(signal, &signal.patterns[p], clause.text().to_owned(), read == Reading::Negated);
                if let Reading::Explained(e) = read {
                    finding.explained_by = Some(self.explanations[e].source.as_str());
                }
                finding
            }));
        }
        if self.note_patterns.is_empty() {
            return findings;
        }
        let note_stems: Vec<StemId> = clauses.iter().flat_map(|c| c.stems.iter().copied()).collect();
        let note_hits = self.note_index.hits(&note_stems, &mut self.note_index.scratch(), text::Found::Whole);
        let candidates = note_hits.iter().map(|(id, _)| id);
        for id in candidates {
            let (s, p) = self.note_patterns[id as usize];
            let (signal, pattern) = (&self.signals[s], &self.signals[s].anywhere[p]);
            if findings.iter().any(|f| f.rule == signal.rule && !f.negated && f.explained_by.is_none()) {
                continue;
            }
            // The first part (the subject: a symptom, a person, the electrics) must be asserted
            // somewhere, not only denied ("not near any sockets").
            let subject = &signal.subjects[p];
            let denied = signal.negatable
                && !clauses.iter().any(|c| {
                    text::match_in(subject, c).is_some_and(|span| {
                        let owned = if self.own_words_never_deny {
                            text::group_spans(&pattern.groups()[1..], c)
                        } else {
                            Vec::new()
                        };
                        !self.negation.is_negated_apart_from(c, subject, span, &owned)
                    })
                });
            if !denied {
                let note = clauses.iter().map(Clause::text).collect::<Vec<_>>().join(" / ");
                findings.push(self.finding(signal, pattern, note, false));
            }
        }
        findings
    }

    fn finding<'r>(&self, signal: &'r Signal, pattern: &'r Pattern, clause: String, negated: bool) -> TextFinding<'r> {
        TextFinding {
            rule: &signal.rule,
            severity: signal.severity,
            hazard: signal.hazard,
            pattern: &pattern.source,
            clause,
            negated,
            doubtful: signal.doubtful,
            explained_by: None,
        }
    }
}

/// Replaces each `@name` alternative by the words of that vocabulary list.
fn expand_vocabulary(source: &str, vocabulary: &BTreeMap<String, Vec<String>>) -> String {
    source
        .split('+')
        .map(|group| {
            group
                .split('|')
                .flat_map(|alt| match alt.trim().strip_prefix('@').and_then(|name| vocabulary.get(name)) {
                    Some(words) => words.iter().map(String::as_str).collect::<Vec<_>>(),
                    None => vec![alt.trim()],
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect::<Vec<_>>()
        .join(" + ")
}
