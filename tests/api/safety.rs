//! Safety-critical follow-up: make-safe visit, safety audit, retraining that gates the skill,
//! disciplinary review, re-grades both ways, idempotency and access.

use crate::common;

use actix_web::http::{Method, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};
use common::{Response, TestApp};

const GAS: &str = "gas-boiler-annual-service";

/// A safety-critical report on one of tess's gas jobs; returns (report body, graded response).
async fn safety_critical(app: &TestApp, job: &Value) -> (Value, Value) {
    let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "customer smells gas near the boiler",
                       "item_ids": ["gas-tightness-test"] });
    let response = app.as_user("dana").post("/v1/failures", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let graded = response.json();
    assert_eq!(graded["severity"], "safety_critical");
    (body, graded)
}

fn items(response: &Response) -> Vec<Value> {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["items"].as_array().expect("items").clone()
}

async fn post_with_etag(app: &TestApp, user: &str, path: &str, etag: Option<&str>, body: Value) -> Response {
    let headers: Vec<(&str, &str)> = etag.map(|tag| ("If-Match", tag)).into_iter().collect();
    app.as_user(user).call_with(Method::POST, path, &headers, Some(&body)).await
}

async fn etag(app: &TestApp, incident_id: &str) -> String {
    app.as_user("sam").get(&format!("/v1/incidents/{incident_id}")).await.header("etag").expect("etag")
}

async fn sign(app: &TestApp, user: &str, job: &Value, fail: &[&str]) -> Response {
    let mut answers = common::passing_answers(&app.checklist_of(job).await);
    for answer in answers.iter_mut() {
        if fail.contains(&answer["item_id"].as_str().unwrap()) {
            answer["value"] = json!(false);
        }
    }
    let path = format!("/v1/jobs/{}/signoffs", job["id"].as_str().unwrap());
    app.as_user(user).post(&path, &common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers)).await
}

#[rstest]
#[actix_web::test]
async fn safety_critical_grade_opens_the_whole_follow_up_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", GAS).await;
    let (body, graded) = safety_critical(&app, &job).await;
    let incident_id = graded["incident_id"].as_str().unwrap();
    let replay = app.as_user("dana").post("/v1/failures", &body).await;
    assert_eq!(replay.status, StatusCode::OK, "a replayed report creates nothing new");

    let visits = items(&app.as_user("dana").get("/v1/make-safe-visits").await);
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0]["incident_id"], incident_id);
    assert_eq!(visits[0]["checklist_key"], "make-safe-gas");
    let links = app.as_user("dana").get(&format!("/v1/incidents/{incident_id}")).await.json()["links"].clone();
    assert_eq!(links["make_safe_visit"]["id"], visits[0]["id"], "{links}");
    assert_eq!((links["retraining"]["status"].as_str(), links["recovery_case"].is_null()), (Some("pending"), true));
    assert_eq!(links["console"], format!("/console/incidents/{incident_id}"));
    assert_eq!(visits[0]["time_left_seconds"], 4 * 3600, "due within the default 4 hours");
    assert_eq!(visits[0]["technician_involved"], "tess");
    let one = app.as_user("dana").get("/v1/make-safe-visits?limit=1").await.json();
    let cursor = one["next_cursor"].as_str().expect("a full page has a next cursor");
    let rest = app.as_user("dana").get(&format!("/v1/make-safe-visits?limit=1&cursor={cursor}")).await.json();
    assert_eq!((rest["items"].as_array().unwrap().len(), &rest["next_cursor"]), (0, &Value::Null));
    assert_eq!(app.as_user("dana").get("/v1/make-safe-visits?limit=501").await.error_fields(), ["limit"]);

    let retraining = items(&app.as_user("sam").get("/v1/retraining").await);
    assert_eq!(retraining.len(), 1);
    assert_eq!(
        (retraining[0]["status"].as_str(), retraining[0]["checklist_key"].as_str()),
        (Some("pending"), Some(GAS))
    );
    assert_eq!(retraining[0]["item_ids"], json!(["gas-tightness-test"]));
    let cases = items(&app.as_user("sam").get("/v1/disciplinary-cases").await);
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0]["status"], "open");
    let queue = items(&app.as_user("sam").get("/v1/safety/audit-queue").await);
    assert_eq!(queue.iter().map(|i| i["id"].as_str().unwrap()).collect::<Vec<_>>(), vec![incident_id]);

    app.state.clock.advance(chrono::TimeDelta::hours(5));
    let overdue = &items(&app.as_user("dana").get("/v1/make-safe-visits").await)[0];
    assert_eq!((overdue["overdue"].as_bool(), overdue["time_left_seconds"].as_i64()), (Some(true), Some(-3600)));
}

/// A retry of a sign-off accepted before the skill gate closed is answered with what was stored,
/// though a new sign-off on that checklist is refused.
#[rstest]
#[actix_web::test]
async fn a_sign_off_accepted_before_the_gate_closed_is_replayed_after(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let (signed, reported, waiting) =
        (app.issue_job("tess", GAS).await, app.issue_job("tess", GAS).await, app.issue_job("tess", GAS).await);
    let answers = common::passing_answers(&app.checklist_of(&signed).await);
    let path = format!("/v1/jobs/{}/signoffs", signed["id"].as_str().unwrap());
    let body = common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers);
    let first = app.as_user("tess").post(&path, &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    safety_critical(&app, &reported).await;

    sign(&app, "tess", &waiting, &[]).await.refused("retraining-required");
    let retry = app.as_user("tess").post(&path, &body).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text());
    assert_eq!(retry.body, first.body, "byte-identical replay");
}

#[rstest]
#[actix_web::test]
async fn pending_retraining_gates_the_template_until_proven(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", GAS).await;
    let issued_before = app.issue_job("tess", GAS).await;
    safety_critical(&app, &job).await;

    let refused = app.as_user("dana").post("/v1/jobs", &common::job_body("tess", GAS)).await;
    let detail = refused.refused("retraining-required")["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("retraining") && detail.contains(GAS), "{detail}");
    sign(&app, "tess", &issued_before, &[]).await.refused("retraining-required");
    assert_eq!(
        app.as_user("dana").post("/v1/jobs", &common::job_body("tess", "broadband-install")).await.status,
        StatusCode::CREATED,
        "other templates are unaffected"
    );

    let retraining_id = items(&app.as_user("tess").get("/v1/retraining").await)[0]["id"].as_str().unwrap().to_owned();
    let done_path = format!("/v1/retraining/{retraining_id}/training-done");
    app.as_user("dana")
        .post(&done_path, &json!({ "note": "toolbox talk on tightness testing" }))
        .await
        .refused("wrong-role");
    let done = app
        .as_user("sam")
        .post(&done_path, &json!({ "note": "toolbox talk on tightness testing, observed test" }))
        .await;
    assert_eq!((done.json()["status"].as_str(), done.json()["trained_by"].as_str()), (Some("trained"), Some("sam")));

    let signed = sign(&app, "tess", &issued_before, &["work-area-tidy"]).await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text());
    let after = &items(&app.as_user("sam").get("/v1/retraining").await)[0];
    assert_eq!(after["status"], "effective", "the failed item passed on the next sign-off");
    assert_eq!((after["technician"].as_str(), after["trained_by"].as_str()), (Some("tess"), Some("sam")));
}

#[rstest]
#[actix_web::test]
async fn failing_the_trained_item_again_reopens_the_gate(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", GAS).await;
    let next = app.issue_job("tess", GAS).await;
    safety_critical(&app, &job).await;
    let retraining_id = items(&app.as_user("sam").get("/v1/retraining").await)[0]["id"].as_str().unwrap().to_owned();
    app.as_user("sam")
        .post(
            &format!("/v1/retraining/{retraining_id}/training-done"),
            &json!({ "note": "retrained on tightness testing" }),
        )
        .await;

    let signed = sign(&app, "tess", &next, &["gas-tightness-test"]).await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text());
    let all = items(&app.as_user("sam").get("/v1/retraining").await);
    let first = all.iter().find(|r| r["id"] == retraining_id.as_str()).unwrap();
    assert_eq!(first["status"], "ineffective");
    assert!(first["note"].as_str().unwrap().contains("flagged"));
    app.as_user("dana").post("/v1/jobs", &common::job_body("tess", GAS)).await.problem(StatusCode::FORBIDDEN);
}

#[rstest]
#[actix_web::test]
async fn make_safe_visit_goes_to_another_technician_and_closes_by_signoff(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", GAS).await;
    safety_critical(&app, &job).await;
    let visit = &items(&app.as_user("dana").get("/v1/make-safe-visits").await)[0];
    let assign = format!("/v1/make-safe-visits/{}/assign", visit["id"].as_str().unwrap());

    let involved = app.as_user("dana").post(&assign, &json!({ "technician": "tess" })).await;
    assert_eq!(involved.error_fields(), vec!["technician"]);
    app.as_user("sam").post(&assign, &json!({ "technician": "tom" })).await.problem(StatusCode::FORBIDDEN);
    let assigned = app.as_user("dana").post(&assign, &json!({ "technician": "tom" })).await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.text());
    let job_id = assigned.json()["job_id"].as_str().unwrap().to_owned();
    let make_safe_job = app.as_user("tom").get(&format!("/v1/jobs/{job_id}")).await.json();
    assert_eq!(make_safe_job["checklist_key"], "make-safe-gas");
    assert_eq!(make_safe_job["customer"], job["customer"]);
    app.as_user("dana").post(&assign, &json!({ "technician": "tom" })).await.problem(StatusCode::CONFLICT);

    assert_eq!(sign(&app, "tom", &make_safe_job, &[]).await.status, StatusCode::CREATED);
    let done = items(&app.as_user("dana").get("/v1/make-safe-visits?status=done").await);
    assert_eq!((done[0]["outcome"].as_str(), done[0]["status"].as_str()), (Some("made_safe"), Some("done")));
    assert!(items(&app.as_user("dana").get("/v1/make-safe-visits").await).is_empty());
}

#[rstest]
#[actix_web::test]
async fn audit_file_has_everything_and_the_audit_is_recorded_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", GAS).await;
    let signed = sign(&app, "tess", &job, &["gas-tightness-test"]).await;
    let incident_id = signed.json()["incident_id"].as_str().unwrap().to_owned();

    let file = app.as_user("sam").get(&format!("/v1/incidents/{incident_id}/audit-file")).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text());
    let file = file.json();
    assert_eq!(file["incident"]["severity"], "safety_critical");
    assert_eq!(file["signoff"]["failed_items"][0]["item_id"], "gas-tightness-test");
    assert_eq!(file["checklist"]["key"], GAS);
    assert_eq!(file["make_safe"]["status"], "open");
    assert_eq!(file["technician_history"]["retraining"][0]["status"], "pending");
    assert!(file["audit"].is_null());
    app.as_user("dana").get(&format!("/v1/incidents/{incident_id}/audit-file")).await.problem(StatusCode::FORBIDDEN);

    let path = format!("/v1/incidents/{incident_id}/audit");
    let audit = json!({ "confirmed_severity": "safety_critical", "root_cause": "checklist_unclear",
        "root_cause_detail": "the tightness test item does not say how long to wait", "corrective_actions": ["add the stabilisation time to gas-tightness-test"] });
    post_with_etag(&app, "sam", &path, None, audit.clone()).await.problem(StatusCode::PRECONDITION_REQUIRED);
    let tag = etag(&app, &incident_id).await;
    let recorded = post_with_etag(&app, "sam", &path, Some(&tag), audit.clone()).await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.text());
    post_with_etag(&app, "sam", &path, Some(&tag), audit).await.problem(StatusCode::CONFLICT);
    assert!(items(&app.as_user("sam").get("/v1/safety/audit-queue").await).is_empty());
    let file = app.as_user("sam").get(&format!("/v1/incidents/{incident_id}/audit-file")).await.json();
    assert_eq!(file["audit"]["root_cause"], "checklist_unclear");
    assert_eq!(file["audit"]["auditor"], "sam");
}

#[rstest]
#[actix_web::test]
async fn regrades_close_and_reopen_the_follow_up_without_duplicates(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", GAS).await;
    let (_, graded) = safety_critical(&app, &job).await;
    let incident_id = graded["incident_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/incidents/{incident_id}/regrade");

    let tag = etag(&app, &incident_id).await;
    let down = post_with_etag(
        &app,
        "sam",
        &path,
        Some(&tag),
        json!({ "severity": "service_impacting", "reason": "the smell was the new paint, gas test passed" }),
    )
    .await;
    assert_eq!(down.status, StatusCode::OK, "{}", down.text());
    let visit = &items(&app.as_user("dana").get("/v1/make-safe-visits?status=cancelled").await)[0];
    assert!(visit["note"].as_str().unwrap().contains("new paint"));
    assert_eq!(items(&app.as_user("sam").get("/v1/retraining").await)[0]["status"], "cancelled");
    assert_eq!(items(&app.as_user("sam").get("/v1/disciplinary-cases").await)[0]["status"], "closed");
    assert_eq!(
        app.as_user("dana").post("/v1/jobs", &common::job_body("tess", GAS)).await.status,
        StatusCode::CREATED,
        "gate open"
    );

    let tag = etag(&app, &incident_id).await;
    let up = post_with_etag(
        &app,
        "sam",
        &path,
        Some(&tag),
        json!({ "severity": "safety_critical", "reason": "meter test found a leak after all" }),
    )
    .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.text());
    assert_eq!(items(&app.as_user("dana").get("/v1/make-safe-visits").await).len(), 1);
    let retraining = items(&app.as_user("sam").get("/v1/retraining").await);
    assert_eq!((retraining.len(), retraining[0]["status"].as_str()), (1, Some("pending")));
    let cases = items(&app.as_user("sam").get("/v1/disciplinary-cases").await);
    assert_eq!((cases.len(), cases[0]["status"].as_str()), (1, Some("open")));
    app.as_user("dana").post("/v1/jobs", &common::job_body("tess", GAS)).await.problem(StatusCode::FORBIDDEN);
}

#[rstest]
#[actix_web::test]
async fn disciplinary_review_is_fair_by_design(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut conn = app.state.db.get().unwrap();
    let actor = fieldproof::workflows::Actor::cli();
    fieldproof::workflows::users::add(
        &mut conn,
        "rita",
        "Rita",
        fieldproof::auth::Role::SafetyOfficer,
        fieldproof::workflows::users::NewPassword::hash(common::PASSWORD).unwrap(),
        &actor,
        common::start_time(),
    )
    .unwrap();
    drop(conn);
    let job = app.issue_job("tess", GAS).await;
    safety_critical(&app, &job).await;
    let case_id = items(&app.as_user("sam").get("/v1/disciplinary-cases").await)[0]["id"].as_str().unwrap().to_owned();
    let path = |step: &str| format!("/v1/disciplinary-cases/{case_id}/{step}");

    app.as_user("dana").get("/v1/disciplinary-cases").await.problem(StatusCode::FORBIDDEN);
    assert!(items(&app.as_user("tom").get("/v1/disciplinary-cases").await).is_empty(), "others' cases are invisible");
    app.as_user("tom").get(&format!("/v1/disciplinary-cases/{case_id}")).await.problem(StatusCode::NOT_FOUND);

    let decide = json!({ "outcome": "written_warning", "reason": "skipped the tightness test under time pressure" });
    app.as_user("sam").post(&path("decide"), &decide).await.problem(StatusCode::CONFLICT);
    app.as_user("tess").post(&path("review"), &json!({ "behaviour": "human_error" })).await.refused("wrong-role");
    let statement = app
        .as_user("tess")
        .post(&path("statement"), &json!({ "statement": "The manometer was faulty; I reported it last week." }))
        .await;
    assert_eq!(statement.status, StatusCode::OK, "{}", statement.text());
    let reviewed = app
        .as_user("sam")
        .post(&path("review"), &json!({ "behaviour": "human_error", "system_factors": ["faulty_equipment"] }))
        .await;
    assert_eq!(reviewed.json()["status"], "under_review");

    let short = app.as_user("sam").post(&path("decide"), &json!({ "outcome": "coaching", "reason": "ok" })).await;
    assert_eq!(short.error_fields(), vec!["reason"]);
    let proposed = app.as_user("sam").post(&path("decide"), &decide).await.json();
    assert_eq!(proposed["status"], "awaiting_approval", "a warning for an honest error needs a second opinion");
    app.as_user("sam").post(&path("approve"), &json!({})).await.refused("second-approver-required");
    app.as_user("tess")
        .post(&path("statement"), &json!({ "statement": "late addition" }))
        .await
        .problem(StatusCode::CONFLICT);
    let approved = app.as_user("rita").post(&path("approve"), &json!({})).await.json();
    assert_eq!((approved["status"].as_str(), approved["approved_by"].as_str()), (Some("decided"), Some("rita")));

    let seen = app.as_user("tess").get(&format!("/v1/disciplinary-cases/{case_id}")).await.json();
    assert_eq!(seen["outcome"], "written_warning");
    assert_eq!(seen["technician_statement"], "The manometer was faulty; I reported it last week.");
    assert!(seen["prior_safety_incidents"].is_array());
}

#[rstest]
#[actix_web::test]
async fn repeat_failure_of_the_same_item_opens_retraining_only(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let first = app.issue_job("tess", "broadband-install").await;
    let second = app.issue_job("tess", "broadband-install").await;
    let item = "work-area-tidy";
    let checklist = app.checklist_of(&first).await;
    let tidy_item = checklist["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["severity_hint"] == "nuisance" && i["kind"] == "check")
        .unwrap();
    let item = tidy_item["id"].as_str().unwrap_or(item).to_owned();
    for job in [&first, &second] {
        let body = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "left packaging behind", "item_ids": [item] });
        assert_eq!(app.as_user("dana").post("/v1/failures", &body).await.status, StatusCode::CREATED);
    }
    let retraining = items(&app.as_user("tess").get("/v1/retraining").await);
    assert_eq!(retraining.len(), 1);
    assert_eq!((retraining[0]["cause"].as_str(), retraining[0]["status"].as_str()), (Some("repeat"), Some("pending")));
    assert!(
        items(&app.as_user("sam").get("/v1/disciplinary-cases").await).is_empty(),
        "no disciplinary case for a repeat"
    );
    assert!(items(&app.as_user("dana").get("/v1/make-safe-visits").await).is_empty());
}
