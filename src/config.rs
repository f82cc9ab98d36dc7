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
}

/// Deadlines of the safety-critical follow-up.
#[derive(Debug, Clone, Copy)]
pub struct SafetyPolicy {
    /// A make-safe visit is due this long after the incident is graded safety-critical.
    pub make_safe_within: chrono::Duration,
    /// Retraining is due this long after it is assigned.
    pub retraining_within: chrono::Duration,
}

impl Default for SafetyPolicy {
    fn default() -> Self {
        Self { make_safe_within: chrono::Duration::hours(4), retraining_within: chrono::Duration::days(14) }
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
