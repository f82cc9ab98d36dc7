//! Reading phone notes: normalise case, punctuation, misspellings and word endings, split into
//! clauses, find phrases (contiguous) and co-occurrences (same clause), and tell when a finding is
//! negated ("no smell of gas", "CO alarm did not go off") in its own clause.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rustc_hash::{FxHashMap, FxHashSet};

use rust_stemmers::{Algorithm, Stemmer};

/// A stem's number. Every stem the rule set uses (in patterns, negators, joined phrases, words that
/// refer back) is numbered when the rules are compiled, so matching compares numbers, not strings.
pub type StemId = u32;

/// The number of every stem no rule uses: it can match nothing, so such stems need not be told apart.
pub const UNKNOWN_STEM: StemId = u32::MAX;

/// One clause of a note: its words as read (corrected, expanded, joined by spaces) and the numbers
/// of their stems.
#[derive(Debug, Clone)]
pub struct Clause {
    text: String,
    pub stems: Vec<StemId>,
}

impl Clause {
    pub fn text(&self) -> &str {
        &self.text
    }

    fn push(&mut self, word: &str, stem: StemId) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(word);
        self.stems.push(stem);
    }
}

/// A pattern: alternatives of stem sequences per group; every group must occur in one clause.
/// A plain phrase is one group with one alternative.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    /// Private, so that `stems` always holds the stems of exactly these groups.
    groups: Vec<Vec<Vec<StemId>>>,
    /// Every stem of every alternative, sorted, once each: whether a word belongs to the pattern
    /// is a binary search, not a walk through every alternative of a long vocabulary list.
    stems: Vec<StemId>,
}

impl Pattern {
    pub fn new(source: &str, groups: Vec<Vec<Vec<StemId>>>) -> Self {
        let mut stems: Vec<StemId> = groups.iter().flatten().flatten().copied().collect();
        stems.sort_unstable();
        stems.dedup();
        Self { source: source.trim().to_owned(), groups, stems }
    }

    /// The same groups, written as `source` (the rule's text, e.g. `@gas_appliance + @heat`, rather
    /// than the expanded alternatives the groups were compiled from).
    pub fn with_source(self, source: &str) -> Self {
        Self { source: source.trim().to_owned(), ..self }
    }

    /// Alternatives of stem sequences per group; every group must occur in one clause.
    pub fn groups(&self) -> &[Vec<Vec<StemId>>] {
        &self.groups
    }

    /// Whether any alternative of any group holds `stem`.
    pub fn holds(&self, stem: StemId) -> bool {
        self.stems.binary_search(&stem).is_ok()
    }
}

/// Normalises text the same way for notes and for the rule set's own phrases.
pub struct Normaliser {
    stemmer: Stemmer,
    spelling: FxHashMap<String, String>,
    clause_breaks: FxHashSet<String>,
    /// Correctly spelt words of the rule set (before stemming), for near-miss spelling repair.
    vocabulary: Vec<String>,
    /// The same words → their places in `vocabulary`.
    known: FxHashMap<String, usize>,
    /// Every vocabulary word with one letter deleted → the words it came from (indexes into
    /// `vocabulary`): a near miss is found by a few lookups instead of comparing every word.
    deletions: FxHashMap<String, Vec<usize>>,
    /// Rule phrases (as stems) holding a clause-breaking word ("pins and needles", "t and p valve"):
    /// where a note has one, its "and" joins rather than breaks.
    joined: Vec<Vec<StemId>>,
    /// Each stem of a joined phrase → the phrases holding it and where (phrase, place), so that a
    /// clause-breaking word is compared only with the phrases that hold it.
    joined_at: FxHashMap<StemId, Vec<(usize, usize)>>,
    /// The numbers of the rule set's stems (see [`StemId`]).
    stem_ids: FxHashMap<String, StemId>,
    /// The numbers of the stems of English and short words, worked out at the first note read
    /// (once every rule stem is numbered); numbering a stem clears them.
    known_stems: OnceLock<KnownStems>,
    /// Letters read as a space (lowercase), besides every character that is neither a letter nor
    /// a digit: see [`Normaliser::set_word_breaks`].
    word_breaks: Vec<char>,
}

/// The numbers of the stems of most words a note holds, worked out once per rule set so that
/// reading a note neither stems those words nor hashes their stems.
struct KnownStems {
    /// By the word's place on the English list.
    english: Vec<StemId>,
    /// By [`short_word_place`].
    short: Vec<StemId>,
    /// By the same places: whether the rule set spells the word otherwise (`cu` → "consumer unit")
    /// or breaks a clause at it ("but"). Such a word is read the slow way; every other listed or
    /// short word is read from the tables.
    english_special: Vec<bool>,
    short_special: Vec<bool>,
}

/// The longest word counted as short: the English list starts at four letters, yet about two in five
/// of a note's words are shorter ("the", "gas", "co", "2").
const SHORT_WORD: usize = 3;
/// Short words are made of these characters (anything else is read the slow way), in the order
/// [`short_word_place`] numbers them.
const SHORT_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// One more than the alphabet: place 0 stands for "no character", so every short word has its own place.
const SHORT_BASE: usize = SHORT_ALPHABET.len() + 1;

/// A short word's place in [`KnownStems::short`]: its characters as the digits of a number.
fn short_word_place(word: &str) -> Option<usize> {
    if word.len() > SHORT_WORD {
        return None;
    }
    word.bytes().try_fold(0, |place, byte| {
        let digit = match byte {
            b'a'..=b'z' => byte - b'a' + 1,
            b'0'..=b'9' => byte - b'0' + 27,
            _ => return None,
        };
        Some(place * SHORT_BASE + usize::from(digit))
    })
}

/// Every short word (one to [`SHORT_WORD`] characters of [`SHORT_ALPHABET`]).
fn short_words() -> Vec<String> {
    let mut words: Vec<String> = vec![String::new()];
    let mut all = Vec::new();
    for _ in 0..SHORT_WORD {
        words =
            words.iter().flat_map(|w| SHORT_ALPHABET.iter().map(move |&c| format!("{w}{}", char::from(c)))).collect();
        all.extend(words.iter().cloned());
    }
    all
}

/// Shortest word that near-miss spelling repair applies to (shorter words are too alike).
const FUZZY_MIN_LEN: usize = 5;
// Short words skip repair (see `push_word`): they must be too short for it.
const _: () = assert!(SHORT_WORD < FUZZY_MIN_LEN);

/// An English word's place on the list and its stem.
struct EnglishWord {
    index: usize,
    stem: String,
}

/// English words (US and UK spellings) with their stems, worked out once per process. A word on
/// this list is never "repaired": it is what the writer meant, so "blending" never becomes
/// "bleeding" nor "leaving" "leaking". And most words of a note are on it, so they are looked up
/// rather than stemmed.
fn english() -> &'static FxHashMap<&'static str, EnglishWord> {
    static WORDS: OnceLock<FxHashMap<&'static str, EnglishWord>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let stemmer = Stemmer::create(Algorithm::English);
        include_str!("words.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .enumerate()
            .map(|(index, w)| (w, EnglishWord { index, stem: stemmer.stem(w).into_owned() }))
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

/// Whether a rule set may name `c` as a word break: a letter outside ASCII that is its own lowercase
/// (notes are lowercased before they are read, and a letter that lowercases to ASCII, such as the
/// Kelvin sign, would split English words).
pub fn is_word_break(c: char) -> bool {
    !c.is_ascii() && c.is_alphabetic() && c.to_lowercase().eq([c])
}

/// A word of a note as read (`None`: a punctuation stop).
type Token<'a> = Option<Word<'a>>;

/// A word of a note as read.
#[derive(Debug, Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    stem: StemId,
    /// Whether the rule set breaks a clause at this word (unless it is part of a joined phrase).
    breaks: bool,
}

impl Normaliser {
    pub fn new(spelling: BTreeMap<String, String>, clause_breaks: &[String]) -> Self {
        Self {
            stemmer: Stemmer::create(Algorithm::English),
            spelling: spelling.into_iter().collect(),
            clause_breaks: clause_breaks.iter().map(|w| w.to_lowercase()).collect(),
            vocabulary: Vec::new(),
            known: FxHashMap::default(),
            deletions: FxHashMap::default(),
            joined: Vec::new(),
            joined_at: FxHashMap::default(),
            stem_ids: FxHashMap::default(),
            known_stems: OnceLock::new(),
            word_breaks: Vec::new(),
        }
    }

    /// Letters to read as a space, as a rule set names them (v11: `º`, the ordinal sign, typed for a
    /// degree sign on many phones: "140ºF" reads "140 f"). A version that names none reads such a
    /// letter as part of its word, as versions before v11 always did.
    /// Each break must pass [`is_word_break`] (the rule set checks): the lowered text is searched
    /// for it only when the text is not plain ASCII.
    pub fn set_word_breaks(&mut self, breaks: &[char]) {
        debug_assert!(breaks.iter().all(|c| is_word_break(*c)), "{breaks:?}");
        self.word_breaks = breaks.to_vec();
    }

    /// Lowercase, apostrophes dropped ("Didn't" → "didnt"), the rule set's word breaks made spaces.
    /// Most notes hold neither, so the lowercase copy is usually the only one made. A degree sign
    /// stays a break between words: "54°C" reads "54 c", as rule sets from v7 write a temperature
    /// (and as earlier versions always read it).
    fn lowered(&self, text: &str) -> String {
        const APOSTROPHES: [char; 3] = ['\'', '’', '`'];
        let mut lowered = text.to_lowercase();
        // A scan of bytes first (`’` starts with 0xE2): most notes hold no apostrophe.
        if lowered.bytes().any(|b| matches!(b, b'\'' | b'`' | 0xE2)) && lowered.contains(APOSTROPHES) {
            lowered = lowered.replace(APOSTROPHES, "");
        }
        // Word breaks are lowercase letters outside ASCII (the rule set checks), and most notes are ASCII.
        if !self.word_breaks.is_empty() && !lowered.is_ascii() && lowered.contains(self.word_breaks.as_slice()) {
            lowered = lowered.replace(self.word_breaks.as_slice(), " ");
        }
        lowered
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
        self.joined = joined.into_iter().map(|stems| stems.into_iter().map(|s| self.intern(s)).collect()).collect();
        self.joined_at = FxHashMap::default();
        for (p, phrase) in self.joined.iter().enumerate() {
            for (k, stem) in phrase.iter().enumerate() {
                self.joined_at.entry(*stem).or_default().push((p, k));
            }
        }
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
        self.known = vocabulary.iter().enumerate().map(|(i, w)| (w.clone(), i)).collect();
        self.vocabulary = vocabulary;
    }

    /// Lowercase words with apostrophes dropped ("didn't" → "didnt"), misspellings corrected.
    pub fn words(&self, text: &str) -> Vec<String> {
        let lowered = self.lowered(text);
        lowered
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .flat_map(|w| match self.spelling.get(w) {
                Some(fixed) => fixed.split_whitespace().map(str::to_owned).collect::<Vec<_>>(),
                None => vec![self.repair(w).to_owned()],
            })
            .collect()
    }

    /// A word one edit (a letter added, dropped, changed or two swapped) from exactly the rule
    /// set's words becomes that word, unless it is an English word in its own right. Where several
    /// rule words are one edit away, the first in alphabetical order wins (deterministic).
    fn repair<'a>(&'a self, word: &'a str) -> &'a str {
        if word.chars().count() < FUZZY_MIN_LEN || self.known.contains_key(word) || is_english_word(word) {
            return word;
        }
        // A possessive or plural of an English word, its apostrophe dropped ("wife's" → "wifes"), is
        // that word, not a near miss of a rule word ("wires").
        if word.strip_suffix('s').is_some_and(is_english_word) {
            return word;
        }
        // Candidates: rule words with one letter more (they share a deletion with the word itself),
        // the same length (a letter changed or two swapped: they share a deletion) or one letter less
        // (the word with one letter deleted is a rule word). The least place wins, so a candidate
        // after the best so far is not measured.
        let mut best: Option<usize> = None;
        let mut consider = |i: usize| {
            if best.is_none_or(|b| i < b) && strsim::damerau_levenshtein(&self.vocabulary[i], word) == 1 {
                best = Some(i);
            }
        };
        let by_deletion = |w: &str| self.deletions.get(w).into_iter().flatten().copied();
        by_deletion(word).for_each(&mut consider);
        let mut shorter = String::with_capacity(word.len());
        for (at, c) in word.char_indices() {
            shorter.clear();
            shorter.push_str(&word[..at]);
            shorter.push_str(&word[at + c.len_utf8()..]);
            self.known.get(shorter.as_str()).copied().into_iter().chain(by_deletion(&shorter)).for_each(&mut consider);
        }
        best.map_or(word, |i| &self.vocabulary[i])
    }

    pub fn stem(&self, word: &str) -> String {
        match english().get(word) {
            Some(english) => english.stem.clone(),
            None => self.stemmer.stem(word).into_owned(),
        }
    }

    /// The number of a word's stem ([`UNKNOWN_STEM`] when no rule uses it).
    fn stem_id(&self, word: &str) -> StemId {
        if let Some(place) = short_word_place(word) {
            return self.known_stems().short[place];
        }
        match english().get(word) {
            Some(english) => self.known_stems().english[english.index],
            None => self.id_of_stem(&self.stemmer.stem(word)),
        }
    }

    fn id_of_stem(&self, stem: &str) -> StemId {
        self.stem_ids.get(stem).copied().unwrap_or(UNKNOWN_STEM)
    }

    fn known_stems(&self) -> &KnownStems {
        self.known_stems.get_or_init(|| {
            let places = english().values().map(|w| w.index + 1).max().unwrap_or(0);
            let mut english_ids = vec![UNKNOWN_STEM; places];
            for word in english().values() {
                english_ids[word.index] = self.id_of_stem(&word.stem);
            }
            let mut short = vec![UNKNOWN_STEM; SHORT_BASE.pow(SHORT_WORD as u32)];
            for word in short_words() {
                if let Some(place) = short_word_place(&word) {
                    short[place] = self.id_of_stem(&self.stemmer.stem(&word));
                }
            }
            let (mut english_special, mut short_special) = (vec![false; places], vec![false; short.len()]);
            for word in self.spelling.keys().chain(&self.clause_breaks) {
                match (short_word_place(word), english().get(word.as_str())) {
                    (Some(place), _) => short_special[place] = true,
                    (None, Some(listed)) => english_special[listed.index] = true,
                    (None, None) => {}
                }
            }
            KnownStems { english: english_ids, short, english_special, short_special }
        })
    }

    /// Numbers a stem of the rule set (the same stem always gets the same number).
    fn intern(&mut self, stem: String) -> StemId {
        let next = self.stem_ids.len() as StemId;
        let id = *self.stem_ids.entry(stem).or_insert(next);
        if id == next {
            // A new number: words read before may have this stem.
            self.known_stems = OnceLock::new();
        }
        id
    }

    /// The number of a single word of the rule set (a negator, a word that refers back).
    pub fn word_id(&mut self, word: &str) -> StemId {
        let stem = self.stem(&word.to_lowercase());
        self.intern(stem)
    }

    /// The stems of a phrase from the rule set, numbered.
    pub fn phrase(&mut self, phrase: &str) -> Vec<StemId> {
        let stems: Vec<String> = self.words(phrase).iter().map(|w| self.stem(w)).collect();
        stems.into_iter().map(|s| self.intern(s)).collect()
    }

    /// Compiles `"a b|c + d"`: groups joined by `+`, alternatives by `|`.
    pub fn pattern(&mut self, source: &str) -> Pattern {
        let groups = source.split('+').map(|group| group.split('|').map(|alt| self.phrase(alt)).collect()).collect();
        Pattern::new(source, groups)
    }

    /// Splits a note into clauses at punctuation and at clause-breaking words ("but", "and", …),
    /// except where a clause-breaking word is part of a rule phrase the note holds ("pins and needles").
    pub fn clauses(&self, text: &str) -> Vec<Clause> {
        let lowered = self.lowered(text);
        let mut tokens: Vec<Token<'_>> = Vec::with_capacity(lowered.len() / 4);
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
        // "no 12" is a house number, not a negation: that "no" matches nothing.
        for at in 1..tokens.len() {
            if let (Some(number), Some(no)) = (tokens[at], &mut tokens[at - 1]) {
                if no.text == "no" && number.text.bytes().all(|b| b.is_ascii_digit()) {
                    no.stem = UNKNOWN_STEM;
                }
            }
        }
        let mut clauses = Vec::new();
        // Sized for the whole note, so no clause grows its lists word by word.
        let empty = || Clause { text: String::with_capacity(lowered.len()), stems: Vec::with_capacity(tokens.len()) };
        let mut current = empty();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                // A clause-breaking word inside a joined phrase ("pins and needles") stays a word.
                Some(word) if !word.breaks || self.joins(&tokens, i) => current.push(word.text, word.stem),
                _ if !current.stems.is_empty() => clauses.push(std::mem::replace(&mut current, empty())),
                _ => {}
            }
        }
        if !current.stems.is_empty() {
            clauses.push(current);
        }
        clauses
    }

    /// Whether the clause-breaking word at `at` stands inside a joined rule phrase.
    fn joins(&self, tokens: &[Token<'_>], at: usize) -> bool {
        let Some(Some(word)) = tokens.get(at) else { return false };
        let stem_at = |i: usize| tokens[i].map(|word| word.stem);
        self.joined_at.get(&word.stem).into_iter().flatten().any(|&(p, k)| {
            let phrase = &self.joined[p];
            at >= k
                && at - k + phrase.len() <= tokens.len()
                && phrase.iter().enumerate().all(|(j, p)| stem_at(at - k + j) == Some(*p))
        })
    }

    /// Adds one lowercase word (corrected, expanded) to the note's tokens. A short word or one on
    /// the English list is neither corrected nor stemmed: a table gives its stem's number.
    fn push_word<'a>(&'a self, word: &'a str, tokens: &mut Vec<Token<'a>>) {
        // A short or listed word: its stem's number, and whether the rule set respells it or breaks a
        // clause at it. Most words are such words and neither, and are looked up once.
        let known = self.known_stems();
        let table = match short_word_place(word) {
            Some(place) => Some((known.short[place], known.short_special[place])),
            None => {
                english().get(word).map(|listed| (known.english[listed.index], known.english_special[listed.index]))
            }
        };
        if let Some((stem, false)) = table {
            return tokens.push(Some(Word { text: word, stem, breaks: false }));
        }
        let read = |text: &'a str, stem| Some(Word { text, stem, breaks: self.clause_breaks.contains(text) });
        if let Some(fixed) = self.spelling.get(word) {
            tokens.extend(fixed.split_whitespace().map(|w| read(w, self.stem_id(w))));
            return;
        }
        // A short word is too short to repair (see FUZZY_MIN_LEN), a listed one is English.
        let (text, stem) = match table {
            Some((stem, _)) => (word, stem),
            None => self.read_unlisted(word),
        };
        tokens.push(read(text, stem));
    }

    /// A word not on the English list: repaired if it is a near miss of a rule word, then stemmed.
    fn read_unlisted<'a>(&'a self, word: &'a str) -> (&'a str, StemId) {
        let repaired = self.repair(word);
        (repaired, self.stem_id(repaired))
    }
}

/// Every alternative of a list of patterns, keyed by its first stem: a clause is matched by looking
/// each of its words up once, instead of trying every alternative of every pattern at every word.
/// An alternative shared by many patterns (a vocabulary list used in several rules) is compared once.
#[derive(Debug, Default)]
pub struct PatternIndex {
    /// Per stem number, where the alternatives starting with it begin in `singles` and in `pairs`
    /// (they end where the next stem's begin): a clause's words are looked up in a list, not hashed.
    /// Stems past its end (and [`UNKNOWN_STEM`]) start no alternative.
    starts: Vec<[u32; 2]>,
    /// One-word alternatives, grouped by their stem.
    singles: Vec<u32>,
    /// Longer alternatives as (second stem, alternative), grouped by their first stem and sorted by
    /// the second (so most are found without comparing anything).
    pairs: Vec<(StemId, u32)>,
    /// Each distinct alternative, and every (pattern, group, alternative) it stands for.
    alternatives: Vec<(Vec<StemId>, Vec<AlternativeUse>)>,
    /// How many groups each pattern has.
    groups: Vec<usize>,
    /// Where each pattern's groups start in a list of every group of every pattern.
    first_group: Vec<usize>,
    /// How many groups all patterns have together.
    total_groups: usize,
}

/// Working space for [`PatternIndex::hits`]: the earliest occurrence of every group of every
/// pattern, and how many groups of each pattern were found. The clauses of a note (and the notes a
/// thread grades) share these lists rather than each filling new ones.
pub struct GroupScratch {
    /// Valid only where stamped with the current `clause`: any other entry is "not found", so the
    /// list is never cleared between clauses.
    earliest: Vec<Earliest>,
    /// Per pattern, how many of its groups the clause being read holds (all 0 between calls).
    found: Vec<u16>,
    /// The patterns touched in the clause being read.
    listed: Vec<u32>,
    /// The number of the clause being read (from 1; it grows with every clause read).
    clause: u32,
}

/// Spare working space, kept per thread: a note's scratch goes back here when dropped, so grading
/// a note does not allocate and clear a list of every group of every pattern each time.
type Spare = (Vec<Earliest>, Vec<u16>, Vec<u32>, u32);
thread_local! {
    static SPARE: std::cell::RefCell<Vec<Spare>> = const { std::cell::RefCell::new(Vec::new()) };
}
/// At most this many spare scratches per thread (a note uses two at once).
const SPARES: usize = 4;

impl Drop for GroupScratch {
    fn drop(&mut self) {
        // why: a panic in `hits` may leave counts above 0; such a scratch is not reused.
        if std::thread::panicking() {
            return;
        }
        let spare = (
            std::mem::take(&mut self.earliest),
            std::mem::take(&mut self.found),
            std::mem::take(&mut self.listed),
            self.clause,
        );
        let _ = SPARE.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < SPARES {
                pool.push(spare);
            }
        });
    }
}

/// Where one alternative stands in the patterns.
#[derive(Debug, Clone, Copy)]
struct AlternativeUse {
    pattern: u32,
    /// The pattern's group, as a place in the list of every group of every pattern.
    slot: u32,
    /// Which alternative of its group it is (the first wins a tie).
    alternative: u16,
}

/// Where one group of a pattern was found first in a clause, and by which alternative (`None`: not found).
pub type GroupHit = Option<(Span, u16)>;

/// The patterns with a group found in a clause, in pattern order, with each group's earliest
/// occurrence. Kept in flat lists (rather than a map of vectors) so a clause costs a few
/// allocations, not one per pattern it touches.
#[derive(Debug, Default)]
pub struct Hits {
    /// The patterns found, ascending.
    patterns: Vec<u32>,
    /// Where each pattern's groups start in `groups` (one more entry than `patterns`).
    offsets: Vec<usize>,
    groups: Vec<GroupHit>,
}

impl Hits {
    /// Each pattern found, in pattern order, with its groups.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[GroupHit])> {
        self.patterns.iter().enumerate().map(|(k, &p)| (p, &self.groups[self.offsets[k]..self.offsets[k + 1]]))
    }

    /// The groups of `pattern`, if any of them was found.
    pub fn get(&self, pattern: u32) -> Option<&[GroupHit]> {
        let k = self.patterns.binary_search(&pattern).ok()?;
        Some(&self.groups[self.offsets[k]..self.offsets[k + 1]])
    }
}

impl PatternIndex {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Working space for [`Self::hits`], to be used for any number of clauses: a spare one of this
    /// thread's, grown to this index's size if it is smaller, or a new one.
    pub fn scratch(&self) -> GroupScratch {
        let (mut earliest, mut found, listed, clause) =
            SPARE.try_with(|pool| pool.borrow_mut().pop()).ok().flatten().unwrap_or_default();
        if earliest.len() < self.total_groups {
            earliest.resize(self.total_groups, Earliest::NOT_FOUND);
        }
        if found.len() < self.groups.len() {
            found.resize(self.groups.len(), 0);
        }
        GroupScratch { earliest, found, listed, clause }
    }

    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a Pattern>) -> Self {
        let mut index = Self::default();
        let mut ids: FxHashMap<Vec<StemId>, u32> = FxHashMap::default();
        // (first stem, second stem or none, alternative), grouped into `starts` at the end.
        let mut keyed: Vec<(StemId, Option<StemId>, u32)> = Vec::new();
        for (p, pattern) in patterns.into_iter().enumerate() {
            index.first_group.push(index.total_groups);
            index.groups.push(pattern.groups.len());
            index.total_groups += pattern.groups.len();
            for (g, group) in pattern.groups.iter().enumerate() {
                for (a, alt) in group.iter().enumerate() {
                    let Some(&first) = alt.first() else { continue };
                    let id = *ids.entry(alt.clone()).or_insert_with(|| {
                        index.alternatives.push((alt.clone(), Vec::new()));
                        let id = (index.alternatives.len() - 1) as u32;
                        keyed.push((first, alt.get(1).copied(), id));
                        id
                    });
                    let slot = (index.first_group[p] + g) as u32;
                    let used = AlternativeUse { pattern: p as u32, slot, alternative: a as u16 };
                    index.alternatives[id as usize].1.push(used);
                }
            }
        }
        // Rule stems are numbered from 0, so the list is at most as long as the rule set's stems.
        let stems = keyed.iter().map(|&(first, _, _)| first as usize + 1).max().unwrap_or(0);
        keyed.sort_unstable();
        let mut at = 0;
        for stem in 0..=stems {
            index.starts.push([index.singles.len() as u32, index.pairs.len() as u32]);
            while let Some(&(first, second, id)) = keyed.get(at).filter(|k| k.0 as usize == stem) {
                match second {
                    None => index.singles.push(id),
                    Some(second) => index.pairs.push((second, id)),
                }
                debug_assert_eq!(first as usize, stem);
                at += 1;
            }
        }
        index
    }

    /// The alternatives that may start at `stem` followed by `next`: its one-word alternatives and
    /// the longer ones whose second stem is `next`.
    fn starting(&self, stem: StemId, next: Option<StemId>) -> impl Iterator<Item = u32> + '_ {
        let stem = stem as usize;
        let (singles, pairs) = match (self.starts.get(stem), self.starts.get(stem + 1)) {
            (Some(&[s0, p0]), Some(&[s1, p1])) => {
                (&self.singles[s0 as usize..s1 as usize], &self.pairs[p0 as usize..p1 as usize])
            }
            _ => (&[][..], &[][..]),
        };
        let pairs = match next {
            Some(next) => {
                let from = pairs.partition_point(|(second, _)| *second < next);
                let to = from + pairs[from..].partition_point(|(second, _)| *second == next);
                &pairs[from..to]
            }
            None => &[][..],
        };
        singles.iter().copied().chain(pairs.iter().map(|&(_, id)| id))
    }

    /// For every pattern with a group found in a clause (its stems' numbers): each group's earliest
    /// occurrence (the first alternative wins a tie), as [`match_in`] would choose it. With
    /// `Found::Whole`, only the patterns with every group found: most patterns a clause touches
    /// (a word of a long vocabulary list) are not whole, and a caller that wants none of those
    /// (no clause refers back to them) need not have them listed.
    pub fn hits(&self, stems: &[StemId], scratch: &mut GroupScratch, wanted: Found) -> Hits {
        // Every group of every pattern, in one flat list: a clause touches a few dozen of about a
        // thousand, so a list indexed by group beats a map keyed by pattern (and sorting).
        let GroupScratch { earliest, found, listed: touched, clause } = scratch;
        touched.clear();
        *clause = clause.wrapping_add(1);
        if *clause == 0 {
            // After 4 billion clauses the numbers start again, from a list all "not found".
            earliest.fill(Earliest::NOT_FOUND);
            *clause = 1;
        }
        let clause = *clause;
        for (pos, stem) in stems.iter().enumerate() {
            for id in self.starting(*stem, stems.get(pos + 1).copied()) {
                let (alt, users) = &self.alternatives[id as usize];
                if alt.len() > 2 && (stems.len() - pos < alt.len() || stems[pos + 2..pos + alt.len()] != alt[2..]) {
                    continue;
                }
                for used in users {
                    let slot = &mut earliest[used.slot as usize];
                    let seen = slot.clause == clause;
                    if !seen || (pos as u32, used.alternative) < (slot.start, slot.alternative) {
                        if !seen {
                            let groups = &mut found[used.pattern as usize];
                            if *groups == 0 {
                                touched.push(used.pattern);
                            }
                            *groups += 1;
                        }
                        let (start, len) = (pos as u32, alt.len() as u16);
                        *slot = Earliest { start, alternative: used.alternative, len, clause };
                    }
                }
            }
        }
        // The counts are left all 0 again for the next clause.
        touched.retain(|&p| {
            let whole = usize::from(std::mem::take(&mut found[p as usize])) == self.groups[p as usize];
            wanted == Found::Any || whole
        });
        touched.sort_unstable();
        let mut hits = Hits {
            patterns: Vec::with_capacity(touched.len()),
            offsets: Vec::with_capacity(touched.len() + 1),
            groups: Vec::with_capacity(touched.len() * 2),
        };
        for &p in touched.iter() {
            let first = self.first_group[p as usize];
            hits.patterns.push(p);
            hits.offsets.push(hits.groups.len());
            hits.groups.extend(earliest[first..first + self.groups[p as usize]].iter().map(|e| e.hit(clause)));
        }
        hits.offsets.push(hits.groups.len());
        hits
    }
}

/// Which patterns [`PatternIndex::hits`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Every pattern with a group found.
    Any,
    /// Only the patterns with every group found.
    Whole,
}

/// The earliest occurrence of one group found so far while reading a clause (the clause numbered
/// `clause`; in any other clause, not found).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Earliest {
    start: u32,
    alternative: u16,
    len: u16,
    clause: u32,
}

impl Earliest {
    /// Found in no clause: clauses are numbered from 1.
    const NOT_FOUND: Self = Self { start: u32::MAX, alternative: u16::MAX, len: 0, clause: 0 };

    /// This occurrence, if it was found in the clause numbered `clause`.
    fn hit(&self, clause: u32) -> GroupHit {
        let (start, end) = (self.start as usize, self.start as usize + usize::from(self.len));
        (self.clause == clause).then_some((Span { start, end }, self.alternative))
    }
}

/// The span of a pattern whose groups were all found.
pub fn span_of(groups: &[GroupHit]) -> Option<Span> {
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
pub fn span_with_context(own: &[GroupHit], context: Option<&[GroupHit]>) -> Option<Span> {
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

fn find(stems: &[StemId], needle: &[StemId]) -> Option<Span> {
    occurrences(stems, needle).next()
}

/// Every place `needle` occurs in `stems`, left to right.
pub fn occurrences<'a>(stems: &'a [StemId], needle: &'a [StemId]) -> impl Iterator<Item = Span> + 'a {
    let places = if needle.is_empty() || needle.len() > stems.len() { 0 } else { stems.len() - needle.len() + 1 };
    // The first stem alone rules out most places before the whole needle is compared.
    (0..places)
        .filter(move |&i| stems[i] == needle[0] && stems[i..i + needle.len()] == *needle)
        .map(move |i| Span { start: i, end: i + needle.len() })
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

/// How a rule set reads negation: its negators, how far before a finding they reach, and the
/// phrases that negate a finding they follow.
pub struct Negation {
    window: usize,
    /// Sorted, so the phrases a word can begin are found by binary search.
    after: Vec<Vec<StemId>>,
    /// By stem number: what a word with that stem can do ([`NEGATOR`], [`BEGINS_AFTER`]). Stems
    /// past its end can do neither. A list, not a set: every word of every clause is looked up.
    roles: Vec<u8>,
}

/// A negator ("no", "not").
const NEGATOR: u8 = 1;
/// The first word of an `after` phrase: a word after a match is compared with the phrases only
/// when it can begin one.
const BEGINS_AFTER: u8 = 2;

impl Negation {
    /// `after` phrases without words are dropped: they can negate nothing.
    pub fn new(negators: FxHashSet<StemId>, window: usize, after: Vec<Vec<StemId>>) -> Self {
        let mut after: Vec<Vec<StemId>> = after.into_iter().filter(|phrase| !phrase.is_empty()).collect();
        after.sort_unstable();
        let mut roles = Vec::new();
        let roled =
            negators.iter().map(|&stem| (stem, NEGATOR)).chain(after.iter().map(|phrase| (phrase[0], BEGINS_AFTER)));
        for (stem, role) in roled {
            let at = stem as usize;
            if roles.len() <= at {
                roles.resize(at + 1, 0);
            }
            roles[at] |= role;
        }
        Self { window, after, roles }
    }

    fn role(&self, stem: StemId) -> u8 {
        self.roles.get(stem as usize).copied().unwrap_or(0)
    }

    /// Whether `stem` is a negator or begins an `after` phrase: a clause without any has nothing to
    /// negate (checked once per clause, not once per match).
    pub fn may_negate(&self, stem: StemId) -> bool {
        self.role(stem) != 0
    }

    /// Whether a match is negated in its clause: a negator shortly before it, a negator between its
    /// parts that the pattern does not itself contain ("water not too hot"), or a negating phrase
    /// ("did not go off") after it.
    pub fn is_negated(&self, clause: &Clause, pattern: &Pattern, span: Span) -> bool {
        self.is_negated_apart_from(clause, pattern, span, &[])
    }

    /// As `is_negated`, except that a negator inside one of `owned` (where another part of the
    /// same pattern matched: "none" of `pull cord + none + getting through`) is part of the finding.
    pub fn is_negated_apart_from(&self, clause: &Clause, pattern: &Pattern, span: Span, owned: &[Span]) -> bool {
        let denies = |i: usize| {
            self.role(clause.stems[i]) & NEGATOR != 0 && !owned.iter().any(|o| (o.start..o.end).contains(&i))
        };
        let from = span.start.saturating_sub(self.window);
        let before = (from..span.start).any(denies);
        let inside = (span.start..span.end).any(|i| denies(i) && !pattern.holds(clause.stems[i]));
        let rest = &clause.stems[span.end..];
        let follows = |at: usize| {
            self.role(rest[at]) & BEGINS_AFTER != 0 && {
                let from = self.after.partition_point(|phrase| phrase[0] < rest[at]);
                let mut starting = self.after[from..].iter().take_while(|phrase| phrase[0] == rest[at]);
                starting.any(|phrase| rest[at..].starts_with(phrase))
            }
        };
        before || inside || (0..rest.len()).any(follows)
    }
}

/// Where each group of `groups` first matches in `clause`, for the groups that do.
pub fn group_spans(groups: &[Vec<Vec<StemId>>], clause: &Clause) -> Vec<Span> {
    groups
        .iter()
        .filter_map(|group| group.iter().filter_map(|alt| find(&clause.stems, alt)).min_by_key(|s| s.start))
        .collect()
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
        assert_eq!(n.words("Bath at 54°C"), vec!["bath", "at", "54", "c"], "a degree sign parts a temperature's words");
    }

    #[test]
    fn a_rule_sets_word_breaks_part_words_only_where_it_names_them() {
        let mut n = normaliser();
        assert_eq!(n.words("tap at 140ºF"), vec!["tap", "at", "140ºf"], "read as one word by default");
        n.set_word_breaks(&['º']);
        assert_eq!(n.words("tap at 140ºF"), vec!["tap", "at", "140", "f"]);
        let texts: Vec<String> =
            n.clauses("Didn't check, 60ºc at the tap").iter().map(|c| c.text().to_owned()).collect();
        assert_eq!(texts, vec!["didnt check", "60 c at the tap"]);
    }

    #[test]
    fn plurals_and_verb_forms_share_a_stem() {
        let mut n = normaliser();
        let pattern = n.pattern("scorch mark");
        let clause = &n.clauses("Scorched marks on the socket")[0];
        assert!(match_in(&pattern, clause).is_some());
    }

    #[test]
    fn clauses_split_at_punctuation_and_break_words() {
        let n = normaliser();
        let texts: Vec<String> =
            n.clauses("no gas yesterday but today gas, again. and more").iter().map(|c| c.text().to_owned()).collect();
        assert_eq!(texts, vec!["no gas yesterday", "today gas", "again", "more"]);
    }

    #[test]
    fn a_rule_phrase_holding_a_break_word_is_not_split() {
        let mut n = normaliser();
        n.set_joined_phrases(["pins and needles".to_owned(), "smell of gas".to_owned()]);
        let texts: Vec<String> =
            n.clauses("pins and needles in my hand and the sink hums").iter().map(|c| c.text().to_owned()).collect();
        assert_eq!(texts, vec!["pins and needles in my hand", "the sink hums"]);
        let texts: Vec<String> = n.clauses("pins and the needles").iter().map(|c| c.text().to_owned()).collect();
        assert_eq!(texts, vec!["pins", "the needles"], "only the whole phrase joins");
    }

    #[test]
    fn every_short_word_has_its_own_place() {
        let places: FxHashSet<usize> = short_words().iter().filter_map(|w| short_word_place(w)).collect();
        assert_eq!(places.len(), short_words().len());
        assert!(places.iter().all(|&p| p < SHORT_BASE.pow(SHORT_WORD as u32)));
        assert_eq!(short_word_place("gas").map(|p| p > 0), Some(true));
        assert_eq!(short_word_place("pipe"), None, "longer words are read the usual way");
        assert_eq!(short_word_place("né"), None, "so are other characters");
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
        let mut n = normaliser();
        let negators: FxHashSet<StemId> = ["no", "not"].iter().map(|w| n.word_id(w)).collect();
        let negation = Negation::new(negators, 3, vec![n.phrase("did not go off")]);
        let gas = n.pattern("smell of gas");
        let alarm = n.pattern("co alarm");
        let check = |text: &str, pattern: &Pattern| -> Vec<bool> {
            n.clauses(text)
                .iter()
                .filter_map(|c| match_in(pattern, c).map(|span| negation.is_negated(c, pattern, span)))
                .collect()
        };
        assert_eq!(check("no smell of gas yesterday but strong smell of gas today", &gas), vec![true, false]);
        assert_eq!(check("CO alarm did not go off", &alarm), vec![true]);
        assert_eq!(check("boiler not working and co alarm going off", &alarm), vec![false]);
        assert_eq!(check("outside no 12 smell of gas", &gas), vec![false], "a house number");
        assert_eq!(check("there is no smell of gas", &gas), vec![true]);
    }

    #[test]
    fn the_index_finds_what_match_in_finds_in_every_clause_even_as_clause_numbers_wrap() {
        let mut n = normaliser();
        let patterns = [n.pattern("smell|gas smell + boiler|hob"), n.pattern("ceiling"), n.pattern("smell of gas")];
        let index = PatternIndex::new(&patterns);
        let mut scratch = index.scratch();
        // The last clause numbers before they start again from 1.
        scratch.clause = u32::MAX - 2;
        let texts = ["gas smell by the boiler", "the hob", "smell of gas at the ceiling", "boiler", "nothing here"];
        for (k, text) in texts.iter().cycle().take(10).enumerate() {
            let clause = &n.clauses(text)[0];
            let wanted = if k % 2 == 0 { Found::Whole } else { Found::Any };
            let hits = index.hits(&clause.stems, &mut scratch, wanted);
            for (p, pattern) in patterns.iter().enumerate() {
                let listed = hits.get(p as u32);
                assert_eq!(listed.and_then(span_of), match_in(pattern, clause), "{text}: {}", pattern.source);
                let partly = group_spans(&pattern.groups, clause).len();
                let expected = if wanted == Found::Whole { partly == pattern.groups.len() } else { partly > 0 };
                assert_eq!(listed.is_some(), expected, "{text}: {} ({wanted:?})", pattern.source);
            }
        }
        assert!(scratch.clause < 10, "the numbers started again: {}", scratch.clause);
    }

    #[test]
    fn a_negator_another_part_of_the_pattern_matched_does_not_deny_the_subject() {
        let mut n = normaliser();
        let negators: FxHashSet<StemId> = ["no", "not", "none"].iter().map(|w| n.word_id(w)).collect();
        let negation = Negation::new(negators, 3, vec![]);
        let whole = n.pattern("pull cord + none + getting through");
        let subject = n.pattern("pull cord");
        let check = |text: &str| {
            let clause = &n.clauses(text)[0];
            let span = match_in(&subject, clause).expect("the subject is there");
            let owned = group_spans(&whole.groups[1..], clause);
            (
                negation.is_negated(clause, &subject, span),
                negation.is_negated_apart_from(clause, &subject, span, &owned),
            )
        };
        assert_eq!(check("none of the pull cords are getting through"), (true, false));
        assert_eq!(
            check("no pull cords, none getting through"),
            (true, true),
            "a negator no part matched still denies"
        );
    }
}
