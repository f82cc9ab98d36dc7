//! Reading phone notes: normalise case, punctuation, misspellings and word endings, split into
//! clauses, find phrases (contiguous) and co-occurrences (same clause), and tell when a finding is
//! negated ("no smell of gas", "CO alarm did not go off") in its own clause.

use std::collections::{BTreeMap, HashSet};

use rust_stemmers::{Algorithm, Stemmer};

/// One clause of a note: the words as written and their normalised stems.
#[derive(Debug, Clone)]
pub struct Clause {
    pub words: Vec<String>,
    pub stems: Vec<String>,
}

impl Clause {
    pub fn text(&self) -> String {
        self.words.join(" ")
    }
}

/// A pattern: alternatives of stem sequences per group; every group must occur in one clause.
/// A plain phrase is one group with one alternative.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub groups: Vec<Vec<Vec<String>>>,
}

/// Normalises text the same way for notes and for the rule set's own phrases.
pub struct Normaliser {
    stemmer: Stemmer,
    spelling: BTreeMap<String, String>,
    clause_breaks: HashSet<String>,
    /// Correctly spelt words of the rule set (before stemming), for near-miss spelling repair.
    vocabulary: Vec<String>,
}

/// Shortest word that near-miss spelling repair applies to (shorter words are too alike).
const FUZZY_MIN_LEN: usize = 6;

impl Normaliser {
    pub fn new(spelling: BTreeMap<String, String>, clause_breaks: &[String]) -> Self {
        Self {
            stemmer: Stemmer::create(Algorithm::English),
            spelling,
            clause_breaks: clause_breaks.iter().map(|w| w.to_lowercase()).collect(),
            vocabulary: Vec::new(),
        }
    }

    /// Words that near-misses are repaired to (the rule set's own words).
    pub fn set_vocabulary(&mut self, words: impl IntoIterator<Item = String>) {
        let mut vocabulary: Vec<String> = words.into_iter().filter(|w| w.chars().count() >= FUZZY_MIN_LEN).collect();
        vocabulary.sort();
        vocabulary.dedup();
        self.vocabulary = vocabulary;
    }

    /// Lowercase words with apostrophes dropped ("didn't" → "didnt"), misspellings corrected.
    pub fn words(&self, text: &str) -> Vec<String> {
        let lowered = text.to_lowercase().replace(['\'', '’', '`'], "");
        lowered
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .flat_map(|w| match self.spelling.get(w) {
                Some(fixed) => fixed.split_whitespace().map(str::to_owned).collect::<Vec<_>>(),
                None => vec![self.repair(w)],
            })
            .collect()
    }

    fn repair(&self, word: &str) -> String {
        if word.chars().count() < FUZZY_MIN_LEN || self.vocabulary.binary_search_by(|v| v.as_str().cmp(word)).is_ok() {
            return word.to_owned();
        }
        self.vocabulary
            .iter()
            .find(|v| strsim::damerau_levenshtein(v, word) == 1)
            .cloned()
            .unwrap_or_else(|| word.to_owned())
    }

    pub fn stem(&self, word: &str) -> String {
        self.stemmer.stem(word).into_owned()
    }

    /// The stems of a phrase from the rule set.
    pub fn phrase(&self, phrase: &str) -> Vec<String> {
        self.words(phrase).iter().map(|w| self.stem(w)).collect()
    }

    /// Compiles `"a b|c + d"`: groups joined by `+`, alternatives by `|`.
    pub fn pattern(&self, source: &str) -> Pattern {
        let groups = source.split('+').map(|group| group.split('|').map(|alt| self.phrase(alt)).collect()).collect();
        Pattern { source: source.trim().to_owned(), groups }
    }

    /// Splits a note into clauses at punctuation and at clause-breaking words ("but", "and", …).
    pub fn clauses(&self, text: &str) -> Vec<Clause> {
        let mut clauses = Vec::new();
        for sentence in text.split(['.', ',', ';', ':', '!', '?', '\n', '(', ')']) {
            let mut current = Clause { words: Vec::new(), stems: Vec::new() };
            for word in self.words(sentence) {
                if self.clause_breaks.contains(&word) {
                    if !current.words.is_empty() {
                        clauses.push(std::mem::replace(&mut current, Clause { words: Vec::new(), stems: Vec::new() }));
                    }
                    continue;
                }
                current.stems.push(self.stem(&word));
                current.words.push(word);
            }
            if !current.words.is_empty() {
                clauses.push(current);
            }
        }
        clauses
    }
}

/// Where a pattern matched in a clause: first and one-past-last token of the whole match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

fn find(stems: &[String], needle: &[String]) -> Option<Span> {
    if needle.is_empty() || needle.len() > stems.len() {
        return None;
    }
    (0..=stems.len() - needle.len())
        .find(|&i| stems[i..i + needle.len()] == *needle)
        .map(|i| Span { start: i, end: i + needle.len() })
}

/// Where `pattern` occurs in `clause`, if every group matches.
pub fn match_in(pattern: &Pattern, clause: &Clause) -> Option<Span> {
    let mut span: Option<Span> = None;
    for group in &pattern.groups {
        let found = group.iter().filter_map(|alt| find(&clause.stems, alt)).min_by_key(|s| s.start)?;
        span = Some(match span {
            None => found,
            Some(s) => Span { start: s.start.min(found.start), end: s.end.max(found.end) },
        });
    }
    span
}

/// Whether a match is negated in its clause: a negator shortly before it, or a negating
/// phrase ("did not go off") after it.
pub fn is_negated(
    clause: &Clause,
    span: Span,
    negators: &HashSet<String>,
    window: usize,
    after: &[Vec<String>],
) -> bool {
    let from = span.start.saturating_sub(window);
    let before = clause.stems[from..span.start].iter().any(|s| negators.contains(s));
    let rest = &clause.stems[span.end..];
    before || after.iter().any(|phrase| find(rest, phrase).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normaliser() -> Normaliser {
        let spelling =
            BTreeMap::from([("smel".to_owned(), "smell".to_owned()), ("cu".to_owned(), "consumer unit".to_owned())]);
        let mut n = Normaliser::new(spelling, &["but".to_owned(), "and".to_owned()]);
        n.set_vocabulary(["monoxide".to_owned(), "ceiling".to_owned()]);
        n
    }

    #[test]
    fn words_are_lowercased_corrected_and_expanded() {
        let n = normaliser();
        assert_eq!(n.words("Didn't SMEL the CU!"), vec!["didnt", "smell", "the", "consumer", "unit"]);
        assert_eq!(n.words("carbon monoxcide, celing"), vec!["carbon", "monoxide", "ceiling"]);
        assert_eq!(n.words("heating"), vec!["heating"], "short or unrelated words stay");
    }

    #[test]
    fn plurals_and_verb_forms_share_a_stem() {
        let n = normaliser();
        let pattern = n.pattern("scorch mark");
        let clause = &n.clauses("Scorched marks on the socket")[0];
        assert!(match_in(&pattern, clause).is_some());
    }

    #[test]
    fn clauses_split_at_punctuation_and_break_words() {
        let n = normaliser();
        let texts: Vec<String> =
            n.clauses("no gas yesterday but today gas, again. and more").iter().map(Clause::text).collect();
        assert_eq!(texts, vec!["no gas yesterday", "today gas", "again", "more"]);
    }

    #[test]
    fn negation_is_local_to_its_clause() {
        let n = normaliser();
        let negators: HashSet<String> = ["no", "not"].iter().map(|w| n.stem(w)).collect();
        let after = vec![n.phrase("did not go off")];
        let gas = n.pattern("smell of gas");
        let alarm = n.pattern("co alarm");
        let check = |text: &str, pattern: &Pattern| -> Vec<bool> {
            n.clauses(text)
                .iter()
                .filter_map(|c| match_in(pattern, c).map(|span| is_negated(c, span, &negators, 3, &after)))
                .collect()
        };
        assert_eq!(check("no smell of gas yesterday but strong smell of gas today", &gas), vec![true, false]);
        assert_eq!(check("CO alarm did not go off", &alarm), vec![true]);
        assert_eq!(check("boiler not working and co alarm going off", &alarm), vec![false]);
    }
}
