//! Re-authentication at sign-off (21 CFR 11.200): technicians set their own PIN with their password;
//! with `FIELDPROOF_SIGNOFF_PIN=required` every sign-off carries it, checked (never stored, throttled
//! like sign-ins) and recorded as `reauthenticated`, a field the sign-off chain vouches for.

use crate::common;

use actix_web::http::{Method, StatusCode};
use diesel::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};
use common::TestApp;
use fieldproof::config::SignoffPin;
use fieldproof::db::schema::{audit_log, signoffs};

const PIN: &str = "482913";

async fn spawn_requiring_pin(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_tuned(backend, |settings| settings.signoff_pin = SignoffPin::Required).await
}

async fn set_pin(app: &TestApp, password: &str, pin: &str) -> common::Response {
    let body = json!({ "password": password, "pin": pin });
    app.as_user("tess").put("/v1/me/pin", &body).await
}

/// A job for tess and a passing sign-off body for it (without a PIN), with its path.
async fn job_and_signoff(app: &TestApp) -> (String, Value) {
    let job = app.issue_job("tess", "broadband-install").await;
    let answers = common::passing_answers(&app.checklist_of(&job).await);
    let path = format!("/v1/jobs/{}/signoffs", job["id"].as_str().expect("id"));
    (path, common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers))
}

fn with_pin(body: &Value, pin: &str) -> Value {
    let mut body = body.clone();
    body["pin"] = json!(pin);
    body
}

/// The audit actions recorded, oldest first, with their details as stored.
fn audited(app: &TestApp, action: &str) -> Vec<String> {
    let mut conn = app.state.db.get().expect("connection");
    audit_log::table
        .filter(audit_log::action.eq(action))
        .order((audit_log::at.asc(), audit_log::id.asc()))
        .select(audit_log::details)
        .load(&mut conn)
        .expect("audit entries")
}

#[rstest]
#[actix_web::test]
async fn with_the_pin_required_a_signoff_is_reauthenticated_checked_and_recorded(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(app) = spawn_requiring_pin(backend).await else { return };
    let tess = app.as_user("tess");
    let (path, body) = job_and_signoff(&app).await;

    let without = tess.post(&path, &body).await;
    assert_eq!(without.error_fields(), ["pin"], "a sign-off without the PIN names the field");
    tess.post(&path, &with_pin(&body, PIN)).await.refused("pin-not-set");

    // The technician sets it: with the right password, 4 to 8 digits.
    set_pin(&app, "not my password", PIN).await.refused("reauthentication-failed");
    let malformed = set_pin(&app, common::PASSWORD, "12a4").await;
    assert_eq!(malformed.error_fields(), ["pin"]);
    assert!(malformed.text().contains("4 to 8 digits"), "the rule is told: {}", malformed.text());
    assert_eq!(set_pin(&app, common::PASSWORD, "0000").await.status, StatusCode::NO_CONTENT);
    assert_eq!(set_pin(&app, common::PASSWORD, PIN).await.status, StatusCode::NO_CONTENT);
    assert_eq!((audited(&app, "user.pin_set").len(), audited(&app, "user.pin_changed").len()), (1, 1));

    let wrong = tess.post(&path, &with_pin(&body, "0000")).await;
    assert_eq!(wrong.refused("reauthentication-failed")["detail"], "the sign-off PIN is not correct");
    let malformed = tess.post(&path, &with_pin(&body, "48 29")).await;
    assert_eq!(malformed.error_fields(), ["pin"]);

    let signed = tess.post(&path, &with_pin(&body, PIN)).await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text());
    assert_eq!(signed.json()["reauthenticated"], true);
    // The app retries (a flaky connection): the same sign-off, accepted once, answered as stored.
    let retried = tess.post(&path, &with_pin(&body, PIN)).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text());
    assert_eq!(retried.json(), signed.json());
    let listed = app.as_user("dana").get(&path).await.json();
    assert_eq!(listed["items"].as_array().expect("items").len(), 1);
    assert_eq!(listed["items"][0]["reauthenticated"], true);
    let recorded = audited(&app, "signoff.recorded");
    assert!(recorded[0].contains(r#""reauthenticated":true"#), "{recorded:?}");

    // The PIN is kept nowhere but as its Argon2 hash.
    let mut conn = app.state.db.get().expect("connection");
    let answers: Vec<String> = signoffs::table.select(signoffs::answers).load(&mut conn).expect("answers");
    let details: Vec<String> = audit_log::table.select(audit_log::details).load(&mut conn).expect("details");
    assert!(answers.iter().chain(&details).all(|text| !text.contains(PIN)), "the PIN is not stored");

    // The chain vouches for the flag: `audit verify` passes, and turning it off is an edit it names.
    let verified = crate::audit_chain::verify(&app);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    crate::audit_chain::unguard(&app, backend, "signoffs");
    app.execute_sql("UPDATE signoffs SET reauthenticated = FALSE").expect("flag turned off");
    let tampered = crate::audit_chain::verify(&app);
    let stderr = String::from_utf8_lossy(&tampered.stderr);
    assert!(
        !tampered.status.success() && stderr.contains("signoffs: BROKEN") && stderr.contains("was edited"),
        "{stderr}"
    );
}

#[rstest]
#[actix_web::test]
async fn wrong_pins_are_throttled_like_sign_ins_and_the_lockout_is_audited(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(app) = spawn_requiring_pin(backend).await else { return };
    assert_eq!(set_pin(&app, common::PASSWORD, PIN).await.status, StatusCode::NO_CONTENT);
    let tess = app.as_user("tess");
    let (path, body) = job_and_signoff(&app).await;
    for attempt in 1..=6 {
        let response = tess.post(&path, &with_pin(&body, "1111")).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "attempt {attempt}: {}", response.text());
    }
    // Locked out: even the right PIN waits, and nothing was signed.
    let locked = tess.post(&path, &with_pin(&body, PIN)).await;
    let problem = locked.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(problem["detail"].as_str().expect("detail").contains("sign-off PINs"), "{problem}");
    let retry_after: u64 = locked.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let listed = tess.get(&path).await.json();
    assert_eq!(listed["items"].as_array().expect("items").len(), 0);
    let lockouts = audited(&app, "auth.pin_locked_out");
    assert_eq!(lockouts.len(), 1, "the lockout is audited");
    assert!(!lockouts[0].contains("1111"), "{lockouts:?}");

    // A PIN lockout is not a sign-in lockout.
    let body = json!({ "username": "tess", "password": common::PASSWORD });
    let signed_in = app.call(Method::POST, "/v1/auth/token", None, Some(&body)).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
    // Wrong passwords when setting a PIN count as failed sign-ins.
    for _ in 0..6 {
        set_pin(&app, "not my password", "1234").await.refused("reauthentication-failed");
    }
    set_pin(&app, common::PASSWORD, "1234").await.problem(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.call(Method::POST, "/v1/auth/token", None, Some(&body)).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[rstest]
#[actix_web::test]
async fn by_default_a_pin_is_optional_and_checked_when_given(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let tess = app.as_user("tess");
    let (path, body) = job_and_signoff(&app).await;
    let plain = tess.post(&path, &body).await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.text());
    assert_eq!(plain.json()["reauthenticated"], false);

    assert_eq!(set_pin(&app, common::PASSWORD, PIN).await.status, StatusCode::NO_CONTENT);
    let (path, body) = job_and_signoff(&app).await;
    tess.post(&path, &with_pin(&body, "1111")).await.refused("reauthentication-failed");
    let signed = tess.post(&path, &with_pin(&body, PIN)).await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text());
    assert_eq!(signed.json()["reauthenticated"], true);
    // Only technicians have a sign-off PIN.
    let by_dispatcher = json!({ "password": common::PASSWORD, "pin": PIN });
    app.as_user("dana").put("/v1/me/pin", &by_dispatcher).await.refused("wrong-role");
}
