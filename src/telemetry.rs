//! What operators see of each request: a request id on every log line of it (the span
//! `tracing-actix-web` opens, built here so no token or feedback link reaches a log), echoed as
//! `x-request-id`; and the Prometheus counters and latency histograms per route template.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Condition, Next};
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

/// The route template of a route-table resource, kept as the resource's app data: the request carries
/// it from the moment its resource is chosen, so the template is known without matching again.
#[derive(Debug, Clone, Copy)]
pub struct RouteTemplate(pub &'static str);

/// The route template a request matched outside the route table (the console), found once for the
/// log line and the metrics: finding it walks the route table again, regular expressions and all.
#[derive(Clone)]
struct MatchedRoute(String);

/// The route template of a request that has been answered (`unmatched` when none matched).
fn matched_route(req: &actix_web::HttpRequest) -> Cow<'static, str> {
    if let Some(RouteTemplate(route)) = req.app_data::<RouteTemplate>() {
        return Cow::Borrowed(route);
    }
    if let Some(MatchedRoute(route)) = req.extensions().get::<MatchedRoute>() {
        return Cow::Owned(route.clone());
    }
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned());
    req.extensions_mut().insert(MatchedRoute(route.clone()));
    Cow::Owned(route)
}

/// The method as a metrics label: the standard ones by name, any other as `other` (a client may
/// send any token as a method; each would otherwise start series of its own).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Counts a request and records its latency. The counter and histogram of each (method, route
/// template, status) are looked up in the recorder once per worker thread and kept: the registry's
/// look-up hashes and copies the labels, a tenth of what serving a pinned checklist costs. The
/// set is bounded by the route table, the methods above and the status codes.
fn record_request(method: &'static str, route: Cow<'static, str>, status: StatusCode, seconds: f64) {
    type Handles =
        rustc_hash::FxHashMap<(&'static str, Cow<'static, str>, u16), (metrics::Counter, metrics::Histogram)>;
    thread_local! {
        static HANDLES: std::cell::RefCell<Handles> = std::cell::RefCell::default();
    }
    HANDLES.with_borrow_mut(|handles| {
        let (counter, histogram) =
            handles.entry((method, route, status.as_u16())).or_insert_with_key(|(method, route, status)| {
                prometheus();
                let labels =
                    [("method", (*method).to_owned()), ("route", route.to_string()), ("status", status.to_string())];
                (metrics::counter!(REQUESTS, &labels), metrics::histogram!(LATENCY, &labels))
            });
        counter.increment(1);
        histogram.record(seconds);
    });
}

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
    // why: only the request's span reads these, and it is left out when spans are off (see
    // `request_span`), so they are not stored for nothing on every request.
    if request_spans_on() {
        let mut extensions = req.extensions_mut();
        extensions.insert(id);
        extensions.insert(Arrived(arrived));
    }
    let method = method_label(req.method());
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(res) => (matched_route(res.request()), res.status()),
        Err(err) => (Cow::Borrowed(UNMATCHED), err.as_response_error().status_code()),
    };
    record_request(method, route, status, arrived.elapsed().as_secs_f64());
    let mut res = result?;
    if let Some(header) = header {
        res.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), header);
    }
    Ok(res)
}

/// The text log's field formatting: tracing-subscriber's own, with every control character in a
/// field or message escaped (`\n`, `\r`, `\u{1b}`), and bidirectional overrides too. Request data
/// reaches the log in several places (a customer's name in the log channel, a database error that
/// quotes input, a delivery error naming an address); escaped here, once, none of it can start a
/// line of its own, so no log line can be forged and no terminal driven. (The JSON log escapes
/// them by being JSON.)
#[derive(Debug, Default)]
pub struct EscapedFields(tracing_subscriber::fmt::format::DefaultFields);

impl<'writer> tracing_subscriber::fmt::FormatFields<'writer> for EscapedFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: tracing_subscriber::fmt::format::Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut plain = String::new();
        self.0.format_fields(tracing_subscriber::fmt::format::Writer::new(&mut plain), fields)?;
        for c in plain.chars() {
            match c {
                '\n' => writer.write_str("\\n")?,
                '\r' => writer.write_str("\\r")?,
                '\t' => writer.write_char(c)?,
                c if c.is_control()
                    || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') =>
                {
                    write!(writer, "\\u{{{:x}}}", u32::from(c))?;
                }
                c => writer.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// `tracing-actix-web`'s logger with [`RequestSpan`]: one span per request, one log line when it ends.
/// Left out when the log filter drops this module's `info` (`RUST_LOG=warn`): then the span and its
/// line would be built and dropped for every request, and they carry nothing into the warnings (a
/// disabled span records no fields).
pub fn request_span() -> Condition<TracingLogger<RequestSpan>> {
    Condition::new(request_spans_on(), TracingLogger::new())
}

/// Whether the log filter keeps this module's `info`, and so the request spans: the one answer both
/// `request_span` and `request_telemetry` (which stores only what the span reads) go by.
fn request_spans_on() -> bool {
    tracing::enabled!(tracing::Level::INFO)
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
                (res.status(), matched_route(res.request()), arrived)
            }
            Err(err) => (err.as_response_error().status_code(), Cow::Borrowed(UNMATCHED), None),
        };
        span.record("route", &*route);
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn line_breaks_and_escapes_in_logged_data_cannot_forge_a_line() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields::default())
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let forged = "Amy\r\n2026-12-03T10:00:00.000000Z  INFO fieldproof: forged \u{1b}[2J\u{202E}";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", name = %forged);
            span.in_scope(|| tracing::info!(customer = %forged, debugged = ?forged, "{forged}"));
        });
        let text = String::from_utf8(captured.0.lock().expect("log").clone()).expect("utf-8");
        assert_eq!(text.lines().count(), 1, "one event, one line: {text}");
        assert!(!text.contains('\r') && !text.contains('\u{1b}') && !text.contains('\u{202E}'), "{text:?}");
        assert_eq!(text.matches("Amy\\r\\n2026").count(), 4, "message, span field, `%` and `?` fields: {text}");
    }
}
