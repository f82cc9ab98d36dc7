//! Checklist versions in memory and on disk. A published version never changes, so its response
//! bytes and ETag are computed once and served from memory; the directory reader turns
//! `checklists/<key>/v<N>.toml` files into versions and reports every problem with file and item.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use actix_web::web::Bytes;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use crate::db::{self, DbConnection};
use crate::domain::checklist::{self, ChecklistVersion, Template};
use crate::domain::net::{Net, NetFile};
use crate::domain::recovery::{Policy, PolicyFile};
use crate::domain::rules::{RuleSet, RuleSetFile};
use crate::workflows::Error;

/// A published checklist version, parsed once, with the exact bytes and ETag served for it.
#[derive(Debug)]
pub struct PublishedVersion {
    pub checklist: ChecklistVersion,
    pub body: Bytes,
    pub etag: String,
}

impl PublishedVersion {
    fn from_body(body: String) -> anyhow::Result<Self> {
        let checklist: ChecklistVersion = serde_json::from_str(&body)?;
        let etag = format!("\"{}\"", &content_hash(&body)[..32]);
        Ok(Self { checklist, body: Bytes::from(body), etag })
    }
}

/// The canonical JSON body of a version, as stored and served.
pub fn canonical_body(checklist: &ChecklistVersion) -> anyhow::Result<String> {
    Ok(serde_json::to_string(checklist)?)
}

pub fn content_hash(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// Cache of published versions, filled on first use from the database: per checklist key, per
/// version (so a look-up needs no owned key). Only published versions are kept, so no caller chooses
/// the keys, and a fast hash will do.
#[derive(Default)]
pub struct Catalogue {
    versions: RwLock<FxHashMap<String, FxHashMap<u32, Arc<PublishedVersion>>>>,
}

impl Catalogue {
    /// The published version `key`/`version` if it is already in memory (no database needed).
    pub fn cached(&self, key: &str, version: u32) -> Option<Arc<PublishedVersion>> {
        self.versions.read().ok()?.get(key)?.get(&version).cloned()
    }

    /// The published version `key`/`version`, from memory or else from the database.
    pub fn version(
        &self,
        conn: &mut DbConnection,
        key: &str,
        version: u32,
    ) -> Result<Option<Arc<PublishedVersion>>, Error> {
        if let Some(found) = self.cached(key, version) {
            return Ok(Some(found));
        }
        let Ok(db_version) = i32::try_from(version) else { return Ok(None) };
        let Some(row) = db::checklists::find(conn, key, db_version)? else { return Ok(None) };
        let published = Arc::new(PublishedVersion::from_body(row.body)?);
        let mut versions = self.versions.write().map_err(poisoned)?;
        versions.entry(key.to_owned()).or_default().insert(version, Arc::clone(&published));
        Ok(Some(published))
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal(anyhow::anyhow!("checklist cache lock poisoned"))
}

/// A template file that failed to load, with every problem found in it.
#[derive(Debug)]
pub struct FileProblems {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

/// Reads every `<dir>/<key>/v<N>.toml`, ordered by key then version. Folders starting with `_`
/// hold other data (rule sets) and are skipped. Returns all versions, or every problem in every file.
pub fn read_dir(dir: &Path) -> Result<Vec<ChecklistVersion>, Vec<FileProblems>> {
    let mut versions = Vec::new();
    let mut failures = Vec::new();
    let problem = |path: &Path, problem: String| FileProblems { path: path.to_owned(), problems: vec![problem] };
    let keys = match sorted_entries(dir) {
        Ok(entries) => entries,
        Err(err) => {
            return Err(vec![problem(dir, format!("cannot read checklist directory: {err}"))]);
        }
    };
    for key_dir in keys.into_iter().filter(|p| p.is_dir()) {
        let key = key_dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if key.starts_with('_') || key.starts_with('.') {
            continue;
        }
        let files = match sorted_entries(&key_dir) {
            Ok(files) => files,
            Err(err) => {
                failures.push(problem(&key_dir, format!("cannot read: {err}")));
                continue;
            }
        };
        for path in files {
            match read_file(&key, &path) {
                Ok(version) => versions.push(version),
                Err(problems) => failures.push(FileProblems { path, problems }),
            }
        }
    }
    if !failures.is_empty() {
        return Err(failures);
    }
    versions.sort_by(|a, b| (&a.key, a.version).cmp(&(&b.key, b.version)));
    Ok(versions)
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}

/// The version a `v<N>.toml` file holds (N >= 1), or the problem with its name.
fn version_of(path: &Path) -> Result<u32, String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.strip_prefix('v')
        .and_then(|rest| rest.strip_suffix(".toml"))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("file name must be v<N>.toml with N >= 1 (e.g. v1.toml), found `{name}`"))
}

/// Parses and validates one template file; its key is the folder name, its version the file name.
pub fn read_file(key: &str, path: &Path) -> Result<ChecklistVersion, Vec<String>> {
    let version = version_of(path).map_err(|problem| vec![problem])?;
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("cannot read: {e}")])?;
    let template: Template = toml::from_str(&text).map_err(|e| vec![e.to_string().trim().replace('\n', " ")])?;
    let version = ChecklistVersion::from_template(key.to_owned(), version, template);
    let problems = checklist::validate(&version);
    if problems.is_empty() { Ok(version) } else { Err(problems.iter().map(ToString::to_string).collect()) }
}

/// Folder of the severity rule sets inside the checklist directory.
pub const RULES_DIR: &str = "_severity-rules";
/// Folder of the customer recovery policies inside the checklist directory.
pub const POLICY_DIR: &str = "_recovery-policy";

/// Loads the latest severity rule set, `<dir>/_severity-rules/v<N>.toml` with the highest N.
pub fn read_rules(dir: &Path) -> Result<RuleSet, Vec<String>> {
    let folder = dir.join(RULES_DIR);
    read_latest(dir, RULES_DIR, |n, file: RuleSetFile| load_rule_set(&folder, n, file))
}

/// Loads every severity rule set in a rules folder (such as `checklists/_severity-rules`), oldest first.
pub fn read_rule_versions(folder: &Path) -> Result<Vec<RuleSet>, Vec<String>> {
    let versions = read_versions(folder, |n, file: RuleSetFile| load_rule_set(folder, n, file))?;
    Ok(versions.into_iter().map(|(_, rules)| rules).collect())
}

/// Compiles rule set `v<n>` and loads the safety net its `[net]` table names, from the same folder.
fn load_rule_set(folder: &Path, n: u32, file: RuleSetFile) -> Result<RuleSet, Vec<String>> {
    let net = file.net.as_ref().map(|reference| read_net(&folder.join(&reference.weights))).transpose()?;
    let mut rules = RuleSet::compile(format!("severity-rules/v{n}"), file)?;
    rules.net = net;
    Ok(rules)
}

/// Reads and checks the net a rule set names; every problem names the file.
fn read_net(path: &Path) -> Result<Net, Vec<String>> {
    let named = |problem: String| format!("{}: {problem}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| vec![named(format!("cannot read: {e}"))])?;
    let stored: NetFile = serde_json::from_str(&text).map_err(|e| vec![named(e.to_string())])?;
    Net::load(stored).map_err(|problems| problems.into_iter().map(named).collect())
}

/// Loads the latest recovery policy, `<dir>/_recovery-policy/v<N>.toml` with the highest N.
pub fn read_policy(dir: &Path) -> Result<Policy, Vec<String>> {
    read_latest(dir, POLICY_DIR, |n, file: PolicyFile| Policy::load(format!("recovery-policy/v{n}"), file))
}

/// Loads the highest N's `v<N>.toml` in `<dir>/<folder>`. The others are not read: a service uses
/// only the latest, and a compiled rule set takes megabytes that the allocator keeps once used
/// (`fieldproof checklists validate` checks every version).
fn read_latest<F, T>(
    dir: &Path,
    folder: &str,
    load: impl Fn(u32, F) -> Result<T, Vec<String>>,
) -> Result<T, Vec<String>>
where
    F: serde::de::DeserializeOwned,
{
    let folder = dir.join(folder);
    let missing = || vec![format!("{}: no v1.toml found", folder.display())];
    let files = version_files(&folder)?;
    let latest = files.iter().filter_map(|path| version_of(path).ok()).max().ok_or_else(missing)?;
    let mut found = None;
    each_version(files, |n| n == latest, load, |_, loaded| found = Some(loaded))?;
    found.ok_or_else(missing)
}

/// Reads and loads every `v<N>.toml` in `folder`, ordered by N; every problem is reported.
fn read_versions<F, T>(
    folder: &Path,
    load: impl Fn(u32, F) -> Result<T, Vec<String>>,
) -> Result<Vec<(u32, T)>, Vec<String>>
where
    F: serde::de::DeserializeOwned,
{
    let mut versions = Vec::new();
    each_version(version_files(folder)?, |_| true, load, |number, loaded| versions.push((number, loaded)))?;
    versions.sort_by_key(|(n, _)| *n);
    Ok(versions)
}

/// The files of a versions folder, sorted, without the nets (`v<N>.net.json`), which are read
/// through their rule sets.
fn version_files(folder: &Path) -> Result<Vec<PathBuf>, Vec<String>> {
    let files = sorted_entries(folder).map_err(|e| vec![format!("{}: cannot read: {e}", folder.display())])?;
    Ok(files.into_iter().filter(|p| p.extension().is_none_or(|e| e != "json")).collect())
}

/// Loads each of `files` (`v<N>.toml`) whose N is `wanted` and hands it to `each`; every problem is
/// reported.
fn each_version<F, T>(
    files: Vec<PathBuf>,
    wanted: impl Fn(u32) -> bool,
    load: impl Fn(u32, F) -> Result<T, Vec<String>>,
    mut each: impl FnMut(u32, T),
) -> Result<(), Vec<String>>
where
    F: serde::de::DeserializeOwned,
{
    let mut problems = Vec::new();
    for path in files {
        let number = match version_of(&path) {
            Ok(number) => number,
            Err(problem) => {
                problems.push(format!("{}: {problem}", path.display()));
                continue;
            }
        };
        if !wanted(number) {
            continue;
        }
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| vec![format!("cannot read: {e}")])
            .and_then(|text| toml::from_str::<F>(&text).map_err(|e| vec![e.to_string().trim().replace('\n', " ")]))
            .and_then(|file| load(number, file));
        match parsed {
            Ok(loaded) => each(number, loaded),
            Err(errs) => problems.extend(errs.into_iter().map(|e| format!("{}: {e}", path.display()))),
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}
