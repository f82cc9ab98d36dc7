//! Settings: defaults ← environment ← flags, validated once at start-up and passed in app state.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::db::{Backend, DatabaseUrl};

pub const DEFAULT_DATABASE_URL: &str = "fieldproof.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const MIN_SECRET_LEN: usize = 32;

/// Everything the service needs to know about its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseUrl,
    pub max_connections: u32,
    pub jwt: JwtSettings,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    pub safety: SafetyPolicy,
    pub customers: CustomerContact,
    pub metrics: MetricsSettings,
    /// Whether a sign-off must carry the technician's PIN (`FIELDPROOF_SIGNOFF_PIN`).
    pub signoff_pin: SignoffPin,
}

/// Re-authentication at sign-off (21 CFR 11.200).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SignoffPin {
    /// A sign-off may carry the technician's PIN; one that does is checked, and recorded as
    /// re-authenticated.
    #[default]
    #[value(alias = "off")]
    Optional,
    /// Every sign-off carries the technician's PIN (422 without it).
    Required,
}

impl SignoffPin {
    /// One line for `check-config`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Optional => "sign-off PIN: optional (checked when a sign-off carries one)",
            Self::Required => "sign-off PIN: required on every sign-off (FIELDPROOF_SIGNOFF_PIN=required)",
        }
    }
}

/// Who may scrape `GET /metrics`. Neither set: nobody (the route answers 404).
#[derive(Clone, Default)]
pub struct MetricsSettings {
    /// A bearer token the scraper must send (`Authorization: Bearer <token>`).
    pub token: Option<String>,
    /// A listener of its own for `/metrics` (e.g. 127.0.0.1:9464); the main listener then has none.
    pub addr: Option<std::net::SocketAddr>,
}

/// The shortest metrics token accepted: long enough that guessing it is hopeless.
pub const MIN_METRICS_TOKEN_LEN: usize = 24;

impl MetricsSettings {
    /// Validates `FIELDPROOF_METRICS_TOKEN` and `FIELDPROOF_METRICS_ADDR`.
    pub fn new(token: Option<&str>, addr: Option<&str>) -> anyhow::Result<Self> {
        let token = token.filter(|t| !t.is_empty());
        if let Some(token) = token {
            anyhow::ensure!(
                token.len() >= MIN_METRICS_TOKEN_LEN,
                "FIELDPROOF_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LEN} characters"
            );
            anyhow::ensure!(
                token.bytes().all(|b| b.is_ascii_graphic()),
                "FIELDPROOF_METRICS_TOKEN must be printable ASCII without spaces"
            );
        }
        let addr = match addr.filter(|a| !a.is_empty()) {
            Some(addr) => Some(addr.parse().map_err(|_| {
                anyhow::anyhow!("FIELDPROOF_METRICS_ADDR `{addr}` is not an address and port (e.g. 127.0.0.1:9464)")
            })?),
            None => None,
        };
        Ok(Self { token: token.map(str::to_owned), addr })
    }

    /// One line for `check-config` and the start-up log (never the token itself).
    pub fn describe(&self) -> String {
        let guard = if self.token.is_some() { "bearer token required" } else { "no token" };
        match (&self.addr, &self.token) {
            (Some(addr), _) => format!("metrics: GET /metrics on its own listener http://{addr} ({guard})"),
            (None, Some(_)) => format!("metrics: GET /metrics on the main listener ({guard})"),
            (None, None) => {
                "metrics: off (set FIELDPROOF_METRICS_TOKEN or FIELDPROOF_METRICS_ADDR to serve /metrics)".to_owned()
            }
        }
    }
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("addr", &self.addr)
            .finish()
    }
}

/// How the service reaches customers: their feedback links and the outbox's channels.
#[derive(Debug, Clone)]
pub struct CustomerContact {
    /// Where customers reach the service (the feedback links start with it).
    pub public_url: String,
    /// How long a feedback link works.
    pub feedback_link_ttl: chrono::Duration,
    pub outbox: OutboxSettings,
}

impl Default for CustomerContact {
    fn default() -> Self {
        Self {
            public_url: format!("http://{DEFAULT_BIND}"),
            feedback_link_ttl: chrono::Duration::days(14),
            outbox: OutboxSettings::default(),
        }
    }
}

/// The outbox worker: its channels, its claims and its patience.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// SMTP server URL (`smtp://host:port`, `smtps://user:pass@host`, `smtp://host?tls=required`).
    pub smtp_url: Option<String>,
    /// The sender of customer emails, e.g. `Northside Heating <care@northside.example>`.
    pub email_from: String,
    pub webhook: Option<WebhookTarget>,
    /// Deliver to the service log what no other channel reaches (the demo's channel).
    pub log: bool,
    /// How long a worker's claim on a message lasts; a dead worker's claims are retaken after it.
    pub lease: chrono::Duration,
    /// Wait before the first retry; doubled on each failure up to `max_backoff`.
    pub first_backoff: chrono::Duration,
    pub max_backoff: chrono::Duration,
    /// Attempts before a message is given up (`failed`, visible to dispatchers, re-queueable).
    pub max_attempts: i32,
    /// Messages claimed (and delivered concurrently) per pass.
    pub batch: i64,
    /// Pause between passes when the outbox is empty.
    pub poll: std::time::Duration,
    /// Per-delivery network timeout (well under the lease).
    pub timeout: std::time::Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            email_from: "fieldproof <no-reply@fieldproof.invalid>".to_owned(),
            webhook: None,
            log: true,
            lease: chrono::Duration::minutes(5),
            first_backoff: chrono::Duration::seconds(30),
            max_backoff: chrono::Duration::hours(1),
            max_attempts: 12,
            batch: 16,
            poll: std::time::Duration::from_secs(2),
            timeout: std::time::Duration::from_secs(20),
        }
    }
}

impl OutboxSettings {
    /// Checks what can be checked without a network: the SMTP URL and the sender parse.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.smtp_url {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                .map_err(|e| anyhow::anyhow!("FIELDPROOF_SMTP_URL is not a valid SMTP URL: {e}"))?;
        }
        self.email_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| anyhow::anyhow!("FIELDPROOF_EMAIL_FROM `{}` is not a valid sender: {e}", self.email_from))?;
        Ok(())
    }
}

/// The company's own endpoint (SMS gateway, CRM) for customer messages, signed per Standard Webhooks.
#[derive(Clone)]
pub struct WebhookTarget {
    pub url: String,
    /// The HMAC key (a `whsec_`-prefixed base64 secret is decoded, as Standard Webhooks does).
    pub secret: Vec<u8>,
}

impl WebhookTarget {
    pub fn new(url: &str, secret: &str) -> anyhow::Result<Self> {
        use base64::Engine as _;
        let key = match secret.strip_prefix("whsec_") {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .context("the webhook secret after `whsec_` is not base64")?,
            None => secret.as_bytes().to_vec(),
        };
        anyhow::ensure!(key.len() >= 24, "the webhook secret must be at least 24 bytes");
        anyhow::ensure!(
            url.starts_with("http://") || url.starts_with("https://"),
            "the webhook URL must start with http:// or https://"
        );
        reqwest::Url::parse(url).with_context(|| format!("the webhook URL `{url}` is not valid"))?;
        Ok(Self { url: url.to_owned(), secret: key })
    }
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Deadlines of the safety-critical follow-up.
#[derive(Debug, Clone, Copy)]
pub struct SafetyPolicy {
    /// A make-safe visit is due this long after the incident is graded safety-critical.
    pub make_safe_within: chrono::Duration,
    /// A report the rules cannot grade must be graded by a person within this (the triage lane).
    pub triage_within: chrono::Duration,
    /// Retraining is due this long after it is assigned.
    pub retraining_within: chrono::Duration,
}

impl Default for SafetyPolicy {
    fn default() -> Self {
        Self {
            make_safe_within: chrono::Duration::hours(4),
            triage_within: chrono::Duration::minutes(15),
            retraining_within: chrono::Duration::days(14),
        }
    }
}

#[derive(Clone)]
pub struct JwtSettings {
    pub secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
    pub ttl: chrono::Duration,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// The JWT secret: the configured one, or with SQLite a random one generated once and kept in
/// `<database>.jwt-secret` beside the database file. PostgreSQL deployments must configure it,
/// since every instance behind a load balancer has to share it.
pub fn resolve_jwt_secret(configured: Option<&str>, database: &DatabaseUrl) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = configured {
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_LEN,
            "FIELDPROOF_JWT_SECRET must be at least {MIN_SECRET_LEN} characters"
        );
        return Ok(secret.as_bytes().to_vec());
    }
    match database.backend {
        Backend::Postgres => {
            anyhow::bail!("FIELDPROOF_JWT_SECRET is required with PostgreSQL (all instances must share it)")
        }
        Backend::Sqlite => secret_beside(Path::new(&database.target)),
    }
}

fn secret_beside(database: &Path) -> anyhow::Result<Vec<u8>> {
    let mut name = database.as_os_str().to_owned();
    name.push(".jwt-secret");
    let path = PathBuf::from(name);
    if path.exists() {
        let secret = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let secret = secret.trim();
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_LEN,
            "{} is too short; delete it to generate a new one",
            path.display()
        );
        return Ok(secret.as_bytes().to_vec());
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the JWT secret: {e}"))?;
    let secret = hex::encode(bytes);
    write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(secret.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}
