//! How fast the grader reads notes: every labelled note (dev and test), graded over and over on one
//! thread for a few seconds with the latest rule set, as notes per second per core. Grading is pure
//! (no I/O, no clock), so this is the whole cost a failure report pays for its grade.
//!
//!     cargo bench --bench classifier

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "a benchmark stops at the first failure")]

use std::path::Path;
use std::time::{Duration, Instant};

use fieldproof::domain::evaluation::LabelledNote;
use fieldproof::domain::severity::{FailureFacts, classify};

fn main() {
    let rules = fieldproof::catalogue::read_rules(Path::new("checklists")).expect("rules");
    let mut notes = Vec::new();
    for split in ["dev", "test"] {
        let text = std::fs::read_to_string(format!("tests/data/notes/{split}.jsonl")).expect("notes");
        notes.extend(LabelledNote::parse_many(&text).expect("notes parse"));
    }
    let words: usize = notes.iter().map(|n| n.note.split_whitespace().count()).sum();
    let grade = |note: &LabelledNote| {
        let facts = FailureFacts::text(&note.note);
        classify(&facts, &rules).severity
    };
    // Warm up (the English word list loads on first use), then measure.
    notes.iter().for_each(|n| {
        std::hint::black_box(grade(n));
    });
    let mut graded = 0usize;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        for note in &notes {
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
