//! The `fieldproof` executable started the way an operator starts it: every delivery setting at
//! once against real SMTP and webhook receivers, on each database; a journey through the API;
//! SIGTERM and a restart on the same database; and wrong settings, each a one-line error.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rstest::rstest;
use serde_json::{Value, json};

use crate::common;
use common::Backend::{self, Postgres, Sqlite};
use common::TestDatabase;
use common::receivers::{SmtpReceiver, WebhookReceiver};
use common::service::{Answer, BIN, Deployment, PASSWORD, Running, SECRET, WEBHOOK_SECRET, free_port};

/// Every delivery channel at once (real SMTP and webhook receivers), two outbox workers.
fn deployment(database: String, dir: &Path, smtp: &str, webhook: &str) -> Deployment {
    Deployment::new(database, dir)
        .with("FIELDPROOF_SMTP_URL", smtp)
        .with("FIELDPROOF_EMAIL_FROM", "Northside Heating <care@northside.example>")
        .with_webhook(webhook)
        .with("FIELDPROOF_OUTBOX_WORKERS", "2")
}

/// Reports an ordinary failure for a new customer and sends the apology; returns the case id.
async fn apologise_to(service: &Running, dana: &str, customer: Value) -> String {
    let job = json!({
        "customer": customer,
        "site": { "address": "14 Orchard Lane, Bristol", "postcode": "BS6 7QT" },
        "technician": "tess", "checklist_key": "broadband-install", "scheduled_for": "2026-12-04T10:00:00Z"
    });
    let job = service.post("/v1/jobs", dana, job).await;
    let failure = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"],
                          "description": "broadband keeps dropping out since the install" });
    let reported = service.post("/v1/failures", dana, failure).await;
    assert_eq!(reported["severity"], "service_impacting", "{reported}");
    let cases = service.get("/v1/recovery-cases", dana).await;
    let case = cases["items"].as_array().unwrap().iter().find(|c| c["incident_id"] == reported["incident_id"]).cloned();
    let case_id = case.expect("a recovery case")["id"].as_str().unwrap().to_owned();
    service.post(&format!("/v1/recovery-cases/{case_id}/apology"), dana, json!({})).await;
    case_id
}

/// Waits until every message of the case is delivered; returns them.
async fn delivered(service: &Running, dana: &str, case_id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let messages = service.get(&format!("/v1/messages?recovery_case={case_id}"), dana).await;
        let items = messages["items"].as_array().unwrap().clone();
        if !items.is_empty() && items.iter().all(|m| m["status"] == "delivered") {
            return items;
        }
        assert!(Instant::now() < deadline, "not delivered within 60 s: {items:?}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

#[rstest]
#[actix_web::test]
async fn binary_with_every_delivery_setting_delivers_once_stops_on_sigterm_and_restarts(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(database) = TestDatabase::create(backend) else { return };
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpReceiver::start(0);
    let hooks = WebhookReceiver::start(0);
    let deployment = deployment(database.url(), dir.path(), &smtp.url, &hooks.url);
    deployment.add_user("dana", "dispatcher");
    deployment.add_user("tess", "technician");

    let service = deployment.start().await;
    let dana = service.sign_in("dana").await;
    // A feedback link (its token in the path) and a bearer token, both kept out of the logs.
    let link = "c2VjcmV0LWZlZWRiYWNrLWxpbmstdG9rZW4";
    let feedback = service.client.get(format!("{}/feedback/{link}?score=5", service.base));
    let feedback = feedback.bearer_auth(&dana).header("x-request-id", "journey-1").send().await.unwrap();
    assert_eq!(feedback.headers()["x-request-id"], "journey-1");
    let by_email = apologise_to(&service, &dana, json!({ "name": "Amelia Hart", "email": "amelia@example.com" })).await;
    let by_webhook = apologise_to(&service, &dana, json!({ "name": "Ravi Patel", "phone": "+44 7700 900789" })).await;
    let emailed = delivered(&service, &dana, &by_email).await;
    let hooked = delivered(&service, &dana, &by_webhook).await;
    // Two workers share the outbox: give a double delivery the time to happen before counting.
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "the apology arrives once by email");
    assert_eq!(mails[0].to, vec!["amelia@example.com".to_owned()]);
    let dedup = emailed[0]["dedup_key"].as_str().unwrap();
    let message_id = mails[0].data.lines().find(|l| l.to_lowercase().starts_with("message-id:")).unwrap();
    assert!(message_id.contains(&format!("<{dedup}@northside.example>")), "{message_id}");
    let received = hooks.received();
    assert_eq!(received.len(), 1, "the apology to a customer without email arrives once by webhook");
    assert_eq!(received[0].id, hooked[0]["dedup_key"].as_str().unwrap());
    assert_eq!(hooked[0]["channel"], "webhook");

    let status = service.terminate();
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}\n{}", deployment.log_text());

    let service = deployment.start().await;
    let dana = service.sign_in("dana").await;
    let cases = service.get("/v1/recovery-cases", &dana).await;
    assert_eq!(cases["items"].as_array().unwrap().len(), 2, "the restart keeps the cases");
    assert_eq!(delivered(&service, &dana, &by_email).await.len(), 1);
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    assert_eq!((smtp.mails().len(), hooks.received().len()), (1, 1), "nothing is delivered again after a restart");
    let status = service.terminate();
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");

    let logs = deployment.log_text();
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(!logs.contains(PASSWORD) && !logs.contains(SECRET), "no secrets in the logs");
    for secret in [link, "score=5", dana.as_str()] {
        assert!(!logs.contains(secret), "`{secret}` in the logs:\n{logs}");
    }
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.iter().any(|l| l.contains("outbox worker started")), "{logs}");
    let mut finished = Vec::new();
    for line in lines {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if line["fields"]["message"] == "request finished" {
            finished.push(line);
        }
    }
    // Every request logs one line that carries its id and route template (never its path).
    assert!(finished.len() > 10, "{logs}");
    assert!(finished.iter().all(|l| l["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty())), "{logs}");
    let feedback = finished.iter().find(|l| l["span"]["request_id"] == "journey-1").expect("the feedback request");
    assert_eq!(feedback["span"]["route"], "/feedback/{token}");
}

/// Runs `fieldproof <args>` with `env` and expects a failure with one line on stderr.
fn refused(args: &[&str], env: &[(&str, &str)], dir: &Path) -> String {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("RUST_LOG");
    command.env("DATABASE_URL", dir.join("fieldproof.db")).env("FIELDPROOF_BIND", format!("127.0.0.1:{}", free_port()));
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("`{args:?}` with {env:?} did not stop: a bad setting must end the process");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{env:?}: a non-zero exit");
    assert!(!stderr.contains("panicked"), "{env:?}: no panic: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{env:?}: one error line: {stderr}");
    assert!(stderr.trim_end().ends_with(errors[0]) && errors[0].starts_with("error: "), "{stderr}");
    errors[0].to_owned()
}

#[rstest]
#[case::malformed_smtp_url(&[("FIELDPROOF_SMTP_URL", "smtp://[::1")], "FIELDPROOF_SMTP_URL")]
#[case::unknown_smtp_scheme(&[("FIELDPROOF_SMTP_URL", "mailto://host")], "FIELDPROOF_SMTP_URL")]
#[case::unreachable_database(&[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"), ("FIELDPROOF_JWT_SECRET", SECRET)], "cannot connect to PostgreSQL")]
#[case::short_secret(&[("FIELDPROOF_JWT_SECRET", "too-short")], "at least 32 characters")]
#[case::bad_bind_address(&[("FIELDPROOF_BIND", "localhost-8080")], "FIELDPROOF_BIND")]
#[case::malformed_webhook_url(&[("FIELDPROOF_WEBHOOK_URL", "http://exa mple"), ("FIELDPROOF_WEBHOOK_SECRET", WEBHOOK_SECRET)], "webhook URL")]
fn a_wrong_setting_is_one_line_and_a_non_zero_exit(#[case] env: &[(&str, &str)], #[case] named: &str) {
    let dir = tempfile::tempdir().unwrap();
    for command in ["serve", "check-config"] {
        let error = refused(&[command], env, dir.path());
        assert!(error.contains(named), "{command}: {error}");
    }
}

#[test]
fn a_port_already_taken_is_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let error = refused(&["serve"], &[("FIELDPROOF_BIND", &bind)], dir.path());
    assert!(error.contains(&format!("cannot listen on {bind}")), "{error}");
}

#[actix_web::test]
async fn check_config_reaches_the_database_and_smtp_server_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpReceiver::start(0);
    let hooks = WebhookReceiver::start(0);
    let database = dir.path().join("fieldproof.db").display().to_string();
    let deployment = deployment(database, dir.path(), &smtp.url, &hooks.url);
    let before = deployment.command(&["check-config"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&before.stdout);
    assert!(before.status.success(), "{}", String::from_utf8_lossy(&before.stderr));
    assert!(stdout.contains("does not exist yet"), "{stdout}");
    assert!(!dir.path().join("fieldproof.db").exists(), "check-config creates no database");

    deployment.add_user("dana", "dispatcher");
    let out = deployment.command(&["check-config"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for expected in ["reachable; 0 migrations pending", "SMTP server reachable", &hooks.url, "2 outbox workers"] {
        assert!(stdout.contains(expected), "`{expected}` in: {stdout}");
    }
    assert!(TcpListener::bind(&deployment.bind).is_ok(), "check-config does not listen");
    assert!(hooks.received().is_empty() && smtp.mails().is_empty(), "check-config sends nothing");

    let unreachable = deployment.with("FIELDPROOF_SMTP_URL", format!("smtp://127.0.0.1:{}", free_port()));
    let out = unreachable.command(&["check-config"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.trim().lines().count() == 1 && stderr.contains("SMTP server"), "{stderr}");
}

/// One sign-off a technician's device sent, and whether the service acknowledged it.
struct Attempt {
    job: String,
    body: Value,
    /// The 2xx body, if the service answered 2xx.
    acknowledged: Option<String>,
}

/// A device signing off its job again and again, each time a new sign-off, until one goes
/// unanswered (the service is shutting down); counts acknowledgements in `acked`.
async fn sign_until_unanswered(
    service: &Running,
    tess: &str,
    job: &str,
    answers: &[Value],
    acked: &std::cell::Cell<usize>,
) -> Vec<Attempt> {
    let path = format!("/v1/jobs/{job}/signoffs");
    let mut attempts = Vec::new();
    while attempts.len() < 5_000 {
        let body = common::signoff_body(&uuid::Uuid::new_v4().to_string(), answers.to_vec());
        let answer = service.send(reqwest::Method::POST, &path, Some(tess), Some(&body)).await;
        let acknowledged = match answer {
            Answer::Status(status, text) if status == reqwest::StatusCode::CREATED => Some(text),
            Answer::Status(status, text) => panic!("a sign-off answered {status}, not 201 or nothing: {text}"),
            Answer::NoAnswer(_) => None,
        };
        let unanswered = acknowledged.is_none();
        acked.set(acked.get() + usize::from(!unanswered));
        attempts.push(Attempt { job: job.to_owned(), body, acknowledged });
        if unanswered {
            return attempts;
        }
    }
    panic!("the service kept taking sign-offs after SIGTERM");
}

/// How many times each sign-off id is stored, over `jobs`.
async fn stored_signoffs(service: &Running, token: &str, jobs: &[String]) -> HashMap<String, usize> {
    let mut stored = HashMap::new();
    for job in jobs {
        let listed = service.get(&format!("/v1/jobs/{job}/signoffs"), token).await;
        for item in listed["items"].as_array().unwrap() {
            *stored.entry(item["id"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    stored
}

#[rstest]
#[actix_web::test]
async fn sigterm_during_a_batch_of_signoffs_keeps_every_acknowledged_one_and_the_rest_can_be_retried(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    const DEVICES: usize = 8;
    let Some(database) = TestDatabase::create(backend) else { return };
    let dir = tempfile::tempdir().unwrap();
    let deployment = Deployment::new(database.url(), dir.path()).with("FIELDPROOF_SHUTDOWN_GRACE", "2");
    deployment.add_user("dana", "dispatcher");
    deployment.add_user("tess", "technician");
    let service = deployment.start().await;
    let (dana, tess) = (service.sign_in("dana").await, service.sign_in("tess").await);
    let mut jobs = Vec::new();
    for _ in 0..DEVICES {
        let job = service.post("/v1/jobs", &dana, common::job_body("tess", "gas-boiler-annual-service")).await;
        jobs.push(job["id"].as_str().unwrap().to_owned());
    }
    let job = service.get(&format!("/v1/jobs/{}", jobs[0]), &tess).await;
    let answers = common::passing_answers(&service.get(job["checklist_url"].as_str().unwrap(), &tess).await);

    // Eight devices sign off at once; SIGTERM arrives once the service has acknowledged 16.
    let acked = std::cell::Cell::new(0);
    let devices_done = std::cell::Cell::new(false);
    let devices = async {
        let devices = jobs.iter().map(|job| sign_until_unanswered(&service, &tess, job, &answers, &acked));
        let attempts = futures_util::future::join_all(devices).await;
        devices_done.set(true);
        attempts
    };
    let terminate = async {
        // (Should every device stop early, stop waiting: the count below then fails the test.)
        while acked.get() < 16 && !devices_done.get() {
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        service.signal_term();
    };
    let (attempts, ()) = futures_util::future::join(devices, terminate).await;
    let attempts: Vec<Attempt> = attempts.into_iter().flatten().collect();
    let mut service = service;
    let status = service.wait();
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}\n{}", deployment.log_text());
    let (acknowledged, unanswered): (Vec<&Attempt>, Vec<&Attempt>) =
        attempts.iter().partition(|a| a.acknowledged.is_some());
    assert!(acknowledged.len() >= 16, "{} acknowledged", acknowledged.len());
    assert_eq!(unanswered.len(), DEVICES, "each device stopped at its first unanswered sign-off");

    let service = deployment.start().await;
    let stored = stored_signoffs(&service, &tess, &jobs).await;
    let id = |attempt: &Attempt| attempt.body["id"].as_str().unwrap().to_owned();
    for attempt in &acknowledged {
        assert_eq!(stored.get(&id(attempt)), Some(&1), "an acknowledged sign-off is stored once");
    }
    // Each unanswered one is retried as a device would: the same id and body. Stored before the
    // answer was lost: 200 and the stored sign-off; never stored: 201 now.
    let mut replayed = 0;
    for attempt in &unanswered {
        let before = stored.get(&id(attempt)).copied().unwrap_or(0);
        assert!(before <= 1, "stored at most once");
        let path = format!("/v1/jobs/{}/signoffs", attempt.job);
        let retry = service.send(reqwest::Method::POST, &path, Some(&tess), Some(&attempt.body)).await;
        let Answer::Status(status, text) = retry else { panic!("the retry went unanswered: {retry:?}") };
        let expected = if before == 1 { reqwest::StatusCode::OK } else { reqwest::StatusCode::CREATED };
        assert_eq!(status, expected, "retry of a sign-off stored {before} times: {text}");
        let stored: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((&stored["id"], &stored["answers"]), (&attempt.body["id"], &attempt.body["answers"]));
        replayed += before;
    }
    // A retry of an acknowledged one replays exactly what was acknowledged.
    for attempt in acknowledged.iter().step_by(5) {
        let path = format!("/v1/jobs/{}/signoffs", attempt.job);
        let retry = service.send(reqwest::Method::POST, &path, Some(&tess), Some(&attempt.body)).await;
        let Answer::Status(status, text) = retry else { panic!("the retry went unanswered: {retry:?}") };
        assert_eq!((status, Some(&text)), (reqwest::StatusCode::OK, attempt.acknowledged.as_ref()));
    }
    let stored = stored_signoffs(&service, &tess, &jobs).await;
    assert_eq!(stored.len(), attempts.len(), "every sign-off sent is stored after the retries");
    assert!(stored.values().all(|&n| n == 1), "and each once");
    eprintln!(
        "{backend:?}: {} sign-offs acknowledged before the exit, {} unanswered ({replayed} of them stored before the answer was lost)",
        acknowledged.len(),
        unanswered.len()
    );
    assert!(service.terminate().success());
}

/// SIGKILL in the middle of concurrent sign-offs: after a restart every acknowledged sign-off is
/// stored, exactly once, and every chain verifies, because an answer is sent only once its commit
/// is durable (on SQLite, once the group commit that carried it is).
#[rstest]
#[actix_web::test]
async fn acknowledged_signoffs_survive_a_kill_9(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(database) = TestDatabase::create(backend) else { return };
    let dir = tempfile::tempdir().unwrap();
    let deployment = Deployment::new(database.url(), dir.path());
    deployment.add_user("dana", "dispatcher");
    deployment.add_user("tess", "technician");
    let mut service = deployment.start().await;
    let (dana, tess) = (service.sign_in("dana").await, service.sign_in("tess").await);
    let job = json!({
        "customer": { "name": "Amelia Hart" }, "site": { "address": "14 Orchard Lane, Bristol", "postcode": "BS6 7QT" },
        "technician": "tess", "checklist_key": "broadband-install", "scheduled_for": "2026-12-04T10:00:00Z"
    });
    let job = service.post("/v1/jobs", &dana, job).await;
    let answers = common::passing_answers(&service.get("/v1/checklists/broadband-install/versions/1", &tess).await);
    let url = format!("{}/v1/jobs/{}/signoffs", service.base, job["id"].as_str().unwrap());

    let acknowledged = std::rc::Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let writers = (0..8).map(|_| {
        let (acknowledged, client, url, tess, answers) =
            (acknowledged.clone(), service.client.clone(), url.clone(), tess.clone(), answers.clone());
        async move {
            loop {
                let id = uuid::Uuid::new_v4().to_string();
                let body = common::signoff_body(&id, answers.clone()).to_string();
                let sent = client.post(&url).bearer_auth(&tess).header("content-type", "application/json").body(body);
                // After the kill: the connection is refused or cut.
                let Ok(response) = sent.send().await else { break };
                assert_eq!(response.status(), reqwest::StatusCode::CREATED);
                acknowledged.borrow_mut().push(id);
            }
        }
    });
    let killer = async {
        let deadline = Instant::now() + Duration::from_secs(120);
        while acknowledged.borrow().len() < 40 {
            assert!(Instant::now() < deadline, "40 sign-offs were not acknowledged within 120 s");
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        service.child.kill().unwrap();
        service.child.wait().unwrap();
    };
    futures_util::future::join(futures_util::future::join_all(writers), killer).await;

    let service = deployment.start().await;
    let url = fieldproof::db::DatabaseUrl::parse(&database.url()).unwrap();
    let db = fieldproof::db::Db::connect(&url, 2).unwrap();
    let mut conn = db.get().unwrap();
    let listed = stored_signoffs(&service, &tess, &[job["id"].as_str().unwrap().to_owned()]).await;
    for id in acknowledged.borrow().iter() {
        let stored = fieldproof::db::signoffs::find(&mut conn, id).unwrap();
        assert!(stored.is_some(), "the acknowledged sign-off {id} is lost");
        assert_eq!(listed.get(id), Some(&1), "the acknowledged sign-off {id} is stored once");
    }
    for chain in fieldproof::db::chain::Chain::ALL {
        assert_eq!(fieldproof::db::chain::verify(&mut conn, chain).unwrap().broken, None, "{chain:?}");
    }
    assert!(service.terminate().success());
}

/// The kernel's "transparent huge pages" switch of a running process (`THP_enabled` in its status).
fn huge_pages_enabled(service: &Running) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{}/status", service.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("THP_enabled:")).expect("a kernel that reports THP_enabled");
    line.split_whitespace().nth(1) == Some("1")
}

/// mimalloc asks for huge pages, which made every 2 MiB region it touched resident whole; the
/// service turns them off unless `MIMALLOC_ALLOW_THP` says otherwise (README, "Performance").
#[actix_web::test]
async fn the_service_keeps_its_memory_in_small_pages_unless_told_otherwise() {
    let Some(database) = TestDatabase::create(Sqlite) else { return };
    // A process inherits the switch from its parent: allow huge pages in this one, so that the service
    // turning them off is its own doing, whatever the process that started the tests had set.
    rustix::thread::disable_transparent_huge_pages(false).expect("prctl(PR_SET_THP_DISABLE, 0)");
    let dir = tempfile::tempdir().unwrap();
    let deployment = Deployment::new(database.url(), dir.path()).without("MIMALLOC_ALLOW_THP");
    let service = deployment.start().await;
    assert!(!huge_pages_enabled(&service), "huge pages are off by default");
    assert!(service.terminate().success());

    // An operator's choice stands: `=1` keeps huge pages.
    let deployment = Deployment::new(database.url(), dir.path()).with("MIMALLOC_ALLOW_THP", "1");
    let service = deployment.start().await;
    assert!(huge_pages_enabled(&service), "MIMALLOC_ALLOW_THP=1 keeps huge pages");
    assert!(service.terminate().success());
}
