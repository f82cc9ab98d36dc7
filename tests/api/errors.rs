//! Bad input of every shape gets a problem+json answer, never a 500.

use crate::common;

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use rstest::rstest;
use serde_json::json;

use common::Backend::{self, Postgres, Sqlite};

#[rstest]
#[actix_web::test]
async fn malformed_requests_get_problem_json(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let dana = app.as_user("dana");

    let not_json = dana
        .request(Method::POST, "/v1/jobs")
        .insert_header(("Content-Type", "application/json"))
        .set_payload("{\"technician\": ");
    dana.send(not_json).await.problem(StatusCode::BAD_REQUEST);

    let form = dana
        .request(Method::POST, "/v1/jobs")
        .insert_header(("Content-Type", "text/plain"))
        .set_payload("technician=tess");
    dana.send(form).await.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = json!({ "technician": "x".repeat(100 * 1024) });
    dana.post("/v1/jobs", &huge).await.problem(StatusCode::PAYLOAD_TOO_LARGE);

    let wrong_type = dana.post("/v1/jobs", &json!({ "technician": 42 })).await;
    assert_eq!(wrong_type.error_fields(), vec!["technician"]);

    let mut nested_unknown = common::job_body("tess", "broadband-install");
    nested_unknown["site"]["floor"] = json!(3);
    assert_eq!(dana.post("/v1/jobs", &nested_unknown).await.error_fields(), vec!["site.floor"]);

    dana.delete("/v1/jobs").await.problem(StatusCode::METHOD_NOT_ALLOWED);
    app.call(Method::GET, "/v1/nowhere", None, None).await.problem(StatusCode::NOT_FOUND);
    dana.get("/v1/jobs/not-a-uuid").await.problem(StatusCode::NOT_FOUND);
}

#[rstest]
#[actix_web::test]
async fn health_and_readiness_need_no_token(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    assert_eq!(app.call(Method::GET, "/healthz", None, None).await.status, StatusCode::OK);
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["status"], "ready");
}

#[rstest]
#[actix_web::test]
async fn bad_query_parameters_are_422_naming_the_parameter(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let dana = app.as_user("dana");
    assert_eq!(dana.get("/v1/incidents?since=yesterday").await.error_fields(), vec!["since"]);
    assert_eq!(dana.get("/v1/incidents?limit=many").await.error_fields(), vec!["limit"]);
    assert_eq!(dana.get("/v1/incidents?colour=red").await.error_fields(), vec!["colour"]);
    assert_eq!(app.as_user("tess").get("/v1/me/jobs?since=1&since=2").await.error_fields(), vec!["since"]);
}

#[rstest]
#[actix_web::test]
async fn control_characters_are_422_naming_the_field_even_before_sign_in(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let login = json!({ "username": "da\u{0}na", "password": common::PASSWORD });
    let refused = app.call(Method::POST, "/v1/auth/token", None, Some(&login)).await;
    assert_eq!(refused.error_fields(), vec!["username"]);

    let job = app.issue_job("tess", "broadband-install").await;
    let report = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "router\u{0} hot" });
    assert_eq!(app.as_user("dana").post("/v1/failures", &report).await.error_fields(), vec!["description"]);
    let mut answers = common::passing_answers(&app.checklist_of(&job).await);
    answers[1]["note"] = json!("bell\u{7} rang");
    let signoff = common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers);
    let path = format!("/v1/jobs/{}/signoffs", job["id"].as_str().unwrap());
    assert_eq!(app.as_user("tess").post(&path, &signoff).await.error_fields(), vec!["answers[1].note"]);

    let multiline =
        json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "line one\nline two\ttabbed" });
    assert_eq!(app.as_user("dana").post("/v1/failures", &multiline).await.status, StatusCode::CREATED);
    assert_eq!(app.as_user("dana").get("/v1/incidents?technician=te%00ss").await.error_fields(), vec!["technician"]);
}

#[rstest]
#[actix_web::test]
async fn cursors_from_outside_the_service_are_422(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let dana = app.as_user("dana");
    let id = uuid::Uuid::new_v4();
    for base in ["/v1/incidents", "/v1/make-safe-visits", "/v1/recovery-cases"] {
        for micros in ["-9000000000000000000", "9000000000000000000", "-1"] {
            let cursor = if base == "/v1/incidents" { format!("2_{micros}_{id}") } else { format!("{micros}_{id}") };
            let response = dana.get(&format!("{base}?cursor={cursor}")).await;
            assert_eq!(response.error_fields(), vec!["cursor"], "{base} {micros}");
        }
    }
}

#[rstest]
#[actix_web::test]
async fn an_oversized_feedback_post_is_problem_json(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let huge = TestRequest::post()
        .uri("/feedback/any-token")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(format!("comment={}", "x".repeat(100 * 1024)));
    app.send(huge).await.problem(StatusCode::PAYLOAD_TOO_LARGE);
}
