//! `GET /metrics`: Prometheus text for the operator's scraper. Request counts and latencies come
//! from the process's recorder (`telemetry`); the pool, the outbox and the safety and recovery
//! figures are read from the database at each scrape. Off unless configured: a bearer token
//! (`FIELDPROOF_METRICS_TOKEN`) on the main listener, or a listener of its own (`FIELDPROOF_METRICS_ADDR`).

use std::fmt::Write as _;

use actix_web::middleware::ErrorHandlers;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::TimeDelta;

use crate::AppState;
use crate::db;
use crate::domain::metrics::summarise;
use crate::domain::severity::Severity;
use crate::error::ApiError;

/// Marks the app of the metrics listener, where `/metrics` is served without regard to the main
/// listener's setting.
#[derive(Clone, Copy)]
struct OwnListener;

/// The whole app of the metrics listener (`FIELDPROOF_METRICS_ADDR`): `/metrics` and nothing else.
pub fn own_listener(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(
            web::scope("")
                .app_data(state)
                .app_data(web::Data::new(OwnListener))
                .wrap(ErrorHandlers::new().default_handler(super::problem_for_bare_errors))
                .route("/metrics", web::get().to(metrics))
                .default_service(web::to(super::not_found)),
        );
    }
}

/// Prometheus metrics: requests and latency per route template, the database pool, the outbox,
/// open incidents by grade, overdue make-safe visits and recovery cases, recovery within 24 h.
/// 404 when metrics are off or served on a listener of their own (`FIELDPROOF_METRICS_ADDR`).
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain"),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ))]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.metrics;
    let own_listener = req.app_data::<web::Data<OwnListener>>().is_some();
    if !own_listener && (settings.addr.is_some() || settings.token.is_none()) {
        return Err(ApiError::NotFound("metrics are not served on this listener".to_owned()));
    }
    if let Some(token) = &settings.token {
        let sent = req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let sent = sent.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
        if !same_secret(sent.as_bytes(), token.as_bytes()) {
            return Err(ApiError::Unauthorized("send `Authorization: Bearer <metrics token>`".to_owned()));
        }
    }
    let mut text = crate::telemetry::prometheus().render();
    let pool = state.db.pool_state();
    let app = state.clone();
    let (figures, recovery) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let now = app.clock.now();
            let figures = db::metrics::operations(conn, now.naive_utc())?;
            let from = now - TimeDelta::days(7);
            let records = db::metrics::recovery_records(conn, from.naive_utc())?;
            Ok(((figures, now), summarise(&records, now.naive_utc()).overall))
        })
        .await?;
    let (figures, now) = figures;
    let mut out = Families(&mut text);
    out.gauge(
        "fieldproof_db_pool_connections",
        "Pooled database connections by state",
        &[("state=\"in_use\"", f64::from(pool.in_use)), ("state=\"idle\"", f64::from(pool.idle))],
    );
    out.gauge("fieldproof_db_pool_max_connections", "Largest size of the pool", &[("", f64::from(pool.max_size))]);
    out.gauge(
        "fieldproof_db_pool_waiting",
        "Units of work waiting for a pooled connection",
        &[("", pool.waiting as f64)],
    );
    if let Some(writer) = pool.writer {
        out.gauge(
            "fieldproof_sqlite_writer_queued",
            "Write requests waiting for SQLite's one writer",
            &[("", writer.queued as f64)],
        );
        out.family(
            "fieldproof_sqlite_writer_groups_total",
            "counter",
            "Group transactions SQLite's writer has ended (one commit each)",
            &[("", writer.groups as f64)],
        );
        out.family(
            "fieldproof_sqlite_writer_requests_total",
            "counter",
            "Write requests run by SQLite's writer (divided by the groups: the average group size)",
            &[("", writer.requests as f64)],
        );
    }
    if let Some(linker) = pool.linker {
        out.family(
            "fieldproof_audit_chain_link_passes_total",
            "counter",
            "Passes in which the linker linked rows into the audit chains (one transaction each)",
            &[("", linker.passes as f64)],
        );
        out.family(
            "fieldproof_audit_chain_linked_rows_total",
            "counter",
            "Rows the linker linked into the audit chains (divided by the passes: the average batch)",
            &[("", linker.rows as f64)],
        );
        out.family(
            "fieldproof_audit_chain_link_failures_total",
            "counter",
            "Background linker passes that failed; each is tried again a second later, and rows wait unlinked meanwhile",
            &[("", linker.failures as f64)],
        );
    }
    out.gauge(
        "fieldproof_outbox_pending_messages",
        "Customer messages not yet delivered",
        &[("", figures.outbox_pending as f64)],
    );
    let oldest = figures.outbox_oldest_pending.map_or(0.0, |at| (now.naive_utc() - at).num_milliseconds() as f64 / 1e3);
    out.gauge(
        "fieldproof_outbox_oldest_pending_age_seconds",
        "Age of the oldest undelivered customer message (0 with none)",
        &[("", oldest.max(0.0))],
    );
    let grades: Vec<(String, f64)> = Severity::ALL
        .iter()
        .map(|grade| {
            let open = figures.open_by_grade.iter().find(|(g, _)| g == grade.as_str()).map_or(0, |(_, n)| *n);
            (format!("grade=\"{}\"", grade.as_str()), open as f64)
        })
        .collect();
    let grades: Vec<(&str, f64)> = grades.iter().map(|(labels, n)| (labels.as_str(), *n)).collect();
    out.gauge("fieldproof_incidents_open", "Unresolved incidents by grade (triage not included)", &grades);
    out.gauge(
        "fieldproof_incidents_in_triage",
        "Reports waiting for a person to grade them",
        &[("", figures.in_triage as f64)],
    );
    out.gauge(
        "fieldproof_make_safe_visits_overdue",
        "Make-safe visits not done by their deadline",
        &[("", figures.make_safe_overdue as f64)],
    );
    out.gauge(
        "fieldproof_recovery_cases_overdue",
        "Open recovery cases past their deadline",
        &[("", figures.recovery_overdue as f64)],
    );
    out.gauge(
        "fieldproof_recovery_decided_cases_7d",
        "Recovery cases of the last 7 days whose outcome is known (recovered or past 24 h)",
        &[("", recovery.decided as f64)],
    );
    // With nothing decided there is no share: the series is left out rather than reported as 0.
    if let Some(share) = recovery.share_within_24h {
        out.gauge(
            "fieldproof_recovery_within_24h_ratio_7d",
            "Share of the last 7 days' decided recovery cases recovered within 24 hours",
            &[("", share)],
        );
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text))
}

/// Appends metric families in the Prometheus text format.
struct Families<'a>(&'a mut String);

impl Families<'_> {
    /// One gauge family: `(labels without braces, value)` per sample.
    fn gauge(&mut self, name: &str, help: &str, samples: &[(&str, f64)]) {
        self.family(name, "gauge", help, samples);
    }

    /// One family of `kind` (gauge, counter).
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(&str, f64)]) {
        let out = &mut *self.0;
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = if labels.is_empty() {
                writeln!(out, "{name} {value}")
            } else {
                writeln!(out, "{name}{{{labels}}} {value}")
            };
        }
    }
}

/// Compares a sent token with the configured one in time independent of where they differ.
fn same_secret(sent: &[u8], expected: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    // why: hashing first makes the comparison's length fixed, so the length leaks nothing either.
    let (sent, expected) = (Sha256::digest(sent), Sha256::digest(expected));
    sent.iter().zip(expected.iter()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}
