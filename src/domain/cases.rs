//! What the case state machines share: why a step was refused. Each case type (make-safe visit,
//! retraining, disciplinary case, recovery case) is a pure function
//! `(state, step, actor's role) -> Result<next state, Refused>` in its own module, table-tested
//! row by row; a workflow loads the case, asks its machine, then saves and audits.

/// Why a case refused a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The step needs another role (the text names it).
    WrongRole(String),
    /// The case's state does not allow the step now (the text says why).
    NotNow(String),
    /// Only the technician concerned may take the step.
    NotConcerned(String),
    /// A second person must take this step (the four-eyes rule).
    SecondApproverRequired(String),
}

/// Refuses unless the actor is a signed-in user whose role is one of `allowed` (`None` is the
/// service itself or the command line).
pub(crate) fn require_role(role: Option<super::Role>, allowed: &[super::Role], text: &str) -> Result<(), Refused> {
    match role {
        Some(role) if allowed.contains(&role) => Ok(()),
        _ => Err(Refused::WrongRole(text.to_owned())),
    }
}
