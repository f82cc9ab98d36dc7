//! The triage lane: a report no rule can read waits for a person, above every graded incident,
//! counted as possibly safety-critical, with nothing routed (no make-safe visit, no apology) until a
//! dispatcher or safety officer grades it; then the follow-up starts from that person's grade. The
//! people's grades come back out as labelled notes.

use std::process::Command;

use actix_web::http::{Method, StatusCode};
use chrono::TimeDelta;
use rstest::rstest;
use serde_json::{Value, json};

use crate::common;
use common::Backend::{self, Postgres, Sqlite};
use common::TestApp;

/// A note no rule of the shipped rule set recognises.
const UNREADABLE: &str = "regarding job 4471";

async fn file(app: &TestApp, checklist: &str, note: &str) -> Value {
    let job = app.issue_job("tess", checklist).await;
    let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": note });
    let response = app.as_user("dana").post("/v1/failures", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    app.state.clock.advance(TimeDelta::minutes(1));
    response.json()
}

async fn incident(app: &TestApp, filed: &Value) -> (Value, String) {
    let response = app.as_user("dana").get(&format!("/v1/incidents/{}", filed["incident_id"].as_str().unwrap())).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    (response.json(), response.header("etag").unwrap())
}

async fn grade(app: &TestApp, user: &str, id: &str, etag: &str, severity: &str) -> common::Response {
    let body = json!({ "severity": severity, "reason": "rang the customer: the router keeps dropping out" });
    let path = format!("/v1/incidents/{id}/regrade");
    app.as_user(user).call_with(Method::POST, &path, &[("If-Match", etag)], Some(&body)).await
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

#[rstest]
#[actix_web::test]
async fn unreadable_report_waits_in_triage_above_every_grade_until_a_dispatcher_grades_it(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let gas = file(&app, "gas-boiler-annual-service", "strong smell of gas at the meter").await;
    let unreadable = file(&app, "broadband-install", UNREADABLE).await;
    assert_eq!(unreadable["severity"], "safety_critical", "possibly safety-critical until graded: {unreadable}");
    assert_eq!(unreadable["reasons"][0]["rule"], "triage.no-signal");

    let (waiting, etag) = incident(&app, &unreadable).await;
    let id = waiting["id"].as_str().unwrap().to_owned();
    assert_eq!(waiting["status"], "triage");
    let reported = chrono::DateTime::parse_from_rfc3339(waiting["reported_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(waiting["triage"]["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(due - reported, TimeDelta::minutes(15), "FIELDPROOF_TRIAGE_MINUTES defaults to 15");
    assert_eq!(waiting["triage"]["overdue"], false);

    let dana = app.as_user("dana");
    let queue = dana.get("/v1/incidents").await.json();
    assert_eq!(ids(&queue), vec![id.clone(), gas["incident_id"].as_str().unwrap().to_owned()], "triage first");
    assert_eq!(ids(&dana.get("/v1/incidents?status=triage").await.json()), vec![id.clone()]);
    assert!(!ids(&dana.get("/v1/incidents?status=open").await.json()).contains(&id));
    let page = dana.get("/v1/incidents?limit=1").await.json();
    let next_page = format!("/v1/incidents?limit=1&cursor={}", page["next_cursor"].as_str().unwrap());
    assert_eq!(
        ids(&dana.get(&next_page).await.json()),
        vec![gas["incident_id"].as_str().unwrap().to_owned()],
        "paged in order"
    );

    let cases = dana.get("/v1/recovery-cases").await.json();
    assert!(cases["items"].as_array().unwrap().is_empty(), "no apology or recovery before a person grades it");
    let visits = dana.get("/v1/make-safe-visits").await.json();
    assert_eq!(visits["items"].as_array().unwrap().len(), 1, "only the gas escape has a make-safe visit yet");
    let audit_queue = app.as_user("sam").get("/v1/safety/audit-queue").await.json();
    assert!(!ids(&json!({ "items": audit_queue["items"] })).contains(&id), "not audited before it is graded");

    app.state.clock.advance(TimeDelta::minutes(15));
    let (late, etag_late) = incident(&app, &unreadable).await;
    assert_eq!(late["triage"]["overdue"], true, "past its deadline: {late}");
    assert_eq!(etag_late, etag, "the overdue flag is computed, not stored");
    let acknowledge = format!("/v1/incidents/{id}/acknowledge");
    dana.call_with(Method::POST, &acknowledge, &[("If-Match", &etag)], None).await.problem(StatusCode::CONFLICT);
    grade(&app, "ada", &id, &etag, "service_impacting").await.problem(StatusCode::FORBIDDEN);

    let graded = grade(&app, "dana", &id, &etag, "service_impacting").await;
    assert_eq!(graded.status, StatusCode::OK, "{}", graded.text());
    let graded = graded.json();
    assert_eq!((graded["status"].as_str(), graded["severity"].as_str()), (Some("open"), Some("service_impacting")));
    assert!(graded["triage"]["graded_at"].is_string() && graded["triage"]["overdue"] == false, "{graded}");
    let cases = dana.get("/v1/recovery-cases").await.json();
    assert_eq!(cases["items"][0]["incident_id"], json!(id), "recovery starts from the person's grade");

    let (after, etag) = incident(&app, &unreadable).await;
    let triaged = after["history"].as_array().unwrap().iter().find(|e| e["action"] == "incident.triaged").unwrap();
    assert_eq!(
        (triaged["actor"].as_str(), triaged["details"]["to"].as_str()),
        (Some("dana"), Some("service_impacting"))
    );
    assert!(triaged["details"]["reason"].as_str().unwrap().contains("router"));
    grade(&app, "dana", &id, &etag, "nuisance").await.problem(StatusCode::FORBIDDEN);
}

/// A note the rules grade as an ordinary fault, in which the shipped net cannot rule out a danger.
const DOUBTED: &str = "Phone line crackly after the install, elderly gent lives on his own.";

#[rstest]
#[actix_web::test]
async fn a_report_the_net_doubts_waits_in_triage_with_the_rules_reasons_until_a_person_grades_it(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let doubted = file(&app, "broadband-install", DOUBTED).await;
    assert_eq!(doubted["severity"], "safety_critical", "possibly safety-critical until graded: {doubted}");
    let rules: Vec<&str> = doubted["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(rules[0], "triage.net-doubt", "{doubted}");
    assert!(rules.contains(&"text.not-working"), "what the rules read stays beside the doubt: {doubted}");
    assert!(doubted["reasons"][0]["evidence"].as_str().unwrap().contains("a person grades it"));

    let (waiting, etag) = incident(&app, &doubted).await;
    assert_eq!(waiting["status"], "triage");
    let id = waiting["id"].as_str().unwrap().to_owned();
    let dana = app.as_user("dana");
    assert_eq!(ids(&dana.get("/v1/incidents?status=triage").await.json()), vec![id.clone()]);
    assert!(dana.get("/v1/recovery-cases").await.json()["items"].as_array().unwrap().is_empty(), "no apology yet");

    let graded = grade(&app, "dana", &id, &etag, "service_impacting").await;
    assert_eq!(graded.status, StatusCode::OK, "{}", graded.text());
    assert_eq!(dana.get("/v1/recovery-cases").await.json()["items"][0]["incident_id"], json!(id));
}

#[rstest]
#[actix_web::test]
async fn graded_safety_critical_out_of_triage_starts_the_safety_follow_up(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let filed = file(&app, "gas-boiler-annual-service", UNREADABLE).await;
    let (waiting, etag) = incident(&app, &filed).await;
    let id = waiting["id"].as_str().unwrap();
    assert!(app.as_user("dana").get("/v1/make-safe-visits").await.json()["items"].as_array().unwrap().is_empty());
    let graded = grade(&app, "sam", id, &etag, "safety_critical").await;
    assert_eq!(graded.status, StatusCode::OK, "{}", graded.text());
    assert_eq!(graded.json()["status"], "open");
    let visits = app.as_user("dana").get("/v1/make-safe-visits").await.json();
    assert_eq!(visits["items"][0]["incident_id"], json!(id), "the make-safe visit opens on the person's grade");
    let audit_queue = app.as_user("sam").get("/v1/safety/audit-queue").await.json();
    assert_eq!(audit_queue["items"][0]["id"], json!(id));
}

#[rstest]
#[actix_web::test]
async fn people_grades_export_as_labelled_notes(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let unreadable = file(&app, "broadband-install", UNREADABLE).await;
    let gas = file(&app, "gas-boiler-annual-service", "strong smell of gas at the meter").await;
    file(&app, "broadband-install", "broadband keeps dropping out").await;
    let (waiting, etag) = incident(&app, &unreadable).await;
    assert_eq!(grade(&app, "dana", waiting["id"].as_str().unwrap(), &etag, "nuisance").await.status, StatusCode::OK);
    let (graded, etag) = incident(&app, &gas).await;
    let regraded = grade(&app, "sam", graded["id"].as_str().unwrap(), &etag, "service_impacting").await;
    assert_eq!(regraded.status, StatusCode::OK, "{}", regraded.text());

    let export = app.as_user("sam").get("/v1/incidents/export?regraded=true").await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text());
    assert_eq!(export.header("content-type").as_deref(), Some("application/x-ndjson"));
    let lines: Vec<Value> = export.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "only the reports a person graded: {lines:?}");
    assert_eq!(
        (lines[0]["note"].as_str(), lines[0]["machine_grade"].as_str(), lines[0]["expected"].as_str()),
        (Some(UNREADABLE), Some("triage"), Some("nuisance"))
    );
    assert_eq!(lines[0]["graded_by"], "dana");
    assert_eq!(
        (lines[1]["machine_grade"].as_str(), lines[1]["expected"].as_str(), lines[1]["graded_by"].as_str()),
        (Some("safety_critical"), Some("service_impacting"), Some("sam"))
    );
    assert!(lines[1]["reason"].as_str().unwrap().contains("router"));

    app.as_user("dana").get("/v1/incidents/export?regraded=true").await.problem(StatusCode::FORBIDDEN);
    assert_eq!(app.as_user("sam").get("/v1/incidents/export?regraded=false").await.error_fields(), vec!["regraded"]);

    // The export is what `rules eval` reads.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regraded.jsonl");
    std::fs::write(&file, export.text()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fieldproof"))
        .args(["rules", "eval", "--notes", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("notes: 2 notes, rules {}", app.state.rules.version)), "{stdout}");
    assert!(stdout.contains(UNREADABLE) && stdout.contains("graded triage"), "every miss with its reasons: {stdout}");

    // For a frozen split: the same matrix and figures, and not one note.
    let scores = Command::new(env!("CARGO_BIN_EXE_fieldproof"))
        .args(["rules", "eval", "--scores-only", "--notes", file.to_str().unwrap()])
        .output()
        .unwrap();
    let scores = String::from_utf8_lossy(&scores.stdout);
    assert_eq!(scores.lines().collect::<Vec<_>>(), stdout.lines().take(scores.lines().count()).collect::<Vec<_>>());
    assert!(scores.contains("safety recall") && scores.contains("triage"), "{scores}");
    assert!(!scores.contains(UNREADABLE) && !scores.contains("graded triage:"), "no miss is printed: {scores}");
}

#[rstest]
#[actix_web::test]
async fn rules_diff_regrades_stored_reports_with_another_version_and_writes_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    file(&app, "consumer-unit-replacement", "towel rail bit him when he grabbed it").await;
    file(&app, "gas-boiler-annual-service", "strong smell of gas at the meter").await;
    let before = app.as_user("dana").get("/v1/incidents").await.text();
    // The service grades with the latest version in the checklist directory, as `rules diff` names it.
    let latest = app.state.rules.version.strip_prefix("severity-rules/").expect("a rule set version");

    let out = Command::new(env!("CARGO_BIN_EXE_fieldproof"))
        .args(["rules", "diff", latest, "v1", "--since", "3650d"])
        .env("DATABASE_URL", app.database_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with(&format!("2 reports graded by {}", app.state.rules.version)), "{stdout}");
    assert!(stdout.contains("1 would change under severity-rules/v1"), "{stdout}");
    assert!(stdout.contains("safety_critical -> triage") && stdout.contains("towel rail bit him"), "{stdout}");
    assert!(!stdout.contains("smell of gas at the meter"), "unchanged reports are not listed: {stdout}");
    assert_eq!(app.as_user("dana").get("/v1/incidents").await.text(), before, "nothing written");

    let bad = Command::new(env!("CARGO_BIN_EXE_fieldproof"))
        .args(["rules", "diff", "v2", "v999"])
        .env("DATABASE_URL", app.database_url())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no rule set severity-rules/v999"));
}
