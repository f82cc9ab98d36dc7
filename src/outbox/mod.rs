//! The outbox worker: delivers customer messages written by the workflows. Each pass claims a batch
//! of due messages (a lease; `FOR UPDATE SKIP LOCKED` on PostgreSQL, so instances sharing a database
//! never claim the same message), delivers them concurrently, and records each outcome. A failure is
//! retried with exponential backoff; a worker that dies leaves claims that are retaken when their
//! lease runs out. The receiver sees each message's dedup key (email `Message-ID`, webhook
//! `webhook-id`), so a redelivery after a crash between sending and recording is recognisable.

mod channels;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::join_all;
use serde_json::json;

pub use channels::{Channels, Delivered, Failure};

use crate::clock::Clock;
use crate::config::OutboxSettings;
use crate::credentials::links::FeedbackLinks;
use crate::db::customers::CustomerRow;
use crate::db::outbox::MessageRow;
use crate::db::{self, Db, write_transaction};
use crate::domain::states::MessageKind;
use crate::telemetry;
use crate::workflows::Error;
use crate::workflows::{Actor, audit};

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub delivered: usize,
    /// Failed attempts that will be retried.
    pub retrying: usize,
    /// Messages given up after their last attempt.
    pub given_up: usize,
}

/// One worker. Several may run (in one process or many) against one database.
pub struct Outbox {
    db: Db,
    clock: Arc<Clock>,
    /// Puts each customer's feedback link into their message, at delivery only.
    links: Arc<FeedbackLinks>,
    channels: Channels,
    settings: OutboxSettings,
    /// Names this worker's claims.
    worker: String,
}

impl Outbox {
    pub fn new(db: Db, clock: Arc<Clock>, links: Arc<FeedbackLinks>, settings: OutboxSettings) -> anyhow::Result<Self> {
        let channels = Channels::new(&settings)?;
        let worker = format!("outbox-{}", uuid::Uuid::new_v4());
        Ok(Self { db, clock, links, channels, settings, worker })
    }

    /// Delivers until `stop` turns true, pausing between passes when there is nothing to do. A pass
    /// under way is finished first; the caller may abort a pass that takes too long and then call
    /// [`Outbox::release`].
    pub async fn run(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        tracing::info!(worker = %self.worker, channels = %self.channels.describe(), "outbox worker started");
        while !*stop.borrow() {
            let pause = match self.run_once().await {
                Ok(pass) if pass.claimed > 0 => {
                    tracing::debug!(?pass, "outbox pass");
                    continue;
                }
                Ok(_) => self.settings.poll,
                Err(err) => {
                    tracing::error!(error = %err, "outbox pass failed");
                    self.settings.poll
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!(worker = %self.worker, "outbox worker stopped");
    }

    /// Gives back what this worker still holds, so another instance delivers it at once.
    pub async fn release(&self) -> Result<usize, Error> {
        let worker = self.worker.clone();
        self.db.run(move |conn| Ok(db::outbox::release(conn, &worker)?)).await
    }

    /// One pass: claim due messages, deliver them, record the outcomes.
    pub async fn run_once(&self) -> Result<Pass, Error> {
        let now = self.clock.now();
        let (worker, lease_until, batch) = (self.worker.clone(), now + self.settings.lease, self.settings.batch);
        let links = self.links.clone();
        let claimed = self
            .db
            .run(move |conn| -> Result<_, Error> {
                let messages = db::outbox::claim(conn, &worker, now.naive_utc(), lease_until.naive_utc(), batch)?;
                let ids: Vec<&str> = messages.iter().map(|m| m.customer_id.as_str()).collect();
                let customers = db::customers::by_ids(conn, &ids)?;
                let customer_of = |m: &MessageRow| customers.iter().find(|c| c.id == m.customer_id).cloned();
                let mut claimed = Vec::with_capacity(messages.len());
                for message in messages {
                    let customer = customer_of(&message);
                    let link = feedback_link(conn, &links, &message)?;
                    claimed.push((message, customer, link));
                }
                Ok(claimed)
            })
            .await?;
        let mut pass = Pass { claimed: claimed.len(), ..Pass::default() };
        let attempts =
            claimed.iter().map(|(message, customer, link)| self.attempt(message, customer.as_ref(), link.as_deref()));
        let outcomes = join_all(attempts).await;
        for ((message, customer, _), outcome) in claimed.into_iter().zip(outcomes) {
            let channel = customer.as_ref().map_or("none", |c| self.channels.channel_for(c));
            match self.record(message, channel, outcome).await? {
                Outcome::Delivered => pass.delivered += 1,
                Outcome::Retrying => pass.retrying += 1,
                Outcome::GivenUp => pass.given_up += 1,
            }
        }
        Ok(pass)
    }

    async fn attempt(
        &self,
        message: &MessageRow,
        customer: Option<&CustomerRow>,
        link: Option<&str>,
    ) -> Result<Delivered, Failure> {
        let customer =
            customer.ok_or_else(|| Failure::permanent(format!("customer {} not found", message.customer_id)))?;
        // why: a server that stalls mid-conversation must not hold the claim (or the pass) for ever.
        let delivery = self.channels.deliver(message, customer, link, self.clock.now());
        tokio::time::timeout(self.settings.timeout, delivery)
            .await
            .unwrap_or_else(|_| Err(Failure::transient(format!("no answer within {:?}", self.settings.timeout))))
    }

    /// Records one attempt's outcome, and counts it for `/metrics` once recorded.
    async fn record(
        &self,
        message: MessageRow,
        channel: &'static str,
        outcome: Result<Delivered, Failure>,
    ) -> Result<Outcome, Error> {
        let now = self.clock.now();
        let counter = match &outcome {
            Ok(delivered) => metrics::counter!(telemetry::DELIVERIES, "channel" => delivered.channel),
            Err(_) => metrics::counter!(telemetry::DELIVERY_FAILURES, "channel" => channel),
        };
        let retry_at = match &outcome {
            Err(failure) if failure.permanent => None,
            _ => retry_at(&self.settings, message.attempts, now),
        };
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let service = Actor::service("outbox");
                    match outcome {
                        Ok(delivered) => {
                            let first = db::outbox::mark_delivered(
                                conn,
                                &message.id,
                                delivered.channel,
                                &delivered.recipient,
                                now.naive_utc(),
                            )?;
                            if first {
                                let details = json!({
                                    "dedup_key": message.dedup_key,
                                    "channel": delivered.channel,
                                    "attempts": message.attempts,
                                });
                                audit(conn, &service, "message.delivered", ("message", &message.id), details, now)?;
                            }
                            Ok(Outcome::Delivered)
                        }
                        Err(Failure { reason: error, permanent }) => {
                            tracing::warn!(message = %message.id, attempts = message.attempts, %error, permanent, "delivery failed");
                            let still_pending = db::outbox::mark_attempt_failed(
                                conn,
                                &message.id,
                                &error,
                                retry_at.map(|t| t.naive_utc()),
                            )?;
                            // Given up only if this worker's failure was the last word (another worker
                            // may have delivered it after this claim's lease ran out).
                            if retry_at.is_some() || !still_pending {
                                return Ok(Outcome::Retrying);
                            }
                            let details = json!({ "dedup_key": message.dedup_key, "error": error, "permanent": permanent });
                            audit(conn, &service, "message.given_up", ("message", &message.id), details, now)?;
                            Ok(Outcome::GivenUp)
                        }
                    }
                })
            })
            .await
            .inspect(|_| counter.increment(1))
    }
}

/// The customer's feedback link for a feedback request message (the same link each time: a
/// redelivery carries the same one); `None` for other messages.
fn feedback_link(
    conn: &mut db::DbConnection,
    links: &FeedbackLinks,
    message: &MessageRow,
) -> Result<Option<String>, Error> {
    let Some(case) = message.recovery_case_id.as_deref().filter(|_| message.kind == MessageKind::FeedbackRequest)
    else {
        return Ok(None);
    };
    let Some(request) = db::feedback::for_case(conn, case)? else {
        return Ok(None);
    };
    Ok(Some(links.link(&request.id, request.expires_at.and_utc())?))
}

enum Outcome {
    Delivered,
    Retrying,
    GivenUp,
}

/// When a message that failed its `attempts`-th attempt is tried again: `first_backoff` doubled per
/// attempt up to `max_backoff`; `None` once `max_attempts` are spent.
pub fn retry_at(settings: &OutboxSettings, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if attempts >= settings.max_attempts {
        return None;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let backoff = settings.first_backoff * 2_i32.pow(doublings);
    Some(now + backoff.min(settings.max_backoff).max(TimeDelta::zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_then_gives_up() {
        let settings = OutboxSettings::default();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let waits: Vec<i64> =
            (1..=12).map(|n| retry_at(&settings, n, now).map_or(-1, |at| (at - now).num_seconds())).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600, -1]);
    }
}
