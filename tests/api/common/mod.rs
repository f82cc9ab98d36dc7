//! The test harness: every test gets its own app and its own database (a SQLite temp file, or a
//! fresh PostgreSQL database dropped afterwards), seeded with the real checklists and one user
//! per role. Requests go through the real actix app built by `fieldproof::configure`.

#![allow(clippy::expect_used, reason = "the harness fails the test loudly when set-up breaks")]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use actix_web::http::{Method, StatusCode, header::HeaderMap};
use actix_web::{App, test as atest, web};
use chrono::{DateTime, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::{Value, json};

use fieldproof::auth::Role;
use fieldproof::clock::Clock;
use fieldproof::config::{JwtSettings, Settings};
use fieldproof::db::{DatabaseUrl, Db};
use fieldproof::workflows::{self, Actor};
use fieldproof::{AppState, configure};

pub use fieldproof::db::Backend;

pub const PASSWORD: &str = "correct horse battery staple";
pub const JWT_SECRET: &[u8] = b"test-secret-that-is-at-least-32-bytes-long";
pub const ISSUER: &str = "fieldproof-test";
pub const AUDIENCE: &str = "fieldproof-test-api";
pub const POSTGRES_ENV: &str = "FIELDPROOF_TEST_POSTGRES_URL";

/// One user per role plus a second technician, as (username, role).
pub const USERS: [(&str, Role); 5] = [
    ("tess", Role::Technician),
    ("tom", Role::Technician),
    ("dana", Role::Dispatcher),
    ("sam", Role::SafetyOfficer),
    ("ada", Role::Admin),
];

/// Opens a test app, or returns from the test (with a visible note) when PostgreSQL is not configured.
#[macro_export]
macro_rules! spawn_app {
    ($backend:expr) => {
        match common::TestApp::spawn($backend).await {
            Some(app) => app,
            None => return,
        }
    };
}

/// `severity-rules/v<N>` for the highest N among `checklists/_severity-rules/v<N>.toml`: the rule
/// set the service must grade with, read from the folder rather than from the service.
pub fn latest_rules_version() -> String {
    let highest = std::fs::read_dir("checklists/_severity-rules")
        .expect("rules folder")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_prefix('v')?.strip_suffix(".toml")?.parse::<u32>().ok()
        })
        .max()
        .expect("a rule set");
    format!("severity-rules/v{highest}")
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap_or_default()
}

pub struct TestApp {
    pub state: web::Data<AppState>,
    /// Each seeded user's token, issued on first use by [`TestApp::as_user`] and kept for the test.
    tokens: Mutex<HashMap<String, String>>,
    _database: TestDatabase,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, fieldproof::config::MetricsSettings::default()).await
    }

    /// A test app with `/metrics` configured as given.
    pub async fn spawn_with(backend: Backend, metrics: fieldproof::config::MetricsSettings) -> Option<TestApp> {
        Self::spawn_tuned(backend, |settings| settings.metrics = metrics).await
    }

    /// A test app whose settings `tune` changes from the test defaults.
    pub async fn spawn_tuned(backend: Backend, tune: impl FnOnce(&mut Settings)) -> Option<TestApp> {
        let database = TestDatabase::create(backend)?;
        let url = DatabaseUrl::parse(&database.url()).expect("test database url parses");
        let settings = Settings {
            database: url.clone(),
            max_connections: 3,
            jwt: JwtSettings {
                secret: JWT_SECRET.to_vec(),
                issuer: ISSUER.to_owned(),
                audience: AUDIENCE.to_owned(),
                ttl: chrono::Duration::minutes(15),
            },
            body_limit: 64 * 1024,
            safety: fieldproof::config::SafetyPolicy::default(),
            customers: fieldproof::config::CustomerContact::default(),
            metrics: fieldproof::config::MetricsSettings::default(),
            signoff_pin: fieldproof::config::SignoffPin::default(),
        };
        let mut settings = settings;
        tune(&mut settings);
        let state = web::block(move || {
            let db = Db::connect(&url, 3).expect("test database opens");
            db.migrate().expect("migrations apply");
            let versions =
                fieldproof::catalogue::read_dir(Path::new("checklists")).expect("shipped checklists are valid");
            let mut conn = db.get().expect("connection");
            workflows::checklists::import(&mut conn, &versions, &Actor::cli(), start_time())
                .expect("checklists import");
            for (username, role) in USERS {
                workflows::users::add(
                    &mut conn,
                    username,
                    username,
                    role,
                    workflows::users::NewPassword::hash(PASSWORD).expect("password"),
                    &Actor::cli(),
                    start_time(),
                )
                .expect("user added");
            }
            let rules = fieldproof::catalogue::read_rules(Path::new("checklists")).expect("shipped rules are valid");
            let policy = fieldproof::catalogue::read_policy(Path::new("checklists")).expect("shipped policy is valid");
            // As `serve` does once its start-up writes are done.
            let db = db.link_in_background().expect("the audit chains' linker starts");
            AppState::new(db, settings, rules, policy, Clock::fixed(start_time()))
        })
        .await
        .expect("test app set-up");
        Some(TestApp { state: web::Data::new(state), tokens: Mutex::default(), _database: database })
    }

    /// What `DATABASE_URL` names for this test's database (for the command-line tests).
    pub fn database_url(&self) -> String {
        self._database.url()
    }

    /// Requests as the seeded user `username` (see [`UserClient`]), with the token the app keeps
    /// for them: issued by [`TestApp::token`] on the first call for that user, then reused.
    pub fn as_user(&self, username: &str) -> UserClient<'_> {
        let mut tokens = self.tokens.lock().expect("token cache");
        let token = tokens.entry(username.to_owned()).or_insert_with(|| self.token(username)).clone();
        UserClient { app: self, token }
    }

    /// Drops the token kept for `username`, so the next [`TestApp::as_user`] issues a new one (a
    /// client made before keeps the old token). Needed once the user's session epoch has moved on
    /// (signing out everywhere, a new role, a deactivation or a new password), which ends it.
    pub fn forget_token(&self, username: &str) {
        self.tokens.lock().expect("token cache").remove(username);
    }

    /// A new valid token for a seeded user, issued now (not the one [`TestApp::as_user`] keeps):
    /// for the tests about tokens themselves.
    pub fn token(&self, username: &str) -> String {
        let mut conn = self.state.db.get().expect("connection");
        let user = fieldproof::db::users::by_username(&mut conn, username).expect("query").expect("seeded user");
        let role = user.role;
        self.state.tokens.issue(&user.id, &user.username, role, user.session_epoch, Utc::now()).expect("token")
    }

    /// A token issued at `at` (system time), as if signed in then.
    pub fn token_issued_at(&self, username: &str, at: DateTime<Utc>) -> String {
        let mut conn = self.state.db.get().expect("connection");
        let user = fieldproof::db::users::by_username(&mut conn, username).expect("query").expect("seeded user");
        let role = user.role;
        self.state.tokens.issue(&user.id, &user.username, role, user.session_epoch, at).expect("token")
    }

    pub fn user_id(&self, username: &str) -> String {
        let mut conn = self.state.db.get().expect("connection");
        fieldproof::db::users::by_username(&mut conn, username).expect("query").expect("seeded user").id
    }

    pub async fn send(&self, request: atest::TestRequest) -> Response {
        // The same middleware as `fieldproof serve`, in the same order.
        let app = atest::init_service(
            App::new()
                .wrap(fieldproof::security_headers())
                .wrap(fieldproof::telemetry::request_span())
                .wrap(actix_web::middleware::from_fn(fieldproof::telemetry::request_telemetry))
                .configure(configure(self.state.clone())),
        )
        .await;
        let response = atest::call_service(&app, request.to_request()).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = atest::read_body(response).await;
        Response { status, headers, body: body.to_vec() }
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Response {
        let mut request = atest::TestRequest::default().method(method).uri(path);
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        if let Some(body) = body {
            request = request.set_json(body);
        }
        self.send(request).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Issues a job (as the dispatcher) for `technician` on the latest version of `checklist`.
    pub async fn issue_job(&self, technician: &str, checklist: &str) -> Value {
        let response = self.as_user("dana").post("/v1/jobs", &job_body(technician, checklist)).await;
        assert_eq!(response.status, StatusCode::CREATED, "job creation failed: {}", response.text());
        response.json()
    }

    /// The checklist version a job is pinned to, as served.
    pub async fn checklist_of(&self, job: &Value) -> Value {
        let url = job["checklist_url"].as_str().expect("checklist_url");
        self.as_user("tess").get(url).await.json()
    }

    /// Runs SQL directly against the test database (for checks the API cannot make).
    pub fn execute_sql(&self, sql: &str) -> Result<(), diesel::result::Error> {
        let mut conn = self.state.db.get().expect("connection");
        conn.batch_execute(sql)
    }
}

/// Requests as one seeded user (from [`TestApp::as_user`]), in the style of crates.io's
/// `RequestHelper`: each sends the user's kept token as `Authorization: Bearer`, and a body as JSON.
pub struct UserClient<'a> {
    app: &'a TestApp,
    token: String,
}

impl UserClient<'_> {
    /// A request with this user's `Authorization` header, for what the other methods do not cover
    /// (a body that is not JSON); send it with [`UserClient::send`].
    pub fn request(&self, method: Method, path: &str) -> atest::TestRequest {
        atest::TestRequest::default()
            .method(method)
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {}", self.token)))
    }

    pub async fn send(&self, request: atest::TestRequest) -> Response {
        self.app.send(request).await
    }

    /// `method path` with `headers` (`If-Match`, `If-None-Match`, ...) and an optional JSON body.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.request(method, path);
        for &header in headers {
            request = request.insert_header(header);
        }
        if let Some(body) = body {
            request = request.set_json(body);
        }
        self.send(request).await
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        self.call_with(method, path, &[], body).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.call(Method::DELETE, path, None).await
    }
}

pub fn job_body(technician: &str, checklist: &str) -> Value {
    json!({
        "customer": { "name": "Amelia Hart", "phone": "+44 7700 900123", "email": "amelia@example.com",
                      "preferences": ["prefers text messages"] },
        "site": { "address": "14 Orchard Lane, Bristol", "postcode": "BS6 7QT" },
        "technician": technician,
        "checklist_key": checklist,
        "scheduled_for": "2026-03-03T10:00:00Z"
    })
}

/// Answers that pass every item of a served checklist version.
pub fn passing_answers(checklist: &Value) -> Vec<Value> {
    let items = checklist["items"].as_array().expect("items");
    items
        .iter()
        .map(|item| {
            let value = match item["kind"].as_str().expect("kind") {
                "check" => json!(true),
                "yes_no" => item["expected"].clone(),
                "number" => {
                    let lo = item["min"].as_f64().or(item["limits"][0].as_f64()).expect("lower bound");
                    let hi = item["max"].as_f64().or(item["limits"][1].as_f64()).expect("upper bound");
                    json!((lo + hi) / 2.0)
                }
                "choice" => {
                    let failing = item["failing_choices"].as_array().cloned().unwrap_or_default();
                    let choices = item["choices"].as_array().expect("choices");
                    choices.iter().find(|c| !failing.contains(c)).expect("a passing choice").clone()
                }
                "text" => json!("Vaillant ecoTEC plus 832, GC 47-044-70"),
                "photo" => json!("photo://uploads/4711.jpg"),
                other => panic!("unknown kind {other}"),
            };
            json!({ "item_id": item["id"], "value": value })
        })
        .collect()
}

pub fn signoff_body(id: &str, answers: Vec<Value>) -> Value {
    json!({
        "id": id,
        "answers": answers,
        "signed_at": "2026-03-02T08:55:00Z",
        "signer_name": "Tess Turner",
        "meaning": "I carried out this work and the recorded results are true"
    })
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// Asserts an RFC 9457 problem with this status, and returns its body.
    pub fn problem(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text());
        assert_eq!(self.header("content-type").as_deref(), Some("application/problem+json"), "not problem+json");
        let body = self.json();
        assert_eq!(body["status"], status.as_u16());
        assert!(
            body["type"].as_str().is_some_and(|t| t.starts_with("https://fieldproof.dev/problems/")),
            "type: {body}"
        );
        assert!(body["title"].is_string() && body["detail"].is_string(), "title/detail: {body}");
        body
    }

    /// A 403 refusal whose problem type is the stable code `code` (`wrong-role`, ...).
    pub fn refused(&self, code: &str) -> Value {
        let body = self.problem(StatusCode::FORBIDDEN);
        assert_eq!(body["type"], format!("https://fieldproof.dev/problems/{code}"), "{body}");
        body
    }

    /// The `field` names of a 422 problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        let body = self.problem(StatusCode::UNPROCESSABLE_ENTITY);
        body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().expect("field").to_owned())
            .collect()
    }
}

/// A database of its own for one test.
pub enum TestDatabase {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String, url: String },
}

impl TestDatabase {
    /// A new empty database, or `None` (with a visible note) when PostgreSQL is not configured.
    pub fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::Sqlite(tempfile::tempdir().expect("temp dir"))),
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
                    eprintln!(
                        "SKIPPED PostgreSQL run: set {POSTGRES_ENV} (e.g. postgres://postgres@127.0.0.1:5432/test) to run it"
                    );
                    return None;
                };
                let name = format!("fieldproof_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}"));
                admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                Some(Self::Postgres { admin_url, name, url })
            }
        }
    }

    /// What `DATABASE_URL` names: the SQLite file or the PostgreSQL URL.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => dir.path().join("fieldproof.db").display().to_string(),
            Self::Postgres { url, .. } => url.clone(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Self::Postgres { admin_url, name, .. } = self
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}
#[macro_use]
pub mod browser;
pub mod receivers;
pub mod service;
