//! What a business action reports when it does not go through. It knows nothing of HTTP: `http/`
//! renders it as problem+json, the console as a message on the page, the CLI as one line.

use serde::Serialize;

use crate::db;

/// One offending field of an action's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Why an action was refused to this actor, as a stable code that clients switch on (never on the
/// English detail). Each code is one problem type on the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The actor's role may not take this step.
    WrongRole,
    /// The technician has safety retraining pending on this checklist; the job waits for it.
    RetrainingRequired,
    /// A decision needs a second person: the one who made it may not approve it.
    SecondApproverRequired,
    /// Only the technician the case is about may take this step.
    TechnicianOnly,
    /// The step needs a signed-in user, not the command line or the service.
    SignedInUserRequired,
    /// An admin may not lock themselves out (deactivate or demote their own account).
    SelfLockout,
    /// The sign-off PIN (or, setting a PIN, the current password) does not match.
    ReauthenticationFailed,
    /// A sign-off needs the technician's PIN, and they have not set one yet.
    PinNotSet,
}

impl Refusal {
    /// The code, as the problem type's last path segment.
    pub fn code(self) -> &'static str {
        match self {
            Self::WrongRole => "wrong-role",
            Self::RetrainingRequired => "retraining-required",
            Self::SecondApproverRequired => "second-approver-required",
            Self::TechnicianOnly => "technician-only",
            Self::SignedInUserRequired => "signed-in-user-required",
            Self::SelfLockout => "self-lockout",
            Self::ReauthenticationFailed => "reauthentication-failed",
            Self::PinNotSet => "pin-not-set",
        }
    }

    /// Every code, for documentation and tests.
    pub const ALL: [Refusal; 8] = [
        Self::WrongRole,
        Self::RetrainingRequired,
        Self::SecondApproverRequired,
        Self::TechnicianOnly,
        Self::SignedInUserRequired,
        Self::SelfLockout,
        Self::ReauthenticationFailed,
        Self::PinNotSet,
    ];
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not acceptable; each field says why.
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    /// The record's state does not allow the step (already done, not yet possible).
    #[error("{0}")]
    Conflict(String),
    /// A unique key fired: something with this key is already stored, in the named table.
    #[error("already exists")]
    Duplicate { table: String },
    /// The record changed since the caller read it (a revision or ETag that no longer matches).
    #[error("{0}")]
    Stale(String),
    /// The thing existed but is used up or expired (a feedback link).
    #[error("{0}")]
    Gone(String),
    #[error("{1}")]
    Refused(Refusal, String),
    /// The database cannot be reached; retrying later may work.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// One invalid field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// Whether this is a unique-key violation in `table`: a retry raced this request and won.
    pub fn is_duplicate_in(&self, table: &str) -> bool {
        matches!(self, Self::Duplicate { table: fired } if fired == table)
    }
}

/// A case's state machine refused a step: its state is a conflict, the rest are refusals.
impl From<crate::domain::cases::Refused> for Error {
    fn from(refused: crate::domain::cases::Refused) -> Self {
        use crate::domain::cases::Refused;
        match refused {
            Refused::NotNow(why) => Self::Conflict(why),
            Refused::WrongRole(why) => Self::Refused(Refusal::WrongRole, why),
            Refused::NotConcerned(why) => Self::Refused(Refusal::TechnicianOnly, why),
            Refused::SecondApproverRequired(why) => Self::Refused(Refusal::SecondApproverRequired, why),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Self::Internal(anyhow::Error::new(err).context("JSON encoding"))
    }
}

impl From<db::RunError> for Error {
    fn from(err: db::RunError) -> Self {
        match err {
            db::RunError::Unavailable(why) => Self::Unavailable(why),
            db::RunError::Blocking(why) => Self::Internal(anyhow::anyhow!("blocking task failed: {why}")),
        }
    }
}

impl From<db::Error> for Error {
    fn from(err: db::Error) -> Self {
        match err {
            db::Error::Run(err) => err.into(),
            db::Error::Query(err) => err.into(),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error as Diesel};
        // A data error is the input's fault (4xx); only the unexpected is internal.
        const DATA_ERRORS: [&str; 7] = [
            "out of range",
            "invalid byte sequence",
            "invalid input syntax",
            "value too long",
            "numeric field overflow",
            "null character not permitted",
            "character not in repertoire",
        ];
        if let Some(table) = db::unique_violation_table(&err) {
            return Self::Duplicate { table };
        }
        match err {
            Diesel::NotFound => Self::NotFound("not found".to_owned()),
            Diesel::DatabaseError(Kind::ForeignKeyViolation | Kind::RestrictViolation, _) => {
                Self::Conflict("refers to something that does not exist or is still in use".to_owned())
            }
            Diesel::DatabaseError(Kind::SerializationFailure, _) => {
                Self::Conflict("changed by another request at the same moment; retry".to_owned())
            }
            Diesel::DatabaseError(Kind::CheckViolation | Kind::NotNullViolation, info) => {
                tracing::warn!(constraint = ?info.constraint_name(), "a value broke a database constraint");
                Self::field("body", "a value is not one the service can store")
            }
            Diesel::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            Diesel::DatabaseError(_, info) if DATA_ERRORS.iter().any(|e| info.message().contains(e)) => {
                Self::field("body", format!("a value cannot be stored: {}", info.message()))
            }
            err => Self::Internal(anyhow::Error::new(err).context("database error")),
        }
    }
}
