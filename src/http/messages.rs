//! Customer messages in the outbox: what was sent, what is waiting, what was given up (and a way
//! to queue a given-up message again once the contact details are fixed).

use crate::domain::states::MessageStatus;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::extract::{Query, status_filter};
use super::openapi as doc;
use super::page::Page;
use crate::AppState;
use crate::auth::{IncidentHandlers, Require};
use crate::credentials::links::FeedbackLinks;
use crate::db::{self, outbox::MessageRow};
use crate::error::ApiError;
use crate::workflows::{self, Actor};

const PAGE: i64 = 50;

#[derive(Serialize, utoipa::ToSchema)]
struct MessageResponse {
    id: String,
    dedup_key: String,
    kind: String,
    customer_id: String,
    recovery_case_id: Option<String>,
    subject: String,
    /// The text as sent; a feedback link shows as `<public URL>/feedback/[link sent to the customer only]`.
    body: String,
    /// `pending`, `delivered` or `failed` (given up after its last attempt).
    status: String,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    channel: Option<String>,
    recipient: Option<String>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

impl MessageResponse {
    /// The message as staff see it: a feedback link's token is withheld (it would let them answer
    /// as the customer).
    fn for_staff(row: MessageRow, links: &FeedbackLinks) -> Self {
        Self {
            next_attempt_at: (row.status == MessageStatus::Pending).then(|| row.next_attempt_at.and_utc()),
            id: row.id,
            dedup_key: row.dedup_key,
            kind: row.kind.to_string(),
            customer_id: row.customer_id,
            recovery_case_id: row.recovery_case_id,
            subject: row.subject,
            body: links.redacted(&row.body),
            status: row.status.to_string(),
            attempts: row.attempts,
            channel: row.channel,
            recipient: row.recipient,
            last_error: row.last_error,
            created_at: row.created_at.and_utc(),
            delivered_at: row.delivered_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated statuses; default all.
    #[param(pattern = "^(pending|delivered|failed)(,(pending|delivered|failed))*$")]
    status: Option<String>,
    /// Only the messages of one recovery case.
    recovery_case: Option<uuid::Uuid>,
    /// The `next_cursor` of the previous page (50 per page).
    cursor: Option<uuid::Uuid>,
}

/// `GET /v1/messages`: newest first, a page at a time.
#[utoipa::path(get, path = "/v1/messages", tag = "recovery", operation_id = "list_messages", params(ListQuery),
    responses(
        (status = 200, description = "Customer messages, newest first, 50 per page", body = Page<MessageResponse>),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.0;
    let statuses = status_filter(query.status, MessageStatus::ALL)?;
    let (case, cursor) = (query.recovery_case.map(|c| c.to_string()), query.cursor.map(|c| c.to_string()));
    let rows = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            Ok(db::outbox::list(conn, &statuses, case.as_deref(), cursor.as_deref(), PAGE)?)
        })
        .await?;
    let next_cursor = (rows.len() == usize::try_from(PAGE).unwrap_or(usize::MAX))
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let items: Vec<MessageResponse> =
        rows.into_iter().map(|row| MessageResponse::for_staff(row, &state.links)).collect();
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

/// `POST /v1/messages/{id}/retry`: queues a given-up message again, due now.
#[utoipa::path(post, path = "/v1/messages/{id}/retry", tag = "recovery",
    params(("id" = Uuid, Path, description = "The message")),
    responses(
        (status = 200, description = "Queued again, due now", body = MessageResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn retry(
    state: web::Data<AppState>,
    user: Require<IncidentHandlers>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (id, actor, app) = (id.into_inner().to_string(), Actor::from(&*user), state.clone());
    let row = state.db.run(move |conn| workflows::messages::retry_message(conn, &id, &actor, app.clock.now())).await?;
    Ok(HttpResponse::Ok().json(MessageResponse::for_staff(row, &state.links)))
}
