//! Keyset pages of the work lists ordered by deadline (recovery cases, make-safe visits):
//! `?limit=&cursor=`, answered with `next_cursor` (null on the last page).

use chrono::{DateTime, NaiveDateTime};
use serde::Serialize;

use crate::error::{ApiError, FieldError};

/// A whole list: `{"items": [...]}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// One page of a list: `next_cursor` goes back as `?cursor=` for the next page; null on the last.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 500;

/// A cursor's time, if it is one the service could have handed out (1970 to 9999): anything else
/// is a forged cursor, refused before it reaches the database.
pub fn cursor_time(micros: i64) -> Option<NaiveDateTime> {
    let at = DateTime::from_timestamp_micros(micros)?;
    (at.timestamp() >= 0 && chrono::Datelike::year(&at) <= 9999).then(|| at.naive_utc())
}

/// Where a page starts (after this deadline and id) and how long it is.
#[derive(Debug, Clone)]
pub struct DuePage {
    pub after: Option<(NaiveDateTime, String)>,
    pub limit: i64,
}

impl DuePage {
    /// Reads `cursor` and `limit`; each bad one is named.
    pub fn parse(cursor: Option<&str>, limit: Option<i64>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let after = cursor.and_then(|raw| {
            let parsed = raw.split_once('_').and_then(|(micros, id)| {
                let due = cursor_time(micros.parse().ok()?)?;
                uuid::Uuid::parse_str(id).ok().map(|_| (due, id.to_owned()))
            });
            if parsed.is_none() {
                errors.push(FieldError::new("cursor", "use a next_cursor value from an earlier page"));
            }
            parsed
        });
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            errors.push(FieldError::new("limit", format!("1 to {MAX_LIMIT}")));
        }
        if errors.is_empty() { Ok(Self { after, limit }) } else { Err(ApiError::Validation(errors)) }
    }

    /// The cursor of the page after `rows` (whose last row is at `last`), if this page is full.
    pub fn next(&self, rows: usize, last: Option<(NaiveDateTime, &str)>) -> Option<String> {
        let full = i64::try_from(rows).is_ok_and(|n| n == self.limit);
        full.then_some(last).flatten().map(|(due, id)| format!("{}_{id}", due.and_utc().timestamp_micros()))
    }
}
