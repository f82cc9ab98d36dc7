//! The safety net under the rules: a logistic regression over the words, word beginnings and word
//! pairs of a note, trained on labelled `dev` notes only (`fieldproof rules train`). It can only raise
//! a grade. When the rules found no danger to people but the net is confident the note describes
//! one, the note is graded safety-critical, and the reason names the features that weighed most.
//!
//! Why a model at all: rules written from examples keep missing hazards told in words nobody wrote
//! a rule for ("fingers fizzy off the towel rail"). Words such as "fizzy", "rail" and "tingling"
//! still carry weight learnt from other notes. The net is deliberately simple, so that a safety
//! officer can read why it voted: one weight per feature, a bias, and a threshold.
//!
//! The features: each word, each pair of neighbouring words, the first four and five letters of
//! each longer word (`^smok` stands for "smoke", "smoking", "smokey", "smoaking"...) and each pair
//! of neighbouring four-letter beginnings (`^hand ^went`). Beginnings carry what a word learnt to
//! its other endings and to most misspellings. Five-fold cross-validation on dev chose them (and
//! `C`): at a 1 % false-alarm share the net alone caught 64 % of safety notes with words and pairs,
//! 69 % with the beginnings added; letter trigrams inside words did worse (62 %).
//!
//! The threshold is chosen in training, never by looking at `test`: five-fold cross-validation on
//! the training notes gives each note a score from a model that did not see it, and the threshold is
//! the score that at most [`FALSE_ALARM_BUDGET`] of the non-safety notes exceed.
//!
//! Below the vote lies a band of doubt (from version 6): a note the rules found no danger in, which
//! the net scores above its `doubt` score but not above its threshold, is not graded by the machine.
//! It goes to the triage lane, where a person grades it. The doubt score is chosen in the same
//! cross-validation: the score that at most [`DOUBT_BUDGET`] more of the non-safety notes exceed.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// The share of non-safety training notes the net may raise in cross-validation. The target is to
/// keep at least 90 % of non-safety notes below safety-critical; on dev the rules alone raise about
/// 6 % of them, and the net is only asked when the rules found no danger, so 2.5 % keeps about a
/// point of margin while the net catches as many hazards as that allows.
pub const FALSE_ALARM_BUDGET: f64 = 0.025;
/// The further share of non-safety training notes, scored below the threshold in
/// cross-validation, that the band of doubt may send to triage. The triage lane may hold at most
/// 5 % of all reports and the rules alone send about 4 % there; on dev, out of fold, 1.5 % of the
/// non-safety notes is about half a point of all notes, since the rules already grade many of the
/// notes in the band (see `fieldproof rules train --rules`).
pub const DOUBT_BUDGET: f64 = 0.015;
/// Inverse regularisation strength (as in scikit-learn's `C`), chosen by cross-validation on dev.
const C: f64 = 2.0;
const EPOCHS: usize = 60;
const FOLDS: usize = 5;
/// A feature must occur in at least this many training notes to get a weight.
const MIN_NOTES: usize = 2;
/// The lengths of the word beginnings used as features (of words longer than that).
const BEGINNINGS: [usize; 2] = [4, 5];
/// The length of the beginnings paired with their neighbour's.
const PAIRED_BEGINNING: usize = 4;

/// The stored form (`v<N>.net.json`): what the rule set's `[net]` table names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetFile {
    /// How the net was made: the notes file, how many notes, and the cross-validated figures.
    pub trained_on: Provenance,
    /// Votes when the probability is above this.
    pub threshold: f64,
    /// Sends the note to triage when the probability is above this but not above `threshold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doubt: Option<f64>,
    pub bias: f64,
    /// Feature (see [`features`]) → weight.
    pub weights: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    pub notes: String,
    pub count: usize,
    pub safety: usize,
    /// Out-of-fold share of safety notes above the threshold (the net alone).
    pub cross_validated_recall: f64,
    /// Out-of-fold share of the other notes above the threshold.
    pub cross_validated_false_alarms: f64,
    /// Out-of-fold shares of the safety notes and of the others in the band of doubt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_validated_doubted: Option<Shares>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Shares {
    pub safety: f64,
    pub others: f64,
}

/// A loaded net. Weights are keyed by a hash of the feature's text, so that grading sums them
/// without building a string per feature.
#[derive(Debug, Clone)]
pub struct Net {
    threshold: f64,
    doubt: Option<f64>,
    bias: f64,
    weights: FxHashMap<u64, f64>,
}

/// The net's verdict on a note it votes for.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    pub probability: f64,
    pub threshold: f64,
    /// The features that pushed the score up most, heaviest first.
    pub strongest: Vec<(String, f64)>,
}

/// What the net makes of a note.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Confident the note describes a danger to people.
    Vote(Vote),
    /// Not confident either way: a person should grade the note.
    Doubt(Doubt),
    /// Sees no danger.
    Calm,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Doubt {
    pub probability: f64,
    pub doubt: f64,
    pub threshold: f64,
}

impl Doubt {
    pub fn evidence(&self) -> String {
        format!(
            "the statistical net scores the note {:.2}, above its doubt ({:.2}) but not above its vote ({:.2}): \
             it cannot rule out a danger the rules did not find; a person grades it",
            self.probability, self.doubt, self.threshold
        )
    }
}

impl Vote {
    pub fn evidence(&self) -> String {
        let words: Vec<String> = self.strongest.iter().map(|(f, w)| format!("`{f}` ({w:+.2})")).collect();
        format!(
            "the statistical net scores the note {:.2} (votes above {:.2}), most from {}",
            self.probability,
            self.threshold,
            words.join(", ")
        )
    }
}

impl Net {
    pub fn load(file: NetFile) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if !(0.5..1.0).contains(&file.threshold) {
            problems.push(format!("net threshold {}: must be at least 0.5 and below 1", file.threshold));
        }
        if let Some(doubt) = file.doubt.filter(|d| !(0.0..=file.threshold).contains(d)) {
            problems.push(format!("net doubt {doubt}: must be at least 0 and at most the threshold"));
        }
        if !file.bias.is_finite() || file.weights.values().any(|w| !w.is_finite()) {
            problems.push("net weights must be finite numbers".to_owned());
        }
        let mut weights = FxHashMap::default();
        for (feature, weight) in &file.weights {
            if weights.insert(Key::of(feature), *weight).is_some() {
                problems.push(format!("net feature `{feature}` shares its hash with another; rename or drop one"));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self { threshold: file.threshold, doubt: file.doubt, bias: file.bias, weights })
    }

    /// The probability that the note describes a danger to people: the weights of [`features`]
    /// summed, each feature once.
    pub fn probability(&self, note: &str) -> f64 {
        let lower = note.to_lowercase();
        let mut keys = Vec::with_capacity(128);
        each_key(&lower, |key| keys.push(key.0));
        keys.sort_unstable();
        keys.dedup();
        sigmoid(self.bias + keys.iter().filter_map(|k| self.weights.get(k)).sum::<f64>())
    }

    /// A vote when the net is confident the note describes a danger to people.
    pub fn vote(&self, note: &str) -> Option<Vote> {
        match self.judge(note) {
            Judgement::Vote(vote) => Some(vote),
            _ => None,
        }
    }

    /// A vote, a doubt or calm, by where the note's probability falls.
    pub fn judge(&self, note: &str) -> Judgement {
        match judgement(self.probability(note), self.threshold, self.doubt) {
            Judgement::Vote(vote) => Judgement::Vote(Vote { strongest: self.strongest(note), ..vote }),
            other => other,
        }
    }

    /// The four features that pushed the note's score up most, heaviest first.
    fn strongest(&self, note: &str) -> Vec<(String, f64)> {
        let mut strongest: Vec<(String, f64)> = features(note)
            .into_iter()
            .filter_map(|f| self.weights.get(&Key::of(&f)).map(|w| (f, *w)))
            .filter(|(_, w)| *w > 0.0)
            .collect();
        strongest.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        strongest.truncate(4);
        strongest
    }
}

/// Where a probability falls: above `threshold` a vote (without its features), above `doubt` a
/// doubt, else calm.
pub fn judgement(probability: f64, threshold: f64, doubt: Option<f64>) -> Judgement {
    if probability > threshold {
        Judgement::Vote(Vote { probability, threshold, strongest: Vec::new() })
    } else if let Some(doubt) = doubt.filter(|doubt| probability > *doubt) {
        Judgement::Doubt(Doubt { probability, doubt, threshold })
    } else {
        Judgement::Calm
    }
}

/// FNV-1a over the bytes of a feature's text: written in parts, it hashes as the whole text would.
#[derive(Clone, Copy)]
struct Key(u64);

impl Default for Key {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Key {
    fn write(&mut self, part: &str) {
        for byte in part.bytes() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn of(feature: &str) -> u64 {
        let mut key = Self::default();
        key.write(feature);
        key.0
    }
}

fn sigmoid(score: f64) -> f64 {
    1.0 / (1.0 + (-score).exp())
}

/// The features of a note, once each, sorted: its words (lower-case runs of letters and digits),
/// each pair of neighbours, the beginnings of longer words (`^smok`) and each pair of neighbouring
/// beginnings (`^hand ^went`).
pub fn features(note: &str) -> Vec<String> {
    let lower = note.to_lowercase();
    let mut features = Vec::new();
    each_feature(&lower, |parts| features.push(parts.concat()));
    features.sort_unstable();
    features.dedup();
    features
}

/// Calls `emit` with the parts of each feature of a lower-cased note (repeats included).
fn each_feature(lower: &str, mut emit: impl FnMut(&[&str])) {
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    for (i, word) in words.iter().enumerate() {
        emit(&[word]);
        for length in BEGINNINGS {
            if let Some(beginning) = beginning(word, length).filter(|b| b.len() < word.len()) {
                emit(&["^", beginning]);
            }
        }
        if let Some(next) = words.get(i + 1) {
            emit(&[word, " ", next]);
            let (first, second) = (beginning(word, PAIRED_BEGINNING), beginning(next, PAIRED_BEGINNING));
            emit(&["^", first.unwrap_or(word), " ^", second.unwrap_or(next)]);
        }
    }
}

/// The keys of [`each_feature`]'s features, in the same order, each hashed on from a feature it
/// begins with ("wet" → "wet rail", "^towe" → "^towel" and "^towe ^rail") rather than from nothing.
fn each_key(lower: &str, mut emit: impl FnMut(Key)) {
    // Each word with its first four letters (the whole word when shorter), as paired beginnings use them.
    let words: Vec<(&str, &str)> = (lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()))
        .map(|word| (word, beginning(word, PAIRED_BEGINNING).unwrap_or(word)))
        .collect();
    let mut caret = Key::default();
    caret.write("^");
    for (i, &(word, four)) in words.iter().enumerate() {
        let mut whole = Key::default();
        whole.write(word);
        emit(whole);
        let mut begun = caret;
        begun.write(four);
        let mut previous: Option<(&str, Key)> = None;
        for length in BEGINNINGS {
            if let Some(beginning) = beginning(word, length).filter(|b| b.len() < word.len()) {
                let key = match previous {
                    // A longer beginning is the shorter one and more letters.
                    Some((shorter, mut key)) => {
                        key.write(&beginning[shorter.len()..]);
                        key
                    }
                    None if length == PAIRED_BEGINNING => begun,
                    None => {
                        let mut key = caret;
                        key.write(beginning);
                        key
                    }
                };
                emit(key);
                previous = Some((beginning, key));
            }
        }
        if let Some(&(next, next_four)) = words.get(i + 1) {
            let mut pair = whole;
            pair.write(" ");
            pair.write(next);
            emit(pair);
            let mut paired = begun;
            paired.write(" ^");
            paired.write(next_four);
            emit(paired);
        }
    }
}

/// The first `length` characters of a word, if it has that many.
fn beginning(word: &str, length: usize) -> Option<&str> {
    if word.is_ascii() {
        return word.get(..length);
    }
    match word.char_indices().nth(length) {
        Some((end, _)) => Some(&word[..end]),
        None => (word.chars().count() == length).then_some(word),
    }
}

/// Trains the net on labelled notes (`true` = safety-critical) and chooses its threshold and its
/// band of doubt by cross-validation. Deterministic: the same notes give the same file.
pub fn train(source: &str, notes: &[(&str, bool)]) -> NetFile {
    train_scored(source, notes).0
}

/// [`train`], and each note's out-of-fold probability: the score given to it by a model trained on
/// the other four fifths of the notes.
pub fn train_scored(source: &str, notes: &[(&str, bool)]) -> (NetFile, Vec<f64>) {
    let encoded: Vec<Vec<String>> = notes.iter().map(|(text, _)| features(text)).collect();
    let labels: Vec<bool> = notes.iter().map(|(_, safety)| *safety).collect();
    let fold_of = |i: usize| i % FOLDS;

    let mut out_of_fold = vec![0.0; notes.len()];
    for fold in 0..FOLDS {
        let training: Vec<usize> = (0..notes.len()).filter(|i| fold_of(*i) != fold).collect();
        let model = fit(&encoded, &labels, &training);
        for i in (0..notes.len()).filter(|i| fold_of(*i) == fold) {
            out_of_fold[i] = model.probability_of(&encoded[i]);
        }
    }
    let scores = |safety: bool| -> Vec<f64> {
        let mut scores: Vec<f64> = (0..notes.len()).filter(|i| labels[*i] == safety).map(|i| out_of_fold[i]).collect();
        scores.sort_by(|a, b| b.total_cmp(a));
        scores
    };
    let (safety_scores, others_scores) = (scores(true), scores(false));
    let nth_highest = |share: f64| (share * others_scores.len() as f64).floor() as usize;
    let threshold = others_scores.get(nth_highest(FALSE_ALARM_BUDGET)).copied().unwrap_or(0.5).max(0.5);
    let doubt =
        others_scores.get(nth_highest(FALSE_ALARM_BUDGET + DOUBT_BUDGET)).copied().unwrap_or(0.0).min(threshold);
    let share = |scores: &[f64], low: f64, high: f64| {
        scores.iter().filter(|p| **p > low && **p <= high).count() as f64 / scores.len().max(1) as f64
    };

    let all: Vec<usize> = (0..notes.len()).collect();
    let model = fit(&encoded, &labels, &all);
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    let weights = model.weights.into_iter().filter(|(_, w)| w.abs() >= 0.0005).map(|(f, w)| (f, round(w))).collect();
    let file = NetFile {
        trained_on: Provenance {
            notes: source.to_owned(),
            count: notes.len(),
            safety: labels.iter().filter(|s| **s).count(),
            cross_validated_recall: round(share(&safety_scores, threshold, f64::INFINITY)),
            cross_validated_false_alarms: round(share(&others_scores, threshold, f64::INFINITY)),
            cross_validated_doubted: Some(Shares {
                safety: round(share(&safety_scores, doubt, threshold)),
                others: round(share(&others_scores, doubt, threshold)),
            }),
        },
        threshold: round(threshold),
        doubt: Some(round(doubt)),
        bias: round(model.bias),
        weights,
    };
    (file, out_of_fold)
}

struct Model {
    bias: f64,
    weights: BTreeMap<String, f64>,
}

impl Model {
    fn probability_of(&self, features: &[String]) -> f64 {
        sigmoid(self.bias + features.iter().filter_map(|f| self.weights.get(f)).sum::<f64>())
    }
}

/// L2-regularised logistic regression with balanced class weights, fitted by AdaGrad over the
/// notes in a fixed order: minimises C · Σ weightᵢ · log(1 + e^(−yᵢ·scoreᵢ)) + ½‖w‖².
fn fit(encoded: &[Vec<String>], labels: &[bool], rows: &[usize]) -> Model {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for &i in rows {
        for f in &encoded[i] {
            *counts.entry(f.as_str()).or_default() += 1;
        }
    }
    let names: Vec<&str> = counts.iter().filter(|(_, n)| **n >= MIN_NOTES).map(|(f, _)| *f).collect();
    let index: FxHashMap<&str, usize> = names.iter().enumerate().map(|(k, f)| (*f, k)).collect();
    // Each note carries its features' share of the regulariser, so an epoch carries ½‖w‖² once.
    let shares: Vec<f64> = names.iter().map(|f| 1.0 / counts[f] as f64).collect();
    let rows_features: Vec<Vec<usize>> =
        rows.iter().map(|&i| encoded[i].iter().filter_map(|f| index.get(f.as_str()).copied()).collect()).collect();
    let positives = rows.iter().filter(|&&i| labels[i]).count().max(1) as f64;
    let negatives = (rows.len() as f64 - positives).max(1.0);
    let n = rows.len() as f64;
    let class_weight = |safety: bool| if safety { n / (2.0 * positives) } else { n / (2.0 * negatives) };

    let mut w = vec![0.0_f64; names.len()];
    let mut bias = 0.0_f64;
    let mut g2 = vec![1e-8_f64; names.len()];
    let mut g2_bias = 1e-8_f64;
    let rate = 0.5;
    for _ in 0..EPOCHS {
        for (row, &i) in rows.iter().enumerate() {
            let features = &rows_features[row];
            let score = bias + features.iter().map(|k| w[*k]).sum::<f64>();
            let y = if labels[i] { 1.0 } else { -1.0 };
            let loss_slope = -y * C * class_weight(labels[i]) * sigmoid(-y * score);
            for &k in features {
                let g = loss_slope + w[k] * shares[k];
                g2[k] += g * g;
                w[k] -= rate * g / g2[k].sqrt();
            }
            g2_bias += loss_slope * loss_slope;
            bias -= rate * loss_slope / g2_bias.sqrt();
        }
    }
    let weights = names.iter().zip(w).map(|(f, w)| ((*f).to_owned(), w)).collect();
    Model { bias, weights }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hashed_on_from_a_features_beginning_are_the_features_keys() {
        for note in [
            "Towel rail: fizzy, fizzy!",
            "a b cd abc abcd abcde abcdef x",
            "Smöke from the fuse-box, ÉLECTRIC smell; 240v",
            "one",
            "",
            "tingling tingling tingle ting",
        ] {
            let lower = note.to_lowercase();
            let mut expected = Vec::new();
            each_feature(&lower, |parts| expected.push(Key::of(&parts.concat())));
            let mut keys = Vec::new();
            each_key(&lower, |key| keys.push(key.0));
            assert_eq!(keys, expected, "{note}");
        }
    }

    #[test]
    fn features_are_words_beginnings_and_neighbouring_pairs_once_each() {
        assert_eq!(
            features("Towel rail: fizzy, fizzy!"),
            [
                "^fizz",
                "^fizz ^fizz",
                "^rail ^fizz",
                "^towe",
                "^towe ^rail",
                "fizzy",
                "fizzy fizzy",
                "rail",
                "rail fizzy",
                "towel",
                "towel rail"
            ]
        );
        assert_eq!(features("Ça brûle"), ["^brûl", "^ça ^brûl", "brûle", "ça", "ça brûle"], "letters, not bytes");
    }

    #[test]
    fn a_trained_net_votes_for_the_words_it_learnt_and_explains_itself() {
        let mut notes = Vec::new();
        for i in 0..40 {
            notes.push((if i % 2 == 0 { "fingers fizzy off the towel rail" } else { "rail fizzy when touched" }, true));
            notes.push((if i % 2 == 0 { "engineer was late and rude" } else { "left mess on the rail" }, false));
        }
        let trained = train("inline", &notes);
        let net = Net::load(trained.clone()).expect("loads");
        for note in ["towel rail fizzy fizzy", "engineer late, rude, late"] {
            let summed = trained.bias + features(note).iter().filter_map(|f| trained.weights.get(f)).sum::<f64>();
            assert!((net.probability(note) - sigmoid(summed)).abs() < 1e-12, "{note}");
        }
        let vote = net.vote("kid says towel rail gone fizzy").expect("votes");
        let mixed = "towel rail engineer late";
        assert!((0.01..0.99).contains(&net.probability(mixed)), "{}", net.probability(mixed));
        let doubting = Net::load(NetFile { doubt: Some(0.01), threshold: 0.99, ..trained.clone() }).expect("loads");
        match doubting.judge(mixed) {
            Judgement::Doubt(doubt) => assert!(doubt.evidence().contains("a person grades it"), "{doubt:?}"),
            other => panic!("between doubt and threshold: {other:?}"),
        }
        assert!(vote.strongest.iter().any(|(f, _)| f == "fizzy"), "{vote:?}");
        assert!(vote.evidence().contains("`fizzy`"));
        assert_eq!(net.vote("engineer late again"), None);
        assert_eq!(train("inline", &notes).weights, trained.weights, "deterministic");
    }
}
