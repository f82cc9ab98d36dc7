//! Issuing jobs and the technician's changes-since sync.

use crate::common;

use actix_web::http::StatusCode;
use rstest::rstest;
use serde_json::json;

use common::Backend::{self, Postgres, Sqlite};

#[rstest]
#[actix_web::test]
async fn dispatcher_issues_a_job_pinned_to_the_latest_version(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let id = uuid::Uuid::new_v4().to_string();
    let mut body = common::job_body("tess", "broadband-install");
    body["id"] = json!(id);
    let response = app.as_user("dana").post("/v1/jobs", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    assert_eq!(response.header("location"), Some(format!("/v1/jobs/{id}")));
    let job = response.json();
    assert_eq!(job["id"], id);
    assert_eq!(job["checklist_version"], 1);
    assert_eq!(job["checklist_url"], "/v1/checklists/broadband-install/versions/1");
    assert_eq!(job["technician"], "tess");
    assert_eq!(job["status"], "scheduled");
    assert_eq!(job["customer"]["name"], "Amelia Hart");

    let again = app.as_user("dana").post("/v1/jobs", &body).await;
    again.problem(StatusCode::CONFLICT);

    let fetched = app.as_user("tess").get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.json(), job);

    let mut for_same_customer = common::job_body("tom", "broadband-install");
    for_same_customer.as_object_mut().expect("object").remove("customer");
    for_same_customer["customer_id"] = job["customer"]["id"].clone();
    let second = app.as_user("ada").post("/v1/jobs", &for_same_customer).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    assert_eq!(second.json()["customer"], job["customer"]);
}

#[rstest]
#[actix_web::test]
async fn invalid_jobs_are_422_naming_each_field(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let dana = app.as_user("dana");
    let mut body = common::job_body("nobody", "no-such-checklist");
    body["customer"]["name"] = json!("");
    body["customer"]["email"] = json!("not-an-email");
    let response = dana.post("/v1/jobs", &body).await;
    assert_eq!(response.error_fields(), vec!["customer.email", "customer.name"]);

    let response = dana.post("/v1/jobs", &common::job_body("nobody", "no-such-checklist")).await;
    assert_eq!(response.error_fields(), vec!["technician", "checklist_key"]);

    let response = dana.post("/v1/jobs", &common::job_body("dana", "broadband-install")).await;
    assert_eq!(response.error_fields(), vec!["technician"], "a dispatcher is not a technician");

    let mut both = common::job_body("tess", "broadband-install");
    both["customer_id"] = json!(uuid::Uuid::new_v4());
    assert_eq!(dana.post("/v1/jobs", &both).await.error_fields(), vec!["customer"]);

    let mut unknown_customer = common::job_body("tess", "broadband-install");
    unknown_customer.as_object_mut().expect("object").remove("customer");
    unknown_customer["customer_id"] = json!(uuid::Uuid::new_v4());
    assert_eq!(dana.post("/v1/jobs", &unknown_customer).await.error_fields(), vec!["customer_id"]);

    let mut bad_date = common::job_body("tess", "broadband-install");
    bad_date["scheduled_for"] = json!("tomorrow morning");
    assert_eq!(dana.post("/v1/jobs", &bad_date).await.error_fields(), vec!["scheduled_for"]);
}

#[rstest]
#[actix_web::test]
async fn technicians_see_only_their_own_jobs(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let toms_job = app.issue_job("tom", "broadband-install").await;
    let path = format!("/v1/jobs/{}", toms_job["id"].as_str().expect("id"));
    app.as_user("tess").get(&path).await.problem(StatusCode::NOT_FOUND);
    app.as_user("tess").get(&format!("{path}/signoffs")).await.problem(StatusCode::NOT_FOUND);
    assert_eq!(app.as_user("tom").get(&path).await.status, StatusCode::OK);
    assert_eq!(app.as_user("sam").get(&path).await.status, StatusCode::OK);
    let tess_jobs = app.as_user("tess").get("/v1/me/jobs").await.json();
    assert_eq!(tess_jobs["items"], json!([]));
}

#[rstest]
#[actix_web::test]
async fn sync_cursor_returns_only_jobs_created_or_changed_since(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let tess = app.as_user("tess");
    let first = app.issue_job("tess", "broadband-install").await;
    let second = app.issue_job("tess", "gas-boiler-annual-service").await;
    app.issue_job("tom", "broadband-install").await;

    let page = tess.get("/v1/me/jobs").await.json();
    let ids: Vec<_> = page["items"].as_array().expect("items").iter().map(|j| j["id"].clone()).collect();
    assert_eq!(ids, vec![first["id"].clone(), second["id"].clone()]);
    let cursor = page["next_cursor"].as_str().expect("cursor").to_owned();

    let nothing_new = tess.get(&format!("/v1/me/jobs?since={cursor}")).await.json();
    assert_eq!(nothing_new["items"], json!([]));
    assert_eq!(nothing_new["next_cursor"], cursor.as_str());

    let third = app.issue_job("tess", "unvented-cylinder-install").await;
    let checklist = app.checklist_of(&first).await;
    let signoff = common::signoff_body(&uuid::Uuid::new_v4().to_string(), common::passing_answers(&checklist));
    let signed = tess.post(&format!("/v1/jobs/{}/signoffs", first["id"].as_str().expect("id")), &signoff).await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text());

    let changes = tess.get(&format!("/v1/me/jobs?since={cursor}")).await.json();
    let changed: Vec<_> =
        changes["items"].as_array().expect("items").iter().map(|j| (j["id"].clone(), j["status"].clone())).collect();
    assert_eq!(changed, vec![(third["id"].clone(), json!("scheduled")), (first["id"].clone(), json!("signed_off"))]);

    assert_eq!(tess.get("/v1/me/jobs?since=yesterday").await.error_fields(), vec!["since"]);
}

/// Sixteen writers at once: sign-offs on one job (an app flushing its offline queue) and new jobs for
/// two technicians. None deadlocks or fails, and each technician's changes-since feed lists every one
/// of their jobs once, in change order.
#[rstest]
#[actix_web::test]
async fn sixteen_concurrent_writers_neither_deadlock_nor_skip(#[values(Sqlite, Postgres)] backend: Backend) {
    let app = spawn_app!(backend);
    let job = app.issue_job("tess", "broadband-install").await;
    let answers = common::passing_answers(&app.checklist_of(&job).await);
    let path = format!("/v1/jobs/{}/signoffs", job["id"].as_str().expect("id"));
    let tess = app.as_user("tess");
    let signoffs = (0..16).map(|_| {
        let body = common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers.clone());
        let (path, tess) = (path.clone(), &tess);
        async move { tess.post(&path, &body).await }
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(signoffs).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![StatusCode::CREATED; 16], "every sign-off on the one job is recorded");
    let stored = tess.get(&path).await.json();
    assert_eq!(stored["items"].as_array().expect("items").len(), 16);

    let dana = app.as_user("dana");
    let jobs = (0..16).map(|i| {
        let body = common::job_body(if i % 2 == 0 { "tess" } else { "tom" }, "broadband-install");
        let dana = &dana;
        async move { dana.post("/v1/jobs", &body).await }
    });
    let created: Vec<_> = futures_util::future::join_all(jobs).await;
    assert!(created.iter().all(|r| r.status == StatusCode::CREATED), "every job is created");
    for technician in ["tess", "tom"] {
        let feed = app.as_user(technician).get("/v1/me/jobs").await.json();
        let ids: Vec<&str> =
            feed["items"].as_array().expect("items").iter().map(|j| j["id"].as_str().unwrap()).collect();
        let expected = if technician == "tess" { 9 } else { 8 };
        assert_eq!(ids.len(), expected, "{technician} sees each of their jobs once: {ids:?}");
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        let cursor = feed["next_cursor"].as_str().expect("cursor");
        let after = app.as_user(technician).get(&format!("/v1/me/jobs?since={cursor}")).await.json();
        assert_eq!(after["items"], json!([]), "nothing after the last change");
    }
}

/// A change committed late is never skipped, and holds up no other technician (PostgreSQL, where
/// writers run side by side; on SQLite every write takes its turn on the one writer). A transaction
/// on a connection of its own takes tess's next change number for her first job and stays open: a
/// second change to her jobs waits on it (PostgreSQL reports the request's query blocked by it), so no
/// reader sees the later change without the earlier one, while a job for tom goes through at once
/// (there is no row all writers share). Once the first commits, her feed lists both changes after the
/// old cursor, in change order.
#[actix_web::test]
async fn a_change_committed_late_is_never_skipped_and_holds_up_no_other_technician() {
    use diesel::{Connection, RunQueryDsl};
    use fieldproof::db::{DbConnection, jobs::mark_changed};
    use fieldproof::domain::states::JobStatus;
    use std::time::Duration;

    let app = spawn_app!(Postgres);
    let first = app.issue_job("tess", "broadband-install").await;
    let tess = app.as_user("tess");
    let cursor = tess.get("/v1/me/jobs").await.json()["next_cursor"].as_str().expect("cursor").to_owned();

    // Its own connection, not one of the app's few pooled ones, which its requests need meanwhile.
    let pg = diesel::PgConnection::establish(&app.database_url()).expect("connection");
    let mut conn = DbConnection::Postgresql(pg);
    let (tess_id, first_id) = (app.user_id("tess"), first["id"].as_str().expect("id").to_owned());
    let (taken, taken_rx) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let late = std::thread::spawn(move || {
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let seq = fieldproof::db::next_change_seq(conn, &tess_id)?;
            mark_changed(conn, &first_id, JobStatus::Scheduled, seq, chrono::Utc::now().naive_utc())?;
            taken.send(()).expect("test waits");
            // Released by the test, or by its end (a failed test drops `release`).
            let _ = release_rx.recv();
            Ok(())
        })
    });
    if taken_rx.recv().is_err() {
        panic!("the late transaction failed: {:?}", late.join());
    }

    let dana = app.as_user("dana");
    let (tom_job, tess_job) =
        (common::job_body("tom", "broadband-install"), common::job_body("tess", "gas-boiler-annual-service"));
    let for_tom = tokio::time::timeout(Duration::from_secs(30), dana.post("/v1/jobs", &tom_job));
    assert_eq!(for_tom.await.expect("tom's job does not wait for tess's").status, StatusCode::CREATED);
    let for_tess = dana.post("/v1/jobs", &tess_job);
    tokio::pin!(for_tess);
    let mut watcher = diesel::PgConnection::establish(&app.database_url()).expect("connection");
    let mut blocked = || -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = "SELECT count(*) AS n FROM pg_stat_activity \
                   WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0";
        diesel::sql_query(sql).get_result::<Count>(&mut watcher).expect("pg_stat_activity").n
    };
    let mut waits = false;
    for _ in 0..100 {
        // Polls the request (which hands its work to a blocking thread), then asks PostgreSQL.
        assert!(tokio::time::timeout(Duration::from_millis(100), &mut for_tess).await.is_err(), "tess's job waits");
        if blocked() > 0 {
            waits = true;
            break;
        }
    }
    assert!(waits, "a second change to tess's jobs waits on the first's lock");
    let meanwhile = tess.get(&format!("/v1/me/jobs?since={cursor}")).await.json();
    assert_eq!(meanwhile["items"], json!([]), "nothing is seen before the earlier change commits");

    release.send(()).expect("late transaction waits");
    late.join().expect("late transaction").expect("late transaction commits");
    let second = tokio::time::timeout(Duration::from_secs(30), for_tess).await.expect("tess's job goes through");
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    let after = tess.get(&format!("/v1/me/jobs?since={cursor}")).await.json();
    let ids: Vec<&str> = after["items"].as_array().expect("items").iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec![first["id"].as_str().unwrap(), second.json()["id"].as_str().unwrap()],
        "both, in change order"
    );
}
