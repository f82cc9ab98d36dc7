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
    let auth = ("Authorization", format!("Bearer {}", app.token("dana")));

    let not_json = TestRequest::post()
        .uri("/v1/jobs")
        .insert_header(auth.clone())
        .insert_header(("Content-Type", "application/json"))
        .set_payload("{\"technician\": ");
    app.send(not_json).await.problem(StatusCode::BAD_REQUEST);

    let form = TestRequest::post()
        .uri("/v1/jobs")
        .insert_header(auth.clone())
        .insert_header(("Content-Type", "text/plain"))
        .set_payload("technician=tess");
    app.send(form).await.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = json!({ "technician": "x".repeat(100 * 1024) });
    let too_large = TestRequest::post().uri("/v1/jobs").insert_header(auth.clone()).set_json(&huge);
    app.send(too_large).await.problem(StatusCode::PAYLOAD_TOO_LARGE);

    let wrong_type = app.post("/v1/jobs", &app.token("dana"), &json!({ "technician": 42 })).await;
    assert_eq!(wrong_type.error_fields(), vec!["technician"]);

    let mut nested_unknown = common::job_body("tess", "broadband-install");
    nested_unknown["site"]["floor"] = json!(3);
    assert_eq!(app.post("/v1/jobs", &app.token("dana"), &nested_unknown).await.error_fields(), vec!["site.floor"]);

    app.call(Method::DELETE, "/v1/jobs", Some(&app.token("dana")), None).await.problem(StatusCode::METHOD_NOT_ALLOWED);
    app.call(Method::GET, "/v1/nowhere", None, None).await.problem(StatusCode::NOT_FOUND);
    app.get("/v1/jobs/not-a-uuid", &app.token("dana")).await.problem(StatusCode::NOT_FOUND);
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
    let dana = app.token("dana");
    assert_eq!(app.get("/v1/incidents?since=yesterday", &dana).await.error_fields(), vec!["since"]);
    assert_eq!(app.get("/v1/incidents?limit=many", &dana).await.error_fields(), vec!["limit"]);
    assert_eq!(app.get("/v1/incidents?colour=red", &dana).await.error_fields(), vec!["colour"]);
    assert_eq!(app.get("/v1/me/jobs?since=1&since=2", &app.token("tess")).await.error_fields(), vec!["since"]);
}
