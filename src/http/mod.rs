//! The HTTP surface (the README's "HTTP API" table): one module per resource. Handlers only
//! translate: extract → workflow (on the blocking pool) → response DTO.

pub mod audit;
pub mod auth;
pub mod checklists;
pub mod extract;
pub mod failures;
pub mod feedback;
pub mod health;
pub mod incidents;
pub mod jobs;
pub mod messages;
pub mod metrics;
pub mod monitoring;
pub mod openapi;
pub mod page;
pub mod recovery;
pub mod safety;
pub mod signoffs;
pub mod users;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{ResponseError, web};

use crate::error::ApiError;

/// A registered route, as the OpenAPI document must describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    /// Lower case, as in the document: `get`, `post`, `patch`.
    pub method: &'static str,
    /// Actix's pattern, which is also OpenAPI's: `/v1/jobs/{job_id}`.
    pub path: &'static str,
}

/// The route table, written once: it expands to the actix resources of each group (their paths
/// relative to the group's scope) and to `ROUTES`, the list the OpenAPI test compares with the
/// document. Paths are matched in order.
/// Each resource carries its template ([`RouteTemplate`](crate::telemetry::RouteTemplate)) for the
/// logs and metrics.
macro_rules! route_table {
    ($( $group:ident ($scope:literal) { $( $path:literal => $( $method:ident : $handler:path ),+ ; )* } )*) => {
        /// Every route of the service (method and path).
        pub const ROUTES: &[Route] = &[$($($(Route { method: stringify!($method), path: $path },)+)*)*];

        $(
            fn $group() -> Vec<actix_web::Resource> {
                vec![$(
                    web::resource($path.strip_prefix($scope).unwrap_or_else(|| panic!("{} is outside {}", $path, $scope)))
                        .app_data(crate::telemetry::RouteTemplate($path))
                        $(.route(web::$method().to($handler)))+
                ),*]
            }
        )*
    };
}

route_table! {
    // The customer's feedback page answers in HTML (errors too), so it sits outside the
    // problem+json error handling, in a scope of its own (other paths pass it by its prefix).
    pages ("/feedback") {
        "/feedback/{token}" => get: feedback::form, post: feedback::submit;
    }
    api ("") {
        // The hot paths first: actix tries each resource in turn, and each one with a parameter
        // before the match costs a regular-expression search. (No two patterns here overlap
        // except `/v1/incidents/export` and `/v1/incidents/{id}`, whose order matters.)
        "/v1/checklists/{key}/versions/{version}" => get: checklists::version;
        "/v1/jobs/{job_id}/signoffs" => get: signoffs::list, post: signoffs::create;
        "/v1/failures" => post: failures::create;
        "/healthz" => get: health::healthz;
        "/readyz" => get: health::readyz;
        "/metrics" => get: monitoring::metrics;
        "/openapi.json" => get: openapi::document;
        "/docs" => get: openapi::docs_page;
        "/docs/rapidoc-min.js" => get: openapi::docs_script;
        "/v1/auth/token" => post: auth::token;
        "/v1/auth/logout-all" => post: auth::logout_all;
        "/v1/users" => get: users::list, post: users::create;
        "/v1/users/{id}" => patch: users::update;
        "/v1/checklists" => get: checklists::list, post: checklists::publish;
        "/v1/checklists/{key}" => get: checklists::latest;
        "/v1/jobs" => post: jobs::create;
        "/v1/jobs/{job_id}" => get: jobs::get;
        "/v1/me/jobs" => get: jobs::mine;
        "/v1/me/pin" => put: auth::set_pin;
        "/v1/incidents" => get: incidents::list;
        "/v1/incidents/export" => get: incidents::export;
        "/v1/incidents/{id}" => get: incidents::get;
        "/v1/incidents/{id}/acknowledge" => post: incidents::acknowledge;
        "/v1/incidents/{id}/assign" => post: incidents::assign;
        "/v1/incidents/{id}/regrade" => post: incidents::regrade;
        "/v1/incidents/{id}/audit-file" => get: safety::audits::audit_file;
        "/v1/incidents/{id}/audit" => post: safety::audits::record_audit;
        "/v1/safety/audit-queue" => get: safety::audits::audit_queue;
        "/v1/make-safe-visits" => get: safety::make_safe::visits;
        "/v1/make-safe-visits/{id}/assign" => post: safety::make_safe::assign_visit;
        "/v1/messages" => get: messages::list;
        "/v1/messages/{id}/retry" => post: messages::retry;
        "/v1/metrics/recovery" => get: metrics::recovery;
        "/v1/recovery-cases" => get: recovery::list;
        "/v1/recovery-cases/{id}/fixed" => post: recovery::fixed;
        "/v1/recovery-cases/{id}/fix-visit" => post: recovery::fix_visit;
        "/v1/recovery-cases/{id}/explanation" => post: recovery::explain;
        "/v1/recovery-cases/{id}/apology" => get: recovery::apology_draft, post: recovery::apologise;
        "/v1/recovery-cases/{id}/remedies" => get: recovery::remedies;
        "/v1/recovery-cases/{id}/surprise" => get: recovery::surprise, post: recovery::record_surprise;
        "/v1/recovery-cases/{id}/remedy" => post: recovery::choose_remedy;
        "/v1/recovery-cases/{id}/remedy/approve" => post: recovery::approve_remedy;
        "/v1/retraining" => get: safety::retraining::retraining;
        "/v1/retraining/{id}/training-done" => post: safety::retraining::training_done;
        "/v1/disciplinary-cases" => get: safety::disciplinary::cases;
        "/v1/disciplinary-cases/{id}" => get: safety::disciplinary::case;
        "/v1/disciplinary-cases/{id}/review" => post: safety::disciplinary::review;
        "/v1/disciplinary-cases/{id}/statement" => post: safety::disciplinary::statement;
        "/v1/disciplinary-cases/{id}/decide" => post: safety::disciplinary::decide;
        "/v1/disciplinary-cases/{id}/approve" => post: safety::disciplinary::approve;
        "/v1/audit/head" => get: audit::head;
    }
}

/// Registers every route. Shared by `main` and the tests, so both run the same app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/feedback").service(pages()).default_service(web::to(not_found)));
    // The console answers in HTML too, under its own content policy (its script and styles).
    crate::console::routes(cfg);
    cfg.service(
        web::scope("")
            .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
            .app_data(extract::path_config())
            .service(api())
            .default_service(web::to(not_found)),
    );
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such route".to_owned()))
}

/// The `Allow` header of a route-table path: its methods, upper case.
fn allowed_methods(pattern: &str) -> Option<HeaderValue> {
    let methods: Vec<String> =
        ROUTES.iter().filter(|r| r.path == pattern).map(|r| r.method.to_ascii_uppercase()).collect();
    if methods.is_empty() { None } else { HeaderValue::from_str(&methods.join(", ")).ok() }
}

/// Errors produced outside our handlers (405 from routing, actix's own 4xx) leave without a
/// problem body; give them one, so every error a client sees is problem+json.
fn problem_for_bare_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let problem = HeaderValue::from_static("application/problem+json");
    if res.response().headers().get(CONTENT_TYPE) == Some(&problem) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let error = match status.as_u16() {
        404 => ApiError::NotFound("no such route".to_owned()),
        405 => ApiError::MethodNotAllowed(format!("{} is not allowed here", res.request().method())),
        413 => ApiError::PayloadTooLarge("the request body is larger than the service accepts".to_owned()),
        400..=499 => ApiError::BadRequest(status.canonical_reason().unwrap_or("bad request").to_owned()),
        _ => ApiError::Internal(anyhow::anyhow!("unhandled {status} response")),
    };
    let (req, _) = res.into_parts();
    let mut response = error.error_response().map_into_boxed_body();
    // A 405 names the methods the resource does allow (RFC 9110 §15.5.6).
    if status == actix_web::http::StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = req.match_pattern().and_then(|pattern| allowed_methods(&pattern))
    {
        response.headers_mut().insert(actix_web::http::header::ALLOW, allow);
    }
    let response: actix_web::HttpResponse<EitherBody<B, BoxBody>> = response.map_into_right_body();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, response)))
}
