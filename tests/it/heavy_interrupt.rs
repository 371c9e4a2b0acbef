//! Issue 13 with the real-solver conda stand-in (`tests/heavy/fake_conda.py`: py-rattler
//! solves and installs real OpenBLAS and MKL packages) behind a wrapper that forks
//! grandchildren: real signals sent at the moment it installs, a signal after its transaction,
//! SIGKILL, a closed stdout. After each, `conda-meta/` (pinned included) is compared byte for
//! byte with its state before (or with the completed switch), and no process of the test is
//! left. Runs only with `BLASFIX_HEAVY_DIR` (see `support::heavy_dir`).
#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::apply::snapshot;
use crate::heavy_apply::{Heavy, blas_record, loaded_blas, setup};
use crate::interrupt::{TOKEN, assert_none_left, send, wait_for_file, wrapper_running};
use crate::support::{blasfix, blasfix_process, heavy_dir};

/// A `conda` wrapper that forks grandchildren and runs the stand-in as its child.
fn forking_conda(h: &Heavy) -> PathBuf {
    wrapper_running(
        &h.root.join("forking bin"),
        &format!(
            "FAKE_CONDA_ARGV0=\"$0\" '{}' '{}' \"$@\"",
            h.python.display(),
            h.fake.display()
        ),
    )
}

fn token(h: &Heavy) -> String {
    h.root.display().to_string()
}

/// `blasfix apply --yes --backend BACKEND -p PREFIX` with `conda`, started.
fn start(h: &Heavy, conda: &Path, backend: &str, hang: Option<&str>) -> Child {
    let _ = std::fs::remove_file(h.root.join("ready"));
    let mut cmd = blasfix_process();
    cmd.env("CONDA_EXE", conda)
        .env("FAKE_CONDA_CHANNELS", &h.channel)
        .env("FAKE_CONDA_READY", h.root.join("ready"))
        .env(TOKEN, token(h))
        .env_remove("MAMBA_EXE")
        .current_dir(&h.root)
        .args([
            "apply",
            "--yes",
            "--frontend",
            "conda",
            "--backend",
            backend,
            "-p",
        ])
        .arg(&h.prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(mode) = hang {
        cmd.env("FAKE_CONDA_HANG", mode);
    }
    cmd.spawn().expect("start blasfix")
}

fn meta(h: &Heavy) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    snapshot(&h.prefix.join("conda-meta"))
}

const PINNED: &str = "python 3.11.*\nlibblas=*=*openblas\n";

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_signals_while_installing_leave_conda_meta_as_it_was() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    std::fs::write(h.prefix.join("conda-meta/pinned"), PINNED).unwrap();
    let conda = forking_conda(&h);
    let before = meta(&h);
    for (sig, name) in [
        (libc::SIGINT, "Ctrl-C (SIGINT)"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
    ] {
        let mut child = start(&h, &conda, "mkl", Some("1"));
        assert!(
            wait_for_file(&h.root.join("ready"), &mut child),
            "{name}: the stand-in never reached its install"
        );
        send(&child, sig);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(sig), "{name}: {err}");
        assert!(err.contains(&format!("interrupted by {name}")), "{err}");
        assert!(err.contains("restored as it was"), "{err}");
        assert_eq!(meta(&h), before, "{name}");
        assert_none_left(&token(&h));
    }
    assert!(blas_record(&h.prefix).ends_with("_openblas"));
    assert!(loaded_blas(&h.prefix).contains("openblas"));
}

/// The signal comes when the transaction is done: the records declare MKL, so the switch is
/// completed (the pin follows them) rather than leaving a pin that contradicts the records.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_a_signal_after_the_transaction_completes_the_switch() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    std::fs::write(h.prefix.join("conda-meta/pinned"), PINNED).unwrap();
    let conda = forking_conda(&h);
    let mut child = start(&h, &conda, "mkl", Some("after"));
    assert!(wait_for_file(&h.root.join("ready"), &mut child));
    send(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{err}");
    assert!(
        err.contains("the records already declare Intel MKL"),
        "{err}"
    );
    assert_none_left(&token(&h));
    assert!(blas_record(&h.prefix).ends_with("_mkl"));
    assert_eq!(
        std::fs::read_to_string(h.prefix.join("conda-meta/pinned")).unwrap(),
        "python 3.11.*\nlibblas=*=*mkl\n"
    );
    assert!(!h.prefix.join("conda-meta/pinned.blasfix-backup").exists());
    let out = blasfix()
        .args(["doctor", "--json", "-p"])
        .arg(&h.prefix)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["blas"]["implementation"], "mkl");
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert!(
        !ids.contains(&"pin-contradicts-blas") && !ids.contains(&"interrupted-switch"),
        "{ids:?}"
    );
}

/// SIGKILL while installing: the journal stays; doctor reports it; `apply --yes` restores it.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_sigkill_leaves_a_journal_that_apply_restores() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    std::fs::write(h.prefix.join("conda-meta/pinned"), PINNED).unwrap();
    let before = meta(&h);
    let mut child = start(&h, &h.conda, "mkl", Some("1"));
    assert!(wait_for_file(&h.root.join("ready"), &mut child));
    send(&child, libc::SIGKILL);
    child.wait().unwrap();
    // The stand-in got SIGTERM when blasfix died (PR_SET_PDEATHSIG).
    assert_none_left(&token(&h));
    assert_eq!(
        std::fs::read_to_string(h.prefix.join("conda-meta/pinned.blasfix-backup")).unwrap(),
        PINNED
    );
    let out = blasfix()
        .args(["doctor", "--json", "--no-runtime", "-p"])
        .arg(&h.prefix)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"interrupted-switch\""));
    let out = start(&h, &h.conda, "openblas", None)
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("restored"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to do"));
    assert_eq!(meta(&h), before);
}

/// `blasfix apply --yes ... | head`: stdout closes while the stand-in installs; the switch is
/// completed and verified all the same.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_a_closed_stdout_does_not_abandon_the_switch() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    let (r, w) = std::io::pipe().unwrap();
    drop(r);
    let out = blasfix_process()
        .env("CONDA_EXE", &h.conda)
        .env("FAKE_CONDA_CHANNELS", &h.channel)
        .env_remove("MAMBA_EXE")
        .current_dir(&h.root)
        .args([
            "apply",
            "--yes",
            "--frontend",
            "conda",
            "--backend",
            "mkl",
            "-p",
        ])
        .arg(&h.prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::from(w))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(blas_record(&h.prefix).ends_with("_mkl"));
    assert!(loaded_blas(&h.prefix).contains("libmkl_rt"));
    assert_eq!(
        std::fs::read_to_string(h.prefix.join("conda-meta/pinned")).unwrap(),
        "libblas=*=*mkl\n"
    );
}

/// Case 2: a timeout stops the whole tree of a wrapper that forks grandchildren (none goes on
/// to install after "restored"), then restores conda-meta byte for byte.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_a_timeout_stops_the_wrapper_s_whole_tree() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    std::fs::write(h.prefix.join("conda-meta/pinned"), PINNED).unwrap();
    let conda = forking_conda(&h);
    let before = meta(&h);
    let mut cmd = blasfix_process();
    let out = cmd
        .env("CONDA_EXE", &conda)
        .env("FAKE_CONDA_CHANNELS", &h.channel)
        .env("FAKE_CONDA_HANG", "1")
        .env(TOKEN, token(&h))
        .env_remove("MAMBA_EXE")
        .current_dir(&h.root)
        .args([
            "apply",
            "--yes",
            "--frontend",
            "conda",
            "--backend",
            "mkl",
            "--timeout",
            "20",
            "-p",
        ])
        .arg(&h.prefix)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert_none_left(&token(&h));
    assert_eq!(meta(&h), before);
    assert!(blas_record(&h.prefix).ends_with("_openblas"));
}
