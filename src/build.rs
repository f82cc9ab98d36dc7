//! Build script: records the git commit the binary is built from, for `fieldproof --version`.
//! `FIELDPROOF_GIT_COMMIT` wins when set (the Dockerfile passes it in, as a build context has no
//! `.git`); otherwise `git rev-parse HEAD`; otherwise `unknown` (a source tarball, no git).

use std::path::Path;
use std::process::Command;

/// What `git <args>` prints, trimmed, if it runs and succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=FIELDPROOF_GIT_COMMIT");
    let given = std::env::var("FIELDPROOF_GIT_COMMIT").ok().filter(|c| !c.trim().is_empty());
    let commit = match given {
        Some(commit) => commit.trim().to_owned(),
        None => {
            // Build again when HEAD moves: HEAD itself, the branch it names, the packed refs
            // (paths from git, so a worktree's own HEAD is watched too). A path that does not
            // exist is left out: cargo would rerun this script at every build.
            let branch = git(&["symbolic-ref", "-q", "HEAD"]);
            for name in ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref()) {
                if let Some(path) = git(&["rev-parse", "--git-path", name]).filter(|p| Path::new(p).exists()) {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    println!("cargo:rustc-env=FIELDPROOF_COMMIT={commit}");
}
