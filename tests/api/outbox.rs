//! Customer messages through the outbox: written with the change that causes them, delivered by the
//! worker to a real local SMTP receiver and a real local webhook receiver, retried after failures,
//! delivered once, and taken over from a worker that died mid-delivery. The clock is driven, not slept.

use actix_web::http::StatusCode;
use actix_web::web;
use base64::Engine as _;
use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use rstest::rstest;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common;
use common::Backend::{self, Postgres, Sqlite};
use common::TestApp;
use common::receivers::{SmtpReceiver, WebhookReceiver, black_hole};
use fieldproof::config::{OutboxSettings, WebhookTarget};
use fieldproof::outbox::{Outbox, Pass};

const WEBHOOK_SECRET: &str = "a-webhook-secret-of-at-least-24-bytes";

// ---- the service side --------------------------------------------------------------------------

fn settings(smtp: Option<&str>, webhook: Option<&WebhookReceiver>) -> OutboxSettings {
    OutboxSettings {
        smtp_url: smtp.map(str::to_owned),
        email_from: "Northside Heating <care@northside.example>".to_owned(),
        webhook: webhook.map(|w| WebhookTarget::new(&w.url, WEBHOOK_SECRET).unwrap()),
        log: false,
        timeout: std::time::Duration::from_secs(10),
        ..OutboxSettings::default()
    }
}

fn worker(app: &TestApp, settings: OutboxSettings) -> Outbox {
    Outbox::new(app.state.db.clone(), app.state.clock.clone(), app.state.links.clone(), settings).unwrap()
}

/// Reports an ordinary failure on a job for a customer with `preferences`, and returns its recovery case.
async fn recovery_case(app: &TestApp, preferences: Value) -> Value {
    let mut job = common::job_body("tess", "broadband-install");
    job["customer"]["preferences"] = preferences;
    let job = app.as_user("dana").post("/v1/jobs", &job).await.json();
    let failure =
        json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "router left in the hallway" });
    let reported = app.as_user("dana").post("/v1/failures", &failure).await.json();
    let cases = app.as_user("dana").get("/v1/recovery-cases").await.json();
    let case = cases["items"].as_array().unwrap().iter().find(|c| c["incident_id"] == reported["incident_id"]);
    case.expect("a recovery case for the failure").clone()
}

async fn apologise(app: &TestApp, case: &Value) {
    let path = format!("/v1/recovery-cases/{}/apology", case["id"].as_str().unwrap());
    let response = app.as_user("dana").post(&path, &json!({})).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

async fn messages(app: &TestApp, case: &Value) -> Vec<Value> {
    let path = format!("/v1/messages?recovery_case={}", case["id"].as_str().unwrap());
    let response = app.as_user("dana").get(&path).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["items"].as_array().unwrap().clone()
}

fn pass(claimed: usize, delivered: usize, retrying: usize, given_up: usize) -> Pass {
    Pass { claimed, delivered, retrying, given_up }
}

#[rstest]
#[actix_web::test]
async fn apology_email_refused_once_is_retried_after_backoff_and_delivered_once(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let smtp = SmtpReceiver::start(1);
    let outbox = worker(&app, settings(Some(&smtp.url), None));
    let case = recovery_case(&app, json!(["has a dog called Bella"])).await;
    apologise(&app, &case).await;
    let queued = messages(&app, &case).await;
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0]["kind"].as_str(), queued[0]["status"].as_str()), (Some("apology"), Some("pending")));

    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 0, 1, 0), "the receiver refuses the first try");
    let waiting = &messages(&app, &case).await[0];
    assert_eq!((waiting["status"].as_str(), waiting["attempts"].as_i64()), (Some("pending"), Some(1)));
    assert!(waiting["last_error"].as_str().unwrap().contains("450"), "{waiting}");
    assert_eq!(outbox.run_once().await.unwrap(), pass(0, 0, 0, 0), "not due again before the backoff");

    app.state.clock.advance(TimeDelta::seconds(31));
    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 1, 0, 0));
    app.state.clock.advance(TimeDelta::hours(1));
    assert_eq!(outbox.run_once().await.unwrap(), pass(0, 0, 0, 0), "a delivered message is never sent again");

    let mails = smtp.mails();
    assert_eq!((mails.len(), smtp.rejected()), (1, 1));
    assert_eq!(mails[0].to, ["amelia@example.com"]);
    let delivered = &messages(&app, &case).await[0];
    let dedup_key = delivered["dedup_key"].as_str().unwrap();
    assert!(mails[0].data.contains(&format!("Message-ID: <{dedup_key}@northside.example>")), "{}", mails[0].data);
    assert!(mails[0].data.contains("Subject: We are sorry"), "{}", mails[0].data);
    assert!(mails[0].data.contains("Amelia Hart"), "the apology as sent: {}", mails[0].data);
    assert_eq!(
        (delivered["status"].as_str(), delivered["channel"].as_str(), delivered["recipient"].as_str()),
        (Some("delivered"), Some("email"), Some("amelia@example.com"))
    );
}

#[rstest]
#[actix_web::test]
async fn texting_customers_get_a_signed_webhook_retried_until_accepted_once(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let smtp = SmtpReceiver::start(0);
    let hooks = WebhookReceiver::start(2);
    let outbox = worker(&app, settings(Some(&smtp.url), Some(&hooks)));
    let case = recovery_case(&app, json!(["prefers text messages"])).await;
    apologise(&app, &case).await;

    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 0, 1, 0));
    app.state.clock.advance(TimeDelta::seconds(31));
    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 0, 1, 0));
    app.state.clock.advance(TimeDelta::seconds(31));
    assert_eq!(outbox.run_once().await.unwrap(), pass(0, 0, 0, 0), "the second backoff is a minute");
    app.state.clock.advance(TimeDelta::seconds(30));
    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 1, 0, 0));

    let received = hooks.received();
    assert_eq!(received.iter().map(|h| h.accepted).collect::<Vec<_>>(), [false, false, true]);
    assert!(smtp.mails().is_empty(), "a customer who prefers texts is not emailed");
    let message = &messages(&app, &case).await[0];
    for hook in &received {
        assert_eq!(hook.id, message["dedup_key"].as_str().unwrap(), "every try carries the same dedup key");
        let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
        mac.update(format!("{}.{}.{}", hook.id, hook.timestamp, hook.body).as_bytes());
        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(hook.signature, format!("v1,{expected}"), "Standard Webhooks signature");
    }
    let body: Value = serde_json::from_str(&received[2].body).unwrap();
    assert_eq!((body["kind"].as_str(), body["customer"]["phone"].as_str()), (Some("apology"), Some("+44 7700 900123")));
    assert_eq!(body["body"], message["body"]);
    assert_eq!((message["status"].as_str(), message["channel"].as_str()), (Some("delivered"), Some("webhook")));
}

#[rstest]
#[actix_web::test]
async fn a_killed_workers_claim_is_taken_again_when_its_lease_runs_out(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let (hole, accepted) = black_hole();
    let smtp = SmtpReceiver::start(0);
    let case = recovery_case(&app, json!([])).await;
    apologise(&app, &case).await;

    let stuck = worker(&app, settings(Some(&hole), None));
    let task = actix_web::rt::spawn(async move { stuck.run_once().await });
    web::block(move || accepted.recv_timeout(std::time::Duration::from_secs(30))).await.unwrap().unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled(), "the worker died mid-delivery");
    let claimed = &messages(&app, &case).await[0];
    assert_eq!((claimed["status"].as_str(), claimed["attempts"].as_i64()), (Some("pending"), Some(1)));

    let rescuer = worker(&app, settings(Some(&smtp.url), None));
    assert_eq!(rescuer.run_once().await.unwrap(), pass(0, 0, 0, 0), "the dead worker's lease still holds");
    app.state.clock.advance(OutboxSettings::default().lease + TimeDelta::seconds(1));
    assert_eq!(rescuer.run_once().await.unwrap(), pass(1, 1, 0, 0));
    assert_eq!(smtp.mails().len(), 1);
    let delivered = &messages(&app, &case).await[0];
    assert_eq!((delivered["status"].as_str(), delivered["attempts"].as_i64()), (Some("delivered"), Some(2)));
}

#[rstest]
#[actix_web::test]
async fn workers_sharing_the_outbox_deliver_each_message_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let smtp = SmtpReceiver::start(0);
    let mut cases = Vec::new();
    for _ in 0..6 {
        let case = recovery_case(&app, json!([])).await;
        apologise(&app, &case).await;
        cases.push(case);
    }
    let small_batches = OutboxSettings { batch: 2, ..settings(Some(&smtp.url), None) };
    let (one, two) = (worker(&app, small_batches.clone()), worker(&app, small_batches));
    let mut delivered = 0;
    for _ in 0..6 {
        let (a, b) = tokio::join!(one.run_once(), two.run_once());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.claimed <= 2 && b.claimed <= 2);
        delivered += a.delivered + b.delivered;
    }
    assert_eq!(delivered, 6);
    let mut ids: Vec<String> = smtp
        .mails()
        .iter()
        .map(|m| m.data.lines().find(|l| l.starts_with("Message-ID:")).unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((smtp.mails().len(), ids.len()), (6, 6), "six messages, each once");
}

#[rstest]
#[actix_web::test]
async fn a_message_is_written_only_with_its_change_and_a_given_up_one_can_be_queued_again(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let case = recovery_case(&app, json!([])).await;
    let path = format!("/v1/recovery-cases/{}/apology", case["id"].as_str().unwrap());
    let blaming = json!({ "text": "Sorry, tess forgot the cables." });
    app.as_user("dana").post(&path, &blaming).await.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(messages(&app, &case).await.is_empty(), "no apology recorded, so none queued");
    apologise(&app, &case).await;

    let nowhere = OutboxSettings { max_attempts: 2, ..settings(None, None) };
    let outbox = worker(&app, nowhere);
    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 0, 1, 0));
    app.state.clock.advance(TimeDelta::seconds(31));
    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 0, 0, 1));
    let failed = &messages(&app, &case).await[0];
    assert_eq!(failed["status"], "failed");
    assert!(failed["last_error"].as_str().unwrap().contains("no configured channel"), "{failed}");
    let listed = app.as_user("dana").get("/v1/messages?status=failed").await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let retry = format!("/v1/messages/{}/retry", failed["id"].as_str().unwrap());
    app.as_user("tess").post(&retry, &json!({})).await.problem(StatusCode::FORBIDDEN);
    assert_eq!(app.as_user("dana").post(&retry, &json!({})).await.json()["status"], "pending");
    app.as_user("dana").post(&retry, &json!({})).await.problem(StatusCode::CONFLICT);
    let smtp = SmtpReceiver::start(0);
    assert_eq!(worker(&app, settings(Some(&smtp.url), None)).run_once().await.unwrap(), pass(1, 1, 0, 0));
    assert_eq!(smtp.mails().len(), 1);
}

#[rstest]
#[actix_web::test]
async fn a_mailbox_refused_for_good_is_given_up_at_once_for_a_person_to_fix(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let smtp = SmtpReceiver::refusing(usize::MAX, 550);
    let case = recovery_case(&app, json!([])).await;
    apologise(&app, &case).await;
    let outbox = worker(&app, settings(Some(&smtp.url), None));
    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 0, 0, 1), "no retries for a permanent refusal");
    let failed = &messages(&app, &case).await[0];
    assert_eq!((failed["status"].as_str(), failed["attempts"].as_i64()), (Some("failed"), Some(1)));
    assert!(failed["last_error"].as_str().unwrap().contains("550"), "{failed}");
    app.state.clock.advance(TimeDelta::hours(6));
    assert_eq!(outbox.run_once().await.unwrap(), pass(0, 0, 0, 0));
    assert_eq!(smtp.rejected(), 1);
}

#[rstest]
#[actix_web::test]
async fn a_webhook_rate_limit_is_retried_but_a_rejected_request_is_given_up(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let limited = WebhookReceiver::refusing(1, 429);
    let case = recovery_case(&app, json!(["prefers text messages"])).await;
    apologise(&app, &case).await;
    let outbox = worker(&app, settings(None, Some(&limited)));
    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 0, 1, 0), "429: try again later");
    app.state.clock.advance(TimeDelta::seconds(31));
    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 1, 0, 0));

    let rejecting = WebhookReceiver::refusing(usize::MAX, 400);
    let other = recovery_case(&app, json!(["prefers text messages"])).await;
    apologise(&app, &other).await;
    let outbox = worker(&app, settings(None, Some(&rejecting)));
    assert_eq!(outbox.run_once().await.unwrap(), pass(1, 0, 0, 1), "400: the request itself is wrong");
    assert_eq!(messages(&app, &other).await[0]["last_error"], "webhook answered 400 Bad Request");
}

#[rstest]
#[actix_web::test]
async fn a_stopping_worker_gives_its_claims_back_at_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let (hole, accepted) = black_hole();
    let smtp = SmtpReceiver::start(0);
    let case = recovery_case(&app, json!([])).await;
    apologise(&app, &case).await;

    let stopping = std::sync::Arc::new(worker(&app, settings(Some(&hole), None)));
    let held = stopping.clone();
    let task = actix_web::rt::spawn(async move { held.run_once().await });
    web::block(move || accepted.recv_timeout(std::time::Duration::from_secs(30))).await.unwrap().unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled(), "the grace period ran out mid-delivery");
    assert_eq!(stopping.release().await.unwrap(), 1, "the one claim it held is given back");

    let other = worker(&app, settings(Some(&smtp.url), None));
    assert_eq!(other.run_once().await.unwrap(), pass(1, 1, 0, 0), "delivered at once, not after the lease");
    assert_eq!(smtp.mails().len(), 1);
}
