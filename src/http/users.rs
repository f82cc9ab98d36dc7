//! `/v1/users`: admins manage who can sign in and with which role.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::ValidJson;
use super::openapi as doc;
use super::page::Items;
use crate::AppState;
use crate::auth::{Admins, Require, Role};
use crate::db::{self, users::UserRow};
use crate::error::ApiError;
use crate::workflows::users::{NewPassword, UserChange};
use crate::workflows::{self, Actor};

#[derive(Serialize, utoipa::ToSchema)]
struct UserResponse {
    id: String,
    username: String,
    display_name: String,
    role: String,
    active: bool,
    created_at: DateTime<Utc>,
}

impl From<UserRow> for UserResponse {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role: row.role.to_string(),
            active: row.active,
            created_at: row.created_at.and_utc(),
        }
    }
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    username: String,
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    display_name: Option<String>,
    role: Role,
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    password: String,
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    display_name: Option<String>,
    role: Option<Role>,
    active: Option<bool>,
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    password: Option<String>,
}

/// `GET /v1/users`: everyone, by username.
#[utoipa::path(get, path = "/v1/users", tag = "users", operation_id = "list_users",
    responses(
        (status = 200, description = "Everyone, by username (admin)", body = Items<UserResponse>),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn list(state: web::Data<AppState>, _admin: Require<Admins>) -> Result<HttpResponse, ApiError> {
    let rows = state.db.query(db::users::list).await?;
    let items: Vec<UserResponse> = rows.into_iter().map(UserResponse::from).collect();
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// `POST /v1/users`: a new active user (409 when the username is taken).
#[utoipa::path(post, path = "/v1/users", tag = "users", operation_id = "create_user", request_body = NewUser,
    responses(
        (status = 201, description = "The new active user", body = UserResponse),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    admin: Require<Admins>,
    body: ValidJson<NewUser>,
) -> Result<HttpResponse, ApiError> {
    let (new, actor, app) = (body.0, Actor::from(&*admin), state.clone());
    let password = new_password(new.password.clone()).await?;
    let row = state
        .db
        .run(move |conn| {
            let name = new.display_name.unwrap_or_default();
            workflows::users::add(conn, &new.username, &name, new.role, password, &actor, app.clock.now())
        })
        .await?;
    Ok(HttpResponse::Created().json(UserResponse::from(row)))
}

/// `PATCH /v1/users/{id}`: display name, role, active, or a password reset.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", operation_id = "update_user", request_body = UserPatch,
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "The user as changed (audited without the password)", body = UserResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    admin: Require<Admins>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<UserPatch>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.0;
    let password = match patch.password {
        Some(plain) => Some(new_password(plain).await?),
        None => None,
    };
    let change = UserChange { display_name: patch.display_name, role: patch.role, active: patch.active, password };
    let (id, actor, app) = (id.into_inner().to_string(), Actor::from(&*admin), state.clone());
    let row = state.db.run(move |conn| workflows::users::update(conn, &id, change, &actor, app.clock.now())).await?;
    state.sessions.forget(&row.id);
    Ok(HttpResponse::Ok().json(UserResponse::from(row)))
}

/// Checks and hashes a new password on the blocking pool, before any database connection is taken.
async fn new_password(plain: String) -> Result<NewPassword, ApiError> {
    web::block(move || NewPassword::hash(&plain))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("password hashing failed: {e}")))?
        .map_err(ApiError::from)
}
