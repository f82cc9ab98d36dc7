//! Routes × roles: one table says, for every route the app registers (`http::ROUTES`), which roles
//! may call it or that it is public. Every role not allowed is refused with 403 `wrong-role` before
//! anything is looked up: called with random ids and an empty body, it never learns whether the
//! resource exists (no 404), what state it is in (no 409) or what the body lacks (no 422).

use crate::common;

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use rstest::rstest;
use serde_json::json;

use common::Backend::{self, Postgres, Sqlite};
use common::TestApp;
use fieldproof::auth::Role::{self, Admin, Dispatcher, SafetyOfficer, Technician};
use fieldproof::http::ROUTES;

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// No sign-in needed.
    Public,
    /// A signed-in user with one of these roles. A role listed here may still be refused for a
    /// particular resource (a dispatcher re-grades only reports in triage, a technician sees only
    /// their own cases), but never for its role alone.
    Roles(&'static [Role]),
    /// The operator's metrics token from the configuration, never a user's role (tested in
    /// `metrics.rs`; off, and so a 404, in the test app).
    MetricsToken,
}

use Access::{MetricsToken, Public, Roles};

const ANY: Access = Roles(&[Technician, Dispatcher, SafetyOfficer, Admin]);
const ADMIN: Access = Roles(&[Admin]);
const ISSUERS: Access = Roles(&[Dispatcher, Admin]);
const HANDLERS: Access = Roles(&[Dispatcher, SafetyOfficer, Admin]);
const SAFETY_READERS: Access = Roles(&[SafetyOfficer, Admin]);
const SAFETY_OFFICER: Access = Roles(&[SafetyOfficer]);
const TECHNICIAN: Access = Roles(&[Technician]);

/// (method, path, who): one row per route of `ROUTES`.
const TABLE: &[(&str, &str, Access)] = &[
    ("get", "/feedback/{token}", Public),
    ("post", "/feedback/{token}", Public),
    ("get", "/healthz", Public),
    ("get", "/readyz", Public),
    ("get", "/openapi.json", Public),
    ("get", "/docs", Public),
    ("get", "/docs/rapidoc-min.js", Public),
    ("post", "/v1/auth/token", Public),
    ("post", "/v1/auth/logout-all", ANY),
    ("get", "/v1/users", ADMIN),
    ("post", "/v1/users", ADMIN),
    ("patch", "/v1/users/{id}", ADMIN),
    ("get", "/v1/checklists", ANY),
    ("post", "/v1/checklists", ADMIN),
    ("get", "/v1/checklists/{key}", ANY),
    ("get", "/v1/checklists/{key}/versions/{version}", ANY),
    ("post", "/v1/jobs", ISSUERS),
    ("get", "/v1/jobs/{job_id}", ANY),
    ("get", "/v1/jobs/{job_id}/signoffs", ANY),
    ("post", "/v1/jobs/{job_id}/signoffs", TECHNICIAN),
    ("get", "/v1/me/jobs", TECHNICIAN),
    ("put", "/v1/me/pin", TECHNICIAN),
    ("post", "/v1/failures", Roles(&[Technician, Dispatcher])),
    ("get", "/v1/incidents", HANDLERS),
    ("get", "/v1/incidents/export", SAFETY_READERS),
    ("get", "/v1/incidents/{id}", HANDLERS),
    ("post", "/v1/incidents/{id}/acknowledge", HANDLERS),
    ("post", "/v1/incidents/{id}/assign", HANDLERS),
    // A dispatcher grades only a report in triage (decided once the incident is loaded).
    ("post", "/v1/incidents/{id}/regrade", Roles(&[Dispatcher, SafetyOfficer])),
    ("get", "/v1/incidents/{id}/audit-file", SAFETY_READERS),
    ("post", "/v1/incidents/{id}/audit", SAFETY_OFFICER),
    ("get", "/v1/safety/audit-queue", SAFETY_READERS),
    ("get", "/v1/make-safe-visits", HANDLERS),
    ("post", "/v1/make-safe-visits/{id}/assign", ISSUERS),
    ("get", "/v1/messages", HANDLERS),
    ("post", "/v1/messages/{id}/retry", HANDLERS),
    ("get", "/v1/metrics/recovery", HANDLERS),
    ("get", "/v1/recovery-cases", HANDLERS),
    ("post", "/v1/recovery-cases/{id}/fixed", ISSUERS),
    ("post", "/v1/recovery-cases/{id}/fix-visit", ISSUERS),
    ("post", "/v1/recovery-cases/{id}/explanation", ISSUERS),
    ("get", "/v1/recovery-cases/{id}/apology", HANDLERS),
    ("post", "/v1/recovery-cases/{id}/apology", ISSUERS),
    ("get", "/v1/recovery-cases/{id}/remedies", HANDLERS),
    ("get", "/v1/recovery-cases/{id}/surprise", HANDLERS),
    ("post", "/v1/recovery-cases/{id}/surprise", ISSUERS),
    ("post", "/v1/recovery-cases/{id}/remedy", ISSUERS),
    // The recovery policy's approver (`approver_role = "admin"` in the shipped policy).
    ("post", "/v1/recovery-cases/{id}/remedy/approve", ADMIN),
    // Technicians see their own.
    ("get", "/v1/retraining", Roles(&[Technician, SafetyOfficer, Admin])),
    ("post", "/v1/retraining/{id}/training-done", SAFETY_OFFICER),
    // Technicians see their own.
    ("get", "/v1/disciplinary-cases", Roles(&[Technician, SafetyOfficer])),
    ("get", "/v1/disciplinary-cases/{id}", Roles(&[Technician, SafetyOfficer])),
    ("post", "/v1/disciplinary-cases/{id}/review", SAFETY_OFFICER),
    // Only the technician the case is about (decided once the case is loaded).
    ("post", "/v1/disciplinary-cases/{id}/statement", TECHNICIAN),
    ("post", "/v1/disciplinary-cases/{id}/decide", SAFETY_OFFICER),
    // A second safety officer (decided once the case is loaded).
    ("post", "/v1/disciplinary-cases/{id}/approve", SAFETY_OFFICER),
    ("get", "/v1/audit/head", SAFETY_READERS),
    ("get", "/metrics", MetricsToken),
];

/// A seeded user of each role.
const CALLERS: [(Role, &str); 4] = [(Technician, "tess"), (Dispatcher, "dana"), (SafetyOfficer, "sam"), (Admin, "ada")];

#[test]
fn every_route_has_exactly_one_row_in_the_role_table() {
    let registered: BTreeSet<(&str, &str)> = ROUTES.iter().map(|r| (r.method, r.path)).collect();
    let mut rows = BTreeSet::new();
    for (method, path, _) in TABLE {
        assert!(rows.insert((*method, *path)), "{method} {path} has two rows in the role table");
    }
    let missing: Vec<_> = registered.difference(&rows).collect();
    let unknown: Vec<_> = rows.difference(&registered).collect();
    assert!(missing.is_empty(), "routes without a row in the role table: {missing:?}");
    assert!(unknown.is_empty(), "rows in the role table for routes that do not exist: {unknown:?}");
}

/// The route's pattern with every placeholder filled: a random UUID for ids, a plausible value for
/// the others, so routing and path parsing pass and only the role can refuse the call.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{version}" => "1".to_owned(),
            "{key}" => "broadband-install".to_owned(),
            "{token}" => "not-a-feedback-link".to_owned(),
            s if s.starts_with('{') => uuid::Uuid::new_v4().to_string(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> common::Response {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let body = json!({});
    let body = (method != Method::GET).then_some(&body);
    app.call(method, path, token, body).await
}

fn is_wrong_role(response: &common::Response) -> bool {
    response.status == StatusCode::FORBIDDEN && response.json()["type"] == "https://fieldproof.dev/problems/wrong-role"
}

#[rstest]
#[actix_web::test]
async fn every_role_not_allowed_is_refused_before_anything_is_looked_up(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let mut wrong = Vec::new();
    for (method, pattern, access) in TABLE {
        let path = concrete(pattern);
        let anonymous = call(&app, method, &path, None).await;
        if anonymous.status.is_server_error() {
            wrong.push(format!("{method} {pattern} without a token: {} {}", anonymous.status, anonymous.text()));
        }
        let Roles(allowed) = access else {
            if matches!(access, Public) && anonymous.status == StatusCode::UNAUTHORIZED {
                wrong.push(format!("{method} {pattern} is public but answered 401"));
            }
            continue;
        };
        if anonymous.status != StatusCode::UNAUTHORIZED {
            wrong.push(format!("{method} {pattern} without a token: {} (expected 401)", anonymous.status));
        }
        for (role, username) in CALLERS {
            // A fresh token each time: `logout-all` ends the caller's earlier ones.
            let response = call(&app, method, &path, Some(&app.token(username))).await;
            let role = role.as_str();
            if response.status.is_server_error() {
                wrong.push(format!("{method} {pattern} as {role}: {} {}", response.status, response.text()));
            } else if allowed.iter().any(|r| r.as_str() == role) {
                if is_wrong_role(&response) {
                    wrong.push(format!(
                        "{method} {pattern} as {role}: refused with wrong-role, but the role is allowed"
                    ));
                }
            } else if !is_wrong_role(&response) {
                wrong.push(format!(
                    "{method} {pattern} as {role}: {} (expected 403 wrong-role) {}",
                    response.status,
                    response.text()
                ));
            } else {
                response.refused("wrong-role");
            }
        }
    }
    assert!(wrong.is_empty(), "{} calls answered wrongly:\n{}", wrong.len(), wrong.join("\n"));
}
