//! Who may call what: token issuance and every way a bearer token can be wrong.

use crate::common;

use actix_web::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rstest::rstest;
use serde_json::{Value, json};

use common::Backend::{self, Postgres, Sqlite};
use common::{AUDIENCE, ISSUER, JWT_SECRET};

fn claims(app: &common::TestApp, user: &str, exp_offset: i64) -> Value {
    json!({
        "sub": app.user_id(user), "name": user, "role": "technician",
        "iss": ISSUER, "aud": AUDIENCE,
        "iat": Utc::now().timestamp(), "nbf": Utc::now().timestamp(), "exp": Utc::now().timestamp() + exp_offset,
        "epoch": 0,
    })
}

fn sign(claims: &Value, secret: &[u8]) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).expect("encode")
}

#[rstest]
#[actix_web::test]
async fn password_login_returns_a_bearer_token_that_works(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let response = app
        .call(Method::POST, "/v1/auth/token", None, Some(&json!({"username": "dana", "password": common::PASSWORD})))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["role"], "dispatcher");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(app.get("/v1/checklists", token).await.status, StatusCode::OK);
}

#[rstest]
#[actix_web::test]
async fn unknown_user_and_wrong_password_get_the_same_401(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let wrong_password = app
        .call(Method::POST, "/v1/auth/token", None, Some(&json!({"username": "dana", "password": "not the password"})))
        .await;
    let unknown_user = app
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(&json!({"username": "nobody", "password": "not the password"})),
        )
        .await;
    assert_eq!(wrong_password.problem(StatusCode::UNAUTHORIZED), unknown_user.problem(StatusCode::UNAUTHORIZED));
}

#[rstest]
#[actix_web::test]
async fn bad_tokens_are_refused_with_401(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let good = claims(&app, "tess", 600);
    let mut no_sub = good.clone();
    no_sub.as_object_mut().expect("object").remove("sub");
    let mut other_issuer = good.clone();
    other_issuer["iss"] = json!("someone-else");
    let mut other_audience = good.clone();
    other_audience["aud"] = json!("another-api");
    let mut not_yet = good.clone();
    not_yet["nbf"] = json!(Utc::now().timestamp() + 3600);
    let mut no_nbf = good.clone();
    no_nbf.as_object_mut().expect("object").remove("nbf");
    let mut old_epoch = good.clone();
    old_epoch["epoch"] = json!(-1);
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("not-a-jwt".to_owned())),
        ("expired", Some(sign(&claims(&app, "tess", -3600), JWT_SECRET))),
        ("wrong signature", Some(sign(&good, b"another-secret-that-is-32-bytes-long!!"))),
        ("alg none", Some(unsigned)),
        ("missing sub", Some(sign(&no_sub, JWT_SECRET))),
        ("other issuer", Some(sign(&other_issuer, JWT_SECRET))),
        ("other audience", Some(sign(&other_audience, JWT_SECRET))),
        ("not valid yet", Some(sign(&not_yet, JWT_SECRET))),
        ("missing nbf", Some(sign(&no_nbf, JWT_SECRET))),
        ("another session epoch", Some(sign(&old_epoch, JWT_SECRET))),
    ];
    for (case, token) in cases {
        let response = app.call(Method::GET, "/v1/me/jobs", token.as_deref(), None).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{case}: {}", response.text());
        response.problem(StatusCode::UNAUTHORIZED);
        assert_eq!(response.header("www-authenticate").as_deref(), Some("Bearer"), "{case}");
    }
    let fine = sign(&good, JWT_SECRET);
    assert_eq!(app.get("/v1/me/jobs", &fine).await.status, StatusCode::OK);
}

#[rstest]
#[actix_web::test]
async fn wrong_role_gets_403_problem(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let technician = app.as_user("tess");
    let create = technician.post("/v1/jobs", &common::job_body("tess", "broadband-install")).await;
    let body = create.problem(StatusCode::FORBIDDEN);
    assert!(body["detail"].as_str().unwrap_or_default().contains("dispatcher"), "{body}");
    let publish = app.as_user("dana").post("/v1/checklists", &json!({})).await;
    publish.problem(StatusCode::FORBIDDEN);
    let my_jobs = app.as_user("dana").get("/v1/me/jobs").await;
    my_jobs.problem(StatusCode::FORBIDDEN);
}

fn audit_actions(app: &common::TestApp, user_id: &str) -> Vec<String> {
    let mut conn = app.state.db.get().unwrap();
    fieldproof::db::audit::for_entity(&mut conn, "user", user_id).unwrap().into_iter().map(|e| e.action).collect()
}

#[rstest]
#[actix_web::test]
async fn failed_sign_ins_lock_the_username_out_with_retry_after(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let sign_in = |username: &str, password: &str| json!({ "username": username, "password": password });
    for _ in 0..6 {
        let wrong = app.call(Method::POST, "/v1/auth/token", None, Some(&sign_in("dana", "not her password"))).await;
        wrong.problem(StatusCode::UNAUTHORIZED);
    }
    let locked = app.call(Method::POST, "/v1/auth/token", None, Some(&sign_in("dana", common::PASSWORD))).await;
    let problem = locked.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(problem["type"].as_str().unwrap().ends_with("/too-many-requests"));
    assert_eq!(locked.header("retry-after").as_deref(), Some("30"), "even the right password waits");

    let other = app.call(Method::POST, "/v1/auth/token", None, Some(&sign_in("tess", common::PASSWORD))).await;
    assert_eq!(other.status, StatusCode::OK, "another user is not locked out: {}", other.text());
    assert!(audit_actions(&app, &app.user_id("dana")).contains(&"auth.locked_out".to_owned()));
    assert!(audit_actions(&app, &app.user_id("tess")).contains(&"auth.signed_in".to_owned()));
}

#[rstest]
#[actix_web::test]
async fn signing_out_everywhere_ends_every_token_reads_included(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let (first, second) = (app.token("tess"), app.token("tess"));
    assert_eq!(app.get("/v1/checklists", &first).await.status, StatusCode::OK);
    let out = app.call(Method::POST, "/v1/auth/logout-all", Some(&first), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text());
    for token in [&first, &second] {
        let refused = app.get("/v1/checklists", token).await;
        assert_eq!(refused.problem(StatusCode::UNAUTHORIZED)["detail"], "this session has ended; sign in again");
    }
    assert_eq!(app.get("/v1/checklists", &app.token("tess")).await.status, StatusCode::OK, "a new sign-in works");
    assert!(audit_actions(&app, &app.user_id("tess")).contains(&"auth.signed_out_everywhere".to_owned()));
}
