//! The console: server-rendered pages for dispatchers, safety officers and admins, served by the
//! same binary. Pages read through `db/` and act through the same `workflows/` functions the API
//! calls, in the same transactions with the same audit entries; no business rule lives here.
//!
//! The session is an HttpOnly, SameSite=Strict cookie holding the same short-lived token the API
//! issues (so the session epoch ends it the same way); every form carries a CSRF token derived
//! from that session. After an action the page redirects (303) and shows the outcome once.

mod admin;
mod dashboard;
mod incidents;
mod layout;
mod queue;
mod recovery;
mod safety;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use maud::{Markup, html};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::{AuthUser, Role};
use crate::error::ApiError;
use crate::workflows::{self, Actor};

const SESSION_COOKIE: &str = "fieldproof_session";
const FLASH_COOKIE: &str = "fieldproof_flash";
const LOGIN_COOKIE: &str = "fieldproof_login";

/// The vendored htmx (2.0.11, BSD Zero Clause licence, `assets/htmx.LICENSE`), for partial updates.
const HTMX: &[u8] = include_bytes!("assets/htmx.min.js");
const CSS: &str = include_str!("assets/console.css");

/// Registers `/` and everything under `/console`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").get(|| async { see_other("/console") }));
    cfg.service(
        web::scope("/console")
            .wrap(actix_web::middleware::DefaultHeaders::new().add((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                     form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            )))
            .app_data(
                web::FormConfig::default().limit(64 * 1024).error_handler(|err, _| {
                    ConsoleError::BadRequest(format!("the form could not be read: {err}")).into()
                }),
            )
            .app_data(web::PathConfig::default().error_handler(|_, _| ConsoleError::NotFound.into()))
            .service(web::resource("").get(home))
            .service(web::resource("/assets/htmx.min.js").get(|| async { asset(HTMX, "text/javascript") }))
            .service(web::resource("/assets/console.css").get(|| async { asset(CSS.as_bytes(), "text/css") }))
            .service(web::resource("/login").get(login_page).post(login))
            .service(web::resource("/logout").post(logout))
            .service(web::resource("/queue").get(queue::page))
            .service(web::resource("/queue/items").get(queue::items))
            .service(web::resource("/incidents/{id}").get(incidents::page))
            .service(web::resource("/incidents/{id}/acknowledge").post(incidents::acknowledge))
            .service(web::resource("/incidents/{id}/assign").post(incidents::assign))
            .service(web::resource("/incidents/{id}/regrade").post(incidents::regrade))
            .service(web::resource("/incidents/{id}/audit").post(safety::record_audit))
            .service(web::resource("/make-safe/{id}/assign").post(incidents::assign_visit))
            .service(web::resource("/recovery/{id}").get(recovery::page))
            .service(web::resource("/recovery/{id}/{step}").post(recovery::act))
            .service(web::resource("/messages/{id}/retry").post(recovery::retry_message))
            .service(web::resource("/safety").get(safety::page))
            .service(web::resource("/cases/{id}").get(safety::case_page))
            .service(web::resource("/cases/{id}/{step}").post(safety::case_step))
            .service(web::resource("/dashboard").get(dashboard::page))
            .service(web::resource("/users").get(admin::users).post(admin::add_user))
            .service(web::resource("/users/{id}").post(admin::change_user))
            .service(web::resource("/checklists").get(admin::checklists))
            .service(web::resource("/checklists/{key}/v{version}").get(admin::checklist))
            .service(web::resource("/retraining/{id}/done").post(safety::training_done))
            .default_service(web::to(|| async { Err::<HttpResponse, _>(ConsoleError::NotFound) })),
    );
}

fn asset(body: &'static [u8], content_type: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// What goes wrong in a console request, rendered as a page (never JSON).
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("sign in first")]
    SignIn,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<workflows::Error> for ConsoleError {
    fn from(err: workflows::Error) -> Self {
        match err {
            workflows::Error::NotFound(_) => Self::NotFound,
            workflows::Error::Refused(_, why) => Self::Forbidden(why),
            workflows::Error::Unavailable(why) => Self::Unavailable(why),
            workflows::Error::Internal(cause) => Self::Internal(cause),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

impl From<crate::db::Error> for ConsoleError {
    fn from(err: crate::db::Error) -> Self {
        workflows::Error::from(err).into()
    }
}

impl From<crate::db::RunError> for ConsoleError {
    fn from(err: crate::db::RunError) -> Self {
        workflows::Error::from(err).into()
    }
}

impl From<diesel::result::Error> for ConsoleError {
    fn from(err: diesel::result::Error) -> Self {
        workflows::Error::from(err).into()
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn => StatusCode::SEE_OTHER,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            Self::SignIn => return see_other("/console/login"),
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "console error");
                "Something went wrong on our side; it has been logged.".to_owned()
            }
            Self::Unavailable(_) => "The database is not reachable right now; try again shortly.".to_owned(),
            Self::NotFound => "There is nothing here. It may have been removed, or the address is wrong.".to_owned(),
            other => other.to_string(),
        };
        let title = match self {
            Self::Forbidden(_) => "Not for your role",
            Self::NotFound => "Not found",
            _ => "Something went wrong",
        };
        let body = layout::bare(
            title,
            html! {
                h1 { (title) }
                p role="alert" { (message) }
                p { a href="/console" { "Back to the console" } }
            },
        );
        HttpResponse::build(self.status_code()).content_type("text/html; charset=utf-8").body(body.into_string())
    }
}

/// A signed-in console user: dispatcher, safety officer or admin. Technicians are pointed to
/// their app; anyone without a valid session is sent to the login page.
pub struct Staff {
    pub user: AuthUser,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl Staff {
    pub fn actor(&self) -> Actor {
        Actor::from(&self.user)
    }

    pub fn is(&self, roles: &[Role]) -> bool {
        roles.contains(&self.user.role)
    }

    /// Refuses the page to any other role.
    pub fn require(&self, roles: &[Role]) -> Result<(), ConsoleError> {
        if self.is(roles) { Ok(()) } else { Err(ConsoleError::Forbidden("This page is not for your role.".to_owned())) }
    }

    /// Checks a posted form's CSRF token.
    fn check(&self, posted: &str) -> Result<(), ConsoleError> {
        if constant_time_eq(posted.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(ConsoleError::BadRequest("This form has expired; reload the page and try again.".to_owned()))
        }
    }
}

impl FromRequest for Staff {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()).ok_or(ConsoleError::SignIn)?;
            let user = crate::auth::from_token(&req, &token).await.map_err(|_| ConsoleError::SignIn)?;
            if user.role == Role::Technician {
                return Err(ConsoleError::Forbidden(
                    "The console is for dispatchers, safety officers and admins. Technicians work in the fieldproof app."
                        .to_owned(),
                ));
            }
            let state = state(&req)?;
            renew_if_half_spent(state, &req, &token, &user);
            Ok(Staff { csrf: csrf_token(&state.settings.jwt.secret, &token), user })
        })
    }
}

/// A fresh session token for the page to set, once half the current one's lifetime has passed, so
/// a dispatcher working all day is not signed out mid-form. It carries the same session epoch: a
/// deactivation, role change or "sign out everywhere" still ends it.
struct RenewedSession(String);

fn renew_if_half_spent(state: &AppState, req: &HttpRequest, token: &str, user: &AuthUser) {
    let Ok(claims) = state.tokens.verify(token) else { return };
    let now = chrono::Utc::now();
    if claims.exp - now.timestamp() > state.tokens.ttl.num_seconds() / 2 {
        return;
    }
    // why: token expiry is checked against the system clock, so tokens are issued by it too.
    if let Ok(fresh) = state.tokens.issue(&user.id, &user.username, user.role, user.epoch, now) {
        req.extensions_mut().insert(RenewedSession(fresh));
    }
}

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ConsoleError> {
    req.app_data::<web::Data<AppState>>().ok_or_else(|| anyhow::anyhow!("application state missing").into())
}

/// A token bound to the session: a form posted from another site cannot know it.
fn csrf_token(secret: &[u8], session: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"fieldproof-console-csrf:");
    hasher.update(secret);
    hasher.update(session.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn secure_cookies(state: &AppState) -> bool {
    state.settings.customers.public_url.starts_with("https://")
}

fn cookie<'a>(state: &AppState, name: &'a str, value: String, path: &'a str) -> Cookie<'a> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_cookies(state))
        .finish()
}

/// The outcome of an action, shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flash {
    Done(String),
    Failed(String),
}

impl Flash {
    fn read(req: &HttpRequest) -> Option<Flash> {
        let raw = req.cookie(FLASH_COOKIE)?;
        let (kind, text) = raw.value().split_once(':')?;
        let text = String::from_utf8(hex::decode(text).ok()?).ok()?;
        match kind {
            "done" => Some(Flash::Done(text)),
            "failed" => Some(Flash::Failed(text)),
            _ => None,
        }
    }

    fn encode(&self) -> String {
        match self {
            Flash::Done(text) => format!("done:{}", hex::encode(text)),
            Flash::Failed(text) => format!("failed:{}", hex::encode(text)),
        }
    }
}

/// Redirects back to `location` after an action, with its outcome to show once. A business
/// refusal or a stale page is a message on the page, not an error page.
fn after_action<T>(
    state: &AppState,
    location: &str,
    done: &str,
    result: Result<T, workflows::Error>,
) -> Result<HttpResponse, ConsoleError> {
    let flash = match result {
        Ok(_) => Flash::Done(done.to_owned()),
        Err(workflows::Error::Stale(_)) => Flash::Failed(
            "Someone else changed this while you were looking at it. The page now shows what they did; check it and try again."
                .to_owned(),
        ),
        Err(workflows::Error::Invalid(errors)) => Flash::Failed(
            errors.iter().map(|e| format!("{}: {}", e.field.replace('_', " "), e.message)).collect::<Vec<_>>().join("; "),
        ),
        Err(workflows::Error::Internal(cause)) => return Err(ConsoleError::Internal(cause)),
        Err(workflows::Error::Unavailable(why)) => return Err(ConsoleError::Unavailable(why)),
        Err(other) => Flash::Failed(other.to_string()),
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .cookie(cookie(state, FLASH_COOKIE, flash.encode(), "/console"))
        .finish())
}

/// A page, clearing the flash it shows.
fn page(req: &HttpRequest, markup: Markup) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.content_type("text/html; charset=utf-8").insert_header((header::CACHE_CONTROL, "no-store"));
    if let (Some(renewed), Some(state)) =
        (req.extensions().get::<RenewedSession>(), req.app_data::<web::Data<AppState>>())
    {
        let mut session = cookie(state, SESSION_COOKIE, renewed.0.clone(), "/console");
        session.set_max_age(CookieAge::seconds(state.tokens.ttl.num_seconds()));
        response.cookie(session);
    }
    if req.cookie(FLASH_COOKIE).is_some() {
        let mut gone = Cookie::build(FLASH_COOKIE, "").path("/console").finish();
        gone.make_removal();
        response.cookie(gone);
    }
    response.body(markup.into_string())
}

async fn home(staff: Staff) -> HttpResponse {
    match staff.user.role {
        Role::SafetyOfficer => see_other("/console/safety"),
        _ => see_other("/console/queue"),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login_page(state: web::Data<AppState>) -> HttpResponse {
    login_form(&state, None, StatusCode::OK)
}

/// The login form with a fresh pre-session CSRF token in its own cookie.
fn login_form(state: &AppState, error: Option<&str>, status: StatusCode) -> HttpResponse {
    let token = hex::encode(uuid::Uuid::new_v4().as_bytes());
    let markup = layout::bare(
        "Sign in",
        html! {
            main class="login" {
                h1 { "fieldproof console" }
                @if let Some(error) = error { p class="flash failed" role="alert" { (error) } }
                form method="post" action="/console/login" {
                    input type="hidden" name="csrf" value=(token);
                    label for="username" { "Username" }
                    input id="username" name="username" type="text" autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
            }
        },
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie(state, LOGIN_COOKIE, token, "/console/login"))
        .body(markup.into_string())
}

async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ConsoleError> {
    let LoginForm { username, password, csrf } = form.into_inner();
    let expected = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), csrf.as_bytes()) {
        return Ok(login_form(&state, Some("The sign-in form expired; try again."), StatusCode::BAD_REQUEST));
    }
    let address = req.peer_addr().map(|a| a.ip());
    let outcome = crate::http::auth::sign_in(&state, username.trim(), password, address).await;
    let signed_in = match outcome {
        Ok(Ok(signed_in)) => signed_in,
        Ok(Err(locked)) => {
            let wait = locked.retry_after.as_secs().max(1);
            let message = format!("Too many failed sign-ins; try again in {wait} seconds.");
            return Ok(login_form(&state, Some(&message), StatusCode::TOO_MANY_REQUESTS));
        }
        Err(ApiError::Unauthorized(_) | ApiError::Validation(_)) => {
            return Ok(login_form(&state, Some("Unknown username or wrong password."), StatusCode::UNAUTHORIZED));
        }
        Err(other) => return Err(anyhow::anyhow!("sign-in failed: {other}").into()),
    };
    if signed_in.role == Role::Technician {
        return Ok(login_form(
            &state,
            Some("The console is for dispatchers, safety officers and admins. Technicians work in the fieldproof app."),
            StatusCode::FORBIDDEN,
        ));
    }
    let mut session = cookie(&state, SESSION_COOKIE, signed_in.token, "/console");
    session.set_max_age(CookieAge::seconds(state.tokens.ttl.num_seconds()));
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/console")).cookie(session).finish())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(staff: Staff, form: web::Form<CsrfForm>) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/console").finish();
    gone.make_removal();
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/console/login")).cookie(gone).finish())
}
