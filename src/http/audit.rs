//! The audit chains' heads: the latest hash and row count of each chain (audit entries, sign-offs,
//! failure reports), for an operator to copy somewhere the database's writers cannot reach.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::openapi as doc;
use crate::AppState;
use crate::auth::{Require, SafetyReaders};
use crate::db;
use crate::error::ApiError;

#[derive(Serialize, utoipa::ToSchema)]
struct ChainHead {
    /// The chained table: `audit_log`, `signoffs` or `failure_reports`.
    chain: String,
    /// Rows in the chain.
    rows: i64,
    /// SHA-256 (hex) of the chain's last row; 64 zeros while it is empty.
    head_hash: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ChainHeads {
    chains: Vec<ChainHead>,
}

/// The latest hash and row count of each audit chain, covering every write acknowledged before the
/// request; `fieldproof audit verify` prints the same.
#[utoipa::path(get, path = "/v1/audit/head", tag = "audit",
    responses(
        (status = 200, description = "Each chain's row count and last hash", body = ChainHeads),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn head(state: web::Data<AppState>, _user: Require<SafetyReaders>) -> Result<HttpResponse, ApiError> {
    // Rows the linker has not reached yet are linked first, so the head covers every write
    // acknowledged before this request.
    let linking = state.db.clone();
    web::block(move || linking.link_now()).await.map_err(anyhow::Error::from).and_then(|linked| linked)?;
    let heads = state.db.query(db::chain::heads).await?;
    let chains =
        heads.into_iter().map(|h| ChainHead { chain: h.chain, rows: h.length, head_hash: h.head_hash }).collect();
    Ok(HttpResponse::Ok().json(ChainHeads { chains }))
}
