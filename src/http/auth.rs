//! `POST /v1/auth/token`: username + password for a short-lived bearer token; signing out
//! everywhere; and the technician's sign-off PIN (`PUT /v1/me/pin`), checked before a sign-off.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::ValidJson;
use super::openapi as doc;
use crate::AppState;
use crate::auth::throttle::LockedOut;
use crate::auth::{AuthUser, Require, Role, Technicians};
use crate::credentials::password;
use crate::db;
use crate::error::{ApiError, Refusal};
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
        (status = 429, response = doc::TooManyRequests),
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
        Err(locked) => return Ok(too_many(locked, "sign-ins")),
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
    let role = user.role;
    let (user_id, name) = (user.id.clone(), user.username.clone());
    state.db.run(move |conn| workflows::users::record_sign_in(conn, &user_id, &name, address, now)).await?;
    // why: token expiry is checked against the system clock, so tokens are issued by it too.
    let token = state.tokens.issue(&user.id, &user.username, role, user.session_epoch, chrono::Utc::now())?;
    Ok(Ok(SignedIn { token, role }))
}

/// 429 with `Retry-After` (whole seconds, rounded up) as problem+json; `what` failed too often.
pub fn too_many(locked: LockedOut, what: &str) -> HttpResponse {
    let seconds = locked.retry_after.as_secs() + u64::from(locked.retry_after.subsec_nanos() > 0);
    let mut response = ApiError::TooManyRequests(format!(
        "too many failed {what} for this {}; try again in {seconds} s",
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
pub async fn logout_all(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let (actor, id, now) = (workflows::Actor::from(&user), user.id.clone(), state.clock.now());
    state.db.run(move |conn| workflows::users::sign_out_everywhere(conn, &actor, now)).await?;
    state.sessions.forget(&id);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinRequest {
    /// The technician's current password.
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    password: String,
    /// The new sign-off PIN: 4 to 8 digits.
    #[validate(custom(function = "well_formed_pin"))]
    #[schema(pattern = "^[0-9]{4,8}$", example = "482913")]
    pin: String,
}

/// The validator rule for a sign-off PIN (its message says what a PIN must be).
pub fn well_formed_pin(pin: &str) -> Result<(), validator::ValidationError> {
    if password::is_well_formed_pin(pin) {
        return Ok(());
    }
    Err(validator::ValidationError::new("pin").with_message(format!("must be {}", password::PIN_RULE).into()))
}

/// `PUT /v1/me/pin`: a technician sets or changes their own sign-off PIN, with their current password.
#[utoipa::path(put, path = "/v1/me/pin", tag = "auth", operation_id = "set_signoff_pin", request_body = PinRequest,
    summary = "Sets or changes the caller's sign-off PIN (technicians).",
    description = "The PIN (4 to 8 digits) re-authenticates the technician at each sign-off; it is stored as an \
        Argon2id hash and never shown. The current password is checked like a sign-in: wrong ones count towards \
        the sign-in throttle. Audited as `user.pin_set` or `user.pin_changed`, without the PIN.",
    responses(
        (status = 204, description = "The PIN is set"),
        (status = 403, response = doc::Forbidden),
        (status = 429, response = doc::TooManyRequests),
    ))]
pub async fn set_pin(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Require<Technicians>,
    body: ValidJson<PinRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = user.0;
    let ValidJson(PinRequest { password: plain, pin }) = body;
    let address = req.peer_addr().map(|a| a.ip());
    if let Err(locked) = state.sign_ins.check(&user.username, address) {
        return Ok(too_many(locked, "sign-ins"));
    }
    let id = user.id.clone();
    let account = state
        .db
        .query(move |conn| db::users::by_id(conn, &id))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".to_owned()))?;
    let permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|_| ApiError::Unavailable("the service is shutting down".to_owned()))?;
    // Off the pool: the password check and the PIN's hash are both Argon2.
    let pin_hash = web::block(move || {
        if password::verify(&plain, &account.password_hash) { password::hash(&pin).map(Some) } else { Ok(None) }
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("password check failed: {e}")))??;
    drop(permit);
    let (actor, now) = (workflows::Actor::from(&user), state.clock.now());
    let Some(pin_hash) = pin_hash else {
        if let Some(locked) = state.sign_ins.failed(&user.username, address) {
            let (id, name) = (user.id.clone(), user.username.clone());
            let why = if locked.username { "username" } else { "client address" };
            state
                .db
                .run(move |conn| {
                    workflows::users::record_lockout(conn, Some(&id), &name, address, why, locked.retry_after, now)
                })
                .await?;
        }
        return Err(ApiError::Refused(Refusal::ReauthenticationFailed, "the password is not correct".to_owned()));
    };
    state.db.run(move |conn| workflows::users::set_pin(conn, &actor, &pin_hash, now)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Re-authenticates a technician with their sign-off PIN (21 CFR 11.200), behind the PIN throttle:
/// the hash is read on a pooled connection that goes back before Argon2 runs, and a lockout is
/// audited. The PIN is neither kept nor logged. `Ok(Err(_))` is a lockout (answer 429).
pub async fn reauthenticate(
    state: &AppState,
    user: &AuthUser,
    pin: String,
    address: Option<std::net::IpAddr>,
) -> Result<Result<(), LockedOut>, ApiError> {
    if let Err(locked) = state.pin_attempts.check(&user.username, address) {
        return Ok(Err(locked));
    }
    let id = user.id.clone();
    let Some(pin_hash) = state.db.query(move |conn| db::users::pin_hash(conn, &id)).await? else {
        return Err(ApiError::Refused(
            Refusal::PinNotSet,
            "set your sign-off PIN first (PUT /v1/me/pin); this service re-authenticates sign-offs with it".to_owned(),
        ));
    };
    let permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|_| ApiError::Unavailable("the service is shutting down".to_owned()))?;
    let matches = web::block(move || password::verify(&pin, &pin_hash))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("PIN check failed: {e}")))?;
    drop(permit);
    if matches {
        state.pin_attempts.succeeded(&user.username);
        return Ok(Ok(()));
    }
    if let Some(locked) = state.pin_attempts.failed(&user.username, address) {
        let (actor, now) = (workflows::Actor::from(user), state.clock.now());
        state
            .db
            .run(move |conn| workflows::users::record_pin_lockout(conn, &actor, address, locked.retry_after, now))
            .await?;
    }
    Err(ApiError::Refused(Refusal::ReauthenticationFailed, "the sign-off PIN is not correct".to_owned()))
}
