//! How fast the grader reads notes: every labelled note (dev and test) graded in one pass, passes
//! repeated for up to 5 s on one thread with each rule set named (the latest when none is), by
//! [divan](https://docs.rs/divan). Its `item/s` line is notes per second per core (a pass counts
//! one item per note). Grading is pure (no I/O, no clock), so this is the whole cost a failure
//! report pays for its grade. Name several versions to compare them within one run:
//!
//!     cargo bench --bench classifier -- v3 v4 v5
//!     FIELDPROOF_BENCH_RULES=v4,v5 cargo bench --bench classifier
//!
//! (`v4` names a version and, for divan, filters the benchmarks to that version.) Before measuring,
//! each version prints `verdicts <sha-256>`: a digest of every note's whole verdict in order. A
//! change meant only to make grading faster must leave it unchanged.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "a benchmark stops at the first failure")]

use std::path::Path;
use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::ItemsCount;
use fieldproof::domain::evaluation::LabelledNote;
use fieldproof::domain::rules::RuleSet;
use fieldproof::domain::severity::{FailureFacts, classify};
use sha2::{Digest, Sha256};

// The service's allocator (see `src/main.rs`), so that the figure is what a failure report pays there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every published rule set, oldest first.
static RULE_SETS: LazyLock<Vec<RuleSet>> = LazyLock::new(|| {
    fieldproof::catalogue::read_rule_versions(Path::new("checklists/_severity-rules")).expect("rules")
});

/// Every labelled note, dev then test.
static NOTES: LazyLock<Vec<LabelledNote>> = LazyLock::new(|| {
    let mut notes = Vec::new();
    for split in ["dev", "test"] {
        let text = std::fs::read_to_string(format!("tests/data/notes/{split}.jsonl")).expect("notes");
        notes.extend(LabelledNote::parse_many(&text).expect("notes parse"));
    }
    notes
});

fn main() {
    let words: usize = NOTES.iter().map(|n| n.note.split_whitespace().count()).sum();
    println!("{} distinct notes, {:.1} words on average", NOTES.len(), words as f64 / NOTES.len() as f64);
    for version in chosen_versions() {
        // Also the warm-up: the English word list and the rule set's word tables load on first use.
        println!("{version}: verdicts {}", verdict_digest(rule_set(&version)));
    }
    divan::main();
}

/// The versions named (`v4 v5` on the command line, or `FIELDPROOF_BENCH_RULES=v4,v5`), else the latest.
fn chosen_versions() -> Vec<String> {
    let from_env = std::env::var("FIELDPROOF_BENCH_RULES").unwrap_or_default();
    let named: Vec<String> = std::env::args()
        .skip(1)
        .chain(from_env.split(',').map(str::to_owned))
        .map(|a| a.trim().to_owned())
        .filter(|a| a.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
        .collect();
    match named.is_empty() {
        true => RULE_SETS.last().map(|r| short_name(&r.version).to_owned()).into_iter().collect(),
        false => named,
    }
}

/// `severity-rules/v5` → `v5`.
fn short_name(version: &str) -> &str {
    version.rsplit('/').next().unwrap_or(version)
}

fn rule_set(version: &str) -> &'static RuleSet {
    RULE_SETS.iter().find(|r| short_name(&r.version) == version).expect("no such rule set")
}

/// SHA-256 over every note's whole verdict (its `Debug` form), in order: a change that makes grading
/// faster must leave this line unchanged.
fn verdict_digest(rules: &RuleSet) -> String {
    let mut digest = Sha256::new();
    for note in NOTES.iter() {
        let verdict = classify(&FailureFacts::text(&note.note), rules);
        digest.update(format!("{verdict:?}\n").as_bytes());
    }
    hex::encode(digest.finalize())
}

/// One pass over every labelled note with one rule set; throughput counts notes.
#[divan::bench(args = chosen_versions(), max_time = 5)]
fn grade_every_note(bencher: Bencher, version: &str) {
    let rules = rule_set(version);
    bencher.counter(ItemsCount::new(NOTES.len())).bench(|| {
        for note in NOTES.iter() {
            divan::black_box(classify(&FailureFacts::text(divan::black_box(&note.note)), rules));
        }
    });
}
