//! The API document: OpenAPI 3.1, generated from the `#[utoipa::path]` annotation next to each
//! handler and the `ToSchema` derives on the DTOs, served at `GET /openapi.json`; and `GET /docs`,
//! a page that renders it with a vendored copy of RapiDoc, so it works without the internet.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, HeaderBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, PartialSchema, ToResponse};

use super::{audit, auth, checklists, failures, feedback, health, incidents, jobs, messages, metrics};
use super::{monitoring, recovery, safety, signoffs, users};
use crate::error::Problem;

/// RapiDoc 9.3.8 (MIT licence, `src/http/assets/rapidoc-LICENSE.txt`), `dist/rapidoc-min.js` from
/// the npm package `rapidoc`, unchanged (863 099 bytes).
const RAPIDOC_JS: &[u8] = include_bytes!("assets/rapidoc-min.js");

/// The docs page: RapiDoc from this service, the document from this service, and RapiDoc's web
/// fonts off (`load-fonts="false"`), so the page makes no request outside the service.
const DOCS_HTML: &str = include_str!("assets/docs.html");

/// What the docs page may do: run the service's own script, read the document and call the API
/// ("try it"), style itself inline (RapiDoc's components do), nothing else.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fieldproof",
        description = "Versioned field-service checklists, immutable sign-offs, failure grading and recovery. \
            Every error is `application/problem+json` (RFC 9457); a 422 lists `errors: [{field, message}]`; \
            a refusal (403) has a problem type of its own (`wrong-role`, `retraining-required`, ...), so clients \
            switch on `type`, never on `detail`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health::healthz,
        health::readyz,
        monitoring::metrics,
        document,
        docs_page,
        docs_script,
        auth::token,
        auth::logout_all,
        auth::set_pin,
        users::list,
        users::create,
        users::update,
        checklists::list,
        checklists::publish,
        checklists::latest,
        checklists::version,
        jobs::create,
        jobs::get,
        jobs::mine,
        signoffs::list,
        signoffs::create,
        failures::create,
        incidents::list,
        incidents::export,
        incidents::get,
        incidents::acknowledge,
        incidents::assign,
        incidents::regrade,
        safety::audits::audit_file,
        safety::audits::record_audit,
        safety::audits::audit_queue,
        safety::make_safe::visits,
        safety::make_safe::assign_visit,
        messages::list,
        messages::retry,
        metrics::recovery,
        recovery::list,
        recovery::fixed,
        recovery::fix_visit,
        recovery::explain,
        recovery::apology_draft,
        recovery::apologise,
        recovery::remedies,
        recovery::surprise,
        recovery::record_surprise,
        recovery::choose_remedy,
        recovery::approve_remedy,
        safety::retraining::retraining,
        safety::retraining::training_done,
        safety::disciplinary::cases,
        safety::disciplinary::case,
        safety::disciplinary::review,
        safety::disciplinary::statement,
        safety::disciplinary::decide,
        safety::disciplinary::approve,
        feedback::form,
        feedback::submit,
        audit::head,
    ),
    components(
        schemas(Problem),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            Gone,
            PayloadTooLarge,
            UnsupportedMediaType,
            PreconditionFailed,
            Invalid,
            PreconditionRequired,
            TooManyRequests,
            Internal,
            Unavailable
        )
    ),
    modifiers(&CommonResponses),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

/// `If-Match`: a change to an incident names the revision it was decided on.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(dead_code, reason = "describes a request header in the document; the handlers read it themselves")]
pub struct IfMatch {
    /// The incident's `ETag` from `GET /v1/incidents/{id}` (or `*`): 428 without it, 412 when stale.
    #[param(rename = "If-Match")]
    if_match: String,
}

/// `If-None-Match`: a client that holds a version asks only for a newer one.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(dead_code, reason = "describes a request header in the document; the handler reads it itself")]
pub struct IfNoneMatch {
    /// An `ETag` from an earlier response: 304 while it still matches.
    #[param(rename = "If-None-Match")]
    if_none_match: Option<String>,
}

/// Declares a reusable problem+json response per kind of error, for `response = NotFound`.
macro_rules! problem_responses {
    ($( $name:ident: $description:literal, )*) => {$(
        #[doc = $description]
        pub struct $name;

        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                (stringify!($name), problem($description).into())
            }
        }
    )*};
}

problem_responses! {
    BadRequest: "The body is not valid JSON or the request is malformed (`bad-request`).",
    Unauthorized: "No valid bearer token: missing, expired, or ended by a logout or account change (`unauthorized`).",
    Forbidden: "Refused: the caller's role may not take this step, or a rule refuses it; the problem type \
        names the refusal (`wrong-role`, `retraining-required`, `second-approver-required`, `technician-only`, \
        `signed-in-user-required`).",
    NotFound: "No such resource, or one the caller may not see (`not-found`).",
    Conflict: "Conflicts with the current state (`conflict`; `self-lockout` for an admin's own account).",
    Gone: "No longer available: the link was used or has expired (`gone`).",
    PayloadTooLarge: "The body is larger than the service accepts (`payload-too-large`).",
    UnsupportedMediaType: "Send the body as `Content-Type: application/json` (`unsupported-media-type`).",
    PreconditionFailed: "The `If-Match` ETag is stale: read the resource again (`precondition-failed`).",
    Invalid: "Invalid fields, each named in `errors` (`validation`).",
    PreconditionRequired: "Send `If-Match` with the resource's ETag (`precondition-required`).",
    Internal: "An unexpected error; the cause is logged, never sent (`internal`).",
    Unavailable: "The database is not reachable right now; retry shortly (`unavailable`).",
}

fn problem(description: &str) -> Response {
    let content = Content::new(Some(Ref::from_schema_name("Problem")));
    ResponseBuilder::new().description(description).content("application/problem+json", content).build()
}

/// 429 from a throttle of failed attempts (passwords, sign-off PINs), with the wait in `Retry-After`.
pub struct TooManyRequests;

impl<'s> ToResponse<'s> for TooManyRequests {
    fn response() -> (&'s str, RefOr<Response>) {
        let retry_after = HeaderBuilder::new()
            .schema(u64::schema())
            .description(Some("Seconds until the next attempt is allowed"))
            .build();
        let description = "Too many failed attempts for this username or client address (wrong passwords or \
            sign-off PINs): wait `Retry-After` seconds (`too-many-requests`).";
        let response = ResponseBuilder::from(problem(description)).header("Retry-After", retry_after).build();
        ("TooManyRequests", response.into())
    }
}

/// Adds what follows from the extractors rather than from each handler: the bearer scheme and 401
/// on every route that needs a token, 400/413/415/422 on every JSON body, 422 on query
/// parameters, and 500 everywhere. A route's own annotation wins where both speak.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut Document) {
        let scheme = SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build());
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", scheme);
        // The Prometheus scraper's token (`FIELDPROOF_METRICS_TOKEN`), not a user's JWT.
        let scrape = SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("metrics_token", scrape);
        for item in doc.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post, &mut item.put, &mut item.patch].into_iter().flatten() {
                let mut common: BTreeMap<&str, &str> = BTreeMap::new();
                // why: a route without its own `security` inherits the document's bearer requirement.
                if operation.security.is_none() {
                    common.insert("401", "Unauthorized");
                }
                if operation.request_body.is_some() {
                    common.extend([
                        ("400", "BadRequest"),
                        ("413", "PayloadTooLarge"),
                        ("415", "UnsupportedMediaType"),
                        ("422", "Invalid"),
                    ]);
                }
                let parameters = operation.parameters.iter().flatten();
                if parameters.into_iter().any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query) {
                    common.insert("422", "Invalid");
                }
                common.insert("500", "Internal");
                for (status, response) in common {
                    let responses = &mut operation.responses.responses;
                    responses.entry(status.to_owned()).or_insert_with(|| Ref::from_response_name(response).into());
                }
            }
        }
    }
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "documentation", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-cache")).json(ApiDoc::openapi())
}

/// The API document as a page (RapiDoc, served by the service itself).
#[utoipa::path(get, path = "/docs", tag = "documentation", security(()),
    responses((status = 200, description = "An HTML page rendering `/openapi.json`", content_type = "text/html")))]
pub async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, DOCS_CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(DOCS_HTML)
}

/// The docs page's script (RapiDoc 9.3.8, MIT).
#[utoipa::path(get, path = "/docs/rapidoc-min.js", tag = "documentation", security(()),
    responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
pub async fn docs_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(web::Bytes::from_static(RAPIDOC_JS))
}
