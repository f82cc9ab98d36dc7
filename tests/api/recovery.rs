//! Customer recovery of ordinary failures: the 24-hour clock, driven by the test clock.

use crate::common;

use actix_web::http::{Method, StatusCode};
use chrono::TimeDelta;
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};
use common::TestApp;

async fn report(app: &TestApp, note: &str) -> Value {
    let job = app.issue_job("tess", "broadband-install").await;
    let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": note });
    let response = app.as_user("dana").post("/v1/failures", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

async fn case_of(app: &TestApp, incident_id: &str, status: &str) -> Option<Value> {
    let page = app.as_user("dana").get(&format!("/v1/recovery-cases?status={status}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    page.json()["items"].as_array().unwrap().iter().find(|c| c["incident_id"] == incident_id).cloned()
}

/// Takes one recovery step as the dispatcher: the fix, the apology as drafted, or a remedy within the limit.
async fn step(app: &TestApp, case: &Value, step: &str) -> common::Response {
    let base = format!("/v1/recovery-cases/{}", case["id"].as_str().unwrap());
    let dana = app.as_user("dana");
    match step {
        "fixed" => dana.post(&format!("{base}/fixed"), &json!({})).await,
        "apologised" => dana.post(&format!("{base}/apology"), &json!({})).await,
        _ => {
            let offer = dana.get(&format!("{base}/remedies")).await.json();
            let options = offer["options"].as_array().unwrap();
            let choice = options.iter().find(|o| o["needs_approval"] == false).expect("an option within the limit");
            dana.post(&format!("{base}/remedy"), &json!({ "remedy_id": choice["id"] })).await
        }
    }
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
    let fixed = step(&app, &case, "fixed").await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.text());
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

    app.as_user("tess")
        .post(&format!("/v1/recovery-cases/{}/fixed", case["id"].as_str().unwrap()), &json!({}))
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
            let sam = app.as_user("sam");
            let tag = sam.get(&format!("/v1/incidents/{incident_id}")).await.header("etag").unwrap();
            let path = format!("/v1/incidents/{incident_id}/regrade");
            let body = json!({ "severity": severity, "reason": reason });
            let response = sam.call_with(Method::POST, &path, &[("If-Match", &tag)], Some(&body)).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        }
    };
    app.state.clock.advance(TimeDelta::hours(2));
    regrade("service_impacting", "static from a jumper, socket tested safe").await;
    let case = case_of(&app, &incident_id, "open").await.expect("recovery opens instead");
    assert_eq!(case["time_left_seconds"], 22 * 3600, "the clock runs from the report, not the re-grade");
    let visits = app.as_user("dana").get("/v1/make-safe-visits?status=cancelled").await.json();
    assert_eq!(visits["items"].as_array().unwrap().len(), 1);

    regrade("safety_critical", "second visit found a loose live conductor").await;
    let cancelled = case_of(&app, &incident_id, "cancelled").await.expect("recovery cancelled");
    assert!(cancelled["note"].as_str().unwrap().contains("loose live conductor"));
    assert!(case_of(&app, &incident_id, "open").await.is_none());
}

#[rstest]
#[actix_web::test]
async fn apology_names_the_failure_and_nobody_to_blame(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", "broadband-install").await;
    let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "customer has had no internet since the install",
                       "service_lost": { "service": "broadband", "hours": 10 } });
    let graded = app.as_user("dana").post("/v1/failures", &body).await.json();
    let case = case_of(&app, graded["incident_id"].as_str().unwrap(), "open").await.unwrap();
    let base = format!("/v1/recovery-cases/{}", case["id"].as_str().unwrap());

    let draft = app.as_user("dana").get(&format!("{base}/apology")).await.json();
    assert_eq!(draft["kind"], "outage");
    let text = draft["text"].as_str().unwrap();
    assert!(
        text.starts_with("Dear Amelia Hart")
            && text.contains("your broadband")
            && text.contains("09:00 on 3 March 2026"),
        "{text}"
    );
    assert!(!text.to_lowercase().contains("tess"), "the company apologises, not a person");

    let blaming = app
        .as_user("dana")
        .post(&format!("{base}/apology"), &json!({ "text": "Sorry, Tess forgot to activate your line." }))
        .await;
    assert_eq!(blaming.error_fields(), vec!["text"]);
    let edited = "Dear Amelia, we are sorry you have been without broadband since our visit. An engineer will restore it by 9am tomorrow.";
    let sent = app.as_user("dana").post(&format!("{base}/apology"), &json!({ "text": edited })).await.json();
    assert_eq!((sent["apology_text"].as_str(), sent["apologised_at"].is_string()), (Some(edited), true));
}

#[rstest]
#[actix_web::test]
async fn remedies_are_a_choice_and_big_ones_need_the_named_approver(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", "broadband-install").await;
    let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "phone line dead since the visit",
                       "service_lost": { "service": "phone", "hours": 30 } });
    let graded = app.as_user("dana").post("/v1/failures", &body).await.json();
    let case = case_of(&app, graded["incident_id"].as_str().unwrap(), "open").await.unwrap();
    let base = format!("/v1/recovery-cases/{}", case["id"].as_str().unwrap());

    let offer = app.as_user("dana").get(&format!("{base}/remedies")).await.json();
    assert_eq!(offer["tier"], 3, "service-impacting with a long outage: {offer}");
    assert_eq!(offer["policy_version"], "recovery-policy/v1");
    let options = offer["options"].as_array().unwrap();
    assert!((2..=3).contains(&options.len()));
    let big = options.iter().find(|o| o["needs_approval"] == true).expect("an option above the frontline limit");

    let unknown = app.as_user("dana").post(&format!("{base}/remedy"), &json!({ "remedy_id": "a-new-car" })).await;
    assert_eq!(unknown.error_fields(), vec!["remedy_id"]);
    let proposed = app.as_user("dana").post(&format!("{base}/remedy"), &json!({ "remedy_id": big["id"] })).await.json();
    assert_eq!(
        (proposed["remedy_status"].as_str(), proposed["remedy_settled_at"].is_null()),
        (Some("pending_approval"), true)
    );
    app.as_user("dana").post(&format!("{base}/remedy/approve"), &json!({})).await.problem(StatusCode::FORBIDDEN);
    let approved = app.as_user("ada").post(&format!("{base}/remedy/approve"), &json!({})).await.json();
    assert_eq!(
        (approved["remedy_status"].as_str(), approved["remedy_settled_at"].is_string()),
        (Some("settled"), true)
    );
    app.as_user("dana")
        .post(&format!("{base}/remedy"), &json!({ "remedy_id": big["id"] }))
        .await
        .problem(StatusCode::CONFLICT);
}

#[rstest]
#[actix_web::test]
async fn metrics_show_recovery_within_24h_repeats_and_failing_items(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", "broadband-install").await;
    let checklist = app.checklist_of(&job).await;
    let item =
        checklist["items"].as_array().unwrap().iter().find(|i| i["severity_hint"] == "nuisance").unwrap()["id"].clone();
    let mut cases = Vec::new();
    for note in ["packaging left in the hall", "cables left untidy again"] {
        let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": note, "item_ids": [item] });
        let graded = app.as_user("dana").post("/v1/failures", &body).await.json();
        cases.push(case_of(&app, graded["incident_id"].as_str().unwrap(), "open").await.unwrap());
    }
    app.state.clock.advance(TimeDelta::hours(2));
    for s in ["fixed", "apologised", "remedy_settled"] {
        assert_eq!(step(&app, &cases[0], s).await.status, StatusCode::OK);
    }

    let metrics = app.as_user("dana").get("/v1/metrics/recovery?days=7").await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.text());
    let m = metrics.json();
    assert_eq!((m["recovery"]["decided"].as_i64(), m["recovery"]["pending"].as_i64()), (Some(1), Some(1)));
    assert_eq!(m["recovery"]["share_within_24h"], 1.0);
    assert_eq!(m["recovery"]["median_hours_to_recovery"], 2.0);
    assert_eq!(m["recovery"]["by_technician"]["tess"]["within_24h"], 1);
    assert_eq!(
        (m["incidents"].as_i64(), m["repeats"].as_i64(), m["repeat_rate"].as_f64()),
        (Some(2), Some(1), Some(0.5))
    );
    assert_eq!(m["failing_items"], json!([{ "checklist_key": "broadband-install", "item_id": item, "failures": 2 }]));

    app.state.clock.advance(TimeDelta::hours(23));
    let later = app.as_user("dana").get("/v1/metrics/recovery?days=7").await.json();
    assert_eq!(
        (later["recovery"]["decided"].as_i64(), later["recovery"]["share_within_24h"].as_f64()),
        (Some(2), Some(0.5)),
        "the open case missed its deadline"
    );
    assert_eq!(app.as_user("dana").get("/v1/metrics/recovery?days=12").await.error_fields(), vec!["days"]);
    app.as_user("tess").get("/v1/metrics/recovery").await.problem(StatusCode::FORBIDDEN);
}

#[rstest]
#[actix_web::test]
async fn surprise_fits_known_preferences_and_counts_in_the_surprise_rate(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut body = common::job_body("tess", "broadband-install");
    body["customer"]["preferences"] = json!(["prefers text messages", "Loves gardening"]);
    let job = app.as_user("dana").post("/v1/jobs", &body).await.json();
    let report = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "engineer was an hour late" });
    let graded = app.as_user("dana").post("/v1/failures", &report).await.json();
    let case = case_of(&app, graded["incident_id"].as_str().unwrap(), "open").await.unwrap();
    let base = format!("/v1/recovery-cases/{}", case["id"].as_str().unwrap());

    let suggestions = app.as_user("dana").get(&format!("{base}/surprise")).await.json();
    assert_eq!(suggestions["suggestions"][0]["id"], "garden-voucher");
    assert_eq!(suggestions["suggestions"][0]["because"], "Loves gardening");
    let given = app
        .as_user("dana")
        .post(&format!("{base}/surprise"), &json!({ "given": true, "note": "voucher posted" }))
        .await;
    assert_eq!(given.json()["surprise_given"], true);
    app.as_user("dana")
        .post(&format!("{base}/surprise"), &json!({ "given": false }))
        .await
        .problem(StatusCode::CONFLICT);

    for s in ["fixed", "apologised", "remedy_settled"] {
        assert_eq!(step(&app, &case, s).await.status, StatusCode::OK);
    }
    let m = app.as_user("sam").get("/v1/metrics/recovery?days=7").await.json();
    assert_eq!(m["recovery"]["surprise_rate"], 1.0);
}

#[rstest]
#[actix_web::test]
async fn fix_visit_closes_by_signoff_and_the_explanation_follows_within_a_day(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", "broadband-install").await;
    let report =
        json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "no internet since the install" });
    let graded = app.as_user("dana").post("/v1/failures", &report).await.json();
    assert_eq!(graded["severity"], "service_impacting");
    let case = case_of(&app, graded["incident_id"].as_str().unwrap(), "open").await.unwrap();
    let base = format!("/v1/recovery-cases/{}", case["id"].as_str().unwrap());

    let explain = json!({ "root_cause": "procedure_not_followed", "what_went_wrong": "The line was not activated at the exchange after the install.",
                          "what_changed": "Activation is now a required checklist step before we leave." });
    app.as_user("dana").post(&format!("{base}/explanation"), &explain).await.problem(StatusCode::CONFLICT);

    let sent = app.as_user("dana").post(&format!("{base}/fix-visit"), &json!({ "technician": "tom" })).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let fix_job_id = sent.json()["fix_job_id"].as_str().unwrap().to_owned();
    let fix_job = app.as_user("tom").get(&format!("/v1/jobs/{fix_job_id}")).await.json();
    assert_eq!(
        (fix_job["checklist_key"].as_str(), fix_job["customer"]["id"].clone()),
        (Some("broadband-install"), job["customer"]["id"].clone())
    );

    app.state.clock.advance(TimeDelta::hours(3));
    let answers = common::passing_answers(&app.checklist_of(&fix_job).await);
    let signed = app
        .as_user("tom")
        .post(
            &format!("/v1/jobs/{fix_job_id}/signoffs"),
            &common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers),
        )
        .await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text());
    let fixed = case_of(&app, graded["incident_id"].as_str().unwrap(), "open").await.unwrap();
    assert!(fixed["fixed_at"].is_string(), "the clean sign-off records the fix: {fixed}");
    assert_eq!(fixed["explanation_due_at"], "2026-03-03T12:00:00Z");

    app.state.clock.advance(TimeDelta::hours(25));
    assert_eq!(
        case_of(&app, graded["incident_id"].as_str().unwrap(), "open").await.unwrap()["explanation_overdue"],
        true
    );
    let mut blaming = explain.clone();
    blaming["what_went_wrong"] = json!("Tess forgot to activate the line.");
    assert_eq!(
        app.as_user("dana").post(&format!("{base}/explanation"), &blaming).await.error_fields(),
        vec!["what_went_wrong"]
    );
    let explained = app.as_user("dana").post(&format!("{base}/explanation"), &explain).await.json();
    assert_eq!(
        (explained["root_cause"].as_str(), explained["explanation_overdue"].as_bool()),
        (Some("procedure_not_followed"), Some(false))
    );
    let history =
        app.as_user("sam").get(&format!("/v1/incidents/{}", graded["incident_id"].as_str().unwrap())).await.json();
    assert!(history["history"].as_array().unwrap().iter().any(|h| h["action"] == "incident.root_cause"));
}

#[rstest]
#[actix_web::test]
async fn the_case_list_pages_by_deadline_without_gaps_or_repeats(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut reported = Vec::new();
    for note in ["router left in the hallway", "cables left untidy", "engineer was two hours late"] {
        reported.push(report(&app, note).await["incident_id"].as_str().unwrap().to_owned());
        app.state.clock.advance(TimeDelta::minutes(1));
    }
    reported.push(report(&app, "no internet since the install").await["incident_id"].as_str().unwrap().to_owned());
    let dana = app.as_user("dana");
    let mut seen = Vec::new();
    let mut path = "/v1/recovery-cases?limit=3".to_owned();
    loop {
        let page = dana.get(&path).await.json();
        seen.extend(page["items"].as_array().unwrap().iter().map(|c| c["incident_id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/recovery-cases?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, reported, "soonest deadline first, each case once");
    assert_eq!(dana.get("/v1/recovery-cases?cursor=yesterday").await.error_fields(), ["cursor"]);
    assert_eq!(dana.get("/v1/recovery-cases?limit=0").await.error_fields(), ["limit"]);
}

#[rstest]
#[actix_web::test]
async fn approving_a_remedy_checks_the_role_before_the_case(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let missing = format!("/v1/recovery-cases/{}/remedy/approve", uuid::Uuid::new_v4());
    for user in ["tess", "dana", "sam"] {
        app.as_user(user).post(&missing, &json!({})).await.problem(StatusCode::FORBIDDEN);
    }
    app.as_user("ada").post(&missing, &json!({})).await.problem(StatusCode::NOT_FOUND);
}
