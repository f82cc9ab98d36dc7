//! The `fieldproof` executable started the way an operator starts it (`fieldproof serve` with its
//! settings in the environment), for the tests that need a real process: SIGTERM, restarts and
//! several instances on one database.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_fieldproof");
pub const SECRET: &str = "a-jwt-secret-for-the-binary-test-0123456789";
pub const WEBHOOK_SECRET: &str = "a-webhook-secret-of-at-least-24-bytes";
pub const PASSWORD: &str = "a long enough password";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The settings of one instance: the database, a listen address, JSON logs into a file, and
/// whichever delivery channels and other settings the test adds.
pub struct Deployment {
    pub database: String,
    pub bind: String,
    pub logs: PathBuf,
    /// Further settings, as environment variables.
    pub env: Vec<(&'static str, String)>,
    /// Environment variables left unset, whatever [`Deployment::command`] sets by default or the
    /// test's own environment holds.
    pub unset: Vec<&'static str>,
}

impl Deployment {
    /// An instance on `database` listening on a free local port, logging into `dir`.
    pub fn new(database: String, dir: &Path) -> Self {
        let port = free_port();
        let logs = dir.join(format!("service-{port}.log"));
        Self { database, bind: format!("127.0.0.1:{port}"), logs, env: vec![], unset: vec![] }
    }

    /// The same settings with `name` set to `value`.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.env.push((name, value.into()));
        self
    }

    /// The same settings with `name` unset (`FIELDPROOF_LOG_FORMAT` for plain-text logs, ...).
    pub fn without(mut self, name: &'static str) -> Self {
        self.unset.push(name);
        self
    }

    /// Customer messages by signed webhook to `url`.
    pub fn with_webhook(self, url: &str) -> Self {
        self.with("FIELDPROOF_WEBHOOK_URL", url).with("FIELDPROOF_WEBHOOK_SECRET", WEBHOOK_SECRET)
    }

    /// `fieldproof <args>` with this deployment's settings in its environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("DATABASE_URL", &self.database)
            .env("FIELDPROOF_BIND", &self.bind)
            .env("FIELDPROOF_JWT_SECRET", SECRET)
            .env("FIELDPROOF_LOG_FORMAT", "json")
            .env("FIELDPROOF_CHECKLISTS", "checklists")
            .env_remove("RUST_LOG");
        for (name, value) in &self.env {
            command.env(name, value);
        }
        for name in &self.unset {
            command.env_remove(name);
        }
        command
    }

    pub fn add_user(&self, username: &str, role: &str) {
        let mut child = self
            .command(&["users", "add", "--username", username, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "users add: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts `fieldproof serve`; [`Running::ready`] waits until it answers.
    pub fn spawn(&self) -> Running {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.logs).unwrap();
        let child =
            self.command(&["serve"]).stdout(Stdio::null()).stderr(Stdio::from(log)).spawn().expect("the binary starts");
        Running {
            child,
            base: format!("http://{}", self.bind),
            client: reqwest::Client::new(),
            logs: self.logs.clone(),
        }
    }

    /// Starts `fieldproof serve` and waits until it answers.
    pub async fn start(&self) -> Running {
        let mut running = self.spawn();
        running.ready().await;
        running
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.logs).unwrap_or_default()
    }
}

/// A running `fieldproof serve`; killed if the test ends without stopping it.
pub struct Running {
    pub child: Child,
    pub base: String,
    pub client: reqwest::Client,
    logs: PathBuf,
}

/// What came back for a request: a status and body, or no answer at all.
#[derive(Debug)]
pub enum Answer {
    Status(reqwest::StatusCode, String),
    /// The connection was refused or dropped before a response arrived.
    NoAnswer(String),
}

impl Running {
    /// Waits until `/readyz` answers 200 (the database is migrated and reachable); fails the test
    /// with the service's log if the process exits or does not answer within 60 s.
    pub async fn ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let probe = self.client.get(format!("{}/readyz", self.base)).send().await;
            if probe.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the service exited ({status}) before it answered: {}", self.log_text());
            }
            assert!(Instant::now() < deadline, "the service did not answer within 60 s: {}", self.log_text());
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.logs).unwrap_or_default()
    }

    /// Sends a request and returns what came back, without judging it.
    pub async fn send(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                match response.text().await {
                    Ok(text) => Answer::Status(status, text),
                    Err(err) => Answer::NoAnswer(err.to_string()),
                }
            }
            Err(err) => Answer::NoAnswer(err.to_string()),
        }
    }

    /// Sends a request that must succeed (2xx); returns its JSON body.
    pub async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
        match self.send(method, path, token, body.as_ref()).await {
            Answer::Status(status, text) if status.is_success() => serde_json::from_str(&text).unwrap(),
            Answer::Status(status, text) => panic!("{path}: {status} {text}"),
            Answer::NoAnswer(why) => panic!("{path}: no answer: {why}"),
        }
    }

    pub async fn sign_in(&self, username: &str) -> String {
        let body = json!({ "username": username, "password": PASSWORD });
        let token = self.call(reqwest::Method::POST, "/v1/auth/token", None, Some(body)).await;
        token["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    /// Sends SIGTERM without waiting.
    pub fn signal_term(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    }

    /// Waits (up to 30 s) for the process to exit; returns its status.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the service did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status (within 30 s).
    pub fn terminate(mut self) -> ExitStatus {
        self.signal_term();
        self.wait()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failing test must not leave a server behind (a no-op once the process has been waited for).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
