//! Retraining that gates a technician's skill: opened for a safety-critical failure or a
//! repeated one; while it is pending (or proved ineffective) the technician may not work that
//! checklist. A safety officer records the training; the technician's next sign-off on the
//! checklist judges whether it worked.

use super::Role;
use super::cases::{Refused, require_role};
use super::names::named_enum;
use super::safety::RetrainingVerdict;

named_enum! {
    /// Where a retraining assignment stands.
    pub enum RetrainingStatus {
        /// Not trained yet: the gate is closed.
        Pending = "pending",
        /// Trained; the next sign-off on the checklist judges it.
        Trained = "trained",
        /// The trained items passed at the next sign-off.
        Effective = "effective",
        /// A trained item failed again: the gate is closed again.
        Ineffective = "ineffective",
        /// The incident was re-graded below safety-critical.
        Cancelled = "cancelled",
    }
}

named_enum! {
    /// Why retraining was opened.
    pub enum RetrainingCause {
        SafetyCritical = "safety_critical",
        /// The technician failed the same checklist item again.
        Repeat = "repeat",
    }
}

impl RetrainingStatus {
    /// The statuses that keep the technician off the checklist.
    pub const GATING: [Self; 2] = [Self::Pending, Self::Ineffective];
    /// The statuses of retraining still under way (a new one is not opened beside it).
    pub const UNDER_WAY: [Self; 3] = [Self::Pending, Self::Trained, Self::Ineffective];

    /// Whether the technician is kept off the checklist.
    pub fn gates(self) -> bool {
        Self::GATING.contains(&self)
    }
}

/// A step in a retraining assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrainingStep {
    /// The incident is graded safety-critical again.
    Reopen,
    /// A safety officer records that the technician was trained: the gate opens.
    RecordTraining,
    /// The technician's next sign-off on the checklist judged the training.
    Judge(RetrainingVerdict),
    /// The incident is re-graded below safety-critical.
    Cancel,
}

/// The state a retraining assignment moves to, or why it cannot. `role` is the actor's
/// (`None`: the service).
pub fn step(state: RetrainingStatus, step: RetrainingStep, role: Option<Role>) -> Result<RetrainingStatus, Refused> {
    use RetrainingStatus::*;
    match (step, state) {
        (RetrainingStep::RecordTraining, _) => {
            require_role(role, &[Role::SafetyOfficer], "a safety officer records training")?;
            if state.gates() { Ok(Trained) } else { Err(Refused::NotNow(format!("the retraining is {state}"))) }
        }
        (RetrainingStep::Reopen, Cancelled) => Ok(Pending),
        (RetrainingStep::Judge(RetrainingVerdict::Effective), Trained) => Ok(Effective),
        (RetrainingStep::Judge(RetrainingVerdict::Ineffective), Trained) => Ok(Ineffective),
        (RetrainingStep::Cancel, Pending | Trained | Ineffective) => Ok(Cancelled),
        (RetrainingStep::Reopen | RetrainingStep::Judge(_) | RetrainingStep::Cancel, _) => {
            Err(Refused::NotNow(format!("the retraining is {state}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RetrainingStatus::*;
    use super::RetrainingStep::*;
    use super::*;

    #[test]
    fn each_rule_of_retraining() {
        let officer = Some(Role::SafetyOfficer);
        let t = Some(Role::Technician);
        let effective = Judge(RetrainingVerdict::Effective);
        let ineffective = Judge(RetrainingVerdict::Ineffective);
        let table: [(RetrainingStatus, RetrainingStep, Option<Role>, Option<RetrainingStatus>); 15] = [
            (Pending, RecordTraining, officer, Some(Trained)),
            (Ineffective, RecordTraining, officer, Some(Trained)),
            (Trained, RecordTraining, officer, None),
            (Effective, RecordTraining, officer, None),
            (Pending, RecordTraining, Some(Role::Dispatcher), None),
            (Pending, RecordTraining, None, None),
            (Trained, effective, t, Some(Effective)),
            (Trained, ineffective, t, Some(Ineffective)),
            (Pending, effective, t, None),
            (Pending, Cancel, officer, Some(Cancelled)),
            (Trained, Cancel, officer, Some(Cancelled)),
            (Ineffective, Cancel, officer, Some(Cancelled)),
            (Effective, Cancel, officer, None),
            (Cancelled, Reopen, officer, Some(Pending)),
            (Pending, Reopen, officer, None),
        ];
        for (state, s, role, expected) in table {
            assert_eq!(step(state, s, role).ok(), expected, "{state} {s:?} {role:?}");
        }
    }

    #[test]
    fn pending_and_ineffective_retraining_close_the_gate() {
        let gating: Vec<_> = RetrainingStatus::ALL.iter().filter(|s| s.gates()).collect();
        assert_eq!(gating, [&Pending, &Ineffective]);
    }
}
