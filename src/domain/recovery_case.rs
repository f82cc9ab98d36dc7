//! The customer recovery case of an ordinary failure. It is recovered once the failure is fixed,
//! the company has apologised and a remedy is settled; along the way a fix visit may be sent, a
//! personal surprise decided, and the explanation given after the fix. A re-grade to
//! safety-critical cancels an open case (and a re-grade back down reopens it).

use super::Role;
use super::cases::{Refused, require_role};
use super::names::named_enum;
use super::severity::Severity;

named_enum! {
    /// Where a recovery case stands.
    #[derive(Default)]
    pub enum RecoveryStatus {
        #[default]
        Open = "open",
        /// Fixed, apologised for and the remedy settled.
        Recovered = "recovered",
        /// The incident was re-graded safety-critical.
        Cancelled = "cancelled",
    }
}

named_enum! {
    /// Where the customer's chosen remedy stands.
    pub enum RemedyStatus {
        /// Above the frontline limit: waits for the approver the policy names.
        PendingApproval = "pending_approval",
        Settled = "settled",
    }
}

/// What the machine needs to know of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecoveryState {
    pub status: RecoveryStatus,
    pub fixed: bool,
    pub apologised: bool,
    pub remedy: Option<RemedyStatus>,
    pub fix_visit_sent: bool,
    pub surprise_decided: bool,
    pub explained: bool,
}

/// A step in a recovery case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryStep {
    /// The incident is re-graded back below safety-critical.
    Reopen,
    /// The incident is re-graded safety-critical.
    Cancel,
    /// The failure is fixed (recorded by a dispatcher, or by the fix visit's clean sign-off).
    Fix,
    /// The apology is sent.
    Apologise,
    /// The customer chooses a remedy; `needs_approval` when it is above the frontline limit.
    ChooseRemedy { needs_approval: bool, approver: Option<Role> },
    /// The approver the policy names approves a remedy above the limit.
    ApproveRemedy { approver: Option<Role> },
    /// An expedited fix visit is sent; only for a service-impacting failure.
    SendFixVisit { grade: Severity },
    /// Whether a personal surprise was given is recorded.
    DecideSurprise,
    /// The customer is told what went wrong and what changed.
    Explain,
}

/// Refuses unless `role` is the approver the recovery policy names.
pub fn may_approve(role: Option<Role>, approver: Option<Role>) -> Result<(), Refused> {
    let text = match approver {
        Some(approver) => format!("the policy names {approver} as approver"),
        None => "the policy names no approver".to_owned(),
    };
    require_role(role, approver.as_slice(), &text)
}

/// The state a case moves to, or why it cannot. `role` is the actor's (`None`: the service).
pub fn step(state: RecoveryState, step: RecoveryStep, role: Option<Role>) -> Result<RecoveryState, Refused> {
    use RecoveryStatus::*;
    let mut next = state;
    let open = || {
        if state.status == Open {
            Ok(())
        } else {
            Err(Refused::NotNow(format!("the recovery case is {}", state.status)))
        }
    };
    let already = |what: &str| Err(Refused::NotNow(format!("{what} is already recorded")));
    match step {
        RecoveryStep::Reopen if state.status == Cancelled => next.status = Open,
        RecoveryStep::Cancel if state.status == Open => next.status = Cancelled,
        RecoveryStep::Reopen | RecoveryStep::Cancel => {
            return Err(Refused::NotNow(format!("the recovery case is {}", state.status)));
        }
        RecoveryStep::Fix => {
            open()?;
            if state.fixed {
                return already("fixed");
            }
            next.fixed = true;
        }
        RecoveryStep::Apologise => {
            open()?;
            if state.apologised {
                return already("apologised");
            }
            next.apologised = true;
        }
        RecoveryStep::ChooseRemedy { needs_approval, approver } => {
            open()?;
            if state.remedy.is_some() {
                return Err(Refused::NotNow("a remedy has already been chosen".to_owned()));
            }
            let by_approver = approver.is_some() && role == approver;
            next.remedy = Some(if needs_approval && !by_approver {
                RemedyStatus::PendingApproval
            } else {
                RemedyStatus::Settled
            });
        }
        RecoveryStep::ApproveRemedy { approver } => {
            may_approve(role, approver)?;
            open()?;
            if state.remedy != Some(RemedyStatus::PendingApproval) {
                return Err(Refused::NotNow("no remedy awaits approval".to_owned()));
            }
            next.remedy = Some(RemedyStatus::Settled);
        }
        RecoveryStep::SendFixVisit { grade } => {
            open()?;
            if state.fix_visit_sent || state.fixed {
                return Err(Refused::NotNow("a fix visit is already on its way, or the failure is fixed".to_owned()));
            }
            if grade != Severity::ServiceImpacting {
                return Err(Refused::NotNow(format!(
                    "fix visits are for service-impacting failures; this one is {}",
                    grade.as_str()
                )));
            }
            next.fix_visit_sent = true;
        }
        RecoveryStep::DecideSurprise => {
            if state.status == Cancelled || state.surprise_decided {
                return Err(Refused::NotNow("the surprise is already decided, or the case is cancelled".to_owned()));
            }
            next.surprise_decided = true;
        }
        RecoveryStep::Explain => {
            if !state.fixed {
                return Err(Refused::NotNow("the explanation follows the fix; record the fix first".to_owned()));
            }
            if state.explained {
                return Err(Refused::NotNow("the explanation has already been sent".to_owned()));
            }
            next.explained = true;
        }
    }
    if next.status == Open && next.fixed && next.apologised && next.remedy == Some(RemedyStatus::Settled) {
        next.status = Recovered;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::RecoveryStep::*;
    use super::*;

    fn case(f: impl FnOnce(&mut RecoveryState)) -> RecoveryState {
        let mut state = RecoveryState::default();
        f(&mut state);
        state
    }

    #[test]
    fn each_rule_of_the_recovery_case() {
        let d = Some(Role::Dispatcher);
        let admin = Some(Role::Admin);
        let settled = Some(RemedyStatus::Settled);
        let pending = Some(RemedyStatus::PendingApproval);
        let open = RecoveryState::default();
        let choose = |needs_approval| ChooseRemedy { needs_approval, approver: admin };
        let approve = ApproveRemedy { approver: admin };
        let impacting = SendFixVisit { grade: Severity::ServiceImpacting };
        let table: Vec<(RecoveryState, RecoveryStep, Option<Role>, Option<RecoveryState>)> = vec![
            (open, Fix, d, Some(case(|c| c.fixed = true))),
            (case(|c| c.fixed = true), Fix, d, None),
            (case(|c| c.status = RecoveryStatus::Cancelled), Fix, d, None),
            (open, Apologise, d, Some(case(|c| c.apologised = true))),
            (case(|c| c.apologised = true), Apologise, d, None),
            (open, choose(false), d, Some(case(|c| c.remedy = settled))),
            (open, choose(true), d, Some(case(|c| c.remedy = pending))),
            (open, choose(true), admin, Some(case(|c| c.remedy = settled))),
            (case(|c| c.remedy = pending), choose(false), d, None),
            (case(|c| c.remedy = pending), approve, admin, Some(case(|c| c.remedy = settled))),
            (case(|c| c.remedy = pending), approve, d, None),
            (open, approve, admin, None),
            (
                case(|c| (c.fixed, c.apologised) = (true, true)),
                choose(false),
                d,
                Some(case(|c| {
                    (c.fixed, c.apologised, c.remedy, c.status) = (true, true, settled, RecoveryStatus::Recovered)
                })),
            ),
            (open, impacting, d, Some(case(|c| c.fix_visit_sent = true))),
            (open, SendFixVisit { grade: Severity::Nuisance }, d, None),
            (case(|c| c.fixed = true), impacting, d, None),
            (case(|c| c.fix_visit_sent = true), impacting, d, None),
            (open, DecideSurprise, d, Some(case(|c| c.surprise_decided = true))),
            (
                case(|c| c.status = RecoveryStatus::Recovered),
                DecideSurprise,
                d,
                Some(case(|c| (c.status, c.surprise_decided) = (RecoveryStatus::Recovered, true))),
            ),
            (case(|c| c.status = RecoveryStatus::Cancelled), DecideSurprise, d, None),
            (case(|c| c.surprise_decided = true), DecideSurprise, d, None),
            (open, Explain, d, None),
            (case(|c| c.fixed = true), Explain, d, Some(case(|c| (c.fixed, c.explained) = (true, true)))),
            (case(|c| (c.fixed, c.explained) = (true, true)), Explain, d, None),
            (open, Cancel, Some(Role::SafetyOfficer), Some(case(|c| c.status = RecoveryStatus::Cancelled))),
            (case(|c| c.status = RecoveryStatus::Recovered), Cancel, Some(Role::SafetyOfficer), None),
            (case(|c| c.status = RecoveryStatus::Cancelled), Reopen, d, Some(open)),
            (open, Reopen, d, None),
        ];
        for (state, s, role, expected) in table {
            assert_eq!(step(state, s, role).ok(), expected, "{state:?} {s:?} {role:?}");
        }
    }

    #[test]
    fn only_the_approver_the_policy_names_approves() {
        let pending = case(|c| c.remedy = Some(RemedyStatus::PendingApproval));
        let refused = step(pending, ApproveRemedy { approver: None }, Some(Role::Admin));
        assert!(matches!(refused, Err(Refused::WrongRole(_))));
        let refused =
            step(RecoveryState::default(), ApproveRemedy { approver: Some(Role::Admin) }, Some(Role::Dispatcher));
        assert!(matches!(refused, Err(Refused::WrongRole(_))), "the role is checked before the case");
    }
}
