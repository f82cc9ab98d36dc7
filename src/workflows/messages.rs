//! Customer messages. Each is written to the outbox in the transaction of the change that causes it
//! (an apology sent, an explanation given, a case recovered), so a message is never lost when the
//! change commits and never sent when it rolls back. The outbox worker delivers it.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Error;
use super::{Actor, Context, audit};
use crate::credentials::links::LINK_PLACEHOLDER;
use crate::db::feedback::{self as feedback_db, FeedbackRow};
use crate::db::outbox::{self, MessageRow};
use crate::db::recovery::RecoveryCaseRow;
use crate::db::{self, DbConnection, write_transaction};
pub use crate::domain::states::MessageKind;
use crate::domain::states::MessageStatus;

/// The subject line of each kind of customer message.
fn subject(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Apology => "We are sorry",
        MessageKind::Explanation => "What went wrong, and what we have changed",
        MessageKind::FeedbackRequest => "How did we do?",
    }
}

/// Queues one message about a recovery case, in the caller's transaction. The dedup key names the
/// case and the kind, so a case never queues the same kind of message twice.
pub(crate) fn enqueue(
    conn: &mut DbConnection,
    case: &RecoveryCaseRow,
    kind: MessageKind,
    body: String,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = MessageRow {
        id: uuid::Uuid::now_v7().to_string(),
        dedup_key: format!("recovery-case.{}.{}", case.id, kind.as_str()),
        customer_id: case.customer_id.clone(),
        recovery_case_id: Some(case.id.clone()),
        kind,
        subject: subject(kind).to_owned(),
        body,
        status: MessageStatus::Pending,
        attempts: 0,
        next_attempt_at: now.naive_utc(),
        claimed_by: None,
        claimed_until: None,
        channel: None,
        recipient: None,
        last_error: None,
        created_at: now.naive_utc(),
        delivered_at: None,
    };
    outbox::insert(conn, &row)?;
    Ok(())
}

/// After a case is recovered (in its transaction): a feedback request with a signed, single-use link
/// (stored as a placeholder; the worker renders it at delivery).
pub(crate) fn request_feedback(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    case: &RecoveryCaseRow,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let customer = db::customers::by_id(conn, &case.customer_id)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("recovery case {} without customer", case.id)))?;
    let expires_at = now + ctx.links.ttl;
    let request = FeedbackRow {
        id: uuid::Uuid::now_v7().to_string(),
        recovery_case_id: case.id.clone(),
        customer_id: case.customer_id.clone(),
        expires_at: expires_at.naive_utc(),
        created_at: now.naive_utc(),
        answered_at: None,
        satisfaction: None,
        surprised: None,
        surprise_note: None,
        comment: None,
    };
    feedback_db::insert(conn, &request)?;
    // The link itself is put in by the outbox worker for the customer alone (see `credentials::links`).
    let body = format!(
        "Dear {},\n\nThank you for bearing with us while we put things right. Would you tell us how we did? \
         It is one short page: {LINK_PLACEHOLDER}\n\nThe link works once, until {}.",
        customer.name,
        expires_at.format("%-d %B %Y")
    );
    enqueue(conn, case, MessageKind::FeedbackRequest, body, now)
}

/// The customer's answer on the feedback form.
#[derive(Debug, Clone)]
pub struct FeedbackAnswer {
    /// 1 to 5.
    pub satisfaction: i32,
    /// "Did anything we did surprise you?"
    pub surprised: bool,
    pub surprise_note: Option<String>,
    pub comment: Option<String>,
}

/// The feedback request a verified link names, for the form: 410 once answered or expired.
pub fn open_feedback(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> Result<FeedbackRow, Error> {
    let request =
        feedback_db::find(conn, id)?.ok_or_else(|| Error::NotFound("this feedback link is not valid".to_owned()))?;
    if request.answered_at.is_some() {
        return Err(Error::Gone("thank you: this feedback has already been given".to_owned()));
    }
    if request.expires_at < now.naive_utc() {
        return Err(Error::Gone("this feedback link has expired".to_owned()));
    }
    Ok(request)
}

/// Stores the customer's answer, once.
pub fn give_feedback(
    conn: &mut DbConnection,
    id: &str,
    answer: FeedbackAnswer,
    now: DateTime<Utc>,
) -> Result<FeedbackRow, Error> {
    write_transaction(conn, |conn| {
        let request = open_feedback(conn, id, now)?;
        let row = feedback_db::Answer {
            answered_at: now.naive_utc(),
            satisfaction: answer.satisfaction,
            surprised: answer.surprised,
            surprise_note: answer.surprise_note,
            comment: answer.comment,
        };
        if !feedback_db::answer(conn, id, &row)? {
            return Err(Error::Gone("thank you: this feedback has already been given".to_owned()));
        }
        let customer = Actor { id: None, name: format!("customer:{}", request.customer_id), role: None };
        let details = json!({ "satisfaction": row.satisfaction, "surprised": row.surprised });
        audit(conn, &customer, "feedback.received", ("recovery_case", &request.recovery_case_id), details, now)?;
        feedback_db::find(conn, id)?.ok_or_else(|| Error::Internal(anyhow::anyhow!("feedback vanished")))
    })
}

/// Puts a given-up message back in the queue (after the contact details were corrected, say).
pub fn retry_message(
    conn: &mut DbConnection,
    id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<MessageRow, Error> {
    write_transaction(conn, |conn| {
        let message = outbox::find(conn, id)?.ok_or_else(|| Error::NotFound(format!("no message {id}")))?;
        if !outbox::requeue(conn, id, now.naive_utc())? {
            return Err(Error::Conflict(format!(
                "the message is {}; only failed messages are retried",
                message.status
            )));
        }
        audit(conn, actor, "message.requeued", ("message", id), json!({ "dedup_key": message.dedup_key }), now)?;
        outbox::find(conn, id)?.ok_or_else(|| Error::Internal(anyhow::anyhow!("message vanished")))
    })
}

/// The customer's feedback link of a recovery case, for an operator at the server (the demo, or a
/// customer who lost the message): audited as `feedback.link_revealed`, since whoever holds the
/// link answers as the customer. Staff never see it through the API or the console.
pub fn reveal_feedback_link(
    conn: &mut DbConnection,
    links: &crate::credentials::links::FeedbackLinks,
    case_id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    write_transaction(conn, |conn| {
        let request = feedback_db::for_case(conn, case_id)?
            .ok_or_else(|| Error::NotFound(format!("recovery case {case_id} has no feedback request (yet)")))?;
        let link = links.link(&request.id, request.expires_at.and_utc())?;
        let details = json!({ "feedback_request": request.id, "answered": request.answered_at.is_some() });
        audit(conn, actor, "feedback.link_revealed", ("recovery_case", case_id), details, now)?;
        Ok(link)
    })
}
