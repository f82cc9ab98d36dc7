//! Publishing checklist versions: validated, immutable, in order.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Actor, audit};
use super::{Error, FieldError};
use crate::catalogue::{canonical_body, content_hash};
use crate::db::{self, DbConnection, write_transaction};
use crate::domain::checklist::{self, ChecklistVersion};

/// What publishing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    New,
    /// The same content was already published under this version: nothing changed.
    AlreadyPublished,
}

/// Publishes `checklist` as a new immutable version. The same content again is a no-op; other
/// content under an existing version, or a version not above the latest, is a conflict.
pub fn publish(
    conn: &mut DbConnection,
    checklist: &ChecklistVersion,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Published, Error> {
    let problems = checklist::validate(checklist);
    if !problems.is_empty() {
        return Err(Error::Invalid(
            problems
                .into_iter()
                .map(|p| match p.item {
                    Some(item) => FieldError::new(format!("items[{item}].{}", p.field), p.message),
                    None => FieldError::new(p.field, p.message),
                })
                .collect(),
        ));
    }
    let version = i32::try_from(checklist.version).map_err(|_| Error::field("version", "is too large"))?;
    let body = canonical_body(checklist)?;
    match publish_in_transaction(conn, checklist, version, &body, actor, now) {
        // Another instance starting at the same moment published it first: look again, as it stored it.
        Err(err) if err.is_duplicate_in("checklist_versions") => {
            publish_in_transaction(conn, checklist, version, &body, actor, now)
        }
        done => done,
    }
}

fn publish_in_transaction(
    conn: &mut DbConnection,
    checklist: &ChecklistVersion,
    version: i32,
    body: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Published, Error> {
    write_transaction(conn, |conn| {
        if let Some(existing) = db::checklists::find(conn, &checklist.key, version)? {
            let stored: ChecklistVersion = serde_json::from_str(&existing.body).map_err(anyhow::Error::from)?;
            return if &stored == checklist {
                Ok(Published::AlreadyPublished)
            } else {
                Err(Error::Conflict(format!(
                    "{} v{} is already published with different content; published versions never change, publish v{} instead",
                    checklist.key,
                    checklist.version,
                    db::checklists::latest_version(conn, &checklist.key)?.unwrap_or(version) + 1
                )))
            };
        }
        if let Some(latest) = db::checklists::latest_version(conn, &checklist.key)?
            && latest > version
        {
            return Err(Error::Conflict(format!(
                "{} is already at v{latest}; a new version must be numbered above it",
                checklist.key
            )));
        }
        let hash = content_hash(body);
        db::checklists::insert(
            conn,
            &db::checklists::NewChecklistVersion {
                checklist_key: &checklist.key,
                version,
                title: &checklist.title,
                trade: trade_name(checklist),
                body,
                content_hash: &hash,
                published_at: now.naive_utc(),
                published_by: actor.id.as_deref(),
            },
        )?;
        let entity = format!("{}/v{}", checklist.key, checklist.version);
        audit(
            conn,
            actor,
            "checklist.published",
            ("checklist_version", &entity),
            json!({ "content_hash": hash }),
            now,
        )?;
        Ok(Published::New)
    })
}

fn trade_name(checklist: &ChecklistVersion) -> &'static str {
    use crate::domain::checklist::Trade;
    match checklist.trade {
        Trade::Gas => "gas",
        Trade::Electrical => "electrical",
        Trade::Telecom => "telecom",
        Trade::Plumbing => "plumbing",
    }
}

/// Counts of an import of a whole template directory.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub published: usize,
    pub unchanged: usize,
}

/// Publishes every version read from the template directory; stops at the first refusal.
pub fn import(
    conn: &mut DbConnection,
    versions: &[ChecklistVersion],
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    for checklist in versions {
        match publish(conn, checklist, actor, now) {
            Ok(Published::New) => report.published += 1,
            Ok(Published::AlreadyPublished) => report.unchanged += 1,
            Err(Error::Conflict(why)) => anyhow::bail!("checklist {} v{}: {why}", checklist.key, checklist.version),
            Err(Error::Invalid(errors)) => {
                let list: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
                anyhow::bail!("checklist {} v{} is invalid: {}", checklist.key, checklist.version, list.join("; "))
            }
            Err(other) => return Err(anyhow::anyhow!("checklist {} v{}: {other}", checklist.key, checklist.version)),
        }
    }
    Ok(report)
}
