//! `POST /v1/auth/token`: username + password for a short-lived bearer token.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::ValidJson;
use super::openapi as doc;
use crate::AppState;
use crate::auth::Role;
use crate::auth::throttle::LockedOut;
use crate::credentials::password;
use crate::db;
use crate::error::{ApiError, Problem};
use crate::workflows;

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    username: String,
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    role: Role,
}

/// Checks the password off the database pool (the connection goes back first) on a bounded number
/// of blocking threads, behind the sign-in throttle; audits sign-ins and lockouts.
#[utoipa::path(post, path = "/v1/auth/token", tag = "auth", security(()),
    summary = "Signs in: a short-lived bearer token for a username and password.",
    description = "Failed sign-ins are throttled per username and per client address: past the allowance, 429 \
        with `Retry-After` before any password is checked.",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A bearer token (`Cache-Control: no-store`)", body = TokenResponse),
        (status = 401, response = doc::Unauthorized),
        (status = 429, description = "Too many failed sign-ins (`too-many-requests`)", body = Problem,
            content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the next attempt is allowed"))),
        (status = 503, response = doc::Unavailable),
    ))]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ValidJson<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let ValidJson(TokenRequest { username, password: plain }) = body;
    let signed_in = match sign_in(&state, &username, plain, req.peer_addr().map(|a| a.ip())).await? {
        Ok(signed_in) => signed_in,
        Err(locked) => return Ok(too_many(locked)),
    };
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(TokenResponse {
        access_token: signed_in.token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl.num_seconds(),
        role: signed_in.role,
    }))
}

/// Who signed in, with their new token.
pub struct SignedIn {
    pub token: String,
    pub role: Role,
}

/// Signs a user in (the API's token route and the console's login page): the throttle, the
/// password check off the pool, the audit entry. `Ok(Err(_))` is a lockout (answer 429).
pub async fn sign_in(
    state: &AppState,
    username: &str,
    plain: String,
    address: Option<std::net::IpAddr>,
) -> Result<Result<SignedIn, LockedOut>, ApiError> {
    if let Err(locked) = state.sign_ins.check(username, address) {
        return Ok(Err(locked));
    }
    let lookup = username.to_owned();
    let user = state.db.query(move |conn| db::users::by_username(conn, &lookup)).await?;
    let permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|_| ApiError::Unavailable("the service is shutting down".to_owned()))?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = web::block(move || match hash {
        Some(hash) => password::verify(&plain, &hash),
        None => {
            password::verify_dummy(&plain);
            false
        }
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("password check failed: {e}")))?;
    drop(permit);
    let now = state.clock.now();
    let user = match user {
        Some(user) if matches && user.active => user,
        known => {
            if let Some(locked) = state.sign_ins.failed(username, address) {
                let (user_id, who) = (known.map(|u| u.id), username.to_owned());
                let why = if locked.username { "username" } else { "client address" };
                state
                    .db
                    .run(move |conn| {
                        workflows::users::record_lockout(
                            conn,
                            user_id.as_deref(),
                            &who,
                            address,
                            why,
                            locked.retry_after,
                            now,
                        )
                    })
                    .await?;
            }
            return Err(ApiError::Unauthorized("unknown username or wrong password".to_owned()));
        }
    };
    state.sign_ins.succeeded(username);
    let role = Role::parse(&user.role).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("user has unknown role")))?;
    let (user_id, name) = (user.id.clone(), user.username.clone());
    state.db.run(move |conn| workflows::users::record_sign_in(conn, &user_id, &name, address, now)).await?;
    // why: token expiry is checked against the system clock, so tokens are issued by it too.
    let token = state.tokens.issue(&user.id, &user.username, role, user.session_epoch, chrono::Utc::now())?;
    Ok(Ok(SignedIn { token, role }))
}

/// 429 with `Retry-After` (whole seconds, rounded up) as problem+json.
fn too_many(locked: LockedOut) -> HttpResponse {
    let seconds = locked.retry_after.as_secs() + u64::from(locked.retry_after.subsec_nanos() > 0);
    let mut response = ApiError::TooManyRequests(format!(
        "too many failed sign-ins for this {}; try again in {seconds} s",
        if locked.username { "username" } else { "address" }
    ))
    .error_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(actix_web::http::header::RETRY_AFTER, value);
    }
    response
}

/// `POST /v1/auth/logout-all`: every token the caller holds, this one included, stops working.
#[utoipa::path(post, path = "/v1/auth/logout-all", tag = "auth",
    responses((status = 204, description = "Every token the caller holds, this one included, stops working")))]
pub async fn logout_all(state: web::Data<AppState>, user: crate::auth::AuthUser) -> Result<HttpResponse, ApiError> {
    let (actor, id, now) = (workflows::Actor::from(&user), user.id.clone(), state.clock.now());
    state.db.run(move |conn| workflows::users::sign_out_everywhere(conn, &actor, now)).await?;
    state.sessions.forget(&id);
    Ok(HttpResponse::NoContent().finish())
}
