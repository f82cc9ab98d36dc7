//! `POST /v1/auth/token`: username + password for a short-lived bearer token.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::ValidJson;
use crate::AppState;
use crate::auth::{Role, password};
use crate::db;
use crate::error::ApiError;

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[validate(length(min = 1, max = 64))]
    username: String,
    #[validate(length(min = 1, max = 1024))]
    password: String,
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    role: Role,
}

pub async fn token(state: web::Data<AppState>, body: ValidJson<TokenRequest>) -> Result<HttpResponse, ApiError> {
    let ValidJson(TokenRequest { username, password: plain }) = body;
    let user = state
        .db
        .run(move |conn| {
            let user = db::users::by_username(conn, &username)?;
            Ok(match user {
                Some(user) if password::verify(&plain, &user.password_hash) && user.active => Some(user),
                Some(_) => None,
                None => {
                    password::verify_dummy(&plain);
                    None
                }
            })
        })
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown username or wrong password".to_owned()))?;
    let role = Role::parse(&user.role).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("user has unknown role")))?;
    // why: token expiry is checked against the system clock, so tokens are issued by it too.
    let access_token = state.tokens.issue(&user.id, &user.username, role, chrono::Utc::now())?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl.num_seconds(),
        role,
    }))
}
