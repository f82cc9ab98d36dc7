//! What the service writes to its (text) log, run as the real executable: request data with line
//! breaks cannot forge a log line, and a customer's feedback link never reaches the log; the
//! operator prints it with `fieldproof feedback link` (audited).

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rstest::rstest;
use serde_json::{Value, json};

use crate::common;
use common::Backend::{self, Postgres, Sqlite};
use common::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_fieldproof");
const SECRET: &str = "a-jwt-secret-for-the-log-test-0123456789";
const PASSWORD: &str = "a long enough password";
/// What a forged line would begin with: the text log's own timestamp and level.
const FORGED: &str = "2026-12-03T10:00:00.000000Z  INFO fieldproof: forged";

struct Service {
    child: Child,
    base: String,
    client: reqwest::Client,
    database: String,
    bind: String,
    log: PathBuf,
}

impl Service {
    /// `fieldproof <args>` with this deployment's settings: plain-text logs, no email or webhook,
    /// so customer messages go to the log.
    fn command(database: &str, bind: &str, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("DATABASE_URL", database)
            .env("FIELDPROOF_BIND", bind)
            .env("FIELDPROOF_JWT_SECRET", SECRET)
            .env("FIELDPROOF_CHECKLISTS", "checklists")
            .env("RUST_LOG", "info")
            .env_remove("FIELDPROOF_LOG_FORMAT")
            .env_remove("FIELDPROOF_SMTP_URL")
            .env_remove("FIELDPROOF_WEBHOOK_URL");
        command
    }

    async fn start(database: String, dir: &Path) -> Service {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bind = format!("127.0.0.1:{port}");
        for (username, role) in [("dana", "dispatcher"), ("tess", "technician")] {
            let mut add = Self::command(&database, &bind, &["users", "add", "--username", username, "--role", role])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            add.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
            assert!(add.wait().unwrap().success());
        }
        let log = dir.join("service.log");
        let stderr = std::fs::File::create(&log).unwrap();
        let child = Self::command(&database, &bind, &["serve"]).stdout(Stdio::null()).stderr(stderr).spawn().unwrap();
        let service =
            Service { child, base: format!("http://{bind}"), client: reqwest::Client::new(), database, bind, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while service.client.get(format!("{}/healthz", service.base)).send().await.is_err() {
            assert!(Instant::now() < deadline, "the service did not listen within 60 s");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        service
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, token, Some(body)).await
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        self.call(reqwest::Method::GET, path, token, None).await
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[rstest]
#[actix_web::test]
async fn logged_request_data_cannot_forge_a_line_and_feedback_links_stay_out_of_the_log(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(database) = TestDatabase::create(backend) else { return };
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(database.url(), dir.path()).await;
    let login = json!({ "username": "dana", "password": PASSWORD });
    let token = service.client.post(format!("{}/v1/auth/token", service.base));
    let token = token.header("content-type", "application/json").body(login.to_string()).send().await.unwrap();
    let token: Value = serde_json::from_str(&token.text().await.unwrap()).unwrap();
    let dana = token["access_token"].as_str().unwrap().to_owned();

    // A customer's name with a line break and what looks like a log line after it (JSON allows it).
    let name = format!("Amelia Hart\r\n{FORGED} line\n{FORGED} too");
    let job = json!({
        "customer": { "name": name, "email": "amelia@example.com" },
        "site": { "address": "14 Orchard Lane, Bristol", "postcode": "BS6 7QT" },
        "technician": "tess", "checklist_key": "broadband-install", "scheduled_for": "2026-12-04T10:00:00Z"
    });
    let job = service.post("/v1/jobs", &dana, job).await;
    let failure = json!({ "id": uuid::Uuid::new_v4(), "job_id": job["id"], "description": "left the hallway dusty" });
    let reported = service.post("/v1/failures", &dana, failure).await;
    let cases = service.get("/v1/recovery-cases", &dana).await;
    let case = cases["items"].as_array().unwrap().iter().find(|c| c["incident_id"] == reported["incident_id"]).cloned();
    let case = case.expect("a recovery case")["id"].as_str().unwrap().to_owned();
    // Recovered (fixed, remedy, explanation, apology): the customer is sent a feedback link.
    let base = format!("/v1/recovery-cases/{case}");
    service.post(&format!("{base}/fixed"), &dana, json!({})).await;
    let offer = service.get(&format!("{base}/remedies"), &dana).await;
    let option = offer["options"].as_array().unwrap().iter().find(|o| o["needs_approval"] == false).unwrap().clone();
    service.post(&format!("{base}/remedy"), &dana, json!({ "remedy_id": option["id"] })).await;
    let explanation = json!({ "root_cause": "procedure_not_followed", "what_went_wrong": "Dust sheets were not laid.",
                              "what_changed": "Dust sheets are now a checklist step." });
    service.post(&format!("{base}/explanation"), &dana, explanation).await;
    service.post(&format!("{base}/apology"), &dana, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let messages = service.get(&format!("/v1/messages?recovery_case={case}"), &dana).await;
        let items = messages["items"].as_array().unwrap().clone();
        if items.len() == 3 && items.iter().all(|m| m["status"] == "delivered" && m["channel"] == "log") {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered to the log within 60 s: {items:?}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }

    // The operator prints the link for the demo (audited); it opens the customer's form.
    let printed = Service::command(&service.database, &service.bind, &["feedback", "link", &case]).output().unwrap();
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let link = String::from_utf8(printed.stdout).unwrap().trim().to_owned();
    assert!(link.starts_with(&format!("http://{}/feedback/", service.bind)), "{link}");
    let form = service.client.get(&link).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("Did anything we did surprise you?"));
    let token = link.rsplit('/').next().unwrap().to_owned();

    let log = std::fs::read_to_string(&service.log).unwrap();
    assert!(log.contains("Amelia Hart\\r\\n2026-12-03T10:00:00.000000Z"), "the name is logged, escaped:\n{log}");
    assert!(log.contains("not logged: `fieldproof feedback link"), "the log says where the link is:\n{log}");
    for line in log.lines() {
        assert!(!line.trim_start().starts_with("2026-12-03T10:00:00"), "a forged line: {line}\n{log}");
        assert!(!line.contains('\r'), "a carriage return in: {line:?}");
    }
    assert!(!log.contains(&token), "the feedback link's token is not in the log:\n{log}");
}
