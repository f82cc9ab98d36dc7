//! The HTTP surface (the README's "HTTP API" table): one module per resource. Handlers only
//! translate: extract → workflow (on the blocking pool) → response DTO.

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

/// Registers every route. Shared by `main` and the tests, so both run the same app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // The customer's feedback page answers in HTML (errors too), so it sits outside the
    // problem+json error handling below.
    cfg.service(web::resource("/feedback/{token}").get(feedback::form).post(feedback::submit));
    // The console answers in HTML too, under its own content policy (its script and styles).
    crate::console::routes(cfg);
    cfg.service(
        web::scope("")
            .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
            .app_data(extract::path_config())
            .service(web::resource("/healthz").get(health::healthz))
            .service(web::resource("/readyz").get(health::readyz))
            .service(web::resource("/v1/auth/token").post(auth::token))
            .service(web::resource("/v1/auth/logout-all").post(auth::logout_all))
            .service(web::resource("/v1/users").get(users::list).post(users::create))
            .service(web::resource("/v1/users/{id}").patch(users::update))
            .service(web::resource("/v1/checklists").get(checklists::list).post(checklists::publish))
            .service(web::resource("/v1/checklists/{key}").get(checklists::latest))
            .service(web::resource("/v1/checklists/{key}/versions/{version}").get(checklists::version))
            .service(web::resource("/v1/jobs").post(jobs::create))
            .service(web::resource("/v1/jobs/{job_id}").get(jobs::get))
            .service(web::resource("/v1/jobs/{job_id}/signoffs").get(signoffs::list).post(signoffs::create))
            .service(web::resource("/v1/me/jobs").get(jobs::mine))
            .service(web::resource("/v1/failures").post(failures::create))
            .service(web::resource("/v1/incidents").get(incidents::list))
            .service(web::resource("/v1/incidents/export").get(incidents::export))
            .service(web::resource("/v1/incidents/{id}").get(incidents::get))
            .service(web::resource("/v1/incidents/{id}/acknowledge").post(incidents::acknowledge))
            .service(web::resource("/v1/incidents/{id}/assign").post(incidents::assign))
            .service(web::resource("/v1/incidents/{id}/regrade").post(incidents::regrade))
            .service(web::resource("/v1/incidents/{id}/audit-file").get(safety::audit_file))
            .service(web::resource("/v1/incidents/{id}/audit").post(safety::record_audit))
            .service(web::resource("/v1/safety/audit-queue").get(safety::audit_queue))
            .service(web::resource("/v1/make-safe-visits").get(safety::visits))
            .service(web::resource("/v1/make-safe-visits/{id}/assign").post(safety::assign_visit))
            .service(web::resource("/v1/messages").get(messages::list))
            .service(web::resource("/v1/messages/{id}/retry").post(messages::retry))
            .service(web::resource("/v1/metrics/recovery").get(metrics::recovery))
            .service(web::resource("/v1/recovery-cases").get(recovery::list))
            .service(web::resource("/v1/recovery-cases/{id}/fixed").post(recovery::fixed))
            .service(web::resource("/v1/recovery-cases/{id}/fix-visit").post(recovery::fix_visit))
            .service(web::resource("/v1/recovery-cases/{id}/explanation").post(recovery::explain))
            .service(
                web::resource("/v1/recovery-cases/{id}/apology").get(recovery::apology_draft).post(recovery::apologise),
            )
            .service(web::resource("/v1/recovery-cases/{id}/remedies").get(recovery::remedies))
            .service(
                web::resource("/v1/recovery-cases/{id}/surprise")
                    .get(recovery::surprise)
                    .post(recovery::record_surprise),
            )
            .service(web::resource("/v1/recovery-cases/{id}/remedy").post(recovery::choose_remedy))
            .service(web::resource("/v1/recovery-cases/{id}/remedy/approve").post(recovery::approve_remedy))
            .service(web::resource("/v1/retraining").get(safety::retraining))
            .service(web::resource("/v1/retraining/{id}/training-done").post(safety::training_done))
            .service(web::resource("/v1/disciplinary-cases").get(safety::cases))
            .service(web::resource("/v1/disciplinary-cases/{id}").get(safety::case))
            .service(web::resource("/v1/disciplinary-cases/{id}/review").post(safety::review))
            .service(web::resource("/v1/disciplinary-cases/{id}/statement").post(safety::statement))
            .service(web::resource("/v1/disciplinary-cases/{id}/decide").post(safety::decide))
            .service(web::resource("/v1/disciplinary-cases/{id}/approve").post(safety::approve))
            .default_service(web::to(not_found)),
    );
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such route".to_owned()))
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
    let response = error.error_response().map_into_boxed_body();
    let response: actix_web::HttpResponse<EitherBody<B, BoxBody>> = response.map_into_right_body();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, response)))
}
