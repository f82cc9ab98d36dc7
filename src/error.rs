//! `ApiError`: what can go wrong in a request, rendered as RFC 9457 problem+json. Internal causes
//! are logged once and never reach the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::workflows;
pub use crate::workflows::{FieldError, Refusal};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    /// A business action refused this caller, with a stable code that is the problem type.
    #[error("{1}")]
    Refused(Refusal, String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PreconditionRequired(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The stable problem `type` slug and `title` of each variant.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::Validation(_) => ("validation", "Your request is not valid"),
            Self::BadRequest(_) => ("bad-request", "Malformed request"),
            Self::Unauthorized(_) => ("unauthorized", "Authentication required"),
            Self::Refused(refusal, _) => (refusal.code(), "Not allowed"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::Conflict(_) => ("conflict", "Conflict with the current state"),
            Self::Gone(_) => ("gone", "No longer available"),
            Self::PayloadTooLarge(_) => ("payload-too-large", "Request body too large"),
            Self::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            Self::PreconditionFailed(_) => ("precondition-failed", "The resource has changed"),
            Self::PreconditionRequired(_) => ("precondition-required", "If-Match required"),
            Self::MethodNotAllowed(_) => ("method-not-allowed", "Method not allowed"),
            Self::Unavailable(_) => ("unavailable", "Service temporarily unavailable"),
            Self::TooManyRequests(_) => ("too-many-requests", "Too many requests"),
            Self::Internal(_) => ("internal", "Internal server error"),
        }
    }
}

/// An RFC 9457 problem, as every error is sent (`application/problem+json`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    /// `https://fieldproof.dev/problems/<slug>`: the stable kind of error (`validation`, `not-found`,
    /// `wrong-role`, ...), which clients switch on.
    #[serde(rename = "type")]
    #[schema(example = "https://fieldproof.dev/problems/not-found")]
    kind: String,
    title: &'a str,
    /// The HTTP status.
    status: u16,
    /// What went wrong, in English, for people.
    detail: String,
    /// With `validation` (422): every offending field, by its JSON path.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

pub const PROBLEM_TYPE_BASE: &str = "https://fieldproof.dev/problems/";

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Refused(Refusal::SelfLockout, _) => StatusCode::CONFLICT,
            Self::Refused(..) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (slug, title) = self.kind();
        let detail = match self {
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                "An unexpected error occurred; it has been logged.".to_owned()
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "service unavailable");
                "The database is not reachable right now; retry shortly.".to_owned()
            }
            Self::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid: {}", fields.join(", "))
            }
            other => other.to_string(),
        };
        let errors = match self {
            Self::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if matches!(self, Self::Unauthorized(_)) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(Problem {
            kind: format!("{PROBLEM_TYPE_BASE}{slug}"),
            title,
            status: status.as_u16(),
            detail,
            errors,
        })
    }
}

impl From<workflows::Error> for ApiError {
    fn from(err: workflows::Error) -> Self {
        use workflows::Error as E;
        match err {
            E::Invalid(errors) => Self::Validation(errors),
            E::NotFound(why) => Self::NotFound(why),
            E::Conflict(why) => Self::Conflict(why),
            E::Duplicate { .. } => Self::Conflict("already exists".to_owned()),
            E::Stale(why) => Self::PreconditionFailed(why),
            E::Gone(why) => Self::Gone(why),
            E::Refused(refusal, why) => Self::Refused(refusal, why),
            E::Unavailable(why) => Self::Unavailable(why),
            E::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        workflows::Error::from(err).into()
    }
}

impl From<crate::db::Error> for ApiError {
    fn from(err: crate::db::Error) -> Self {
        workflows::Error::from(err).into()
    }
}

impl From<crate::db::RunError> for ApiError {
    fn from(err: crate::db::RunError) -> Self {
        workflows::Error::from(err).into()
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errs: validator::ValidationErrors) -> Self {
        Self::Validation(crate::http::extract::field_errors(&errs, ""))
    }
}
