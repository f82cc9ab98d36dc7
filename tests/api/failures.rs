//! Failure reports: from sign-offs and filed afterwards, graded explainably, repeats escalated.

use crate::common;

use actix_web::http::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};

const GAS: &str = "gas-boiler-annual-service";

fn report(job: &Value, description: &str) -> Value {
    json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": description })
}

fn rules_fired(body: &Value) -> Vec<String> {
    body["reasons"].as_array().expect("reasons").iter().map(|r| r["rule"].as_str().expect("rule").to_owned()).collect()
}

#[rstest]
#[actix_web::test]
async fn signoff_with_failed_items_opens_a_graded_incident(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", GAS).await;
    let passing = app.issue_job("tess", GAS).await;
    let answers = common::passing_answers(&app.checklist_of(&passing).await);
    let path = format!("/v1/jobs/{}/signoffs", passing["id"].as_str().unwrap());
    let clean =
        app.as_user("tess").post(&path, &common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers)).await;
    assert_eq!(clean.status, StatusCode::CREATED, "{}", clean.text());
    assert!(clean.json().get("incident_id").is_none(), "a clean sign-off opens no incident");

    let mut answers = common::passing_answers(&app.checklist_of(&job).await);
    for answer in answers.iter_mut() {
        if answer["item_id"] == "flue-gas-co" {
            answer["value"] = json!(600);
            answer["note"] = json!("analyser reading high, customer says headaches");
        }
    }
    let path = format!("/v1/jobs/{}/signoffs", job["id"].as_str().unwrap());
    let signed =
        app.as_user("tess").post(&path, &common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers)).await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text());
    let incident_id = signed.json()["incident_id"].as_str().expect("incident_id").to_owned();

    let incident = app.as_user("sam").get(&format!("/v1/incidents/{incident_id}")).await;
    assert_eq!(incident.status, StatusCode::OK, "{}", incident.text());
    let incident = incident.json();
    assert_eq!(incident["severity"], "safety_critical");
    assert_eq!(incident["technician"], "tess");
    assert_eq!(incident["rules_version"], common::latest_rules_version(), "graded by the latest rule set");
    let fired = rules_fired(&incident);
    assert_eq!(fired[0], "item.safety-critical");
    assert!(incident["reasons"][0]["evidence"].as_str().unwrap().contains("flue-gas-co"));
    assert!(fired.contains(&"text.carbon-monoxide".to_owned()), "the technician's note is read too: {fired:?}");
    assert_eq!(incident["history"][0]["action"], "incident.classified");
}

#[rstest]
#[actix_web::test]
async fn reported_failure_is_graded_with_reasons_and_is_idempotent(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", "consumer-unit-replacement").await;
    let body = report(&job, "cust says scorch marks on the kitchen socket and a fishy smell");
    let first = app.as_user("dana").post("/v1/failures", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let graded = first.json();
    assert_eq!(graded["severity"], "safety_critical");
    assert_eq!(graded["rules_version"], common::latest_rules_version(), "graded by the latest rule set");
    assert!(rules_fired(&graded).contains(&"text.electrical".to_owned()), "{graded}");
    assert!(graded["incident_id"].is_string());

    let retry = app.as_user("dana").post("/v1/failures", &body).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.body, first.body);

    let mut changed = body.clone();
    changed["description"] = json!("all fine actually");
    app.as_user("dana").post("/v1/failures", &changed).await.problem(StatusCode::CONFLICT);
}

#[rstest]
#[actix_web::test]
async fn negation_only_cancels_within_its_clause(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let cases = [
        ("no smell of gas, boiler wont fire up, no heating since tuesday", "service_impacting"),
        ("no smell of gas yesterday but today strong smell of gas in kitchen", "safety_critical"),
        ("CO alarm did not go off, engineer left muddy footprints on the carpet", "nuisance"),
        ("boiler not working and CO alarm keeps going off", "safety_critical"),
        ("not sure if its gas but theres a funny smell near the meter", "safety_critical"),
    ];
    let mut jobs = Vec::new();
    for _ in cases {
        jobs.push(app.issue_job("tess", GAS).await);
    }
    for ((note, expected), job) in cases.into_iter().zip(jobs) {
        let graded = app.as_user("tess").post("/v1/failures", &report(&job, note)).await.json();
        assert_eq!(graded["severity"], expected, "{note}: {graded}");
    }
}

/// An alarm that chirped for its battery, changed and quiet since, is no hazard and says why; the
/// same chirp with a symptom, or sounding again, still is.
#[rstest]
#[actix_web::test]
async fn an_alarm_chirping_for_its_changed_battery_is_explained_and_a_symptom_is_not(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let cases = [
        ("Smoke alarm in the hall was chirping - low battery, tech swapped it, quiet now", false),
        ("CO alarm chirping, changed the battery, quiet now, but we all have headaches", true),
        ("CO alarm chirped, swapped the battery, it was quiet, then it went off again tonight", true),
    ];
    let mut jobs = Vec::new();
    for _ in cases {
        jobs.push(app.issue_job("tess", GAS).await);
    }
    for ((note, hazard), job) in cases.into_iter().zip(jobs) {
        let graded = app.as_user("tess").post("/v1/failures", &report(&job, note)).await.json();
        let fired = rules_fired(&graded);
        if hazard {
            assert_eq!(graded["severity"], "safety_critical", "{note}: {graded}");
            assert!(!fired.contains(&"text.explained".to_owned()), "{note}: {fired:?}");
            continue;
        }
        assert_ne!(graded["severity"], "safety_critical", "{note}: {graded}");
        let incident =
            app.as_user("sam").get(&format!("/v1/incidents/{}", graded["incident_id"].as_str().unwrap())).await;
        assert_eq!(
            incident.json()["status"],
            "open",
            "graded by the machine, not waiting in triage: {}",
            incident.text()
        );
        let explained = graded["reasons"].as_array().unwrap().iter().find(|r| r["rule"] == "text.explained");
        let evidence = explained.expect("the reason names the explanation")["evidence"].as_str().unwrap();
        assert!(evidence.contains("smoke alarm") && evidence.contains("explained by `battery"), "{evidence}");
    }
}

#[rstest]
#[actix_web::test]
async fn structured_facts_are_graded(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", GAS).await;
    let cases = [
        (json!({ "hazards": ["carbon_monoxide"] }), "safety_critical", "fact.hazard"),
        (json!({ "injury": true }), "safety_critical", "fact.injury"),
        (json!({ "service_lost": { "service": "heating", "hours": 20 } }), "service_impacting", "fact.service-lost"),
        (
            json!({ "vulnerable_occupant": true, "service_lost": { "service": "heating", "hours": 20 } }),
            "safety_critical",
            "fact.vulnerable-without-essential-service",
        ),
        (json!({ "item_ids": ["work-area-tidy"] }), "nuisance", "item.nuisance"),
        (json!({ "item_ids": ["gas-tightness-test"] }), "safety_critical", "item.safety-critical"),
    ];
    let mut jobs = Vec::new();
    for _ in &cases {
        jobs.push(app.issue_job("tom", GAS).await);
    }
    for ((facts, expected, rule), job) in cases.into_iter().zip(jobs) {
        let mut body = report(&job, "customer called about the visit");
        body.as_object_mut().unwrap().extend(facts.as_object().unwrap().clone());
        let graded = app.as_user("dana").post("/v1/failures", &body).await.json();
        assert_eq!(graded["severity"], expected, "{facts}: {graded}");
        assert!(rules_fired(&graded).contains(&rule.to_owned()), "{facts}: {graded}");
    }
    let mut unknown = report(&job, "x");
    unknown["item_ids"] = json!(["gas-tightness-test", "no-such-item"]);
    assert_eq!(app.as_user("dana").post("/v1/failures", &unknown).await.error_fields(), vec!["item_ids[no-such-item]"]);
}

#[rstest]
#[actix_web::test]
async fn reporters_are_limited_to_their_role_and_jobs(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let toms_job = app.issue_job("tom", GAS).await;
    let body = report(&toms_job, "left a mess");
    assert_eq!(app.as_user("tess").post("/v1/failures", &body).await.error_fields(), vec!["job_id"]);
    app.as_user("sam").post("/v1/failures", &body).await.problem(StatusCode::FORBIDDEN);
    assert_eq!(app.as_user("tom").post("/v1/failures", &body).await.status, StatusCode::CREATED);
}

#[rstest]
#[actix_web::test]
async fn same_customer_within_90_days_is_a_repeat_that_escalates(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", "broadband-install").await;
    let first = app.as_user("dana").post("/v1/failures", &report(&job, "engineer arrived late")).await.json();
    assert_eq!((first["severity"].as_str(), first["repeat"].as_bool()), (Some("nuisance"), Some(false)));

    app.state.clock.advance(chrono::TimeDelta::days(89));
    let second =
        app.as_user("dana").post("/v1/failures", &report(&job, "router left on the floor, untidy")).await.json();
    assert_eq!(second["severity"], "service_impacting", "a repeat nuisance escalates: {second}");
    assert_eq!(second["repeat"], true);
    assert!(rules_fired(&second).contains(&"repeat.same-customer".to_owned()));

    app.state.clock.advance(chrono::TimeDelta::days(91));
    let later = app.as_user("dana").post("/v1/failures", &report(&job, "invoice had the wrong name")).await.json();
    assert_eq!((later["severity"].as_str(), later["repeat"].as_bool()), (Some("nuisance"), Some(false)));
}

#[rstest]
#[actix_web::test]
async fn same_technician_failing_the_same_item_is_a_repeat(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut first_job = common::job_body("tess", GAS);
    first_job["customer"]["name"] = json!("First Customer");
    let first_job = app.as_user("dana").post("/v1/jobs", &first_job).await.json();
    let second_job = app.issue_job("tess", GAS).await;
    let mut body = report(&first_job, "case not tidied");
    body["item_ids"] = json!(["work-area-tidy"]);
    let first = app.as_user("dana").post("/v1/failures", &body).await.json();
    assert_eq!(first["repeat"], false);
    let mut body = report(&second_job, "left the work area messy again");
    body["item_ids"] = json!(["work-area-tidy"]);
    let second = app.as_user("dana").post("/v1/failures", &body).await.json();
    assert_eq!(second["repeat"], true, "{second}");
    assert_eq!(second["severity"], "service_impacting");
    assert!(rules_fired(&second).contains(&"repeat.same-technician-item".to_owned()));
    assert!(!rules_fired(&second).iter().any(|r| r == "fact.hazard"), "a repeat invents no hazard");
}
