//! Customer recovery: the 24-hour clock (a failure is recovered within target when it is fixed,
//! apologised for and its remedy settled no later than 24 hours after it was reported), and the
//! recovery policy: which remedies a customer is offered and the apology drafts.

use std::collections::HashSet;

use chrono::{NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};

use super::checklist::is_slug;
use super::severity::{Reason, Severity};

/// How long a customer recovery case has, counted from the failure report: 24 hours.
pub const RECOVERY_DEADLINE: TimeDelta = TimeDelta::hours(24);
/// The explanation to the customer is due this long after the fix.
pub const EXPLANATION_WITHIN: TimeDelta = TimeDelta::days(1);
/// How close to the deadline a case is flagged as due soon.
pub const DUE_SOON: TimeDelta = TimeDelta::hours(4);

/// Where an open case stands against its deadline at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    OnTrack,
    DueSoon,
    Overdue,
}

pub fn urgency(due_at: NaiveDateTime, now: NaiveDateTime) -> Urgency {
    let left = due_at - now;
    if left < TimeDelta::zero() {
        Urgency::Overdue
    } else if left <= DUE_SOON {
        Urgency::DueSoon
    } else {
        Urgency::OnTrack
    }
}

/// Whether a case recovered at `recovered_at` met the target of one reported at `reported_at`.
pub fn within_target(reported_at: NaiveDateTime, recovered_at: NaiveDateTime) -> bool {
    recovered_at - reported_at <= RECOVERY_DEADLINE
}

/// The policy file, `checklists/_recovery-policy/v<N>.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Dispatchers grant remedies up to this value without approval.
    pub frontline_limit_gbp: f64,
    /// Who approves a remedy above the frontline limit.
    pub approver_role: String,
    /// An outage at least this long raises the offer by one tier.
    pub long_outage_hours: f64,
    pub remedies: Vec<Remedy>,
    #[serde(default)]
    pub surprises: Vec<Surprise>,
    pub apologies: Apologies,
}

/// A personal touch, suggested when a customer's preferences mention one of the words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Surprise {
    pub id: String,
    pub when_preference_mentions: Vec<String>,
    pub suggest: String,
}

/// A suggested surprise and the preference that led to it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SurpriseSuggestion {
    pub id: String,
    pub suggest: String,
    pub because: String,
}

/// One remedy a customer can choose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remedy {
    pub id: String,
    pub label: String,
    /// What it costs the company, for the approval limit.
    pub value_gbp: f64,
    /// The offer tiers (1 to 4) it is offered at.
    pub tiers: Vec<u8>,
}

/// Apology drafts by kind of failure, with `{customer}`, `{failure}`, `{fix}` and `{deadline}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apologies {
    pub outage: String,
    pub damage: String,
    pub workmanship: String,
    pub visit: String,
}

/// A loaded, validated recovery policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// E.g. `recovery-policy/v1`.
    pub version: String,
    pub file: PolicyFile,
}

/// What kind of failure an apology is about, decided from the classifier's reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Outage,
    Damage,
    Workmanship,
    Visit,
}

/// The remedies offered for one case, and why at this tier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offer {
    pub tier: u8,
    pub explanation: Vec<String>,
    pub options: Vec<Remedy>,
}

const PLACEHOLDERS: [&str; 4] = ["{customer}", "{failure}", "{fix}", "{deadline}"];
const MAX_OPTIONS: usize = 3;

impl Policy {
    /// Validates `file`; returns every problem found.
    pub fn load(version: String, file: PolicyFile) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if !is_amount(file.frontline_limit_gbp) {
            problems.push("frontline_limit_gbp: must be 0 or more".to_owned());
        }
        if !["dispatcher", "safety_officer", "admin"].contains(&file.approver_role.as_str()) {
            problems.push("approver_role: one of dispatcher, safety_officer, admin".to_owned());
        }
        let mut ids = HashSet::new();
        for remedy in &file.remedies {
            let at = format!("remedy `{}`", remedy.id);
            if !is_slug(&remedy.id) || !ids.insert(remedy.id.as_str()) {
                problems.push(format!("{at}: ids are unique lowercase kebab-case"));
            }
            if remedy.label.trim().is_empty() || !is_amount(remedy.value_gbp) {
                problems.push(format!("{at}: needs a label and a value of 0 or more"));
            }
            if remedy.tiers.is_empty() || remedy.tiers.iter().any(|t| !(1..=4).contains(t)) {
                problems.push(format!("{at}: tiers are 1 to 4"));
            }
        }
        for tier in 1..=4u8 {
            if file.remedies.iter().filter(|r| r.tiers.contains(&tier)).count() < 2 {
                problems.push(format!("tier {tier}: offer at least two remedies, so the customer has a choice"));
            }
        }
        for surprise in &file.surprises {
            if !is_slug(&surprise.id)
                || surprise.suggest.trim().is_empty()
                || surprise.when_preference_mentions.is_empty()
            {
                problems.push(format!(
                    "surprise `{}`: needs a kebab-case id, words to look for and a suggestion",
                    surprise.id
                ));
            }
        }
        let a = &file.apologies;
        for (kind, text) in
            [("outage", &a.outage), ("damage", &a.damage), ("workmanship", &a.workmanship), ("visit", &a.visit)]
        {
            for placeholder in ["{customer}", "{failure}"] {
                if !text.contains(placeholder) {
                    problems.push(format!("apologies.{kind}: must use {placeholder}"));
                }
            }
            let unknown =
                text.split('{').skip(1).filter_map(|rest| rest.split_once('}')).map(|(name, _)| format!("{{{name}}}"));
            for placeholder in unknown.filter(|p| !PLACEHOLDERS.contains(&p.as_str())) {
                problems.push(format!("apologies.{kind}: unknown placeholder {placeholder}"));
            }
        }
        if problems.is_empty() { Ok(Self { version, file }) } else { Err(problems) }
    }

    /// The remedies to offer: tier 1 for a nuisance, 2 for a service-impacting failure, one more
    /// for a long outage and one more for a repeat (at most 4); up to three options of that tier.
    pub fn offer(&self, grade: Severity, outage_hours: f64, repeat: bool) -> Offer {
        let mut tier: u8 = if grade == Severity::Nuisance { 1 } else { 2 };
        let mut explanation = vec![format!("{}: tier {tier}", grade.as_str())];
        if outage_hours >= self.file.long_outage_hours {
            tier += 1;
            explanation.push(format!("outage of {outage_hours} h (at least {} h): +1", self.file.long_outage_hours));
        }
        if repeat {
            tier += 1;
            explanation.push("a repeat failure: +1".to_owned());
        }
        let tier = tier.min(4);
        let options =
            self.file.remedies.iter().filter(|r| r.tiers.contains(&tier)).take(MAX_OPTIONS).cloned().collect();
        Offer { tier, explanation, options }
    }

    /// Surprises that fit the customer's known preferences, each with the preference behind it.
    pub fn surprises(&self, preferences: &[String]) -> Vec<SurpriseSuggestion> {
        let mut found = Vec::new();
        for surprise in &self.file.surprises {
            let hit = preferences.iter().find(|pref| {
                let words: Vec<String> =
                    pref.to_lowercase().split(|c: char| !c.is_alphanumeric()).map(str::to_owned).collect();
                let text = words.join(" ");
                surprise.when_preference_mentions.iter().any(|m| {
                    let m = m.to_lowercase();
                    if m.contains(' ') { text.contains(&m) } else { words.contains(&m) }
                })
            });
            if let Some(pref) = hit {
                found.push(SurpriseSuggestion {
                    id: surprise.id.clone(),
                    suggest: surprise.suggest.clone(),
                    because: pref.clone(),
                });
            }
        }
        found
    }

    /// Whether granting `remedy` needs the approver.
    pub fn needs_approval(&self, remedy: &Remedy) -> bool {
        remedy.value_gbp > self.file.frontline_limit_gbp
    }

    /// The apology draft for a kind of failure.
    pub fn apology(&self, kind: FailureKind, customer: &str, failure: &str, fix: &str, deadline: &str) -> String {
        let a = &self.file.apologies;
        let template = match kind {
            FailureKind::Outage => &a.outage,
            FailureKind::Damage => &a.damage,
            FailureKind::Workmanship => &a.workmanship,
            FailureKind::Visit => &a.visit,
        };
        template
            .replace("{customer}", customer)
            .replace("{failure}", failure)
            .replace("{fix}", fix)
            .replace("{deadline}", deadline)
    }
}

/// A money amount: finite and not negative.
fn is_amount(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}

/// The kind of failure, from the rules that graded it: a lost service first, then damage, then
/// failed checklist items; anything else was about the visit itself.
pub fn failure_kind(reasons: &[Reason]) -> FailureKind {
    let fired = |prefixes: &[&str]| reasons.iter().any(|r| prefixes.iter().any(|p| r.rule.starts_with(p)));
    if fired(&["fact.service-lost", "text.no-", "text.not-working"]) {
        FailureKind::Outage
    } else if fired(&["text.water-damage", "text.property-damage", "fact.damage-or-outage"]) {
        FailureKind::Damage
    } else if fired(&["item."]) {
        FailureKind::Workmanship
    } else {
        FailureKind::Visit
    }
}

/// Whether `text` names a member of staff (an apology speaks for the company, never blames a person).
pub fn names_anyone(text: &str, names: &[String]) -> Option<String> {
    let words: Vec<String> = text.to_lowercase().split(|c: char| !c.is_alphanumeric()).map(str::to_owned).collect();
    names
        .iter()
        .flat_map(|name| name.split_whitespace())
        .map(str::to_lowercase)
        .filter(|part| part.chars().count() >= 3)
        .find(|part| words.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_24_hours_to_the_minute() {
        let reported = chrono::DateTime::from_timestamp(1_772_442_000, 0).unwrap_or_default().naive_utc();
        assert!(within_target(reported, reported + TimeDelta::minutes(23 * 60 + 59)));
        assert!(within_target(reported, reported + RECOVERY_DEADLINE));
        assert!(!within_target(reported, reported + TimeDelta::minutes(24 * 60 + 1)));
        let due = reported + RECOVERY_DEADLINE;
        assert_eq!(urgency(due, reported), Urgency::OnTrack);
        assert_eq!(urgency(due, reported + TimeDelta::hours(21)), Urgency::DueSoon);
        assert_eq!(urgency(due, reported + TimeDelta::hours(25)), Urgency::Overdue);
    }

    fn policy() -> Policy {
        let text = std::fs::read_to_string("checklists/_recovery-policy/v1.toml").unwrap_or_default();
        let file: PolicyFile = toml::from_str(&text).unwrap_or_else(|e| panic!("policy parses: {e}"));
        Policy::load("recovery-policy/v1".into(), file).unwrap_or_else(|e| panic!("policy is valid: {e:?}"))
    }

    #[test]
    fn offers_scale_with_grade_outage_and_repeats() {
        let p = policy();
        let tiers = [
            (Severity::Nuisance, 0.0, false, 1),
            (Severity::ServiceImpacting, 2.0, false, 2),
            (Severity::ServiceImpacting, 12.0, false, 3),
            (Severity::ServiceImpacting, 12.0, true, 4),
            (Severity::Nuisance, 0.0, true, 2),
        ];
        for (grade, hours, repeat, tier) in tiers {
            let offer = p.offer(grade, hours, repeat);
            assert_eq!(offer.tier, tier, "{grade:?} {hours} {repeat}");
            assert!((2..=3).contains(&offer.options.len()), "a choice of two or three: {offer:?}");
        }
    }

    #[test]
    fn surprises_follow_known_preferences_and_say_why() {
        let p = policy();
        let found = p.surprises(&["Loves gardening".into(), "prefers texts".into()]);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].id.as_str(), found[0].because.as_str()), ("garden-voucher", "Loves gardening"));
        assert!(p.surprises(&["hotdogs for lunch".into()]).is_empty(), "whole words only");
        assert!(p.surprises(&[]).is_empty());
    }

    #[test]
    fn apologies_speak_for_the_company() {
        let p = policy();
        let text = p.apology(FailureKind::Outage, "Mrs Hart", "heating", "an engineer will fix it", "18:00 on 3 March");
        assert!(text.starts_with("Dear Mrs Hart") && text.contains("heating") && text.contains("18:00 on 3 March"));
        assert_eq!(names_anyone("Our engineer Tess was careless", &["Tess Turner".into()]), Some("tess".into()));
        assert_eq!(names_anyone("We are sorry", &["Tess Turner".into()]), None);
    }

    #[test]
    fn broken_policies_are_refused_with_every_problem() {
        let mut file = policy().file;
        file.remedies.truncate(1);
        file.apologies.visit = "Sorry {name}".into();
        let problems = Policy::load("x".into(), file).expect_err("invalid");
        assert!(problems.iter().any(|p| p.contains("tier 4")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("unknown placeholder {name}")), "{problems:?}");
    }
}
