//! Severity grades and hazard tags, and `classify`: the one place that grades a failure report,
//! explainably (every fired rule with its evidence) and conservatively (any hazard signal is
//! safety-critical; negation only cancels a signal within its own clause; repeats escalate).

use serde::{Deserialize, Serialize};

use super::rules::RuleSet;
use super::signoff::FailedItem;

/// How bad a failure is, from a nuisance to a danger to people. Ordered: a higher grade is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Nuisance,
    ServiceImpacting,
    SafetyCritical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Self::Nuisance, Self::ServiceImpacting, Self::SafetyCritical];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// 0 for nuisance up to 2 for safety-critical (queue ordering).
    pub fn rank(self) -> i32 {
        self as i32
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nuisance => "nuisance",
            Self::ServiceImpacting => "service_impacting",
            Self::SafetyCritical => "safety_critical",
        }
    }
}

/// What a failure can put at risk. The first seven are dangers to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    Gas,
    CarbonMonoxide,
    Electrical,
    Fire,
    Scald,
    Explosion,
    WorkingAtHeight,
    WaterDamage,
    PropertyDamage,
    ServiceOutage,
}

impl Hazard {
    /// Whether this hazard endangers people (as opposed to property or service).
    pub fn endangers_people(self) -> bool {
        matches!(
            self,
            Self::Gas
                | Self::CarbonMonoxide
                | Self::Electrical
                | Self::Fire
                | Self::Scald
                | Self::Explosion
                | Self::WorkingAtHeight
        )
    }
}

/// An essential service the customer lost, and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceLoss {
    pub service: String,
    pub hours: f64,
}

/// An earlier failure that makes this one a repeat.
#[derive(Debug, Clone, PartialEq)]
pub enum Repeat {
    /// The same customer had a failure `days_ago` days before this one.
    SameCustomer { incident_id: String, days_ago: i64 },
    /// The same technician failed the same checklist item before.
    SameTechnicianItem { item_id: String, incident_id: String },
}

/// What the classifier is told about a failure.
#[derive(Debug, Clone, Copy)]
pub struct FailureFacts<'a> {
    pub description: &'a str,
    pub failed_items: &'a [FailedItem],
    pub hazards: &'a [Hazard],
    pub injury: bool,
    pub vulnerable_occupant: bool,
    pub service_lost: Option<&'a ServiceLoss>,
    pub repeats: &'a [Repeat],
}

/// Why a grade was given: the rule and the evidence that fired it, and the grade it points to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: String,
    pub evidence: String,
    pub points_to: Severity,
}

/// The classifier's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub severity: Severity,
    /// Every rule that fired, worst first.
    pub reasons: Vec<Reason>,
    pub rules_version: String,
    /// The same customer or the same technician-and-item failed before.
    pub repeat: bool,
    /// Dangers to people found in the report.
    pub hazards: Vec<Hazard>,
}

/// Grades a failure report. Total: every report gets a grade and at least one reason.
pub fn classify(facts: &FailureFacts<'_>, rules: &RuleSet) -> Classification {
    let mut reasons = Vec::new();
    let mut hazards = Vec::new();
    let mut fire = |rule: &str, evidence: String, points_to: Severity| {
        reasons.push(Reason { rule: rule.to_owned(), evidence, points_to });
    };

    for item in facts.failed_items {
        let evidence = format!("item `{}` failed: {}", item.item_id, item.reason);
        let people: Vec<Hazard> = item.hazards.iter().copied().filter(|h| h.endangers_people()).collect();
        hazards.extend(&people);
        match item.severity_hint {
            Severity::SafetyCritical => fire("item.safety-critical", evidence, Severity::SafetyCritical),
            _ if !people.is_empty() => {
                fire("item.hazard", format!("{evidence} (hazards {people:?})"), Severity::SafetyCritical)
            }
            Severity::ServiceImpacting => fire("item.service-impacting", evidence, Severity::ServiceImpacting),
            Severity::Nuisance => fire("item.nuisance", evidence, Severity::Nuisance),
        }
    }
    for hazard in facts.hazards {
        if hazard.endangers_people() {
            hazards.push(*hazard);
            fire("fact.hazard", format!("reported hazard: {hazard:?}"), Severity::SafetyCritical);
        } else {
            fire("fact.damage-or-outage", format!("reported: {hazard:?}"), Severity::ServiceImpacting);
        }
    }
    if facts.injury {
        fire("fact.injury", "someone was reported injured".to_owned(), Severity::SafetyCritical);
    }
    if let Some(loss) = facts.service_lost {
        let evidence = format!("{} lost for {} h", loss.service, loss.hours);
        let essential = rules.essential_services.iter().any(|s| s.eq_ignore_ascii_case(&loss.service));
        if facts.vulnerable_occupant && essential {
            fire(
                "fact.vulnerable-without-essential-service",
                format!("vulnerable occupant; {evidence}"),
                Severity::SafetyCritical,
            );
        } else {
            fire("fact.service-lost", evidence, Severity::ServiceImpacting);
        }
    }
    if facts.vulnerable_occupant {
        fire(
            "fact.vulnerable-occupant",
            "a vulnerable person lives at the site".to_owned(),
            Severity::ServiceImpacting,
        );
    }
    for finding in rules.scan(facts.description) {
        if finding.negated {
            let evidence = format!("`{}` negated in \"{}\" ({})", finding.pattern, finding.clause, finding.rule);
            fire("text.negated", evidence, Severity::Nuisance);
        } else {
            hazards.extend(finding.hazard.filter(|h| h.endangers_people()));
            fire(&finding.rule, format!("`{}` in \"{}\"", finding.pattern, finding.clause), finding.severity);
        }
    }

    let mut severity = reasons.iter().map(|r| r.points_to).max().unwrap_or(Severity::Nuisance);
    let no_signal = reasons.iter().all(|r| r.rule == "text.negated");
    let mut fire = |rule: &str, evidence: String, points_to: Severity| {
        reasons.push(Reason { rule: rule.to_owned(), evidence, points_to });
    };
    if no_signal {
        fire("default.no-signal", "no hazard, outage or damage signal found".to_owned(), Severity::Nuisance);
    }
    for repeat in facts.repeats {
        let evidence = match repeat {
            Repeat::SameCustomer { incident_id, days_ago } => {
                format!("same customer failed {days_ago} days ago (incident {incident_id})")
            }
            Repeat::SameTechnicianItem { item_id, incident_id } => {
                format!("same technician failed item `{item_id}` before (incident {incident_id})")
            }
        };
        let rule = match repeat {
            Repeat::SameCustomer { .. } => "repeat.same-customer",
            Repeat::SameTechnicianItem { .. } => "repeat.same-technician-item",
        };
        fire(rule, evidence, Severity::ServiceImpacting);
    }
    let repeat = !facts.repeats.is_empty();
    if repeat && severity == Severity::Nuisance {
        severity = Severity::ServiceImpacting;
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.points_to));
    hazards.sort();
    hazards.dedup();
    Classification { severity, reasons, rules_version: rules.version.clone(), repeat, hazards }
}
