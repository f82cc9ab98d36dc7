//! What operators see of each request: a request id on every log line of it (the span
//! `tracing-actix-web` opens, built here so no token or feedback link reaches a log), echoed as
//! `x-request-id`; and the Prometheus counters and latency histograms per route template.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Span;
use tracing_actix_web::{RootSpanBuilder, TracingLogger};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Requests per method, route template and status.
pub const REQUESTS: &str = "fieldproof_http_requests_total";
/// Seconds from the request's arrival to its response's head, per method, route template and status.
pub const LATENCY: &str = "fieldproof_http_request_duration_seconds";
/// Outbox deliveries per channel (`email`, `webhook`, `log`).
pub const DELIVERIES: &str = "fieldproof_outbox_deliveries_total";
/// Failed outbox delivery attempts per channel (`none` when no channel reaches the customer).
pub const DELIVERY_FAILURES: &str = "fieldproof_outbox_delivery_failures_total";
/// The route label of a request no route matched (so a scan of random paths adds one series, not many).
pub const UNMATCHED: &str = "unmatched";
const LATENCY_BUCKETS: [f64; 12] = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The id a request is known by in the logs and to its caller: the caller's own `x-request-id` when
/// it is 1–64 characters of `[A-Za-z0-9._-]`, else a new UUID v7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn accept_or_generate(incoming: Option<&HeaderValue>) -> Self {
        match incoming.and_then(|v| v.to_str().ok()) {
            Some(id) if Self::well_formed(id) => Self(id.to_owned()),
            _ => Self(uuid::Uuid::now_v7().to_string()),
        }
    }

    /// Short, and nothing a log line could be forged or a terminal driven with.
    pub fn well_formed(id: &str) -> bool {
        (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// When the request arrived (for the access log line).
#[derive(Clone, Copy)]
struct Arrived(Instant);

/// The Prometheus recorder of this process, installed on first use. One per process: requests of
/// every app in it (the tests run many) count in the same registry.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_buckets_for_metric(Matcher::Full(LATENCY.to_owned()), &LATENCY_BUCKETS) {
            Ok(builder) => builder,
            // why: only an empty bucket list fails, and the list above is not empty.
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows only the database figures");
        }
        metrics::describe_counter!(REQUESTS, "HTTP requests per method, route template and status");
        metrics::describe_histogram!(LATENCY, metrics::Unit::Seconds, "HTTP request latency per route template");
        metrics::describe_counter!(DELIVERIES, "Customer messages delivered, per channel");
        metrics::describe_counter!(DELIVERY_FAILURES, "Failed customer message delivery attempts, per channel");
        handle
    })
}

/// Drains the histograms now and then, which the recorder leaves to its owner when it has no HTTP
/// listener of its own. Runs until aborted.
pub async fn upkeep() {
    let handle = prometheus();
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        handle.run_upkeep();
    }
}

/// The request-id and metrics middleware (`middleware::from_fn`): wraps the tracing span, so the id
/// is known when the span opens, and times the whole request.
pub async fn request_telemetry(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let arrived = Instant::now();
    let id = RequestId::accept_or_generate(req.headers().get(REQUEST_ID_HEADER));
    let header = HeaderValue::from_str(id.as_str()).ok();
    req.extensions_mut().insert(id);
    req.extensions_mut().insert(Arrived(arrived));
    let method = req.method().as_str().to_owned();
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(res) => (res.request().match_pattern(), res.status()),
        Err(err) => (None, err.as_response_error().status_code()),
    };
    let labels = [
        ("method", method),
        ("route", route.unwrap_or_else(|| UNMATCHED.to_owned())),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(LATENCY, &labels).record(arrived.elapsed().as_secs_f64());
    let mut res = result?;
    if let Some(header) = header {
        res.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), header);
    }
    Ok(res)
}

/// `tracing-actix-web`'s logger with [`RequestSpan`]: one span per request, one log line when it ends.
pub fn request_span() -> TracingLogger<RequestSpan> {
    TracingLogger::new()
}

/// The request's span: its id, method and route template, and at the end its status. Never the
/// path or query (a feedback link's token is in its path) and never a header (`Authorization`).
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let id = request.extensions().get::<RequestId>().cloned();
        // why: without `request_telemetry` in front (a test app), the span still gets an id.
        let id = id.unwrap_or_else(|| RequestId::accept_or_generate(None));
        tracing::info_span!(
            "request",
            request_id = %id,
            method = %request.method(),
            route = tracing::field::Empty,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, route, arrived) = match outcome {
            Ok(res) => {
                let arrived = res.request().extensions().get::<Arrived>().copied();
                (res.status(), res.request().match_pattern(), arrived)
            }
            Err(err) => (err.as_response_error().status_code(), None, None),
        };
        let route = route.unwrap_or_else(|| UNMATCHED.to_owned());
        span.record("route", route.as_str());
        span.record("status", status.as_u16());
        let millis = arrived.map_or(0.0, |Arrived(at)| at.elapsed().as_secs_f64() * 1000.0);
        span.in_scope(|| {
            if status.is_server_error() {
                tracing::warn!(status = status.as_u16(), millis, "request finished");
            } else {
                tracing::info!(status = status.as_u16(), millis, "request finished");
            }
        });
    }
}
