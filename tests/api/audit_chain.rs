//! The tamper-evident trail: audit entries, sign-offs and failure reports each form a hash chain.
//! `fieldproof audit verify` passes on what the service wrote, names the row where someone edited,
//! deleted or reordered rows behind its back, and prints the heads `GET /v1/audit/head` serves.

use crate::common;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use actix_web::http::StatusCode;
use diesel::prelude::*;
use rstest::rstest;
use serde_json::json;

use common::Backend::{self, Postgres, Sqlite};
use common::TestApp;
use fieldproof::db::chain::{self, Chain};
use fieldproof::db::schema::{audit_log, failure_reports, signoffs};

const BIN: &str = env!("CARGO_BIN_EXE_fieldproof");

pub(crate) fn verify(app: &TestApp) -> Output {
    Command::new(BIN)
        .args(["audit", "verify"])
        .env("DATABASE_URL", app.database_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

/// What a run of the command told: how it ended, and all it printed.
pub(crate) fn told(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Three sign-offs and three failure reports through the API (each with its audit entries).
async fn write_some_records(app: &TestApp) {
    let tess = app.as_user("tess");
    for _ in 0..3 {
        let job = app.issue_job("tess", "broadband-install").await;
        let answers = common::passing_answers(&app.checklist_of(&job).await);
        let path = format!("/v1/jobs/{}/signoffs", job["id"].as_str().expect("id"));
        let body = common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers);
        let signed = tess.post(&path, &body).await;
        assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text());
        let failure = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"],
                              "description": "left the hallway dusty and forgot the paperwork" });
        let filed = app.as_user("dana").post("/v1/failures", &failure).await;
        assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text());
    }
}

/// `chain: N rows intact, head H` lines of a passing run, as chain → (rows, head).
fn heads_printed(out: &Output) -> BTreeMap<String, (i64, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (chain, rest) = line.split_once(": ")?;
            let (rows, head) = rest.split_once(" rows intact, head ")?;
            Some((chain.to_owned(), (rows.parse().ok()?, head.to_owned())))
        })
        .collect()
}

#[rstest]
#[actix_web::test]
async fn verify_passes_on_what_the_service_wrote_and_the_head_endpoint_agrees(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let app = spawn_app!(backend);
    write_some_records(&app).await;
    let out = verify(&app);
    assert!(out.status.success(), "{}", told(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: 3 chains intact"));
    let printed = heads_printed(&out);
    assert_eq!(printed["signoffs"].0, 3);
    assert_eq!(printed["failure_reports"].0, 3, "{printed:?}");

    let served = app.as_user("sam").get("/v1/audit/head").await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.text());
    let served: BTreeMap<String, (i64, String)> = served.json()["chains"]
        .as_array()
        .expect("chains")
        .iter()
        .map(|c| {
            let head = (c["rows"].as_i64().expect("rows"), c["head_hash"].as_str().expect("hash").to_owned());
            (c["chain"].as_str().expect("chain").to_owned(), head)
        })
        .collect();
    assert_eq!(served, printed, "the endpoint serves the heads verify computed");
}

/// A way to tamper with the stored trail through SQL, past the database's own guards.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    /// Rewrite the description of the second failure report.
    Edit,
    /// Delete the third audit entry.
    Delete,
    /// Swap the first two sign-offs' places in their chain.
    Swap,
}

/// Lifts the immutability triggers of `table` (an attacker with database access can).
pub(crate) fn unguard(app: &TestApp, backend: Backend, table: &str) {
    let sql = match backend {
        Sqlite => format!(
            "DROP TRIGGER {table}_immutable_update; DROP TRIGGER {table}_immutable_delete; \
             DROP TRIGGER {table}_chained_once;"
        ),
        Postgres => format!("ALTER TABLE {table} DISABLE TRIGGER {table}_immutable;"),
    };
    app.execute_sql(&sql).expect("triggers lifted");
}

#[rstest]
#[actix_web::test]
async fn verify_names_the_row_where_the_trail_was_tampered_with(
    #[values(Sqlite, Postgres)] backend: Backend,
    #[values(Tamper::Edit, Tamper::Delete, Tamper::Swap)] tamper: Tamper,
) {
    let app = spawn_app!(backend);
    write_some_records(&app).await;
    let before = verify(&app);
    assert!(before.status.success(), "{}", told(&before));

    let mut conn = app.state.db.get().expect("connection");
    let (table, row, words) = match tamper {
        Tamper::Edit => {
            let id: String = failure_reports::table
                .filter(failure_reports::chain_seq.eq(2_i64))
                .select(failure_reports::id)
                .first(&mut conn)
                .expect("second failure report");
            unguard(&app, backend, "failure_reports");
            app.execute_sql(&format!("UPDATE failure_reports SET description = 'all fine' WHERE id = '{id}'"))
                .expect("edited");
            ("failure_reports", id, "was edited")
        }
        Tamper::Delete => {
            let ids: Vec<String> = audit_log::table
                .filter(audit_log::chain_seq.between(3_i64, 4_i64))
                .order(audit_log::chain_seq)
                .select(audit_log::id)
                .load(&mut conn)
                .expect("audit entries");
            unguard(&app, backend, "audit_log");
            app.execute_sql(&format!("DELETE FROM audit_log WHERE id = '{}'", ids[0])).expect("deleted");
            // The deleted row is gone; the break shows at the row after it.
            ("audit_log", ids[1].clone(), "(position 3) was deleted")
        }
        Tamper::Swap => {
            let second: String = signoffs::table
                .filter(signoffs::chain_seq.eq(2_i64))
                .select(signoffs::id)
                .first(&mut conn)
                .expect("second sign-off");
            unguard(&app, backend, "signoffs");
            app.execute_sql(
                "UPDATE signoffs SET chain_seq = -1 WHERE chain_seq = 1; \
                 UPDATE signoffs SET chain_seq = 1 WHERE chain_seq = 2; \
                 UPDATE signoffs SET chain_seq = 2 WHERE chain_seq = -1;",
            )
            .expect("swapped");
            ("signoffs", second, "was reordered")
        }
    };
    let out = verify(&app);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "verify passed a {tamper:?}ed trail: {}", String::from_utf8_lossy(&out.stdout));
    let broken = stderr.lines().find(|l| l.starts_with(&format!("{table}: BROKEN"))).unwrap_or_else(|| {
        panic!("no broken {table} chain reported: {stderr}");
    });
    assert!(broken.contains(&row), "the row is named: {broken}");
    assert!(broken.contains(words), "{tamper:?} is told as such: {broken}");
    assert_eq!(stderr.matches("BROKEN").count(), 1, "the other chains are intact: {stderr}");
}

/// Writers racing to append never fork a chain: every row lands in one line, one position each.
#[rstest]
#[actix_web::test]
async fn concurrent_writers_extend_each_chain_in_one_line(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", "broadband-install").await;
    let answers = common::passing_answers(&app.checklist_of(&job).await);
    let path = format!("/v1/jobs/{}/signoffs", job["id"].as_str().expect("id"));
    let (tess, dana) = (app.as_user("tess"), app.as_user("dana"));
    let writes =
        (0..12).map(|i| {
            let (path, job_id) = (path.clone(), job["id"].clone());
            let signoff = common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers.clone());
            let failure =
                json!({ "id": uuid::Uuid::new_v4(), "job_id": job_id, "description": "left the hallway dusty" });
            let (tess, dana) = (&tess, &dana);
            async move {
                if i % 2 == 0 { tess.post(&path, &signoff).await } else { dana.post("/v1/failures", &failure).await }
            }
        });
    let responses = futures_util::future::join_all(writes).await;
    assert!(responses.iter().all(|r| r.status == StatusCode::CREATED), "every write is recorded");

    // The linker links in the background; a pass now takes what it has not yet reached.
    app.state.db.link_now().expect("linked");
    let mut conn = app.state.db.get().expect("connection");
    let counts = [
        (Chain::AuditLog, audit_log::table.count().get_result::<i64>(&mut conn).expect("count")),
        (Chain::SignOffs, signoffs::table.count().get_result::<i64>(&mut conn).expect("count")),
        (Chain::FailureReports, failure_reports::table.count().get_result::<i64>(&mut conn).expect("count")),
    ];
    for (which, stored) in counts {
        let verdict = chain::verify(&mut conn, which).expect("verify");
        assert_eq!(verdict.broken, None, "{which:?}");
        assert_eq!(verdict.rows, stored, "{which:?}: every stored row is in the chain");
        assert_eq!(verdict.pending, 0, "{which:?}");
    }
}

/// `chain::write` in the service's own write transaction (`BEGIN IMMEDIATE` on SQLite: the linker
/// committing meanwhile makes it wait rather than fail).
fn write_links(conn: &mut fieldproof::db::DbConnection, plan: &chain::Plan) -> Option<u64> {
    fieldproof::db::write_transaction::<_, diesel::result::Error, _>(conn, |conn| chain::write(conn, plan))
        .expect("write")
}

/// The linker reads and hashes before its write transaction. If another process links meanwhile,
/// what it worked out is not written (no fork); a plan whose heads have not moved is.
#[rstest]
#[actix_web::test]
async fn a_plan_of_links_is_written_only_onto_the_heads_it_was_made_from(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    write_some_records(&app).await;
    app.state.db.link_now().expect("linked");
    let mut conn = app.state.db.get().expect("connection");
    // An audit entry written unlinked, as a writer leaves it; the service's linker is not woken.
    let mut written = 0;
    let mut unlinked_entry = |conn: &mut fieldproof::db::DbConnection| {
        written += 1;
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::id.eq(format!("planned-{written}")),
                audit_log::at.eq(chrono::Utc::now().naive_utc()),
                audit_log::actor.eq("test"),
                audit_log::action.eq("test.planned"),
                audit_log::entity_type.eq("test"),
                audit_log::entity_id.eq(written.to_string()),
                audit_log::details.eq("{}"),
            ))
            .execute(conn)
            .expect("insert");
    };
    // The service's own linker may still take a row first: write until a plan catches one.
    let stale = (0..50)
        .find_map(|_| {
            unlinked_entry(&mut conn);
            Some(chain::plan(&mut conn).expect("plan")).filter(|plan| plan.rows() > 0)
        })
        .expect("a plan with a row to link");
    app.state.db.link_now().expect("linked");
    let refused = write_links(&mut conn, &stale);
    assert_eq!(refused, None, "a plan made from a head that has moved is not written");

    let (planned, linked) = (0..50)
        .find_map(|_| {
            unlinked_entry(&mut conn);
            let plan = chain::plan(&mut conn).expect("plan");
            let linked = write_links(&mut conn, &plan)?;
            Some((plan.rows(), linked)).filter(|(rows, _)| *rows > 0)
        })
        .expect("a plan written");
    assert_eq!(linked, planned as u64, "a plan whose heads stood still is written whole");
    let verdict = chain::verify(&mut conn, Chain::AuditLog).expect("verify");
    assert_eq!(verdict.broken, None);
    assert_eq!(verdict.pending, 0);
    assert_eq!(verdict.rows, audit_log::table.count().get_result::<i64>(&mut conn).expect("count"));
}

fn verify_against(app: &TestApp, head: &str) -> Output {
    Command::new(BIN)
        .args(["audit", "verify", "--head", head])
        .env("DATABASE_URL", app.database_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

/// Rows cut from the end of a chain, with its recorded head rewritten to match, pass a plain
/// `audit verify`; checked against a head saved earlier, they do not.
#[rstest]
#[actix_web::test]
async fn verify_against_a_saved_head_catches_rows_cut_from_the_end(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    write_some_records(&app).await;
    let saved = app.as_user("sam").get("/v1/audit/head").await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let saved = saved.text();
    let signoffs_head = serde_json::from_str::<serde_json::Value>(&saved).expect("json")["chains"]
        .as_array()
        .expect("chains")
        .iter()
        .find(|c| c["chain"] == "signoffs")
        .expect("the sign-off chain")["head_hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &saved).expect("saved head written");
    // The chains grow after the head was saved: they still extend it.
    write_some_records(&app).await;
    for head in [saved.as_str(), signoffs_head.as_str(), file.path().to_str().expect("path")] {
        let out = verify_against(&app, head);
        assert!(out.status.success(), "{head}: {}", told(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("every chain holds and extends the saved head"));
    }

    // Someone with SQL access deletes the newest audit entries and sign-offs, back to before the
    // saved head, and rewrites the recorded heads to match.
    let cut = |table: &str, keep: i64| {
        format!(
            "DELETE FROM {table} WHERE chain_seq > {keep}; \
             UPDATE audit_chain_heads SET length = {keep}, \
                 head_hash = (SELECT row_hash FROM {table} WHERE chain_seq = {keep}) WHERE chain = '{table}';"
        )
    };
    let mut conn = app.state.db.get().expect("connection");
    let audit_rows: i64 = audit_log::table.count().get_result(&mut conn).expect("count");
    unguard(&app, backend, "audit_log");
    app.execute_sql(&cut("audit_log", 3)).expect("audit entries cut");
    assert!(audit_rows > 3);
    let plain = verify(&app);
    assert!(plain.status.success(), "a plain verify cannot tell: {}", told(&plain));
    let out = verify_against(&app, &saved);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("audit_log: the saved head is row") && stderr.contains("deleted from its end"), "{stderr}");
    assert!(!stderr.contains("signoffs:"), "the sign-off chain still holds its head: {stderr}");

    // A bare hash of a chain cut behind it fails too.
    unguard(&app, backend, "signoffs");
    app.execute_sql(&cut("signoffs", 1)).expect("sign-offs cut");
    let out = verify_against(&app, &signoffs_head);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("no chain holds the saved head"), "{stderr}");
    let garbled = verify_against(&app, "not a head");
    assert!(!garbled.status.success());
    assert!(String::from_utf8_lossy(&garbled.stderr).contains("--head"), "a clear message");
}
