//! How fast the grader reads notes: every labelled note (dev and test), graded over and over on one
//! thread for a few seconds with each rule set named (the latest when none is), as notes per second
//! per core. Grading is pure (no I/O, no clock), so this is the whole cost a failure report pays for
//! its grade. Name several versions to compare them within one run:
//!
//!     cargo bench --bench classifier -- v3 v4 v5

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "a benchmark stops at the first failure")]

use std::path::Path;
use std::time::{Duration, Instant};

use fieldproof::domain::evaluation::LabelledNote;
use fieldproof::domain::rules::RuleSet;
use fieldproof::domain::severity::{FailureFacts, classify};
use sha2::{Digest, Sha256};

fn main() {
    let folder = Path::new("checklists/_severity-rules");
    let all = fieldproof::catalogue::read_rule_versions(folder).expect("rules");
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|v| format!("severity-rules/v{}", v.trim_start_matches('v')))
        .collect();
    let chosen: Vec<&RuleSet> = match wanted.is_empty() {
        true => all.last().into_iter().collect(),
        false => wanted.iter().map(|w| all.iter().find(|r| &r.version == w).expect("no such rule set")).collect(),
    };
    let mut notes = Vec::new();
    for split in ["dev", "test"] {
        let text = std::fs::read_to_string(format!("tests/data/notes/{split}.jsonl")).expect("notes");
        notes.extend(LabelledNote::parse_many(&text).expect("notes parse"));
    }
    for rules in chosen {
        measure(rules, &notes);
    }
}

fn measure(rules: &RuleSet, notes: &[LabelledNote]) {
    let words: usize = notes.iter().map(|n| n.note.split_whitespace().count()).sum();
    let grade = |note: &LabelledNote| {
        let facts = FailureFacts::text(&note.note);
        classify(&facts, rules).severity
    };
    // Warm up (the English word list loads on first use), then measure.
    notes.iter().for_each(|n| {
        std::hint::black_box(grade(n));
    });
    println!("verdicts {}", verdict_digest(rules, notes));
    let mut graded = 0usize;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        for note in notes {
            std::hint::black_box(grade(note));
        }
        graded += notes.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "classifier ({}): {graded} notes in {seconds:.2} s on one thread: {:.0} notes/s ({:.1} µs per note; \
         {} distinct notes, {:.1} words on average)",
        rules.version,
        graded as f64 / seconds,
        seconds * 1e6 / graded as f64,
        notes.len(),
        words as f64 / notes.len() as f64
    );
}

/// SHA-256 over every note's whole verdict (its `Debug` form), in order: a change that makes grading
/// faster must leave this line unchanged.
fn verdict_digest(rules: &RuleSet, notes: &[LabelledNote]) -> String {
    let mut digest = Sha256::new();
    for note in notes {
        let verdict = classify(&FailureFacts::text(&note.note), rules);
        digest.update(format!("{verdict:?}\n").as_bytes());
    }
    hex::encode(digest.finalize())
}
