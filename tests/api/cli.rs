//! The operator commands, run as the real binary.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_fieldproof");

fn run(args: &[&str], database: &Path, stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", database)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("binary finishes")
}

fn copy_checklists(to: &Path) {
    for key in ["broadband-install", "make-safe-telecom"] {
        std::fs::create_dir_all(to.join(key)).expect("mkdir");
        std::fs::copy(Path::new("checklists").join(key).join("v1.toml"), to.join(key).join("v1.toml")).expect("copy");
    }
}

#[test]
fn validate_reports_every_problem_with_file_and_item() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_checklists(dir.path());
    let file = dir.path().join("broadband-install/v1.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    let broken = text.replacen("kind = \"number\"", "kind = \"number\"\nexpected = true", 1).replacen(
        "hazards = [\"",
        "hazards = [\"lightning\", \"",
        1,
    );
    std::fs::write(&file, broken).expect("write");
    std::fs::write(dir.path().join("make-safe-telecom/latest.toml"), "title = 'x'").expect("write");

    let out = run(&["checklists", "validate", dir.path().to_str().expect("path")], &dir.path().join("unused.db"), "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("latest.toml: file name must be v<N>.toml"), "{stderr}");
    assert!(stderr.contains("broadband-install/v1.toml"), "{stderr}");
    assert!(stderr.contains("lightning"), "unknown hazard named: {stderr}");

    let good = run(&["checklists", "validate", "checklists"], &dir.path().join("unused.db"), "");
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
}

#[test]
fn reimporting_a_changed_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let templates = dir.path().join("templates");
    copy_checklists(&templates);
    let db = dir.path().join("fieldproof.db");
    let dir_arg = templates.to_str().expect("path");
    let first = run(&["checklists", "import", dir_arg], &db, "");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("2 published"));
    let again = run(&["checklists", "import", dir_arg], &db, "");
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 published, 2 already published"));

    let file = templates.join("broadband-install/v1.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replacen("title = \"", "title = \"Revised ", 1)).expect("write");
    let changed = run(&["checklists", "import", dir_arg], &db, "");
    let stderr = String::from_utf8_lossy(&changed.stderr);
    assert!(!changed.status.success());
    assert!(stderr.contains("broadband-install v1") && stderr.contains("publish v2"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
}

#[test]
fn users_add_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("fieldproof.db");
    let args = ["users", "add", "--username", "rita", "--role", "safety_officer", "--display-name", "Rita Moss"];
    let added = run(&args, &db, "a long enough password\n");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let duplicate = run(&args, &db, "a long enough password\n");
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    let short = run(&["users", "add", "--username", "pat", "--role", "technician"], &db, "short\n");
    assert!(String::from_utf8_lossy(&short.stderr).contains("password: at least 12 characters"));
}

#[test]
fn unreachable_postgres_is_a_clear_error() {
    let out = Command::new(BIN)
        .args(["migrate"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.starts_with("error: cannot connect to PostgreSQL"), "{stderr}");
}

#[test]
fn version_names_the_release_and_the_git_commit_it_was_built_from() {
    let out = Command::new(BIN).arg("--version").output().expect("binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // What the build script saw: the commit given to the build, else this checkout's HEAD, else unknown.
    let head =
        Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok().filter(|o| o.status.success());
    let commit = match std::env::var("FIELDPROOF_GIT_COMMIT") {
        Ok(given) if !given.trim().is_empty() => given.trim().to_owned(),
        _ => head.map_or("unknown".to_owned(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned()),
    };
    let expected = format!("fieldproof {} (commit {commit})\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

/// `fieldproof rules train ... | head`: a reader that goes away ends the command quietly (it used to
/// panic with a backtrace), after the net is written.
#[test]
fn a_command_whose_reader_goes_away_ends_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notes = dir.path().join("notes.jsonl");
    let dev = std::fs::read_to_string("tests/data/notes/dev.jsonl").expect("dev notes");
    std::fs::write(&notes, dev.lines().take(400).collect::<Vec<_>>().join("\n")).expect("write notes");
    let net = dir.path().join("v99.net.json");
    let mut child = Command::new(BIN)
        .args(["rules", "train", "--notes", notes.to_str().unwrap(), "--out", net.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    drop(child.stdout.take()); // the reader has gone before the first line
    let out = child.wait_with_output().expect("binary finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(net.is_file(), "the net was written before anything was printed");
}
