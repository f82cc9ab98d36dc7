//! Reading phone notes: normalise case, punctuation, misspellings and word endings, split into
//! clauses, find phrases (contiguous) and co-occurrences (same clause), and tell when a finding is
//! negated ("no smell of gas", "CO alarm did not go off") in its own clause.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rustc_hash::{FxHashMap, FxHashSet};

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
    spelling: FxHashMap<String, String>,
    clause_breaks: FxHashSet<String>,
    /// Correctly spelt words of the rule set (before stemming), for near-miss spelling repair.
    vocabulary: Vec<String>,
    /// The same words, for membership.
    known: FxHashSet<String>,
    /// Every vocabulary word with one letter deleted → the words it came from (indexes into
    /// `vocabulary`): a near miss is found by a few lookups instead of comparing every word.
    deletions: FxHashMap<String, Vec<usize>>,
    /// Rule phrases (as stems) holding a clause-breaking word ("pins and needles", "t and p valve"):
    /// where a note has one, its "and" joins rather than breaks.
    joined: Vec<Vec<String>>,
}

/// Shortest word that near-miss spelling repair applies to (shorter words are too alike).
const FUZZY_MIN_LEN: usize = 5;

/// English words (US and UK spellings) with their stems, worked out once per process. A word on
/// this list is never "repaired": it is what the writer meant, so "blending" never becomes
/// "bleeding" nor "leaving" "leaking". And most words of a note are on it, so they are looked up
/// rather than stemmed.
fn english() -> &'static FxHashMap<&'static str, String> {
    static WORDS: OnceLock<FxHashMap<&'static str, String>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let stemmer = Stemmer::create(Algorithm::English);
        include_str!("words.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|w| (w, stemmer.stem(w).into_owned()))
            .collect()
    })
}

/// Whether `word` is an English word in its own right.
pub fn is_english_word(word: &str) -> bool {
    english().contains_key(word)
}

/// `word` with each one of its letters left out in turn.
fn deletions(word: &str) -> impl Iterator<Item = String> + '_ {
    word.char_indices().map(move |(i, c)| {
        let mut shorter = String::with_capacity(word.len());
        shorter.push_str(&word[..i]);
        shorter.push_str(&word[i + c.len_utf8()..]);
        shorter
    })
}
impl Normaliser {
    pub fn new(spelling: BTreeMap<String, String>, clause_breaks: &[String]) -> Self {
        Self {
            stemmer: Stemmer::create(Algorithm::English),
            spelling: spelling.into_iter().collect(),
            clause_breaks: clause_breaks.iter().map(|w| w.to_lowercase()).collect(),
            vocabulary: Vec::new(),
            known: FxHashSet::default(),
            deletions: FxHashMap::default(),
            joined: Vec::new(),
        }
    }

    /// Rule phrases whose clause-breaking words ("and", "but") must not split a clause where a note
    /// holds the whole phrase ("pins and needles", "green and yellow"). Phrases without one are ignored.
    pub fn set_joined_phrases(&mut self, phrases: impl IntoIterator<Item = String>) {
        let mut joined: Vec<Vec<String>> = phrases
            .into_iter()
            .map(|p| self.words(&p))
            .filter(|words| words.len() > 1 && words.iter().any(|w| self.clause_breaks.contains(w)))
            .map(|words| words.iter().map(|w| self.stem(w)).collect())
            .collect();
        joined.sort();
        joined.dedup();
        self.joined = joined;
    }

    /// Words that near-misses are repaired to (the rule set's own words).
    pub fn set_vocabulary(&mut self, words: impl IntoIterator<Item = String>) {
        let mut vocabulary: Vec<String> = words.into_iter().filter(|w| w.chars().count() >= FUZZY_MIN_LEN).collect();
        vocabulary.sort();
        vocabulary.dedup();
        let mut index: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        for (i, word) in vocabulary.iter().enumerate() {
            for shorter in deletions(word) {
                index.entry(shorter).or_default().push(i);
            }
        }
        self.deletions = index;
        self.known = vocabulary.iter().cloned().collect();
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

    /// A word one edit (a letter added, dropped, changed or two swapped) from exactly the rule
    /// set's words becomes that word, unless it is an English word in its own right. Where several
    /// rule words are one edit away, the first in alphabetical order wins (deterministic).
    fn repair(&self, word: &str) -> String {
        if word.chars().count() < FUZZY_MIN_LEN || self.known.contains(word) || is_english_word(word) {
            return word.to_owned();
        }
        // A possessive or plural of an English word, its apostrophe dropped ("wife's" → "wifes"), is
        // that word, not a near miss of a rule word ("wires").
        if word.strip_suffix('s').is_some_and(is_english_word) {
            return word.to_owned();
        }
        let by_deletion = |w: &str| self.deletions.get(w).into_iter().flatten().copied();
        let exact = |w: &str| self.vocabulary.binary_search_by(|v| v.as_str().cmp(w)).ok();
        let candidates =
            by_deletion(word).chain(deletions(word).flat_map(|d| exact(&d).into_iter().chain(by_deletion(&d))));
        candidates
            .filter(|&i| strsim::damerau_levenshtein(&self.vocabulary[i], word) == 1)
            .min()
            .map_or_else(|| word.to_owned(), |i| self.vocabulary[i].clone())
    }

    pub fn stem(&self, word: &str) -> String {
        match english().get(word) {
            Some(stem) => stem.clone(),
            None => self.stemmer.stem(word).into_owned(),
        }
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

    /// Splits a note into clauses at punctuation and at clause-breaking words ("but", "and", …),
    /// except where a clause-breaking word is part of a rule phrase the note holds ("pins and needles").
    pub fn clauses(&self, text: &str) -> Vec<Clause> {
        let lowered = text.to_lowercase().replace(['\'', '’', '`'], "");
        // Words (corrected, expanded) and `None` for a punctuation stop.
        let mut tokens: Vec<Option<String>> = Vec::new();
        let mut start = None;
        let mut previous = ' ';
        let mut chars = lowered.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c.is_alphanumeric() {
                start.get_or_insert(i);
                previous = c;
                continue;
            }
            if let Some(from) = start.take() {
                self.push_word(&lowered[from..i], &mut tokens);
            }
            // A point between digits ("0.2", "4.1 bar") is part of a number, not the end of a sentence.
            let decimal =
                c == '.' && previous.is_ascii_digit() && chars.peek().is_some_and(|(_, n)| n.is_ascii_digit());
            if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '\n' | '(' | ')') && !decimal {
                tokens.push(None);
            }
            previous = c;
        }
        if let Some(from) = start {
            self.push_word(&lowered[from..], &mut tokens);
        }
        let stems: Vec<Option<String>> = tokens.iter().map(|t| t.as_ref().map(|w| self.stem(w))).collect();
        let mut clauses = Vec::new();
        let mut current = Clause { words: Vec::new(), stems: Vec::new() };
        let breaks: Vec<bool> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| t.as_ref().is_some_and(|w| self.clause_breaks.contains(w)) && !self.joins(&stems, i))
            .collect();
        for ((token, stem), is_break) in tokens.into_iter().zip(stems).zip(breaks) {
            match (token, stem) {
                (Some(word), Some(stem)) if !is_break => {
                    current.stems.push(stem);
                    current.words.push(word);
                }
                _ => close_clause(&mut current, &mut clauses),
            }
        }
        close_clause(&mut current, &mut clauses);
        clauses
    }

    /// Whether the clause-breaking word at `at` stands inside a joined rule phrase.
    fn joins(&self, stems: &[Option<String>], at: usize) -> bool {
        let Some(Some(word)) = stems.get(at) else { return false };
        self.joined.iter().any(|phrase| {
            phrase.iter().enumerate().filter(|(_, s)| *s == word).any(|(k, _)| {
                at >= k
                    && at - k + phrase.len() <= stems.len()
                    && phrase.iter().zip(&stems[at - k..]).all(|(p, s)| s.as_ref() == Some(p))
            })
        })
    }

    /// Adds one lowercase word (corrected, expanded) to the note's tokens.
    fn push_word(&self, word: &str, tokens: &mut Vec<Option<String>>) {
        match self.spelling.get(word) {
            Some(fixed) => tokens.extend(fixed.split_whitespace().map(|w| Some(w.to_owned()))),
            None => tokens.push(Some(self.repair(word))),
        }
    }
}

/// Ends the clause being built (if it has words) and starts an empty one.
fn close_clause(current: &mut Clause, clauses: &mut Vec<Clause>) {
    if !current.words.is_empty() {
        clauses.push(std::mem::replace(current, Clause { words: Vec::new(), stems: Vec::new() }));
    }
}

/// Numbers for the stems the rule set uses, so matching compares numbers, not strings. A stem no
/// rule uses has no number and can match nothing.
#[derive(Debug, Default)]
pub struct StemIds(FxHashMap<String, u32>);

impl StemIds {
    fn intern(&mut self, stem: &str) -> u32 {
        let next = self.0.len() as u32;
        *self.0.entry(stem.to_owned()).or_insert(next)
    }

    /// The numbers of a clause's stems (`u32::MAX` for stems no rule uses).
    pub fn of(&self, stems: &[String]) -> Vec<u32> {
        stems.iter().map(|s| self.0.get(s.as_str()).copied().unwrap_or(u32::MAX)).collect()
    }
}

/// Every alternative of a list of patterns, keyed by its first stem: a clause is matched by looking
/// each of its words up once, instead of trying every alternative of every pattern at every word.
/// An alternative shared by many patterns (a vocabulary list used in several rules) is compared once.
#[derive(Debug, Default)]
pub struct PatternIndex {
    /// One-word alternatives by their stem's number.
    by_first: FxHashMap<u32, Vec<u32>>,
    /// Longer alternatives by the numbers of their first two stems (so most are found without
    /// comparing anything).
    by_pair: FxHashMap<(u32, u32), Vec<u32>>,
    /// Each distinct alternative, and every (pattern, group, alternative) it stands for.
    alternatives: Vec<(Vec<u32>, Vec<PatternGroupAlt>)>,
    /// How many groups each pattern has.
    groups: Vec<usize>,
}

/// (pattern, group, alternative): where one alternative stands in the patterns.
type PatternGroupAlt = (u32, u16, u16);

/// Where each group of one pattern was found first in a clause (`None`: not found).
pub type GroupHits = Vec<Option<(Span, u16)>>;

impl PatternIndex {
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a Pattern>, stem_ids: &mut StemIds) -> Self {
        let mut index = Self::default();
        let mut ids: FxHashMap<Vec<u32>, u32> = FxHashMap::default();
        for (p, pattern) in patterns.into_iter().enumerate() {
            index.groups.push(pattern.groups.len());
            for (g, group) in pattern.groups.iter().enumerate() {
                for (a, alt) in group.iter().enumerate() {
                    let alt: Vec<u32> = alt.iter().map(|stem| stem_ids.intern(stem)).collect();
                    let Some(&first) = alt.first() else { continue };
                    let id = *ids.entry(alt.clone()).or_insert_with(|| {
                        let second = alt.get(1).copied();
                        index.alternatives.push((alt, Vec::new()));
                        let id = (index.alternatives.len() - 1) as u32;
                        match second {
                            None => index.by_first.entry(first).or_default().push(id),
                            Some(second) => index.by_pair.entry((first, second)).or_default().push(id),
                        }
                        id
                    });
                    index.alternatives[id as usize].1.push((p as u32, g as u16, a as u16));
                }
            }
        }
        index
    }

    /// For every pattern with a group found in a clause (its stems' numbers): each group's earliest
    /// occurrence (the first alternative wins a tie), as [`match_in`] would choose it.
    pub fn hits(&self, stems: &[u32]) -> FxHashMap<u32, GroupHits> {
        let mut hits: FxHashMap<u32, GroupHits> = FxHashMap::default();
        for (pos, stem) in stems.iter().enumerate() {
            let singles = self.by_first.get(stem).into_iter().flatten();
            let pairs = stems.get(pos + 1).and_then(|next| self.by_pair.get(&(*stem, *next))).into_iter().flatten();
            for &id in singles.chain(pairs) {
                let (alt, users) = &self.alternatives[id as usize];
                if alt.len() > 2 && (stems.len() - pos < alt.len() || stems[pos + 2..pos + alt.len()] != alt[2..]) {
                    continue;
                }
                let span = Span { start: pos, end: pos + alt.len() };
                for &(p, g, a) in users {
                    let groups = hits.entry(p).or_insert_with(|| vec![None; self.groups[p as usize]]);
                    let slot = &mut groups[g as usize];
                    if slot.is_none_or(|(found, alt)| (pos, a) < (found.start, alt)) {
                        *slot = Some((span, a));
                    }
                }
            }
        }
        hits
    }
}

/// The span of a pattern whose groups were all found.
pub fn span_of(groups: &GroupHits) -> Option<Span> {
    groups.iter().try_fold(None::<Span>, |span, group| {
        let (found, _) = (*group)?;
        Some(Some(match span {
            None => found,
            Some(s) => Span { start: s.start.min(found.start), end: s.end.max(found.end) },
        }))
    })?
}

/// Where a pattern matches when its earlier groups may also be found in the clause before (`context`,
/// "the alarm was fine at first but it went off twice"): the last group must be in the clause itself,
/// and the span covers only the clause's words.
pub fn span_with_context(own: &GroupHits, context: Option<&GroupHits>) -> Option<Span> {
    let ((last, _), earlier) = (own.last().copied().flatten()?, &own[..own.len() - 1]);
    if earlier.is_empty() {
        return None;
    }
    let mut span = last;
    for (g, group) in earlier.iter().enumerate() {
        match group {
            Some((found, _)) => span = Span { start: span.start.min(found.start), end: span.end.max(found.end) },
            None => {
                context?.get(g).copied().flatten()?;
            }
        }
    }
    Some(span)
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

/// Whether a match is negated in its clause: a negator shortly before it, a negator between its
/// parts that the pattern does not itself contain ("water not too hot"), or a negating phrase
/// ("did not go off") after it.
pub fn is_negated(
    clause: &Clause,
    pattern: &Pattern,
    span: Span,
    negators: &FxHashSet<String>,
    window: usize,
    after: &[Vec<String>],
) -> bool {
    let stems = &clause.stems;
    // "no 12" is a house number, not a negation.
    let negates = |at: usize| {
        negators.contains(&stems[at])
            && !(stems[at] == "no" && stems.get(at + 1).is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())))
    };
    let from = span.start.saturating_sub(window);
    let before = (from..span.start).any(negates);
    let own = |stem: &String| pattern.groups.iter().flatten().any(|alt| alt.contains(stem));
    let inside = (span.start..span.end).any(|at| negates(at) && !own(&stems[at]));
    let rest = &clause.stems[span.end..];
    before || inside || after.iter().any(|phrase| find(rest, phrase).is_some())
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
    fn a_rule_phrase_holding_a_break_word_is_not_split() {
        let mut n = normaliser();
        n.set_joined_phrases(["pins and needles".to_owned(), "smell of gas".to_owned()]);
        let texts: Vec<String> =
            n.clauses("pins and needles in my hand and the sink hums").iter().map(Clause::text).collect();
        assert_eq!(texts, vec!["pins and needles in my hand", "the sink hums"]);
        let texts: Vec<String> = n.clauses("pins and the needles").iter().map(Clause::text).collect();
        assert_eq!(texts, vec!["pins", "the needles"], "only the whole phrase joins");
    }

    #[test]
    fn a_possessive_of_an_english_word_is_not_repaired() {
        let spelling = BTreeMap::new();
        let mut n = Normaliser::new(spelling, &[]);
        n.set_vocabulary(["wires".to_owned()]);
        assert_eq!(n.words("my wife's hair dryer"), vec!["my", "wifes", "hair", "dryer"]);
        assert_eq!(n.words("the wirres"), vec!["the", "wires"], "a real near miss is still repaired");
    }

    #[test]
    fn negation_is_local_to_its_clause() {
        let n = normaliser();
        let negators: FxHashSet<String> = ["no", "not"].iter().map(|w| n.stem(w)).collect();
        let after = vec![n.phrase("did not go off")];
        let gas = n.pattern("smell of gas");
        let alarm = n.pattern("co alarm");
        let check = |text: &str, pattern: &Pattern| -> Vec<bool> {
            n.clauses(text)
                .iter()
                .filter_map(|c| match_in(pattern, c).map(|span| is_negated(c, pattern, span, &negators, 3, &after)))
                .collect()
        };
        assert_eq!(check("no smell of gas yesterday but strong smell of gas today", &gas), vec![true, false]);
        assert_eq!(check("CO alarm did not go off", &alarm), vec![true]);
        assert_eq!(check("boiler not working and co alarm going off", &alarm), vec![false]);
        assert_eq!(check("outside no 12 smell of gas", &gas), vec![false], "a house number");
        assert_eq!(check("there is no smell of gas", &gas), vec![true]);
    }
}
