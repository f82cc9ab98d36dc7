//! Rules for safety-critical follow-up: fair disciplinary outcomes (a just-culture guide),
//! whether retraining worked, and the vocabularies safety officers record with.

use serde::{Deserialize, Serialize};

use super::signoff::FailedItem;

/// What kind of behaviour led to the failure, as the reviewer judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// An honest slip, lapse or mistake.
    HumanError,
    /// A shortcut taken without seeing the risk.
    AtRisk,
    /// Conscious disregard of a substantial risk.
    Reckless,
}

/// How the system contributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SystemFactor {
    UnclearChecklistItem,
    MissingTool,
    TimePressure,
    MissingInformation,
    FaultyEquipment,
    InadequateTraining,
    Other,
}

/// The decision of a disciplinary review, mildest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    NoAction,
    Coaching,
    VerbalWarning,
    WrittenWarning,
    SkillSuspension,
    HrReferral,
}

/// Root causes a safety audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RootCause {
    ChecklistUnclear,
    ChecklistMissingItem,
    TrainingGap,
    ProcedureNotFollowed,
    EquipmentFault,
    TimePressure,
    PartsOrMaterials,
    Communication,
    Other,
}

/// Whether `outcome` is in line with `behaviour` (console, coach, sanction) and the system's part.
/// An outcome out of line, or a sanction where the system contributed, needs a second safety
/// officer's approval.
pub fn in_line(behaviour: Behaviour, system_contributed: bool, outcome: Outcome) -> bool {
    let fits = match behaviour {
        Behaviour::HumanError => matches!(outcome, Outcome::NoAction | Outcome::Coaching),
        Behaviour::AtRisk => matches!(outcome, Outcome::Coaching | Outcome::VerbalWarning | Outcome::WrittenWarning),
        Behaviour::Reckless => {
            matches!(outcome, Outcome::WrittenWarning | Outcome::SkillSuspension | Outcome::HrReferral)
        }
    };
    fits && !(system_contributed && outcome >= Outcome::VerbalWarning)
}

/// Whether retraining worked, judged by the technician's next sign-off on the same template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrainingVerdict {
    /// Every item that failed before passed.
    Effective,
    /// An item that failed before failed again.
    Ineffective,
}

pub fn retraining_verdict(trained_items: &[String], failed_now: &[FailedItem]) -> RetrainingVerdict {
    if failed_now.iter().any(|f| trained_items.contains(&f.item_id)) {
        RetrainingVerdict::Ineffective
    } else {
        RetrainingVerdict::Effective
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::severity::Severity;

    #[test]
    fn outcomes_in_line_with_behaviour_need_no_second_opinion() {
        let table = [
            (Behaviour::HumanError, false, Outcome::Coaching, true),
            (Behaviour::HumanError, false, Outcome::WrittenWarning, false),
            (Behaviour::AtRisk, false, Outcome::VerbalWarning, true),
            (Behaviour::AtRisk, false, Outcome::HrReferral, false),
            (Behaviour::AtRisk, true, Outcome::VerbalWarning, false),
            (Behaviour::AtRisk, true, Outcome::Coaching, true),
            (Behaviour::Reckless, false, Outcome::SkillSuspension, true),
            (Behaviour::Reckless, false, Outcome::NoAction, false),
        ];
        for (behaviour, system, outcome, expected) in table {
            assert_eq!(in_line(behaviour, system, outcome), expected, "{behaviour:?} {system} {outcome:?}");
        }
    }

    #[test]
    fn retraining_is_effective_only_when_the_trained_items_pass() {
        let failed = |id: &str| FailedItem {
            item_id: id.into(),
            reason: "x".into(),
            severity_hint: Severity::Nuisance,
            hazards: vec![],
        };
        let trained = vec!["flue-check".to_owned()];
        assert_eq!(retraining_verdict(&trained, &[]), RetrainingVerdict::Effective);
        assert_eq!(retraining_verdict(&trained, &[failed("tidy")]), RetrainingVerdict::Effective);
        assert_eq!(retraining_verdict(&trained, &[failed("flue-check")]), RetrainingVerdict::Ineffective);
    }
}
