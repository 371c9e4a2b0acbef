//! Skipped tests that stay visible, for unit tests (`crate::testing::skip`) and integration
//! tests (`tests/it/support.rs` re-exports it) alike.
//!
//! Two mechanisms, nothing else (README, "Tests"):
//! - `#[ignore = "reason"]` for a test that a later stage runs on purpose (`--ignored` with a
//!   filter): the heavy tests, run by `tests/heavy/run.sh`.
//! - [`skip`] for a prerequisite found missing at run time: the test returns early, the skip is
//!   printed past libtest's output capture and appended to `$BLASFIX_SKIP_LOG` (which
//!   `.ci/test-stage` reads for the stage's summary line), and under `CI=true` a prerequisite
//!   that CI provides ([`Need::Ci`]) fails the test instead.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Who provides a prerequisite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `.ci/run` installs or provides it (the shared folder beside the checkout, the heavy
    /// directory, zsh and fish, Python 3, a C compiler, ...): missing under `CI=true` fails.
    Ci,
    /// Nobody guarantees it (Python 2 on Debian 12, another OS): always a recorded skip.
    Optional,
}

/// Mark the running test as skipped because `reason`, and return `None` (so that
/// `let Some(x) = find().or_else(|| skip(Need::Ci, "..")) else { return };` reads as one step).
/// Under `CI=true` a [`Need::Ci`] prerequisite panics instead: CI was meant to provide it.
pub fn skip<T>(need: Need, reason: &str) -> Option<T> {
    // libtest names each test's thread after the test.
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed thread>")
        .to_string();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let log = std::env::var_os("BLASFIX_SKIP_LOG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    if let Err(e) = record_skip(&test, need, reason, ci, log.as_deref()) {
        panic!("{e}");
    }
    // Past libtest's output capture, so that plain `cargo test` shows it too.
    let _ = writeln!(std::io::stderr(), "note: skipped {test}: {reason}");
    None
}

/// The skip of `test`: an error under CI for a [`Need::Ci`] prerequisite, else appended to
/// `log` as `test<TAB>reason` for the stage summary.
pub fn record_skip(
    test: &str,
    need: Need,
    reason: &str,
    ci: bool,
    log: Option<&Path>,
) -> Result<(), String> {
    if need == Need::Ci && ci {
        return Err(format!(
            "{test}: {reason}; under CI=true this is a failure: .ci/run is meant to provide it"
        ));
    }
    let reason = reason.replace(['\t', '\n'], " ");
    if let Some(log) = log {
        // One append of one short line: concurrent tests do not interleave.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(format!("{test}\t{reason}\n").as_bytes()))
            .map_err(|e| format!("cannot record the skip in {}: {e}", log.display()))?;
    }
    Ok(())
}

/// The shared folder of real files beside the checkout (`corpus/`, `reference/samples/`):
/// `$BLASFIX_SHARED` when set (a worktree elsewhere, say), else `../shared`. Tests only read it.
pub fn shared_root() -> PathBuf {
    match std::env::var_os("BLASFIX_SHARED").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// `<shared>/<rel>` (see [`shared_root`]) when it exists, else a skip ([`Need::Ci`]: CI
/// provides the shared folder).
pub fn shared(rel: &str) -> Option<PathBuf> {
    let root = shared_root();
    let p = root.join(rel);
    if p.exists() {
        Some(p)
    } else if !root.is_dir() {
        // One reason for every such test, so that the stage summary groups them.
        skip(
            Need::Ci,
            &format!(
                "no shared folder at {} (corpus, reference samples; BLASFIX_SHARED points elsewhere)",
                root.display()
            ),
        )
    } else {
        skip(Need::Ci, &format!("{} is not present", p.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_logged_or_fails_under_ci() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skips.tsv");
        record_skip("m::a", Need::Optional, "no python2", true, Some(&log)).unwrap();
        record_skip("m::b", Need::Ci, "no zsh\tnor\nfish", false, Some(&log)).unwrap();
        let err = record_skip("m::c", Need::Ci, "no corpus", true, Some(&log)).unwrap_err();
        assert!(
            err.contains("m::c: no corpus") && err.contains("CI=true"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "m::a\tno python2\nm::b\tno zsh nor fish\n"
        );
        assert!(record_skip("m::d", Need::Optional, "x", false, None).is_ok());
    }
}
