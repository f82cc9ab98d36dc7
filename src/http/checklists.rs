//! Checklists: list, latest, pinned versions (served from memory with strong ETags), publish.

use std::sync::Arc;

use actix_web::http::header::{self, ETag, EntityTag, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::extract::Json;
use super::openapi as doc;
use crate::AppState;
use crate::auth::{Admins, AuthUser, Require};
use crate::catalogue::PublishedVersion;
use crate::db;
use crate::domain::checklist::ChecklistVersion;
use crate::error::ApiError;
use crate::workflows::{Actor, checklists::Published};

/// A pinned version never changes: clients may keep it for a year without asking again.
const PINNED_CACHE: &str = "private, max-age=31536000, immutable";
/// "Latest" moves when a version is published: revalidate every time (cheap with the ETag).
const LATEST_CACHE: &str = "private, no-cache";

#[derive(Serialize, utoipa::ToSchema)]
struct ChecklistSummary {
    key: String,
    title: String,
    trade: String,
    latest_version: i32,
}

/// Every checklist with its latest version.
#[utoipa::path(get, path = "/v1/checklists", tag = "checklists", operation_id = "list_checklists",
    responses((status = 200, description = "Every checklist with its latest version", body = [ChecklistSummary])))]
pub async fn list(state: web::Data<AppState>, _user: AuthUser) -> Result<HttpResponse, ApiError> {
    let rows = state.db.query(db::checklists::list_latest).await?;
    let summaries: Vec<ChecklistSummary> = rows
        .into_iter()
        .map(|(key, title, trade, latest_version)| ChecklistSummary { key, title, trade, latest_version })
        .collect();
    Ok(HttpResponse::Ok().json(summaries))
}

/// The latest version of a checklist (revalidate with `If-None-Match`).
#[utoipa::path(get, path = "/v1/checklists/{key}", tag = "checklists",
    params(("key" = String, Path, description = "The checklist key, e.g. `broadband-install`"),
        doc::IfNoneMatch,
    ),
    responses(
        (status = 200, description = "The latest version (`Cache-Control: private, no-cache`)", body = ChecklistVersion,
            headers(("ETag" = String, description = "Strong ETag of this version"))),
        (status = 304, description = "`If-None-Match` names the latest version", headers(("ETag" = String))),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn latest(
    state: web::Data<AppState>,
    _user: AuthUser,
    req: HttpRequest,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = key.into_inner();
    let app = state.clone();
    let published = state
        .db
        .run(move |conn| {
            let latest = db::checklists::latest_version(conn, &key)?
                .ok_or_else(|| ApiError::NotFound(format!("no checklist `{key}`")))?;
            let version = u32::try_from(latest).map_err(anyhow::Error::from)?;
            app.catalogue
                .version(conn, &key, version)?
                .ok_or_else(|| ApiError::NotFound(format!("no checklist `{key}`")))
        })
        .await?;
    Ok(serve(&req, &published, LATEST_CACHE))
}

/// A pinned version, the same bytes for ever (cache it; `If-None-Match` gives 304).
#[utoipa::path(get, path = "/v1/checklists/{key}/versions/{version}", tag = "checklists",
    params(
        ("key" = String, Path, description = "The checklist key"),
        ("version" = String, Path, description = "The version number, `1` or `v1`"),
        doc::IfNoneMatch,
    ),
    responses(
        (status = 200, description = "The pinned version, never changed \
            (`Cache-Control: private, max-age=31536000, immutable`)", body = ChecklistVersion,
            headers(("ETag" = String, description = "Strong ETag of this version"))),
        (status = 304, description = "`If-None-Match` names this version", headers(("ETag" = String))),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn version(
    state: web::Data<AppState>,
    _user: AuthUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, raw_version) = path.into_inner();
    let missing = || ApiError::NotFound(format!("no version {raw_version} of checklist `{key}`"));
    let number = raw_version.strip_prefix('v').unwrap_or(&raw_version).parse::<u32>().map_err(|_| missing())?;
    // why: a pinned version never changes, so once in memory it is served without the database.
    let published = match state.catalogue.cached(&key, number) {
        Some(found) => Some(found),
        None => {
            let (app, lookup_key) = (state.clone(), key.clone());
            state.db.run(move |conn| app.catalogue.version(conn, &lookup_key, number)).await?
        }
    };
    let published = published.ok_or_else(missing)?;
    Ok(serve(&req, &published, PINNED_CACHE))
}

fn serve(req: &HttpRequest, published: &Arc<PublishedVersion>, cache_control: &'static str) -> HttpResponse {
    let unchanged = not_modified(req, &published.etag);
    let mut response = if unchanged { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    // why: `published.etag` is the strong tag, quotes and all, as the header carries it.
    response
        .insert_header((header::ETAG, published.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache_control));
    if unchanged { response.finish() } else { response.content_type("application/json").body(published.body.clone()) }
}

/// Whether `If-None-Match` names the version's tag (`etag`, quoted). An app sends back the one tag
/// it was given on one header line, so that is compared first, byte for byte; any other form (a
/// list, a weak tag, `*`, several lines) goes to actix-web's parser, which reads every line, passes
/// over items that are not tags, and refuses the whole header if a line is not text.
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    match req.headers().get_all(header::IF_NONE_MATCH).as_slice() {
        [] => false,
        [sent] if sent.as_bytes() == etag.as_bytes() => true,
        _ => {
            let tag = EntityTag::new_strong(etag.trim_matches('"').to_owned());
            match header::Header::parse(req) {
                Ok(IfNoneMatch::Any) => true,
                Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(&tag)),
                Err(_) => false,
            }
        }
    }
}

/// Publishes a checklist version (admin): new → 201, identical → 200, changed → 409.
#[utoipa::path(post, path = "/v1/checklists", tag = "checklists", request_body = ChecklistVersion,
    responses(
        (status = 201, description = "Published", body = ChecklistVersion,
            headers(("Location" = String, description = "The pinned version's URL"), ("ETag" = String))),
        (status = 200, description = "The identical version was already published", body = ChecklistVersion,
            headers(("Location" = String), ("ETag" = String))),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn publish(
    state: web::Data<AppState>,
    user: Require<Admins>,
    body: Json<ChecklistVersion>,
) -> Result<HttpResponse, ApiError> {
    let Json(checklist) = body;
    let app = state.clone();
    let actor = Actor::from(&*user);
    let (outcome, published) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let now = app.clock.now();
            let outcome = crate::workflows::checklists::publish(conn, &checklist, &actor, now)?;
            let published = app
                .catalogue
                .version(conn, &checklist.key, checklist.version)?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("published version not found")))?;
            Ok((outcome, published))
        })
        .await?;
    let location = format!("/v1/checklists/{}/versions/{}", published.checklist.key, published.checklist.version);
    let mut response = match outcome {
        Published::New => HttpResponse::Created(),
        Published::AlreadyPublished => HttpResponse::Ok(),
    };
    Ok(response
        .insert_header((header::LOCATION, location))
        .insert_header(ETag(EntityTag::new_strong(published.etag.trim_matches('"').to_owned())))
        .content_type("application/json")
        .body(published.body.clone()))
}
