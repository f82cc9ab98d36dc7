//! Admin pages: users (add, change role, deactivate, reset a password) and checklists (list, and
//! any published version with its items).

use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::layout::{self, csrf, role_label, when};
use super::{ConsoleError, Flash, Staff, after_action};
use crate::AppState;
use crate::auth::Role;
use crate::db;
use crate::workflows;
use crate::workflows::users::{NewPassword, UserChange};

const ROLES: [Role; 4] = [Role::Technician, Role::Dispatcher, Role::SafetyOfficer, Role::Admin];

/// `GET /console/users`
pub async fn users(state: web::Data<AppState>, req: HttpRequest, staff: Staff) -> Result<HttpResponse, ConsoleError> {
    staff.require(&[Role::Admin])?;
    let users = state.db.query(db::users::list).await?;
    let body = html! {
        h1 { "Users" }
        section class="card" aria-labelledby="add-user" {
            h2 id="add-user" { "Add a user" }
            form method="post" action="/console/users" {
                (csrf(&staff))
                label for="new-username" { "Username" }
                input id="new-username" name="username" type="text" required autocomplete="off";
                label for="new-display-name" { "Full name" }
                input id="new-display-name" name="display_name" type="text" required;
                label for="new-role" { "Role" }
                select id="new-role" name="role" { @for role in ROLES { option value=(role.as_str()) { (role_label(role)) } } }
                label for="new-password" { "First password (at least 12 characters)" }
                input id="new-password" name="password" type="password" required minlength="12" autocomplete="new-password";
                button type="submit" { "Add user" }
            }
        }
        table {
            caption class="muted" { "Everyone, by username" }
            thead { tr { th scope="col" { "User" } th scope="col" { "Role" } th scope="col" { "Status" } th scope="col" { "Change" } } }
            tbody {
                @for user in &users {
                    tr {
                        td { strong { (user.username) } br; span class="muted" { (user.display_name) } }
                        td { (role_label(user.role)) }
                        td { @if user.active { "active" } @else { "deactivated" } br; span class="muted" { "since " (when(user.created_at)) } }
                        td {
                            form method="post" action={ "/console/users/" (user.id) } {
                                (csrf(&staff))
                                label for={ "role-" (user.id) } { "Role" }
                                select id={ "role-" (user.id) } name="role" {
                                    @for role in ROLES { option value=(role.as_str()) selected[role == user.role] { (role_label(role)) } }
                                }
                                label for={ "active-" (user.id) } { "Account" }
                                select id={ "active-" (user.id) } name="active" {
                                    option value="true" selected[user.active] { "active" }
                                    option value="false" selected[!user.active] { "deactivated" }
                                }
                                label for={ "password-" (user.id) } { "New password (leave empty to keep)" }
                                input id={ "password-" (user.id) } name="password" type="password" autocomplete="new-password";
                                button type="submit" class="secondary" { "Save " (user.username) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(super::page(&req, layout::shell(&staff, "Users", Flash::read(&req), body)))
}

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf: String,
    username: String,
    display_name: String,
    role: Role,
    password: String,
}

/// `POST /console/users`
pub async fn add_user(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    staff.require(&[Role::Admin])?;
    let NewUserForm { username, display_name, role, password, .. } = form.into_inner();
    let (app, actor) = (state.clone(), staff.actor());
    let done = format!("Added {}.", username.trim());
    let result = match new_password(password).await {
        Ok(password) => {
            state
                .db
                .run(move |conn| {
                    workflows::users::add(conn, &username, display_name.trim(), role, password, &actor, app.clock.now())
                })
                .await
        }
        Err(err) => Err(err),
    };
    after_action(&state, "/console/users", &done, result)
}

#[derive(Deserialize)]
pub struct ChangeUserForm {
    csrf: String,
    role: Role,
    active: bool,
    password: Option<String>,
}

/// `POST /console/users/{id}`: a role change, deactivation or password reset ends the user's
/// sessions (their session epoch moves on), as through the API.
pub async fn change_user(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
    form: web::Form<ChangeUserForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    staff.require(&[Role::Admin])?;
    let ChangeUserForm { role, active, password, .. } = form.into_inner();
    let (id, app, actor) = (id.into_inner().to_string(), state.clone(), staff.actor());
    let user_id = id.clone();
    let result = match password.filter(|p| !p.is_empty()).map(new_password) {
        Some(hashing) => hashing.await.map(Some),
        None => Ok(None),
    };
    let result = match result {
        Ok(password) => {
            let change = UserChange { display_name: None, role: Some(role), active: Some(active), password };
            state.db.run(move |conn| workflows::users::update(conn, &id, change, &actor, app.clock.now())).await
        }
        Err(err) => Err(err),
    };
    if result.is_ok() {
        state.sessions.forget(&user_id);
    }
    after_action(&state, "/console/users", "Saved.", result)
}

/// `GET /console/checklists`
pub async fn checklists(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(&[Role::Admin])?;
    let rows = state.db.query(db::checklists::list_latest).await?;
    let body = html! {
        h1 { "Checklists" }
        table {
            thead { tr { th scope="col" { "Checklist" } th scope="col" { "Trade" } th scope="col" { "Versions" } } }
            tbody {
                @for (key, title, trade, latest) in &rows {
                    tr {
                        td { strong { (title) } br; code class="muted" { (key) } }
                        td { (trade) }
                        td { @for version in (1..=*latest).rev() { a href={ "/console/checklists/" (key) "/v" (version) } { "v" (version) } " " } }
                    }
                }
            }
        }
    };
    Ok(super::page(&req, layout::shell(&staff, "Checklists", Flash::read(&req), body)))
}

/// `GET /console/checklists/{key}/v{version}`
pub async fn checklist(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    path: web::Path<(String, u32)>,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(&[Role::Admin])?;
    let (key, version) = path.into_inner();
    let app = state.clone();
    let published =
        state.db.run(move |conn| app.catalogue.version(conn, &key, version)).await?.ok_or(ConsoleError::NotFound)?;
    let checklist = &published.checklist;
    let title = format!("{} v{}", checklist.title, checklist.version);
    let body = html! {
        p { a href="/console/checklists" { "← Checklists" } }
        h1 { (title) }
        @if let Some(description) = &checklist.description { p { (description) } }
        table {
            thead { tr { th scope="col" { "Item" } th scope="col" { "Kind" } th scope="col" { "Required" } th scope="col" { "Passes when" } } }
            tbody {
                @for item in &checklist.items {
                    tr {
                        td { (item.prompt) br; code class="muted" { (item.id) } }
                        td { (format!("{:?}", item.kind).to_lowercase()) }
                        td { @if item.required { "yes" } @else { "no" } }
                        td { (pass_rule(item)) }
                    }
                }
            }
        }
    };
    Ok(super::page(&req, layout::shell(&staff, &title, Flash::read(&req), body)))
}

fn pass_rule(item: &crate::domain::checklist::Item) -> String {
    let json = serde_json::to_value(item).unwrap_or_default();
    match (&item.expected, json.get("min"), json.get("max")) {
        (Some(expected), ..) => format!("answered {}", if *expected { "yes" } else { "no" }),
        (None, Some(min), Some(max)) => format!("{min} to {max} {}", item.unit.as_deref().unwrap_or_default()),
        _ => json.get("failing_choices").map_or("answered".to_owned(), |f| format!("not one of {f}")),
    }
}

/// Checks and hashes a new password on the blocking pool, before any database connection is taken.
async fn new_password(plain: String) -> Result<NewPassword, workflows::Error> {
    web::block(move || NewPassword::hash(&plain))
        .await
        .map_err(|e| workflows::Error::Internal(anyhow::anyhow!("password hashing failed: {e}")))?
}
