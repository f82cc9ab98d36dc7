//! The API document matches the routes: every route the app registers (`http::ROUTES`, the table
//! `http::routes` configures actix from) is in `/openapi.json`, and nothing else is. The docs page
//! loads only the service's own assets.

use crate::common;

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use serde_json::Value;
use utoipa::OpenApi;

use common::Backend::Sqlite;
use fieldproof::http::{ROUTES, openapi::ApiDoc};

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap()
}

/// (method, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("path item");
            item.keys().filter(|k| METHODS.contains(&k.as_str())).map(move |m| (m.clone(), path.clone()))
        })
        .collect()
}

#[test]
fn every_registered_route_is_documented_and_every_documented_route_is_registered() {
    let registered: BTreeSet<(String, String)> =
        ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    assert_eq!(registered.len(), ROUTES.len(), "a route is registered twice");
    let documented = documented(&document());
    let missing: Vec<_> = registered.difference(&documented).collect();
    let absent: Vec<_> = documented.difference(&registered).collect();
    assert!(missing.is_empty(), "registered but not in the document: {missing:?}");
    assert!(absent.is_empty(), "in the document but not registered: {absent:?}");
}

#[test]
fn operations_have_unique_ids_and_every_reference_resolves() {
    let doc = document();
    let mut ids = BTreeSet::new();
    for (method, path) in documented(&doc) {
        let operation = &doc["paths"][&path][&method];
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_owned()), "operationId `{id}` is used twice");
        let responses = operation["responses"].as_object().expect("responses");
        assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} documents no success response");
        assert!(responses.contains_key("500"), "{method} {path} documents no 500");
    }
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("external reference {reference}"));
        assert!(doc.pointer(pointer).is_some(), "{reference} does not resolve");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                out.push(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn routes_needing_a_token_say_so_and_public_ones_do_not() {
    let doc = document();
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(doc["security"], serde_json::json!([{ "bearer": [] }]));
    let public = ["/healthz", "/readyz", "/v1/auth/token", "/feedback/{token}", "/openapi.json", "/docs"];
    for (method, path) in documented(&doc) {
        let operation = &doc["paths"][&path][&method];
        if path == "/metrics" {
            // The scraper's own token (`FIELDPROOF_METRICS_TOKEN`), not a user's JWT.
            assert_eq!(operation["security"], serde_json::json!([{ "metrics_token": [] }]));
            assert!(operation["responses"].get("401").is_some());
            continue;
        }
        let is_public = public.contains(&path.as_str()) || path.starts_with("/docs/");
        // why: an operation without `security` inherits the document's bearer requirement.
        assert_eq!(operation.get("security").is_some(), is_public, "{method} {path}: security is {operation}");
        assert_eq!(operation["responses"].get("401").is_some(), !is_public || path == "/v1/auth/token", "{path}");
    }
}

/// The table is what actix serves: a request to each route reaches a handler (at worst a 401,
/// 404 for the made-up id, 415 for the missing body), never the router's 404 or 405.
#[actix_web::test]
async fn every_route_in_the_table_is_served_by_the_app() {
    let app = spawn_app!(Sqlite);
    for route in ROUTES {
        let path: String = route
            .path
            .split('/')
            .map(|segment| if segment.starts_with('{') { uuid::Uuid::new_v4().to_string() } else { segment.to_owned() })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(route.method.to_uppercase().as_bytes()).unwrap();
        let response = app.call(method, &path, None, None).await;
        let routed_away = response.status == StatusCode::METHOD_NOT_ALLOWED
            || (response.status == StatusCode::NOT_FOUND && response.text().contains("no such route"));
        assert!(!routed_away, "{} {path}: {} {}", route.method, response.status, response.text());
    }
}

#[actix_web::test]
async fn the_document_is_served_as_openapi_3_1_json_without_a_token() {
    let app = spawn_app!(Sqlite);
    let response = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("content-type").as_deref(), Some("application/json"));
    let served = response.json();
    assert!(served["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", served["openapi"]);
    assert_eq!(served, document());
}

#[actix_web::test]
async fn the_docs_page_is_html_that_loads_only_the_services_own_assets() {
    let app = spawn_app!(Sqlite);
    let page = app.call(Method::GET, "/docs", None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")));
    let policy = page.header("content-security-policy").expect("a content security policy");
    for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(policy.contains(directive), "CSP lacks {directive}: {policy}");
    }
    assert!(!policy.contains("http"), "CSP allows another origin: {policy}");
    let html = page.text();
    assert!(!html.contains("http:") && !html.contains("https:") && !html.contains("//"), "{html}");
    assert!(html.contains(r#"load-fonts="false""#), "RapiDoc would fetch web fonts: {html}");
    let assets: Vec<&str> = ["src=\"", "href=\"", "spec-url=\""]
        .iter()
        .flat_map(|attribute| html.split(attribute).skip(1).filter_map(|rest| rest.split('"').next()))
        .collect();
    assert_eq!(assets, ["/docs/rapidoc-min.js", "/openapi.json"]);
    for asset in assets {
        let response = app.call(Method::GET, asset, None, None).await;
        assert_eq!(response.status, StatusCode::OK, "{asset}");
        assert!(!response.body.is_empty(), "{asset}");
    }
    let script = app.call(Method::GET, "/docs/rapidoc-min.js", None, None).await;
    assert!(script.header("content-type").is_some_and(|t| t.starts_with("text/javascript")));
}
