//! The labelled evaluation set: realistic failure notes with the grade a dispatcher would give.
//! Recall on safety-critical notes must be 100 %; at most 10 % of the others may be over-graded
//! to safety-critical. Prints the confusion matrix and every miss.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "a test fails loudly at the first broken expectation")]

use std::path::Path;

use serde::Deserialize;

use fieldproof::domain::severity::{FailureFacts, Severity, classify};

#[derive(Deserialize)]
struct Note {
    id: u32,
    note: String,
    expected: Severity,
}

#[test]
fn evaluation_set_meets_recall_and_precision_targets() {
    let rules = fieldproof::catalogue::read_rules(Path::new("checklists")).expect("rule set loads");
    let notes: Vec<Note> = std::fs::read_to_string("tests/data/failure_notes.jsonl")
        .expect("evaluation set")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("note parses"))
        .collect();
    assert!(notes.len() >= 300, "the evaluation set has at least 300 notes");

    let mut matrix = [[0usize; 3]; 3];
    let mut misses = Vec::new();
    for note in &notes {
        let facts = FailureFacts {
            description: &note.note,
            failed_items: &[],
            hazards: &[],
            injury: false,
            vulnerable_occupant: false,
            service_lost: None,
            repeats: &[],
        };
        let got = classify(&facts, &rules);
        matrix[note.expected.rank() as usize][got.severity.rank() as usize] += 1;
        if got.severity != note.expected {
            let rules_fired: Vec<&str> = got.reasons.iter().map(|r| r.rule.as_str()).collect();
            misses.push(format!(
                "#{} expected {:?} got {:?} {rules_fired:?}: {}",
                note.id, note.expected, got.severity, note.note
            ));
        }
    }
    println!("confusion matrix ({} notes, rules {}): rows expected, columns graded", notes.len(), rules.version);
    println!("{:>20} {:>10} {:>10} {:>10}", "", "nuisance", "service", "safety");
    for (expected, row) in Severity::ALL.iter().zip(matrix) {
        println!("{:>20} {:>10} {:>10} {:>10}", expected.as_str(), row[0], row[1], row[2]);
    }
    for miss in &misses {
        println!("{miss}");
    }
    let safety = matrix[2].iter().sum::<usize>();
    let missed_safety = matrix[2][0] + matrix[2][1];
    let others = notes.len() - safety;
    let over_graded = matrix[0][2] + matrix[1][2];
    println!(
        "safety-critical recall: {}/{safety}; non-safety over-graded: {over_graded}/{others}",
        safety - missed_safety
    );
    assert_eq!(missed_safety, 0, "every safety-critical note is graded safety-critical");
    assert!(
        over_graded * 10 <= others,
        "at most 10 % of non-safety notes graded safety-critical ({over_graded}/{others})"
    );
}
