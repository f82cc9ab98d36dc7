//! The make-safe visit of a safety-critical incident: opened when the incident is graded
//! safety-critical, assigned to a technician, done when that job is signed off, cancelled when
//! the incident is re-graded below safety-critical (and reopened if it goes back up).

use super::Role;
use super::cases::{Refused, require_role};
use super::names::named_enum;

named_enum! {
    /// Where a make-safe visit stands.
    pub enum VisitStatus {
        /// Waiting for a dispatcher to send someone.
        Open = "open",
        /// A technician has the make-safe job.
        Assigned = "assigned",
        /// The make-safe job was signed off.
        Done = "done",
        /// The incident was re-graded below safety-critical.
        Cancelled = "cancelled",
    }
}

named_enum! {
    /// What the make-safe sign-off found.
    pub enum VisitOutcome {
        MadeSafe = "made_safe",
        NotMadeSafe = "not_made_safe",
    }
}

/// A step in a make-safe visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitStep {
    /// The incident is graded safety-critical again.
    Reopen,
    /// A dispatcher sends a technician.
    Assign,
    /// The make-safe job is signed off.
    Complete,
    /// The incident is re-graded below safety-critical.
    Cancel,
}

/// The state a visit moves to, or why it cannot. `role` is the actor's (`None`: the service).
pub fn step(state: VisitStatus, step: VisitStep, role: Option<Role>) -> Result<VisitStatus, Refused> {
    use VisitStatus::*;
    match (step, state) {
        (VisitStep::Assign, _) => {
            require_role(role, &[Role::Dispatcher, Role::Admin], "a dispatcher assigns make-safe visits")?;
            match state {
                Open => Ok(Assigned),
                _ => Err(Refused::NotNow(format!("the make-safe visit is {state}"))),
            }
        }
        (VisitStep::Reopen, Cancelled) => Ok(Open),
        (VisitStep::Complete, Assigned) => Ok(Done),
        (VisitStep::Cancel, Open | Assigned) => Ok(Cancelled),
        (VisitStep::Reopen | VisitStep::Complete | VisitStep::Cancel, _) => {
            Err(Refused::NotNow(format!("the make-safe visit is {state}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::VisitStatus::*;
    use super::VisitStep::*;
    use super::*;

    #[test]
    fn each_rule_of_the_make_safe_visit() {
        let d = Some(Role::Dispatcher);
        let (t, s_o) = (Some(Role::Technician), Some(Role::SafetyOfficer));
        let table: [(VisitStatus, VisitStep, Option<Role>, Option<VisitStatus>); 13] = [
            (Open, Assign, d, Some(Assigned)),
            (Open, Assign, Some(Role::Admin), Some(Assigned)),
            (Open, Assign, t, None),
            (Open, Assign, s_o, None),
            (Open, Assign, None, None),
            (Assigned, Assign, d, None),
            (Assigned, Complete, t, Some(Done)),
            (Open, Complete, t, None),
            (Open, Cancel, s_o, Some(Cancelled)),
            (Assigned, Cancel, s_o, Some(Cancelled)),
            (Done, Cancel, s_o, None),
            (Cancelled, Reopen, s_o, Some(Open)),
            (Done, Reopen, s_o, None),
        ];
        for (state, s, role, expected) in table {
            assert_eq!(step(state, s, role).ok(), expected, "{state} {s:?} {role:?}");
        }
    }

    #[test]
    fn a_wrong_role_is_refused_before_the_state_is_looked_at() {
        assert!(matches!(step(Done, Assign, Some(Role::Technician)), Err(Refused::WrongRole(_))));
        assert!(matches!(step(Done, Assign, Some(Role::Dispatcher)), Err(Refused::NotNow(_))));
    }
}
