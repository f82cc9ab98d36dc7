//! Published checklist versions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::checklist_versions::dsl as cv;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::checklist_versions)]
pub struct ChecklistVersionRow {
    pub checklist_key: String,
    pub version: i32,
    pub title: String,
    pub trade: String,
    pub body: String,
    pub content_hash: String,
    pub published_at: NaiveDateTime,
    pub published_by: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::checklist_versions)]
pub struct NewChecklistVersion<'a> {
    pub checklist_key: &'a str,
    pub version: i32,
    pub title: &'a str,
    pub trade: &'a str,
    pub body: &'a str,
    pub content_hash: &'a str,
    pub published_at: NaiveDateTime,
    pub published_by: Option<&'a str>,
}

pub fn find(conn: &mut DbConnection, key: &str, version: i32) -> QueryResult<Option<ChecklistVersionRow>> {
    super::cached::first!(
        cv::checklist_versions
            .filter(cv::checklist_key.eq(key))
            .filter(cv::version.eq(version))
            .select(ChecklistVersionRow::as_select()),
        conn,
    )
}

pub fn latest_version(conn: &mut DbConnection, key: &str) -> QueryResult<Option<i32>> {
    cv::checklist_versions.filter(cv::checklist_key.eq(key)).select(diesel::dsl::max(cv::version)).get_result(conn)
}

pub fn insert(conn: &mut DbConnection, row: &NewChecklistVersion<'_>) -> QueryResult<()> {
    diesel::insert_into(cv::checklist_versions).values(row).execute(conn).map(drop)
}

/// One line per checklist key: (key, title, trade, latest version), taken from its latest version.
pub fn list_latest(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, String, i32)>> {
    let rows: Vec<(String, String, String, i32)> = cv::checklist_versions
        .select((cv::checklist_key, cv::title, cv::trade, cv::version))
        .order((cv::checklist_key.asc(), cv::version.desc()))
        .load(conn)?;
    let mut latest: Vec<(String, String, String, i32)> = Vec::new();
    for row in rows {
        if latest.last().is_none_or(|last| last.0 != row.0) {
            latest.push(row);
        }
    }
    Ok(latest)
}
