//! The customer's feedback form: one screen behind a signed, single-use, expiring link. Customers
//! are not users, so there is no sign-in; the link is the credential. Browsers post the form and
//! get pages (errors name the field on the page); integrations may post JSON and get JSON or
//! problem+json.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::{Deserialize, Serialize};

use super::extract;
use crate::AppState;
use crate::db::DbConnection;
use crate::db::feedback::FeedbackRow;
use crate::error::{ApiError, FieldError, Problem};
use crate::workflows::{
    self,
    messages::{self, FeedbackAnswer},
};

const TEXT_LIMIT: usize = 2000;

/// The form's fields as posted (all text, so every mistake can be named rather than rejected whole).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct FormFields {
    satisfaction: Option<String>,
    surprised: Option<String>,
    surprise_note: Option<String>,
    comment: Option<String>,
}

/// The same answer as JSON.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct JsonAnswer {
    #[schema(minimum = 1, maximum = 5)]
    satisfaction: i64,
    surprised: bool,
    surprise_note: Option<String>,
    comment: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct FeedbackResponse {
    id: String,
    recovery_case_id: String,
    satisfaction: Option<i32>,
    surprised: Option<bool>,
    surprise_note: Option<String>,
    comment: Option<String>,
    answered_at: Option<DateTime<Utc>>,
}

impl From<FeedbackRow> for FeedbackResponse {
    fn from(row: FeedbackRow) -> Self {
        Self {
            id: row.id,
            recovery_case_id: row.recovery_case_id,
            satisfaction: row.satisfaction,
            surprised: row.surprised,
            surprise_note: row.surprise_note,
            comment: row.comment,
            answered_at: row.answered_at.map(|t| t.and_utc()),
        }
    }
}

/// `GET /feedback/{token}`: the form, or a page saying why it is not available.
#[utoipa::path(get, path = "/feedback/{token}", tag = "feedback", security(()),
    params(("token" = String, Path, description = "The signed token of the customer's link")),
    responses(
        (status = 200, description = "The feedback form", content_type = "text/html"),
        (status = 404, description = "Not a link of ours (a page)", content_type = "text/html"),
        (status = 410, description = "The link was used or has expired (a page)", content_type = "text/html"),
    ))]
pub async fn form(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    match open(&state, token.into_inner()).await {
        Ok(_) => page(StatusCode::OK, form_page(&FormFields::default(), &[])),
        Err(err) => error_page(&err),
    }
}

/// `POST /feedback/{token}`: stores the answer, once.
#[utoipa::path(post, path = "/feedback/{token}", tag = "feedback", security(()),
    params(("token" = String, Path, description = "The signed token of the customer's link")),
    request_body(description = "The form as a browser posts it, or the same answer as JSON",
        content((FormFields = "application/x-www-form-urlencoded"), (JsonAnswer = "application/json"))),
    responses(
        (status = 200, description = "Stored: a thank-you page for a form, the answer for JSON", content(
            ("text/html"), (FeedbackResponse = "application/json"))),
        (status = 404, description = "Not a link of ours",
            content(("text/html"), (Problem = "application/problem+json"))),
        (status = 410, description = "The link was used or has expired",
            content(("text/html"), (Problem = "application/problem+json"))),
        (status = 422, description = "Invalid fields: the form again naming them, or a problem listing them",
            content(("text/html"), (Problem = "application/problem+json"))),
    ))]
pub async fn submit(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let body = match body {
        Ok(body) => body,
        // Too large or unreadable: the same problem+json as every other route.
        Err(err) if err.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::PayloadTooLarge("the request body is larger than the service accepts".to_owned())
                .error_response();
        }
        Err(err) => return ApiError::BadRequest(format!("cannot read the request body: {err}")).error_response(),
    };
    let is_json = req.mime_type().ok().flatten().is_some_and(|m| m.subtype() == "json");
    if is_json {
        return match submit_json(&state, token.into_inner(), &body).await {
            Ok(row) => HttpResponse::Ok().json(FeedbackResponse::from(row)),
            Err(err) => err.error_response(),
        };
    }
    let fields: FormFields = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let answer = match from_form(&fields) {
        Ok(answer) => answer,
        Err(errors) => {
            // Tell a stale or used link apart from a mistake in the form.
            return match open(&state, token.into_inner()).await {
                Ok(_) => page(StatusCode::UNPROCESSABLE_ENTITY, form_page(&fields, &errors)),
                Err(err) => error_page(&err),
            };
        }
    };
    match store(&state, token.into_inner(), answer).await {
        Ok(_) => page(StatusCode::OK, notice_page("Thank you. Your answer helps us get better.")),
        Err(err) => error_page(&err),
    }
}

async fn submit_json(state: &web::Data<AppState>, token: String, body: &[u8]) -> Result<FeedbackRow, ApiError> {
    let answer: JsonAnswer = extract::parse(body)?;
    let fields = FormFields {
        satisfaction: Some(answer.satisfaction.to_string()),
        surprised: Some(answer.surprised.to_string()),
        surprise_note: answer.surprise_note,
        comment: answer.comment,
    };
    let answer = from_form(&fields).map_err(ApiError::Validation)?;
    store(state, token, answer).await
}

async fn open(state: &web::Data<AppState>, token: String) -> Result<FeedbackRow, ApiError> {
    on_link(state, token, messages::open_feedback).await
}

async fn store(state: &web::Data<AppState>, token: String, answer: FeedbackAnswer) -> Result<FeedbackRow, ApiError> {
    on_link(state, token, move |conn, id, now| messages::give_feedback(conn, id, answer, now)).await
}

/// Verifies the link's token, then works on the feedback request it names.
async fn on_link<T: Send + 'static>(
    state: &web::Data<AppState>,
    token: String,
    work: impl FnOnce(&mut DbConnection, &str, DateTime<Utc>) -> Result<T, workflows::Error> + Send + 'static,
) -> Result<T, ApiError> {
    let now = state.clock.now();
    let id = state.links.verify(&token, now)?;
    Ok(state.db.run(move |conn| work(conn, &id, now)).await?)
}

/// Checks the posted fields; every problem is named.
fn from_form(fields: &FormFields) -> Result<FeedbackAnswer, Vec<FieldError>> {
    let mut errors = Vec::new();
    let satisfaction = match fields.satisfaction.as_deref().map(str::trim).map(str::parse::<i32>) {
        Some(Ok(n)) if (1..=5).contains(&n) => n,
        _ => {
            errors.push(FieldError::new("satisfaction", "choose how satisfied you are, from 1 to 5"));
            0
        }
    };
    let surprised = match fields.surprised.as_deref().map(str::trim) {
        Some("yes" | "true") => true,
        Some("no" | "false") => false,
        _ => {
            errors.push(FieldError::new("surprised", "answer yes or no"));
            false
        }
    };
    let text = |field: &str, value: &Option<String>, errors: &mut Vec<FieldError>| {
        let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
        if value.chars().count() > TEXT_LIMIT {
            errors.push(FieldError::new(field, format!("keep it under {TEXT_LIMIT} characters")));
        }
        Some(value.to_owned())
    };
    let surprise_note = text("surprise_note", &fields.surprise_note, &mut errors);
    let comment = text("comment", &fields.comment, &mut errors);
    if errors.is_empty() { Ok(FeedbackAnswer { satisfaction, surprised, surprise_note, comment }) } else { Err(errors) }
}

fn page(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        // why: the link is the credential; keep it out of caches and other sites' referrer logs.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(markup.into_string())
}

fn layout(content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "How did we do?" }
                style { (STYLE) }
            }
            body { main { (content) } }
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f5f5f2;color:#222}\
main{max-width:32rem;margin:0 auto;padding:1.25rem}fieldset{border:0;padding:0;margin:0 0 1rem}\
legend{font-weight:600;margin-bottom:.4rem}.scale{display:flex;gap:.4rem}.scale label{flex:1;text-align:center;\
border:1px solid #bbb;border-radius:.4rem;padding:.5rem 0;background:#fff}textarea{width:100%;min-height:4rem;\
box-sizing:border-box}button{font-size:1rem;padding:.6rem 1.4rem}.error{color:#a00;font-weight:600}";

fn form_page(fields: &FormFields, errors: &[FieldError]) -> Markup {
    let error = |field: &str| errors.iter().find(|e| e.field == field).map(|e| e.message.clone());
    let chosen = fields.satisfaction.as_deref().unwrap_or_default();
    let surprised = fields.surprised.as_deref().unwrap_or_default();
    layout(html! {
        h1 { "How did we do?" }
        p { "We got something wrong, and we tried to put it right. Three quick questions." }
        form method="post" {
            fieldset {
                legend { "How satisfied are you with how we put it right? (1 = not at all, 5 = very)" }
                @if let Some(message) = error("satisfaction") { p.error { (message) } }
                div.scale {
                    @for n in 1..=5 {
                        label {
                            input type="radio" name="satisfaction" value=(n) required checked[chosen == n.to_string()];
                            " " (n)
                        }
                    }
                }
            }
            fieldset {
                legend { "Did anything we did surprise you?" }
                @if let Some(message) = error("surprised") { p.error { (message) } }
                label { input type="radio" name="surprised" value="yes" required checked[surprised == "yes"]; " Yes" }
                " "
                label { input type="radio" name="surprised" value="no" checked[surprised == "no"]; " No" }
                p {
                    label for="surprise_note" { "If so, what?" }
                    @if let Some(message) = error("surprise_note") { span.error { " " (message) } }
                    textarea id="surprise_note" name="surprise_note" maxlength=(TEXT_LIMIT) {
                        (fields.surprise_note.as_deref().unwrap_or_default())
                    }
                }
            }
            fieldset {
                label for="comment" { "Anything else you would like to tell us?" }
                @if let Some(message) = error("comment") { span.error { " " (message) } }
                textarea id="comment" name="comment" maxlength=(TEXT_LIMIT) {
                    (fields.comment.as_deref().unwrap_or_default())
                }
            }
            button type="submit" { "Send" }
        }
    })
}

/// The page for a link that cannot be used, or for our own failure (whose cause stays in the log).
fn error_page(err: &ApiError) -> HttpResponse {
    let status = err.status_code();
    if status.is_server_error() {
        tracing::error!(error = %err, "feedback page failed");
        return page(status, notice_page("Something went wrong on our side. Please try again in a little while."));
    }
    page(status, notice_page(&err.to_string()))
}

fn notice_page(message: &str) -> Markup {
    layout(html! { h1 { "How did we do?" } p { (message) } })
}
