//! Rules for safety-critical follow-up: fair disciplinary outcomes (a just-culture guide),
//! whether retraining worked, and the vocabularies safety officers record with.

use super::names::named_enum;
use super::signoff::FailedItem;

named_enum! {
    /// What kind of behaviour led to the failure, as the reviewer judges it.
    pub enum Behaviour {
        /// An honest slip, lapse or mistake.
        HumanError = "human_error",
        /// A shortcut taken without seeing the risk.
        AtRisk = "at_risk",
        /// Conscious disregard of a substantial risk.
        Reckless = "reckless",
    }
}

named_enum! {
    /// How the system contributed.
    pub enum SystemFactor {
        UnclearChecklistItem = "unclear_checklist_item",
        MissingTool = "missing_tool",
        TimePressure = "time_pressure",
        MissingInformation = "missing_information",
        FaultyEquipment = "faulty_equipment",
        InadequateTraining = "inadequate_training",
        Other = "other",
    }
}

named_enum! {
    /// The decision of a disciplinary review, mildest first.
    #[derive(PartialOrd, Ord)]
    pub enum Outcome {
        NoAction = "no_action",
        Coaching = "coaching",
        VerbalWarning = "verbal_warning",
        WrittenWarning = "written_warning",
        SkillSuspension = "skill_suspension",
        HrReferral = "hr_referral",
    }
}

named_enum! {
    /// Root causes a safety audit records.
    pub enum RootCause {
        ChecklistUnclear = "checklist_unclear",
        ChecklistMissingItem = "checklist_missing_item",
        TrainingGap = "training_gap",
        ProcedureNotFollowed = "procedure_not_followed",
        EquipmentFault = "equipment_fault",
        TimePressure = "time_pressure",
        PartsOrMaterials = "parts_or_materials",
        Communication = "communication",
        Other = "other",
    }
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
