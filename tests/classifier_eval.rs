//! The grader judged on notes it was not tuned on. `tests/data/notes/` holds a labelled set split
//! once, by a fixed hash, into `dev` (rules are written by reading it) and `test` (frozen: only its
//! scores are printed, never its misses).
//!
//! The targets for the frozen `test` split are: safety recall ≥ 98 %; no safety-critical note graded
//! below it unless it went to triage; ≥ 90 % of the other notes kept below safety-critical; at most
//! 5 % of all notes in triage. The shipped rules (v20: the taxonomy rules, the statistical net
//! trained on `dev` and its band of doubt) meet the first, the third and the last on the split as it
//! now stands and not the second (see the README's "How failures are graded"), so this test holds them to
//! the ceiling of missed notes and the floor of notes kept below safety-critical they have reached,
//! which a rule change may better but not worsen, and to the targets they meet. Both are set again
//! only when the split grows, to the figures of a new version that is no worse than the version
//! before it on the grown split; the test knows the split's size, so a grown split fails it until then.
//!
//! `cargo test --test classifier_eval -- --nocapture` prints both confusion matrices, the triage
//! share, each figure beside its target, and every dev miss with its reasons.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "a test fails loudly at the first broken expectation")]

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use fieldproof::domain::evaluation::{Evaluation, LabelledNote, percent};
use fieldproof::domain::net::{self, NetFile};
use fieldproof::domain::rules::{RuleSet, RuleSetFile};
use fieldproof::domain::severity::{Classification, FailureFacts, Severity, classify};

/// Safety recall on `test`, in per cent.
const RECALL_TARGET: f64 = 98.0;
// Measured 2026-12-07 on the 12,078-note test split (grown by the fortieth round): rule set v23
// (v22's rules, a net retrained on the grown dev split, a few harmless uses) 4,854 / 4,917 = 98.7 %,
// 35 missed without triage, 6,521 / 7,161 = 91.1 % of the others kept below safety-critical, 4.7 %
// triage (565 notes); v22 on the same split 4,841 / 4,917, 42 missed, 6,511 kept, 4.6 % (558).
// (On the 11,762-note split before: v22 41 missed, 6,329 kept.)
/// Safety-critical `test` notes graded below it without triage: the target, and the ceiling reached.
const MISSED_TARGET: usize = 0;
const MISSED_CEILING: usize = 35;
/// Other `test` notes kept below safety-critical: the target share, and the floor reached (a count).
const KEPT_BELOW_TARGET: f64 = 90.0;
const KEPT_BELOW_FLOOR: usize = 6521;
/// The `test` split the ceiling and the floor were set on: its safety-critical and other notes.
const SPLIT_SET_ON: (usize, usize) = (4917, 7161);
const TRIAGE_TARGET: f64 = 5.0;

#[derive(Deserialize)]
struct Note {
    id: String,
    note: String,
    source: String,
}

fn notes(split: &str) -> String {
    std::fs::read_to_string(format!("tests/data/notes/{split}.jsonl")).expect("evaluation set")
}

fn provenance(split: &str) -> Vec<Note> {
    notes(split).lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("note")).collect()
}

/// The rule set in force: the latest version under `checklists/_severity-rules`.
fn latest_rules() -> RuleSet {
    fieldproof::catalogue::read_rules(Path::new("checklists")).expect("rule set loads")
}

/// Grades a note that is only words, and checks it is graded safety-critical by the rules, not sent
/// to triage.
fn graded_safety_critical(rules: &RuleSet, note: &str) -> Classification {
    let verdict = classify(&FailureFacts::text(note), rules);
    assert_eq!((verdict.severity, verdict.triage), (Severity::SafetyCritical, None), "{note}: {verdict:?}");
    verdict
}

fn labelled(split: &str) -> Vec<LabelledNote> {
    LabelledNote::parse_many(&notes(split)).expect("notes parse")
}

/// The split a newly written note belongs to: the first byte of a keyed SHA-256, 3 in 10 to `test`.
fn split_of(note: &str) -> &'static str {
    let digest = Sha256::digest(format!("fieldproof-eval-split:{note}").as_bytes());
    if digest[0] % 10 < 3 { "test" } else { "dev" }
}

#[test]
fn the_split_is_the_fixed_one_and_large_enough() {
    let (dev, test) = (provenance("dev"), provenance("test"));
    assert!(dev.len() + test.len() >= 1500, "at least 1,500 labelled notes");
    for note in &test {
        assert_eq!(split_of(&note.note), "test", "{} belongs to dev by the fixed split", note.id);
    }
    for note in dev.iter().filter(|n| n.source != "project-v1") {
        assert_eq!(split_of(&note.note), "dev", "{} belongs to test by the fixed split", note.id);
    }
    let mut seen = std::collections::HashSet::new();
    for note in dev.iter().chain(&test) {
        assert!(seen.insert(note.note.to_lowercase()), "{} appears twice", note.id);
    }
}

/// A round waiting in `pending/` (graded by the version in force, not yet split in: see the notes'
/// README) holds labelled notes, none of them already in the split or in another pending round.
/// The folder may be absent when no round waits.
#[test]
fn pending_rounds_are_labelled_and_hold_no_note_of_the_split() {
    let mut seen: std::collections::HashSet<String> =
        provenance("dev").iter().chain(&provenance("test")).map(|n| n.note.to_lowercase()).collect();
    let Ok(folder) = std::fs::read_dir("tests/data/notes/pending") else { return };
    for entry in folder {
        let path = entry.expect("pending round").path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("pending round reads");
        let pending = LabelledNote::parse_many(&text).expect("pending notes parse");
        assert!(!pending.is_empty(), "{} holds notes", path.display());
        for note in &pending {
            assert!(seen.insert(note.note.to_lowercase()), "{}: {:?} appears twice", path.display(), note.note);
        }
    }
}

#[test]
fn the_latest_rules_hold_their_ground_on_notes_they_were_not_written_from() {
    let rules = latest_rules();
    let dev = Evaluation::run(&labelled("dev"), &rules);
    println!("\n{}", dev.report("dev (rules are written from these)"));
    for miss in &dev.misses {
        println!("{} expected {} graded {}: {}", miss.id, miss.expected.as_str(), miss.graded.as_str(), miss.note);
        for reason in &miss.reasons {
            println!("    {reason}");
        }
    }
    let test = Evaluation::run(&labelled("test"), &rules);
    println!("\n{}", test.report("test (frozen; misses not shown)"));
    let recall = percent(test.safety_caught(), test.safety());
    let kept = percent(test.others_kept_below(), test.others());
    let triage = percent(test.triaged(), test.total());
    println!("recall {recall:.2} % (target {RECALL_TARGET} %)");
    println!(
        "safety missed without triage {} (target {MISSED_TARGET}, ceiling {MISSED_CEILING})",
        test.safety_missed()
    );
    println!(
        "others kept below safety-critical {} = {kept:.1} % (target {KEPT_BELOW_TARGET} %, floor {KEPT_BELOW_FLOOR})",
        test.others_kept_below()
    );
    println!("triage {triage:.1} % (target at most {TRIAGE_TARGET} %)");

    assert_eq!(
        (test.safety(), test.others()),
        SPLIT_SET_ON,
        "the test split grew: set the ceiling of missed notes and the floor of kept notes again"
    );
    assert!(recall >= RECALL_TARGET, "safety recall on test fell below {RECALL_TARGET} %: {recall:.2} %");
    assert!(
        test.safety_missed() <= MISSED_CEILING,
        "safety-critical test notes missed without triage: {} above the ceiling {MISSED_CEILING}",
        test.safety_missed()
    );
    assert!(
        test.others_kept_below() >= KEPT_BELOW_FLOOR,
        "non-safety test notes kept below safety-critical: {} under the floor {KEPT_BELOW_FLOOR}",
        test.others_kept_below()
    );
    assert!(
        kept >= KEPT_BELOW_TARGET,
        "non-safety test notes kept below safety-critical fell below {KEPT_BELOW_TARGET} %: {kept:.2} %"
    );
    assert!(triage <= TRIAGE_TARGET, "triage share on test rose above {TRIAGE_TARGET} %: {triage:.1} %");
}

/// The two faults that let hazards through in rule set v1, and a hazard told in a later clause.
#[test]
fn real_words_are_not_repaired_and_a_missing_safety_device_is_not_a_negation() {
    let rules = latest_rules();
    for note in [
        "tap fitted fine, though she mentioned the blending valve under the sink had been binned",
        "new cylinder fitted without the temperature relief valve",
        "unvented cylinder, no discharge pipe and the expansion vessel removed",
        "CO alarm fine at first but it went off twice yesterday",
        "landing light was fine on monday but it crackled and flashed last night",
    ] {
        let verdict = graded_safety_critical(&rules, note);
        assert!(verdict.reasons.iter().all(|r| !r.evidence.contains("bleeding")), "{note}: {verdict:?}");
    }
    let nice = classify(&FailureFacts::text("engineer was nice, left on time"), &rules);
    assert_eq!(nice.severity, Severity::Nuisance);
}

/// Harmless uses of hazard words are whole phrases, so a hazard worded like one is still read; and
/// the everyday sentences the latest families were mended for are not hazards.
#[test]
fn a_hazard_worded_like_a_harmless_use_is_still_read() {
    let rules = latest_rules();
    for note in [
        "Engineer late. CO alarm quiet now after going off all night",
        "consumer unit has two blanking plates missing, busbar reachable with a finger",
        "Faint buzzing behind the consumer unit and it smells hot",
        "E-bike battery sat smoking in the hall",
        "The socket behind the fridge looked burnt out",
        "Old electricity service is live and the cover is off",
        "Hot water over 65°C at the kids basin",
        "Bath water measured at 54°C in the care home",
        // An alarm's chirping with a symptom, a second sounding or the alarm disabled.
        "CO alarm chirping, changed the battery, quiet now, but we all have headaches",
        "Smoke alarm chirped, battery changed and it was quiet, then it went off again tonight",
        "Took the battery out of the CO alarm because it kept chirping, quiet now",
        "CO alarm beeping with a headache and dizzy, swapped the battery, silent since",
        // A CO alarm's beep is its alarm; a battery changed in another device; the battery smoking.
        "CO alarm beeping. New battery put in. Quiet for about an hour, now it's beeping every few minutes",
        "Replaced the batteries in the TV remote and it works fine now. The CO detector upstairs is beeping",
        "The smoke detector battery is smoking, new battery in, all good",
        "CO alarm beeping loudly, changed the battery, it stopped once we opened the windows",
        // Hazards worded beside everyday uses of their words ("sparks" for the electrician, a US breaker
        // "popping" for tripping, passing out at a bill), which a rule set may one day read as harmless.
        "Sparks left the socket smoking in the kitchen",
        "sparks came back out of the plug when I switched it on again",
        "Breaker keeps popping and there's a burning smell from the board",
        "fainted when i opened the garage door, the generator was running in there",
        "the gas fire made my head spin and the co alarm is chirping",
        // A lock-out taken off a breaker is a defeated safety device (a boiler's lockout is a fault).
        "someone took the lockout off the breaker while the electrician was working on the circuit",
    ] {
        graded_safety_critical(&rules, note);
    }
    for note in [
        "nearly choked on the price of the new boiler",
        "Called at 10, just missed him, left a card",
        "Opened the PCP and re-jumpered the pair, all working",
        "Fitter was singing loudly all afternoon",
        "Curtain caught in the door when he left",
    ] {
        assert_ne!(classify(&FailureFacts::text(note), &rules).severity, Severity::SafetyCritical, "{note}");
    }
}

/// The shipped net (the file the latest version's `[net]` table names, beside `vN.toml`; a version
/// may keep an earlier version's net) is the one `fieldproof rules train` makes from `dev`, and from
/// nothing else. `dev` only grows at its end, so the net is retrained on as many of its first notes
/// as it was trained on (notes added since wait for the next version).
#[test]
fn the_shipped_net_is_trained_on_dev_alone() {
    let version = latest_rules().version;
    let folder = Path::new("checklists/_severity-rules");
    let rules_file = folder.join(format!("{}.toml", version.rsplit('/').next().unwrap()));
    let named: RuleSetFile =
        toml::from_str(&std::fs::read_to_string(&rules_file).expect("the latest rules")).expect("rules parse");
    let file = folder.join(named.net.expect("the latest rule set names a net").weights);
    let shipped: NetFile =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("the latest net")).expect("net parses");
    let dev = labelled("dev");
    assert!(shipped.trained_on.count <= dev.len(), "the net saw notes that are not in dev");
    let pairs: Vec<(&str, bool)> = dev[..shipped.trained_on.count]
        .iter()
        .map(|n| (n.note.as_str(), n.expected == Severity::SafetyCritical))
        .collect();
    let trained = net::train("tests/data/notes/dev.jsonl", &pairs);
    assert_eq!(shipped.trained_on, trained.trained_on);
    assert_eq!((shipped.threshold, shipped.doubt, shipped.bias), (trained.threshold, trained.doubt, trained.bias));
    assert_eq!(shipped.weights, trained.weights, "retrain with `fieldproof rules train` into a new version");
}
