//! Operating the service: `GET /metrics` (off by default; a bearer token on the main listener, or a
//! listener of its own), request counts and latencies per route template, the database figures read
//! at each scrape, and the request id every response and log line of a request carries.

use crate::common;

use actix_web::App;
use actix_web::http::{Method, StatusCode};
use actix_web::test::{self as atest, TestRequest};
use rstest::rstest;
use serde_json::json;

use common::Backend::{self, Postgres, Sqlite};
use common::{Response, TestApp};
use fieldproof::config::MetricsSettings;

const TOKEN: &str = "a-metrics-token-for-the-scraper-0123";

fn with_token() -> MetricsSettings {
    MetricsSettings { token: Some(TOKEN.to_owned()), addr: None }
}

async fn scrape(app: &TestApp, token: Option<&str>) -> Response {
    let mut request = TestRequest::get().uri("/metrics");
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    app.send(request).await
}

/// The value of the sample named exactly `series` (name and labels) in Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[actix_web::test]
async fn metrics_are_a_404_problem_when_neither_token_nor_listener_is_configured() {
    let app = spawn_app!(Sqlite);
    scrape(&app, None).await.problem(StatusCode::NOT_FOUND);
    scrape(&app, Some(TOKEN)).await.problem(StatusCode::NOT_FOUND);
}

#[rstest]
#[actix_web::test]
async fn metrics_refuse_a_missing_or_wrong_token_and_serve_prometheus_text_with_it(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn_with(backend, with_token()).await else { return };
    for token in [None, Some("a-metrics-token-for-the-scraper-0124"), Some(app.token("ada").as_str())] {
        let refused = scrape(&app, token).await;
        refused.problem(StatusCode::UNAUTHORIZED);
        assert_eq!(refused.header("www-authenticate").as_deref(), Some("Bearer"));
    }

    let before = scrape(&app, Some(TOKEN)).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text());
    assert!(before.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let text = before.text();
    for family in [
        "fieldproof_db_pool_connections",
        "fieldproof_db_pool_waiting",
        "fieldproof_outbox_pending_messages",
        "fieldproof_outbox_oldest_pending_age_seconds",
        "fieldproof_incidents_open",
        "fieldproof_incidents_in_triage",
        "fieldproof_make_safe_visits_overdue",
        "fieldproof_recovery_cases_overdue",
    ] {
        assert!(text.contains(&format!("# TYPE {family} gauge")), "{family} in:\n{text}");
    }
    assert_eq!(sample(&text, "fieldproof_incidents_open{grade=\"service_impacting\"}"), Some(0.0), "{text}");
    assert!(sample(&text, "fieldproof_db_pool_connections{state=\"idle\"}").is_some(), "{text}");
    assert!(!text.contains("fieldproof_recovery_within_24h_ratio_7d"), "no share with nothing decided");
    let writes_before = sample(&text, "fieldproof_sqlite_writer_requests_total");
    assert_eq!(writes_before.is_some(), backend == Sqlite, "SQLite's writer, and only there: {text}");

    // One ordinary failure: an open incident, a recovery case, and (after the apology) customer messages.
    let job = app.issue_job("tess", "broadband-install").await;
    let failure = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"],
                          "description": "broadband keeps dropping out since the install" });
    let reported = app.as_user("dana").post("/v1/failures", &failure).await;
    assert_eq!(reported.status, StatusCode::CREATED, "{}", reported.text());
    assert_eq!(reported.json()["severity"], "service_impacting");
    let text = scrape(&app, Some(TOKEN)).await.text();
    assert_eq!(sample(&text, "fieldproof_incidents_open{grade=\"service_impacting\"}"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "fieldproof_incidents_open{grade=\"safety_critical\"}"), Some(0.0), "{text}");
    assert_eq!(sample(&text, "fieldproof_recovery_cases_overdue"), Some(0.0), "not due for 24 hours");
    // The report and its audit entries join their chains (the head endpoint links whatever waits).
    assert_eq!(app.as_user("sam").get("/v1/audit/head").await.status, StatusCode::OK);
    let text = scrape(&app, Some(TOKEN)).await.text();
    let linked = sample(&text, "fieldproof_audit_chain_linked_rows_total").unwrap_or_default();
    let passes = sample(&text, "fieldproof_audit_chain_link_passes_total").unwrap_or_default();
    assert!(linked >= 2.0 && (1.0..=linked).contains(&passes), "{linked} rows in {passes} passes: {text}");
    assert_eq!(sample(&text, "fieldproof_audit_chain_link_failures_total"), Some(0.0), "no pass failed: {text}");
    if let Some(before) = writes_before {
        let after = sample(&text, "fieldproof_sqlite_writer_requests_total").unwrap_or_default();
        assert!(after > before, "the job and the failure report went through the writer: {before} → {after}");
        let groups = sample(&text, "fieldproof_sqlite_writer_groups_total").unwrap_or_default();
        assert!((1.0..=after).contains(&groups), "each group commits one or more requests: {groups} for {after}");
        assert_eq!(sample(&text, "fieldproof_sqlite_writer_queued"), Some(0.0), "nobody waits when idle");
        assert!(text.contains("# TYPE fieldproof_sqlite_writer_requests_total counter"));
    }
}

#[rstest]
#[actix_web::test]
async fn a_requests_latency_is_recorded_under_its_route_template(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, with_token()).await else { return };
    let job = app.issue_job("tess", "broadband-install").await;
    let id = job["id"].as_str().unwrap();
    let fetched = app.as_user("dana").get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(fetched.status, StatusCode::OK);
    app.as_user("dana").get("/no/such/route").await.problem(StatusCode::NOT_FOUND);
    let brewed = app.as_user("dana").call(Method::from_bytes(b"BREW").unwrap(), &format!("/v1/jobs/{id}"), None).await;
    assert!(brewed.status.is_client_error(), "{}", brewed.status);

    let text = scrape(&app, Some(TOKEN)).await.text();
    let labels = "method=\"GET\",route=\"/v1/jobs/{job_id}\",status=\"200\"";
    let count = sample(&text, &format!("fieldproof_http_request_duration_seconds_count{{{labels}}}"));
    assert!(count.is_some_and(|n| n >= 1.0), "a latency histogram for the template in:\n{text}");
    assert!(text.contains(&format!("fieldproof_http_request_duration_seconds_bucket{{{labels},le=\"0.1\"}}")));
    assert!(sample(&text, &format!("fieldproof_http_requests_total{{{labels}}}")).is_some_and(|n| n >= 1.0));
    assert!(!text.contains(id), "raw paths never become labels");
    let brewed_labels = format!("method=\"other\",route=\"/v1/jobs/{{job_id}}\",status=\"{}\"", brewed.status.as_u16());
    assert!(
        text.contains(&brewed_labels) && !text.contains("BREW"),
        "a method of the client's own is `other`:\n{text}"
    );
    assert!(!text.contains("/no/such/route"), "an unknown path is not a label");
    assert!(text.contains("route=\"unmatched\",status=\"404\""), "an unknown path counts as `unmatched`:\n{text}");
}

#[actix_web::test]
async fn with_a_listener_of_its_own_metrics_are_served_there_and_not_on_the_main_listener() {
    let addr = "127.0.0.1:9464".parse().ok();
    let Some(app) = TestApp::spawn_with(Sqlite, MetricsSettings { addr, ..with_token() }).await else { return };
    scrape(&app, Some(TOKEN)).await.problem(StatusCode::NOT_FOUND);

    let listener =
        atest::init_service(App::new().configure(fieldproof::http::monitoring::own_listener(app.state.clone()))).await;
    let get = |uri: &str, token: Option<&str>| {
        let mut request = TestRequest::get().uri(uri);
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        request.to_request()
    };
    let served = atest::call_service(&listener, get("/metrics", Some(TOKEN))).await;
    assert_eq!(served.status(), StatusCode::OK);
    let body = atest::read_body(served).await;
    assert!(String::from_utf8_lossy(&body).contains("# TYPE fieldproof_incidents_open gauge"));
    let refused = atest::call_service(&listener, get("/metrics", None)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let elsewhere = atest::call_service(&listener, get("/v1/checklists", Some(TOKEN))).await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND, "only /metrics on the metrics listener");
}

#[actix_web::test]
async fn a_well_formed_request_id_is_echoed_and_any_other_is_replaced_by_a_new_one() {
    let app = spawn_app!(Sqlite);
    let echoed = app.send(TestRequest::get().uri("/healthz").insert_header(("x-request-id", "lb-7f3a.9_Z"))).await;
    assert_eq!(echoed.header("x-request-id").as_deref(), Some("lb-7f3a.9_Z"));

    let too_long = "a".repeat(65);
    for malformed in ["", "has space", "semi;colon", "ünïcode", too_long.as_str()] {
        let request = TestRequest::get().uri("/healthz").insert_header(("x-request-id", malformed));
        let replaced = app.send(request).await.header("x-request-id").expect("an id");
        assert_ne!(replaced, malformed);
        let uuid = uuid::Uuid::parse_str(&replaced).unwrap_or_else(|_| panic!("`{replaced}` is not a UUID"));
        assert_eq!(uuid.get_version_num(), 7, "{replaced}");
    }
    let first = app.call(Method::GET, "/no/such/route", None, None).await;
    let second = app.call(Method::GET, "/no/such/route", None, None).await;
    let (first, second) = (first.header("x-request-id").unwrap(), second.header("x-request-id").unwrap());
    assert_ne!(first, second, "a new id per request, errors too");
}
