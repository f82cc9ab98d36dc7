//! Judging a technician's answers against the pinned checklist version: which answers are
//! unacceptable (the sign-off is refused) and which are acceptable but fail their item.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checklist::{ChecklistVersion, Item, ItemKind};
use super::severity::{Hazard, Severity};

pub const MAX_NOTE_LEN: usize = 2_000;
pub const MAX_TEXT_LEN: usize = 10_000;

/// One answer as the app sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub item_id: String,
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An item answered with a failing value: input to failure classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FailedItem {
    pub item_id: String,
    /// Why the answer fails, in words a dispatcher understands.
    pub reason: String,
    pub severity_hint: Severity,
    pub hazards: Vec<Hazard>,
}

/// An answer (or a missing one) that makes the sign-off unacceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerProblem {
    pub item_id: String,
    pub message: String,
}

/// Checks every answer against `checklist` and returns the failed items, or every problem found:
/// unknown or repeated items, wrong value types, implausible readings, missing required items.
pub fn evaluate(checklist: &ChecklistVersion, answers: &[Answer]) -> Result<Vec<FailedItem>, Vec<AnswerProblem>> {
    let mut problems = Vec::new();
    let mut failed = Vec::new();
    let mut answered = HashSet::new();
    for answer in answers {
        let mut problem = |message: String| problems.push(AnswerProblem { item_id: answer.item_id.clone(), message });
        if !answered.insert(answer.item_id.as_str()) {
            problem("answered more than once".to_owned());
            continue;
        }
        let Some(item) = checklist.item(&answer.item_id) else {
            problem(format!("no such item in checklist {} v{}", checklist.key, checklist.version));
            continue;
        };
        if answer.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_LEN) {
            problem(format!("note is longer than {MAX_NOTE_LEN} characters"));
        }
        match judge(item, &answer.value) {
            Ok(Verdict::Pass | Verdict::Unanswered) => {}
            Ok(Verdict::Fail(reason)) => failed.push(FailedItem {
                item_id: item.id.clone(),
                reason,
                severity_hint: item.severity_hint,
                hazards: item.hazards.clone(),
            }),
            Err(message) => problem(message),
        }
    }
    for item in checklist.items.iter().filter(|item| item.required) {
        let given = answers.iter().find(|a| a.item_id == item.id);
        if given.is_none_or(|a| a.value.is_null()) && !problems.iter().any(|p| p.item_id == item.id) {
            problems.push(AnswerProblem { item_id: item.id.clone(), message: "required item not answered".to_owned() });
        }
    }
    if problems.is_empty() { Ok(failed) } else { Err(problems) }
}

enum Verdict {
    Pass,
    Fail(String),
    Unanswered,
}

fn judge(item: &Item, value: &Value) -> Result<Verdict, String> {
    if value.is_null() {
        return Ok(Verdict::Unanswered);
    }
    match item.kind {
        ItemKind::Check => match value.as_bool() {
            Some(true) => Ok(Verdict::Pass),
            Some(false) => Ok(Verdict::Fail("not done".to_owned())),
            None => Err("expects true or false".to_owned()),
        },
        ItemKind::YesNo => {
            let answer = value.as_bool().ok_or("expects true (yes) or false (no)")?;
            let expected = item.expected.unwrap_or(true);
            Ok(if answer == expected {
                Verdict::Pass
            } else {
                Verdict::Fail(format!("answered {}, expected {}", yes_no(answer), yes_no(expected)))
            })
        }
        ItemKind::Number => judge_number(item, value),
        ItemKind::Choice => {
            let choice = value.as_str().ok_or("expects one of the item's choices as a string")?;
            let choices = item.choices.as_deref().unwrap_or_default();
            if !choices.iter().any(|c| c == choice) {
                return Err(format!("`{choice}` is not one of: {}", choices.join(", ")));
            }
            let fails = item.failing_choices.as_deref().unwrap_or_default().iter().any(|c| c == choice);
            Ok(if fails { Verdict::Fail(format!("answered `{choice}`")) } else { Verdict::Pass })
        }
        ItemKind::Text | ItemKind::Photo => {
            let text = value.as_str().ok_or("expects a string")?;
            if text.chars().count() > MAX_TEXT_LEN {
                Err(format!("is longer than {MAX_TEXT_LEN} characters"))
            } else if text.trim().is_empty() {
                if item.required { Err("must not be empty".to_owned()) } else { Ok(Verdict::Unanswered) }
            } else {
                Ok(Verdict::Pass)
            }
        }
    }
}

fn judge_number(item: &Item, value: &Value) -> Result<Verdict, String> {
    let reading = value.as_f64().filter(|n| n.is_finite()).ok_or("expects a number")?;
    let unit = item.unit.as_deref().unwrap_or_default();
    if let Some([lo, hi]) = item.limits
        && (reading < lo || reading > hi)
    {
        return Err(format!("{reading} {unit} is outside the plausible range {lo}..{hi} {unit}; check the reading"));
    }
    let below = item.min.is_some_and(|min| reading < min);
    let above = item.max.is_some_and(|max| reading > max);
    if !(below || above) {
        return Ok(Verdict::Pass);
    }
    let range = match (item.min, item.max) {
        (Some(min), Some(max)) => format!("{min}..{max}"),
        (Some(min), None) => format!("at least {min}"),
        (None, Some(max)) => format!("at most {max}"),
        (None, None) => String::new(),
    };
    Ok(Verdict::Fail(format!("reading {reading} {unit} outside the pass range {range} {unit}")))
}

fn yes_no(answer: bool) -> &'static str {
    if answer { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::checklist::Template;

    fn checklist() -> ChecklistVersion {
        let template: Template = toml::from_str(
            r#"
            title = "Test"
            trade = "gas"
            [[items]]
            id = "tightness"
            prompt = "Tightness test passed"
            kind = "check"
            required = true
            severity_hint = "safety_critical"
            hazards = ["gas"]
            [[items]]
            id = "spillage"
            prompt = "Signs of spillage?"
            kind = "yes_no"
            expected = false
            required = true
            severity_hint = "safety_critical"
            hazards = ["carbon_monoxide"]
            [[items]]
            id = "co-ppm"
            prompt = "Flue CO"
            kind = "number"
            unit = "ppm"
            max = 350
            limits = [0, 20000]
            required = true
            severity_hint = "safety_critical"
            hazards = ["carbon_monoxide"]
            [[items]]
            id = "classification"
            prompt = "Appliance classification"
            kind = "choice"
            choices = ["pass", "at_risk", "immediately_dangerous"]
            failing_choices = ["at_risk", "immediately_dangerous"]
            required = true
            severity_hint = "safety_critical"
            hazards = ["gas"]
            [[items]]
            id = "notes"
            prompt = "Notes"
            kind = "text"
            required = false
            severity_hint = "nuisance"
            hazards = []
            "#,
        )
        .expect("test template parses");
        ChecklistVersion::from_template("gas".into(), 1, template)
    }

    fn answer(item_id: &str, value: Value) -> Answer {
        Answer { item_id: item_id.into(), value, note: None }
    }

    fn passing() -> Vec<Answer> {
        vec![
            answer("tightness", json!(true)),
            answer("spillage", json!(false)),
            answer("co-ppm", json!(12)),
            answer("classification", json!("pass")),
        ]
    }

    #[test]
    fn all_passing_answers_have_no_failed_items() {
        assert_eq!(evaluate(&checklist(), &passing()), Ok(vec![]));
    }

    #[test]
    fn failing_values_become_failed_items() {
        let mut answers = passing();
        answers[0].value = json!(false);
        answers[1].value = json!(true);
        answers[2].value = json!(400.5);
        answers[3].value = json!("at_risk");
        let failed = evaluate(&checklist(), &answers).expect("answers are acceptable");
        let ids: Vec<_> = failed.iter().map(|f| f.item_id.as_str()).collect();
        assert_eq!(ids, vec!["tightness", "spillage", "co-ppm", "classification"]);
        assert_eq!(failed[2].reason, "reading 400.5 ppm outside the pass range at most 350 ppm");
    }

    #[test]
    fn every_unacceptable_answer_is_reported_once() {
        let answers = vec![
            answer("tightness", json!("yes")),
            answer("spillage", json!(false)),
            answer("spillage", json!(false)),
            answer("co-ppm", json!(25000)),
            answer("classification", json!("fine")),
            answer("boiler-colour", json!("white")),
        ];
        let problems = evaluate(&checklist(), &answers).expect_err("answers are unacceptable");
        let ids: Vec<_> = problems.iter().map(|p| p.item_id.as_str()).collect();
        assert_eq!(ids, vec!["tightness", "spillage", "co-ppm", "classification", "boiler-colour"]);
    }

    #[test]
    fn missing_or_null_required_items_are_reported() {
        let mut answers = passing();
        answers.remove(0);
        answers[0].value = Value::Null;
        let problems = evaluate(&checklist(), &answers).expect_err("required items missing");
        assert_eq!(problems.len(), 2);
        assert!(problems.iter().all(|p| p.message == "required item not answered"));
    }

    #[test]
    fn optional_items_may_be_left_blank() {
        let mut answers = passing();
        answers.push(answer("notes", json!("  ")));
        assert_eq!(evaluate(&checklist(), &answers), Ok(vec![]));
    }
}
