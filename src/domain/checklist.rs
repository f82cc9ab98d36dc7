//! Checklist templates: what a technician is asked, how each answer is judged, and what a failed
//! item means. A published version is immutable; `validate` is the one gate every version passes.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::severity::{Hazard, Severity};

/// The trade a checklist belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trade {
    Gas,
    Electrical,
    Telecom,
    Plumbing,
}

/// How an item is answered (see the contract's table of item kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Check,
    YesNo,
    Number,
    Choice,
    Text,
    Photo,
}

/// A checklist as written in `checklists/<key>/v<N>.toml`: everything but its key and version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub title: String,
    pub trade: Trade,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub items: Vec<Item>,
}

/// One line of a checklist. Kind-specific fields are only allowed on their kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub prompt: String,
    pub kind: ItemKind,
    pub required: bool,
    /// `yes_no`: the passing answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<bool>,
    /// `number`: unit of the reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// `number`: lower end of the pass range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// `number`: upper end of the pass range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// `number`: the physically plausible range; a reading outside it is a typo and is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<[f64; 2]>,
    /// `choice`: the allowed answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    /// `choice`: the answers that fail the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_choices: Option<Vec<String>>,
    /// What a failure of this item means.
    pub severity_hint: Severity,
    pub hazards: Vec<Hazard>,
}

/// A published version of a checklist: the body served to apps, byte for byte, forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistVersion {
    pub key: String,
    pub version: u32,
    pub title: String,
    pub trade: Trade,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub items: Vec<Item>,
}

impl ChecklistVersion {
    pub fn from_template(key: String, version: u32, template: Template) -> Self {
        let Template { title, trade, description, items } = template;
        Self { key, version, title, trade, description, items }
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|item| item.id == id)
    }
}

/// One thing wrong with a checklist version; `item` is `None` for the checklist itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub item: Option<String>,
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.item {
            Some(item) => write!(f, "item `{item}`: {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

pub const MAX_ITEMS: usize = 200;

/// Whether `s` is a lowercase kebab-case identifier (`gas-boiler-annual-service`), at most 64 chars.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// Every problem with a checklist version (empty when it may be published).
pub fn validate(version: &ChecklistVersion) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut top = |field: &'static str, message: String| problems.push(Problem { item: None, field, message });
    if !is_slug(&version.key) {
        top("key", format!("`{}` must be lowercase kebab-case (a-z, 0-9, -), at most 64 characters", version.key));
    }
    if version.version == 0 {
        top("version", "versions start at 1".to_owned());
    }
    if version.title.trim().is_empty() || version.title.len() > 200 {
        top("title", "must be 1 to 200 characters".to_owned());
    }
    if version.items.is_empty() || version.items.len() > MAX_ITEMS {
        top("items", format!("a checklist has 1 to {MAX_ITEMS} items, this one has {}", version.items.len()));
    }
    let mut seen = HashSet::new();
    for item in &version.items {
        if !seen.insert(item.id.as_str()) {
            problems.push(Problem {
                item: Some(item.id.clone()),
                field: "id",
                message: "appears more than once".to_owned(),
            });
        }
        problems.extend(validate_item(item));
    }
    problems
}

fn validate_item(item: &Item) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |field: &'static str, message: &str| {
        problems.push(Problem { item: Some(item.id.clone()), field, message: message.to_owned() })
    };
    if !is_slug(&item.id) {
        problem("id", "must be lowercase kebab-case (a-z, 0-9, -), at most 64 characters");
    }
    if item.prompt.trim().is_empty() || item.prompt.len() > 500 {
        problem("prompt", "must be 1 to 500 characters");
    }
    let unique: HashSet<_> = item.hazards.iter().collect();
    if unique.len() != item.hazards.len() {
        problem("hazards", "lists a hazard more than once");
    }
    if item.severity_hint == Severity::SafetyCritical && !item.hazards.iter().any(|h| h.endangers_people()) {
        problem(
            "hazards",
            "a safety_critical item must name the danger to people (gas, carbon_monoxide, electrical, fire, scald, explosion, working_at_height)",
        );
    }

    let is = |kind: ItemKind| item.kind == kind;
    let misplaced: [(&'static str, bool, ItemKind); 7] = [
        ("expected", item.expected.is_some(), ItemKind::YesNo),
        ("unit", item.unit.is_some(), ItemKind::Number),
        ("min", item.min.is_some(), ItemKind::Number),
        ("max", item.max.is_some(), ItemKind::Number),
        ("limits", item.limits.is_some(), ItemKind::Number),
        ("choices", item.choices.is_some(), ItemKind::Choice),
        ("failing_choices", item.failing_choices.is_some(), ItemKind::Choice),
    ];
    for (field, present, owner) in misplaced {
        if present && !is(owner) {
            problem(field, "only allowed on items of kind `{owner}`".replace("{owner}", kind_name(owner)).as_str());
        }
    }

    match item.kind {
        ItemKind::YesNo if item.expected.is_none() => {
            problem("expected", "a yes_no item needs the passing answer (true or false)")
        }
        ItemKind::Number => validate_number(item, &mut problem),
        ItemKind::Choice => validate_choice(item, &mut problem),
        _ => {}
    }
    problems
}

fn validate_number(item: &Item, problem: &mut impl FnMut(&'static str, &str)) {
    if item.unit.as_deref().is_none_or(|u| u.trim().is_empty()) {
        problem("unit", "a number item needs its unit (e.g. \"mbar\")");
    }
    let numbers = [item.min, item.max, item.limits.map(|l| l[0]), item.limits.map(|l| l[1])];
    if numbers.iter().flatten().any(|n| !n.is_finite()) {
        problem("limits", "numbers must be finite");
        return;
    }
    match item.limits {
        None => problem("limits", "a number item needs its plausible range [lo, hi]"),
        Some([lo, hi]) if lo >= hi => problem("limits", "lo must be below hi"),
        Some([lo, hi]) => {
            for (field, bound) in [("min", item.min), ("max", item.max)] {
                if bound.is_some_and(|b| b < lo || b > hi) {
                    problem(field, "must lie within limits");
                }
            }
        }
    }
    match (item.min, item.max) {
        (None, None) => problem("min", "a number item needs a pass range: min, max or both"),
        (Some(min), Some(max)) if min > max => problem("min", "must not be above max"),
        _ => {}
    }
}

fn validate_choice(item: &Item, problem: &mut impl FnMut(&'static str, &str)) {
    let Some(choices) = &item.choices else {
        problem("choices", "a choice item needs its choices");
        return;
    };
    let unique: HashSet<&String> = choices.iter().collect();
    if choices.len() < 2 || unique.len() != choices.len() || choices.iter().any(|c| c.trim().is_empty()) {
        problem("choices", "needs at least two distinct, non-empty choices");
    }
    if let Some(failing) = &item.failing_choices {
        if failing.iter().any(|f| !unique.contains(f)) {
            problem("failing_choices", "must be among the choices");
        }
        if failing.len() >= choices.len() {
            problem("failing_choices", "at least one choice must pass");
        }
    }
}

fn kind_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Check => "check",
        ItemKind::YesNo => "yes_no",
        ItemKind::Number => "number",
        ItemKind::Choice => "choice",
        ItemKind::Text => "text",
        ItemKind::Photo => "photo",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number_item() -> Item {
        Item {
            id: "working-pressure".into(),
            prompt: "Working pressure at the meter".into(),
            kind: ItemKind::Number,
            required: true,
            expected: None,
            unit: Some("mbar".into()),
            min: Some(19.0),
            max: Some(23.0),
            limits: Some([0.0, 100.0]),
            choices: None,
            failing_choices: None,
            severity_hint: Severity::SafetyCritical,
            hazards: vec![Hazard::Gas],
        }
    }

    fn version(items: Vec<Item>) -> ChecklistVersion {
        ChecklistVersion {
            key: "gas-service".into(),
            version: 1,
            title: "Gas".into(),
            trade: Trade::Gas,
            description: None,
            items,
        }
    }

    fn fields(problems: &[Problem]) -> Vec<&'static str> {
        problems.iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_well_formed_number_item_passes() {
        assert!(validate(&version(vec![number_item()])).is_empty());
    }

    #[test]
    fn each_broken_rule_is_reported() {
        type Breakage = (fn(&mut Item), &'static str);
        let cases: Vec<Breakage> = vec![
            (|i| i.unit = None, "unit"),
            (|i| i.limits = None, "limits"),
            (|i| i.limits = Some([10.0, 5.0]), "limits"),
            (|i| i.min = Some(200.0), "min"),
            (|i| (i.min, i.max) = (None, None), "min"),
            (|i| i.expected = Some(true), "expected"),
            (|i| i.choices = Some(vec!["a".into(), "b".into()]), "choices"),
            (|i| i.hazards = vec![Hazard::ServiceOutage], "hazards"),
            (|i| i.id = "Working Pressure".into(), "id"),
            (|i| i.prompt = " ".into(), "prompt"),
        ];
        for (break_it, field) in cases {
            let mut item = number_item();
            break_it(&mut item);
            let problems = validate(&version(vec![item]));
            assert!(fields(&problems).contains(&field), "expected a `{field}` problem, got {problems:?}");
        }
    }

    #[test]
    fn choice_items_need_distinct_choices_and_a_passing_one() {
        let mut item = number_item();
        (item.kind, item.unit, item.min, item.max, item.limits) = (ItemKind::Choice, None, None, None, None);
        item.choices = Some(vec!["pass".into(), "pass".into()]);
        item.failing_choices = Some(vec!["fail".into()]);
        let problems = validate(&version(vec![item]));
        assert_eq!(fields(&problems), vec!["choices", "failing_choices"]);
    }

    #[test]
    fn duplicate_item_ids_are_reported() {
        let problems = validate(&version(vec![number_item(), number_item()]));
        assert_eq!(fields(&problems), vec!["id"]);
    }
}
