//! Admins manage users over HTTP: add, rename, change role, reset a password, deactivate. Every
//! change is audited; nobody is deleted.

use crate::common;

use actix_web::http::{Method, StatusCode};
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};
use common::TestApp;

async fn login(app: &TestApp, username: &str, password: &str) -> common::Response {
    let body = json!({ "username": username, "password": password });
    app.call(Method::POST, "/v1/auth/token", None, Some(&body)).await
}

async fn patch(app: &TestApp, as_user: &str, id: &str, body: &Value) -> common::Response {
    app.as_user(as_user).patch(&format!("/v1/users/{id}"), body).await
}

fn audit_actions(app: &TestApp, user_id: &str) -> Vec<(String, Value)> {
    let mut conn = app.state.db.get().unwrap();
    fieldproof::db::audit::for_entity(&mut conn, "user", user_id)
        .unwrap()
        .into_iter()
        .map(|e| (e.action, serde_json::from_str(&e.details).unwrap()))
        .collect()
}

#[rstest]
#[actix_web::test]
async fn an_admin_adds_a_user_who_can_then_sign_in(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let ada = app.as_user("ada");
    let new = json!({ "username": "tina", "display_name": "Tina Okafor", "role": "technician",
                      "password": "a long enough password" });
    let created = ada.post("/v1/users", &new).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let created = created.json();
    assert_eq!((created["role"].as_str(), created["active"].as_bool()), (Some("technician"), Some(true)));
    assert!(created.get("password_hash").is_none(), "no hash on the wire: {created}");

    let signed_in = login(&app, "tina", "a long enough password").await;
    assert_eq!((signed_in.status, signed_in.json()["role"].clone()), (StatusCode::OK, json!("technician")));
    ada.post("/v1/users", &new).await.problem(StatusCode::CONFLICT);
    app.as_user("dana").post("/v1/users", &new).await.problem(StatusCode::FORBIDDEN);

    let mut wrong_role = new.clone();
    (wrong_role["username"], wrong_role["role"]) = (json!("tim"), json!("supervisor"));
    assert_eq!(ada.post("/v1/users", &wrong_role).await.error_fields(), ["role"]);
    let short = json!({ "username": "tim", "role": "dispatcher", "password": "short" });
    assert_eq!(ada.post("/v1/users", &short).await.error_fields(), ["password"]);

    let users = ada.get("/v1/users").await.json();
    let names: Vec<&str> = users["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["ada", "dana", "sam", "tess", "tina", "tom"]);
    app.as_user("sam").get("/v1/users").await.problem(StatusCode::FORBIDDEN);
}

#[rstest]
#[actix_web::test]
async fn deactivation_role_change_and_password_reset_are_audited(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let tom = app.user_id("tom");

    let off = patch(&app, "ada", &tom, &json!({ "active": false })).await;
    assert_eq!(off.json()["active"], false, "{}", off.text());
    login(&app, "tom", common::PASSWORD).await.problem(StatusCode::UNAUTHORIZED);

    let changed = patch(
        &app,
        "ada",
        &tom,
        &json!({ "active": true, "role": "dispatcher", "display_name": "Tom Reyes",
                                                      "password": "a brand new passphrase" }),
    )
    .await
    .json();
    assert_eq!((changed["role"].as_str(), changed["display_name"].as_str()), (Some("dispatcher"), Some("Tom Reyes")));
    login(&app, "tom", common::PASSWORD).await.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "tom", "a brand new passphrase").await.json()["role"], "dispatcher");

    let actions = audit_actions(&app, &tom);
    let updates: Vec<&Value> = actions.iter().filter(|(a, _)| a == "user.updated").map(|(_, d)| d).collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["changed"], json!(["active"]));
    assert_eq!(updates[1]["changed"], json!(["display_name", "role", "active", "password"]));
    assert!(!actions.iter().any(|(_, d)| d.to_string().contains("passphrase")), "the password is never audited");

    let ada = app.user_id("ada");
    patch(&app, "ada", &ada, &json!({ "active": false })).await.problem(StatusCode::CONFLICT);
    patch(&app, "ada", &ada, &json!({ "role": "dispatcher" })).await.problem(StatusCode::CONFLICT);
    patch(&app, "dana", &tom, &json!({ "active": false })).await.problem(StatusCode::FORBIDDEN);
    let nobody = uuid::Uuid::new_v4().to_string();
    patch(&app, "ada", &nobody, &json!({ "active": false })).await.problem(StatusCode::NOT_FOUND);
    assert_eq!(patch(&app, "ada", &tom, &json!({ "enabled": false })).await.error_fields(), ["enabled"]);
}

#[rstest]
#[actix_web::test]
async fn tokens_of_deactivated_or_regraded_users_stop_working_reads_included(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    let (dana_token, tom_token) = (app.token("dana"), app.token("tom"));
    let tom_job = app.issue_job("tom", "broadband-install").await;

    patch(&app, "ada", &app.user_id("dana"), &json!({ "active": false })).await;
    let refused = app.post("/v1/jobs", &dana_token, &common::job_body("tess", "broadband-install")).await;
    assert_eq!(refused.problem(StatusCode::UNAUTHORIZED)["detail"], "this account is not active");
    let read = app.get("/v1/incidents", &dana_token).await;
    assert_eq!(read.problem(StatusCode::UNAUTHORIZED)["detail"], "this account is not active", "reads too");

    patch(&app, "ada", &app.user_id("tom"), &json!({ "role": "dispatcher" })).await;
    let failure =
        json!({ "id": uuid::Uuid::new_v4(), "job_id": tom_job["id"], "description": "router left in the hallway" });
    let stale = app.post("/v1/failures", &tom_token, &failure).await;
    assert_eq!(stale.problem(StatusCode::UNAUTHORIZED)["detail"], "this session has ended; sign in again");
    let ada_token = app.token("ada");
    patch(&app, "ada", &app.user_id("sam"), &json!({ "role": "admin" })).await;
    app.forget_token("sam");
    patch(&app, "sam", &app.user_id("ada"), &json!({ "role": "dispatcher" })).await;
    let demoted = app.get("/v1/users", &ada_token).await;
    assert_eq!(demoted.status, StatusCode::UNAUTHORIZED, "a demoted admin no longer lists users");
    let fresh = app.post("/v1/failures", &app.token("tom"), &failure).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "a new token carries the new role: {}", fresh.text());
}

#[rstest]
#[actix_web::test]
async fn usernames_that_read_as_something_else_are_refused(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    for username in ["ada\u{202E}nimda", "da\u{200B}na"] {
        let body = json!({ "username": username, "role": "dispatcher", "password": "a long enough password" });
        assert_eq!(app.as_user("ada").post("/v1/users", &body).await.error_fields(), vec!["username"]);
    }
}

#[rstest]
#[actix_web::test]
async fn responses_carry_the_security_headers(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    for response in [app.as_user("tess").get("/v1/checklists").await, app.as_user("tess").get("/v1/users").await] {
        assert_eq!(response.header("x-content-type-options").as_deref(), Some("nosniff"));
        assert!(response.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(response.header("referrer-policy").as_deref(), Some("no-referrer"));
    }
}
