//! The disciplinary review of a safety-critical incident, under a just-culture guide: a safety
//! officer (never the technician concerned) records the kind of behaviour and the system's part,
//! the technician may add a statement before the decision, and an outcome out of line with the
//! behaviour needs a second safety officer's approval.

use super::Role;
use super::cases::{Refused, require_role};
use super::names::named_enum;

named_enum! {
    /// Where a disciplinary case stands.
    pub enum CaseStatus {
        Open = "open",
        /// The behaviour and system factors are recorded.
        UnderReview = "under_review",
        /// An outcome out of line waits for a second safety officer.
        AwaitingApproval = "awaiting_approval",
        Decided = "decided",
        /// The incident was re-graded below safety-critical before a decision.
        Closed = "closed",
    }
}

/// A step in a disciplinary case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStep {
    /// The incident is graded safety-critical again.
    Reopen,
    /// A safety officer records the behaviour and the system's part.
    Review,
    /// The technician concerned adds a statement.
    Statement,
    /// A safety officer decides; `in_line` says whether the outcome fits the behaviour.
    Decide { in_line: bool },
    /// A second safety officer approves an outcome out of line; `same_officer` when the approver
    /// proposed it.
    Approve { same_officer: bool },
    /// The incident is re-graded below safety-critical.
    Close,
}

impl CaseStep {
    /// The role a person needs for this step (`None`: the step follows from a re-grade).
    pub fn role(self) -> Option<Role> {
        match self {
            Self::Statement => Some(Role::Technician),
            Self::Review | Self::Decide { .. } | Self::Approve { .. } => Some(Role::SafetyOfficer),
            Self::Reopen | Self::Close => None,
        }
    }
}

/// The state a case moves to, or why it cannot. `role` is the actor's (`None`: the service);
/// `concerned` says whether the actor is the technician the case is about.
pub fn step(state: CaseStatus, step: CaseStep, role: Option<Role>, concerned: bool) -> Result<CaseStatus, Refused> {
    use CaseStatus::*;
    if let Some(needed) = step.role() {
        require_role(role, &[needed], &format!("this step of a disciplinary case needs the role {needed}"))?;
    }
    let not_now = |why: &str| Err(Refused::NotNow(format!("the case is {state}{why}")));
    match step {
        CaseStep::Statement if !concerned => {
            Err(Refused::NotConcerned("only the technician concerned adds a statement".to_owned()))
        }
        CaseStep::Statement => match state {
            Open | UnderReview => Ok(state),
            AwaitingApproval | Decided | Closed => not_now("; statements are taken before the decision"),
        },
        CaseStep::Review | CaseStep::Decide { .. } | CaseStep::Approve { .. } if concerned => Err(Refused::WrongRole(
            "only a safety officer, not the technician concerned, reviews and decides".to_owned(),
        )),
        CaseStep::Review => match state {
            Open | UnderReview => Ok(UnderReview),
            _ => not_now(""),
        },
        CaseStep::Decide { in_line } => match state {
            UnderReview => Ok(if in_line { Decided } else { AwaitingApproval }),
            _ => not_now("; record the behaviour (review) first"),
        },
        CaseStep::Approve { same_officer } => match state {
            AwaitingApproval if same_officer => Err(Refused::SecondApproverRequired(
                "a second safety officer must approve an outcome out of line".to_owned(),
            )),
            AwaitingApproval => Ok(Decided),
            _ => not_now("; nothing awaits approval"),
        },
        CaseStep::Reopen => match state {
            Closed => Ok(Open),
            _ => not_now(""),
        },
        CaseStep::Close => match state {
            Open | UnderReview | AwaitingApproval => Ok(Closed),
            Decided | Closed => not_now(""),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::CaseStatus::*;
    use super::CaseStep::*;
    use super::*;

    #[test]
    fn each_rule_of_the_disciplinary_case() {
        let officer = Some(Role::SafetyOfficer);
        let tech = Some(Role::Technician);
        type Row = (CaseStatus, CaseStep, Option<Role>, bool, Result<CaseStatus, &'static str>);
        let table: [Row; 22] = [
            (Open, Review, officer, false, Ok(UnderReview)),
            (UnderReview, Review, officer, false, Ok(UnderReview)),
            (Decided, Review, officer, false, Err("not now")),
            (Open, Review, tech, true, Err("wrong role")),
            (Open, Review, Some(Role::Dispatcher), false, Err("wrong role")),
            (Open, Review, officer, true, Err("wrong role")),
            (Open, Statement, tech, true, Ok(Open)),
            (UnderReview, Statement, tech, true, Ok(UnderReview)),
            (UnderReview, Statement, tech, false, Err("not concerned")),
            (AwaitingApproval, Statement, tech, true, Err("not now")),
            (Decided, Statement, tech, true, Err("not now")),
            (Open, Statement, officer, false, Err("wrong role")),
            (UnderReview, Decide { in_line: true }, officer, false, Ok(Decided)),
            (UnderReview, Decide { in_line: false }, officer, false, Ok(AwaitingApproval)),
            (Open, Decide { in_line: true }, officer, false, Err("not now")),
            (AwaitingApproval, Approve { same_officer: false }, officer, false, Ok(Decided)),
            (AwaitingApproval, Approve { same_officer: true }, officer, false, Err("second approver")),
            (Decided, Approve { same_officer: false }, officer, false, Err("not now")),
            (Closed, Reopen, officer, false, Ok(Open)),
            (Decided, Reopen, officer, false, Err("not now")),
            (AwaitingApproval, Close, officer, false, Ok(Closed)),
            (Decided, Close, officer, false, Err("not now")),
        ];
        for (state, s, role, concerned, expected) in table {
            let got = step(state, s, role, concerned).map_err(|r| match r {
                Refused::WrongRole(_) => "wrong role",
                Refused::NotNow(_) => "not now",
                Refused::NotConcerned(_) => "not concerned",
                Refused::SecondApproverRequired(_) => "second approver",
            });
            assert_eq!(got, expected, "{state} {s:?} {role:?} concerned={concerned}");
        }
    }
}
