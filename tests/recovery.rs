//! Customer recovery of ordinary failures: the 24-hour clock, driven by the test clock.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "a test fails loudly at the first broken expectation")]

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::TimeDelta;
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};
use common::TestApp;

async fn report(app: &TestApp, note: &str) -> Value {
    let job = app.issue_job("tess", "broadband-install").await;
    let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": note });
    let response = app.post("/v1/failures", &app.token("dana"), &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

async fn case_of(app: &TestApp, incident_id: &str, status: &str) -> Option<Value> {
    let page = app.get(&format!("/v1/recovery-cases?status={status}"), &app.token("dana")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    page.json()["items"].as_array().unwrap().iter().find(|c| c["incident_id"] == incident_id).cloned()
}

async fn step(app: &TestApp, case: &Value, step: &str) -> common::Response {
    app.post(
        &format!("/v1/recovery-cases/{}/steps", case["id"].as_str().unwrap()),
        &app.token("dana"),
        &json!({ "step": step }),
    )
    .await
}

#[rstest]
#[actix_web::test]
async fn recovered_at_23h59_counts_and_at_24h01_does_not(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let on_time = report(&app, "router left in the hallway, cables untidy").await;
    let late = report(&app, "no internet since the install").await;
    let case = case_of(&app, on_time["incident_id"].as_str().unwrap(), "open").await.expect("a recovery case");
    assert_eq!((case["urgency"].as_str(), case["time_left_seconds"].as_i64()), (Some("on_track"), Some(86_400)));

    app.state.clock.advance(TimeDelta::hours(21));
    let case = case_of(&app, on_time["incident_id"].as_str().unwrap(), "open").await.unwrap();
    assert_eq!(case["urgency"], "due_soon");
    assert_eq!(step(&app, &case, "fixed").await.status, StatusCode::OK);
    step(&app, &case, "fixed").await.problem(StatusCode::CONFLICT);
    assert_eq!(step(&app, &case, "apologised").await.json()["status"], "open");
    app.state.clock.advance(TimeDelta::minutes(2 * 60 + 59));
    let recovered = step(&app, &case, "remedy_settled").await.json();
    assert_eq!(
        (recovered["status"].as_str(), recovered["recovered_within_target"].as_bool()),
        (Some("recovered"), Some(true))
    );

    let late_case = case_of(&app, late["incident_id"].as_str().unwrap(), "open").await.unwrap();
    for s in ["fixed", "apologised"] {
        step(&app, &late_case, s).await;
    }
    app.state.clock.advance(TimeDelta::minutes(2));
    assert_eq!(case_of(&app, late["incident_id"].as_str().unwrap(), "open").await.unwrap()["urgency"], "overdue");
    let missed = step(&app, &late_case, "remedy_settled").await.json();
    assert_eq!(
        (missed["status"].as_str(), missed["recovered_within_target"].as_bool()),
        (Some("recovered"), Some(false))
    );

    app.post(
        &format!("/v1/recovery-cases/{}/steps", case["id"].as_str().unwrap()),
        &app.token("tess"),
        &json!({ "step": "fixed" }),
    )
    .await
    .problem(StatusCode::FORBIDDEN);
}

#[rstest]
#[actix_web::test]
async fn regrades_swap_recovery_and_safety_follow_up(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let graded = report(&app, "sparks from the master socket after the install").await;
    assert_eq!(graded["severity"], "safety_critical");
    let incident_id = graded["incident_id"].as_str().unwrap().to_owned();
    assert!(
        case_of(&app, &incident_id, "open,cancelled,recovered").await.is_none(),
        "safety-critical: no recovery case"
    );

    let regrade = |severity: &'static str, reason: &'static str| {
        let app = &app;
        let incident_id = incident_id.clone();
        async move {
            let tag = app.get(&format!("/v1/incidents/{incident_id}"), &app.token("sam")).await.header("etag").unwrap();
            let request = TestRequest::post()
                .uri(&format!("/v1/incidents/{incident_id}/regrade"))
                .insert_header(("Authorization", format!("Bearer {}", app.token("sam"))))
                .insert_header(("If-Match", tag))
                .set_json(json!({ "severity": severity, "reason": reason }));
            let response = app.send(request).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        }
    };
    app.state.clock.advance(TimeDelta::hours(2));
    regrade("service_impacting", "static from a jumper, socket tested safe").await;
    let case = case_of(&app, &incident_id, "open").await.expect("recovery opens instead");
    assert_eq!(case["time_left_seconds"], 22 * 3600, "the clock runs from the report, not the re-grade");
    let visits = app.get("/v1/make-safe-visits?status=cancelled", &app.token("dana")).await.json();
    assert_eq!(visits["items"].as_array().unwrap().len(), 1);

    regrade("safety_critical", "second visit found a loose live conductor").await;
    let cancelled = case_of(&app, &incident_id, "cancelled").await.expect("recovery cancelled");
    assert!(cancelled["note"].as_str().unwrap().contains("loose live conductor"));
    assert!(case_of(&app, &incident_id, "open").await.is_none());
}
