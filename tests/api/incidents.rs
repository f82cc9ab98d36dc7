//! The incident queue: filters, ordering, pages, and changes under If-Match.

use crate::common;

use actix_web::http::{Method, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};

async fn file(app: &common::TestApp, technician: &str, note: &str) -> Value {
    let job = app.issue_job(technician, "gas-boiler-annual-service").await;
    let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": note });
    let response = app.as_user("dana").post("/v1/failures", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    app.state.clock.advance(chrono::TimeDelta::minutes(10));
    response.json()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

#[rstest]
#[actix_web::test]
async fn queue_puts_the_most_urgent_first_then_the_newest(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let old_gas = file(&app, "tess", "strong smell of gas in the kitchen").await;
    let nuisance = file(&app, "tom", "engineer was a bit late").await;
    let outage = file(&app, "tom", "no heating since the visit").await;
    let new_gas = file(&app, "tom", "gas leak at the meter").await;
    let dana = app.as_user("dana");
    let all = dana.get("/v1/incidents").await.json();
    let expected: Vec<String> = [&new_gas, &old_gas, &outage, &nuisance]
        .iter()
        .map(|r| r["incident_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids(&all), expected);

    let safety = dana.get("/v1/incidents?severity=safety_critical").await.json();
    assert_eq!(ids(&safety), expected[..2].to_vec());
    let toms = dana.get("/v1/incidents?technician=tom").await.json();
    assert_eq!(ids(&toms), vec![expected[0].clone(), expected[2].clone(), expected[3].clone()]);
    let recent = dana.get("/v1/incidents?since=2026-03-02T09:15:00Z").await.json();
    assert_eq!(ids(&recent), vec![expected[0].clone(), expected[2].clone()]);
    let customer = all["items"][1]["customer_id"].as_str().unwrap();
    let theirs = dana.get(&format!("/v1/incidents?customer={customer}")).await.json();
    assert_eq!(ids(&theirs), vec![expected[1].clone()]);

    let mut walked = Vec::new();
    let mut path = "/v1/incidents?limit=1".to_owned();
    loop {
        let page = dana.get(&path).await.json();
        walked.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/incidents?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(walked, expected, "paging visits every incident once, in order");

    assert_eq!(dana.get("/v1/incidents?severity=bad&limit=0").await.error_fields(), vec!["severity", "limit"]);
    app.as_user("tess").get("/v1/incidents").await.problem(StatusCode::FORBIDDEN);
}

async fn change(
    app: &common::TestApp,
    user: &str,
    id: &str,
    action: &str,
    if_match: Option<&str>,
    body: Value,
) -> common::Response {
    let headers: Vec<(&str, &str)> = if_match.map(|tag| ("If-Match", tag)).into_iter().collect();
    app.as_user(user).call_with(Method::POST, &format!("/v1/incidents/{id}/{action}"), &headers, Some(&body)).await
}

#[rstest]
#[actix_web::test]
async fn changes_need_the_current_etag(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let id = file(&app, "tess", "no hot water since the service").await["incident_id"].as_str().unwrap().to_owned();
    let read = app.as_user("dana").get(&format!("/v1/incidents/{id}")).await;
    let etag = read.header("etag").expect("etag");

    change(&app, "dana", &id, "acknowledge", None, json!({})).await.problem(StatusCode::PRECONDITION_REQUIRED);
    let acked = change(&app, "dana", &id, "acknowledge", Some(&etag), json!({})).await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.text());
    assert_eq!(acked.json()["status"], "acknowledged");
    let new_etag = acked.header("etag").expect("etag");
    assert_ne!(new_etag, etag);

    let stale = change(&app, "dana", &id, "assign", Some(&etag), json!({ "assignee": "sam" })).await;
    stale.problem(StatusCode::PRECONDITION_FAILED);
    let assigned = change(&app, "dana", &id, "assign", Some(&new_etag), json!({ "assignee": "sam" })).await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.text());
    assert_eq!(
        (assigned.json()["status"].as_str(), assigned.json()["assignee"].as_str()),
        (Some("assigned"), Some("sam"))
    );
    let to_technician = change(&app, "dana", &id, "assign", Some("*"), json!({ "assignee": "tess" })).await;
    assert_eq!(to_technician.error_fields(), vec!["assignee"]);
}

#[rstest]
#[actix_web::test]
async fn safety_officer_regrades_with_a_reason_kept_in_the_audit_log(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let id = file(&app, "tess", "engineer left dust on the floor").await["incident_id"].as_str().unwrap().to_owned();
    let etag = app.as_user("sam").get(&format!("/v1/incidents/{id}")).await.header("etag").unwrap();
    let body = json!({ "severity": "safety_critical", "reason": "customer later said the flue was knocked loose" });

    change(&app, "dana", &id, "regrade", Some(&etag), body.clone()).await.problem(StatusCode::FORBIDDEN);
    let no_reason =
        change(&app, "sam", &id, "regrade", Some(&etag), json!({ "severity": "safety_critical", "reason": "  " }))
            .await;
    assert_eq!(no_reason.error_fields(), vec!["reason"]);
    let missing = change(&app, "sam", &id, "regrade", Some(&etag), json!({ "severity": "safety_critical" })).await;
    assert_eq!(missing.error_fields(), vec!["reason"]);

    let regraded = change(&app, "sam", &id, "regrade", Some(&etag), body).await;
    assert_eq!(regraded.status, StatusCode::OK, "{}", regraded.text());
    let incident = app.as_user("sam").get(&format!("/v1/incidents/{id}")).await.json();
    assert_eq!(
        (incident["severity"].as_str(), incident["original_severity"].as_str()),
        (Some("safety_critical"), Some("nuisance"))
    );
    let entry =
        incident["history"].as_array().unwrap().iter().find(|h| h["action"] == "incident.regraded").expect("audited");
    assert_eq!(entry["actor"], "sam");
    assert_eq!(entry["details"]["from"], "nuisance");
    assert_eq!(entry["details"]["to"], "safety_critical");
    assert_eq!(entry["details"]["reason"], "customer later said the flue was knocked loose");
    let queue = app.as_user("sam").get("/v1/incidents?severity=safety_critical").await.json();
    assert_eq!(ids(&queue), vec![id]);
}
