//! `blasfix apply` under real signals and faults, with the fake conda of `apply.rs` behind a
//! wrapper script that forks grandchildren (one of them in its own session, as a launcher
//! would). Signals are sent for real once the fake frontend has reached its install (it writes
//! `FAKE_READY`; no test sleeps to wait for it). After each: the prefix (`conda-meta/`,
//! `pinned`) is compared byte for byte with its state before, and no process that carries the
//! test's token in its environment is left. The README's fault-injection table lists these.
#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::apply::{Fixture, fixture, snapshot};
use crate::support::{blasfix, blasfix_process};

const TOKEN_VAR: &str = "BLASFIX_TEST_TOKEN";

/// Running processes (not zombies) whose environment holds `BLASFIX_TEST_TOKEN=token`.
pub fn processes_with(token: &str) -> Vec<(u32, String)> {
    let want = format!("{TOKEN_VAR}={token}");
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rfind(')')
            .is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z'));
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        if !zombie && env.split(|&b| b == 0).any(|kv| kv == want.as_bytes()) {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            out.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    out
}

/// No process of this test is left (dying ones get a moment); any left are killed, then the
/// test fails naming them.
pub fn assert_none_left(token: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut left = processes_with(token);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = processes_with(token);
    }
    for (pid, _) in &left {
        // SAFETY: plain syscall on a leftover of this test.
        unsafe {
            libc::kill(*pid as libc::pid_t, libc::SIGKILL);
        }
    }
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// A `conda` that forks grandchildren (one leaves the process group with setsid, when there is
/// one) and runs the fake conda as its child, not with exec.
pub fn wrapper(f: &Fixture) -> PathBuf {
    wrapper_running(
        &f.root.join("wrapper bin"),
        &format!("'{}' \"$@\"", f.fake.display()),
    )
}

/// A `conda` in `dir` that forks grandchildren (one in its own session when `setsid` exists),
/// then runs `command` (a shell command line) as its child and exits with its status.
pub fn wrapper_running(dir: &Path, command: &str) -> PathBuf {
    let py = which::which("python3").expect("python3");
    let sleeper = format!("'{}' -c 'import time; time.sleep(600)'", py.display());
    let setsid = if which::which("setsid").is_ok() {
        format!("setsid {sleeper} &\n")
    } else {
        String::new()
    };
    let script =
        format!("#!/bin/sh\n{sleeper} &\n( {sleeper} & wait ) &\n{setsid}{command}\nexit $?\n");
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("conda");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

pub const TOKEN: &str = TOKEN_VAR;

fn token(f: &Fixture) -> String {
    f.root.display().to_string()
}

/// `blasfix apply --yes --backend mkl` with `conda`, started (not waited for).
fn start(f: &Fixture, conda: &Path, mode: &str, extra: &[&str]) -> Child {
    blasfix_process()
        .env("CONDA_EXE", conda)
        .env("FAKE_LOG", &f.log)
        .env("FAKE_MODE", mode)
        .env("FAKE_READY", f.root.join("ready"))
        .env(TOKEN_VAR, token(f))
        .env_remove("MAMBA_EXE")
        .current_dir(&f.root)
        .args(["apply", "--frontend", "conda", "--backend", "mkl", "--yes"])
        .args(extra)
        .arg("-p")
        .arg(&f.prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start blasfix")
}

/// Wait until the fake frontend has reached its install (it wrote `ready`); false when blasfix
/// ended first.
fn wait_until_installing(f: &Fixture, child: &mut Child) -> bool {
    wait_for_file(&f.root.join("ready"), child)
}

/// Wait until `ready` exists; false when `child` ended first (or after two minutes).
pub fn wait_for_file(ready: &Path, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if ready.exists() {
            return true;
        }
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Start apply with `conda`, wait until the frontend installs, run `at_install` (checks of
/// that moment), send `sig`, wait for the end.
fn signal_at_install(f: &Fixture, conda: &Path, sig: i32, at_install: &dyn Fn()) -> Output {
    let mut child = start(f, conda, "hang-install", &[]);
    assert!(
        wait_until_installing(f, &mut child),
        "signal {sig}: the frontend never reached its install"
    );
    at_install();
    send(&child, sig);
    child.wait_with_output().unwrap()
}

pub fn send(child: &Child, sig: i32) {
    // SAFETY: plain syscall on our child.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({}, {sig})", child.id());
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const PINNED: &str = "python 3.12.*\nlibblas=*=*openblas\n";

/// Ctrl-C, SIGTERM (timeout, CI runners, systemd) and SIGHUP (a closed terminal or SSH
/// session) while the frontend installs: the whole tree is stopped, pinned is restored byte
/// for byte, and blasfix ends by the same signal.
#[test]
fn signals_during_install_stop_the_tree_and_restore_everything() {
    for (sig, name) in [
        (libc::SIGINT, "Ctrl-C (SIGINT)"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
    ] {
        let f = fixture(Some(PINNED));
        let before = snapshot(&f.prefix);
        let out = signal_at_install(&f, &wrapper(&f), sig, &|| {
            // The blocking pin is out while the frontend installs.
            assert_eq!(
                std::fs::read_to_string(f.prefix.join("conda-meta/pinned")).unwrap(),
                "python 3.12.*\n"
            );
        });
        let err = text(&out.stderr);
        assert_eq!(out.status.signal(), Some(sig), "{name}: {err}");
        assert!(err.contains(&format!("interrupted by {name}")), "{err}");
        assert!(
            err.contains("every process it started were stopped"),
            "{err}"
        );
        assert!(err.contains("restored as it was"), "{err}");
        assert_eq!(snapshot(&f.prefix), before, "{name}");
        assert_none_left(&token(&f));
    }
}

/// A signal while the frontend previews (its dry run): its tree is stopped, nothing changed.
#[test]
fn a_signal_during_the_preview_changes_nothing() {
    let f = fixture(Some(PINNED));
    let before = snapshot(&f.prefix);
    let conda = wrapper(&f);
    let mut child = start(&f, &conda, "hang", &[]);
    assert!(wait_until_installing(&f, &mut child));
    send(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{err}");
    assert!(
        err.contains("while previewing; nothing was changed"),
        "{err}"
    );
    assert_eq!(snapshot(&f.prefix), before);
    assert_eq!(f.argv_log().len(), 1, "only the preview ran");
    assert_none_left(&token(&f));
}

/// With --edit-condarc, the `.condarc` is journaled like pinned: a signal puts it back.
#[test]
fn a_signal_puts_back_an_edited_condarc() {
    let f = fixture(None);
    let home = f.root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let rc_text = "pinned_packages:\n  - libblas=*=*openblas\n";
    std::fs::write(home.join(".condarc"), rc_text).unwrap();
    let before = snapshot(&f.prefix);
    let mut child = blasfix_process()
        .env("HOME", &home)
        .env("CONDA_EXE", &f.fake)
        .env("FAKE_MODE", "hang-install")
        .env("FAKE_READY", f.root.join("ready"))
        .env(TOKEN_VAR, token(&f))
        .args([
            "apply",
            "--frontend",
            "conda",
            "--backend",
            "mkl",
            "--yes",
            "--edit-condarc",
            "-p",
        ])
        .arg(&f.prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until_installing(&f, &mut child));
    assert_eq!(
        std::fs::read_to_string(home.join(".condarc")).unwrap(),
        "pinned_packages: []\n"
    );
    assert!(home.join(".condarc.blasfix-backup").is_file());
    send(&child, libc::SIGHUP);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGHUP),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(home.join(".condarc")).unwrap(),
        rc_text
    );
    assert!(!home.join(".condarc.blasfix-backup").exists());
    assert_eq!(snapshot(&f.prefix), before);
    assert_none_left(&token(&f));
}

/// Every catchable signal takes that path, not only the three above.
#[test]
fn other_catchable_signals_take_the_same_path() {
    for sig in [libc::SIGQUIT, libc::SIGUSR1, libc::SIGALRM] {
        let f = fixture(Some(PINNED));
        let before = snapshot(&f.prefix);
        let out = signal_at_install(&f, &f.fake, sig, &|| {});
        let err = text(&out.stderr);
        // SIGQUIT would dump core by default: blasfix exits 128+N instead.
        let ended = out.status.signal() == Some(sig) || out.status.code() == Some(128 + sig);
        assert!(ended, "signal {sig}: {:?} {err}", out.status);
        assert!(err.contains("restored as it was"), "{err}");
        assert_eq!(snapshot(&f.prefix), before);
        assert_none_left(&token(&f));
    }
}

/// A second signal does not wait out the grace period; the result is the same.
#[test]
fn a_second_signal_hurries_the_stop() {
    let f = fixture(Some(PINNED));
    let before = snapshot(&f.prefix);
    let conda = wrapper(&f);
    let mut child = start(&f, &conda, "hang-install", &[]);
    assert!(wait_until_installing(&f, &mut child));
    send(&child, libc::SIGTERM);
    send(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGTERM));
    assert_eq!(snapshot(&f.prefix), before);
    assert_none_left(&token(&f));
}

/// A timeout stops the wrapper's grandchildren too, before pinned is restored.
#[test]
fn a_timeout_stops_every_process_of_a_wrapper() {
    let f = fixture(Some(PINNED));
    let before = snapshot(&f.prefix);
    let conda = wrapper(&f);
    let child = start(&f, &conda, "hang-install", &["--timeout", "3"]);
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert_eq!(snapshot(&f.prefix), before);
    assert_none_left(&token(&f));
}

/// Processes a frontend leaves running after it ended are stopped (and said so).
#[test]
fn what_a_frontend_leaves_running_is_stopped() {
    let f = fixture(None);
    let conda = wrapper(&f);
    let out = start(&f, &conda, "ok", &[]).wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("running after it ended; stopped"), "{err}");
    assert!(text(&out.stdout).contains("Switched"));
    assert_none_left(&token(&f));
}

/// SIGKILL (or a power loss) cannot be caught: the journal stays, doctor reports it, apply
/// offers it back (restores it with --yes) and never writes over it.
#[test]
fn sigkill_leaves_a_journal_that_doctor_reports_and_apply_restores() {
    let f = fixture(Some(PINNED));
    let before = snapshot(&f.prefix);
    let meta = f.prefix.join("conda-meta");
    let mut child = start(&f, &f.fake, "hang-install", &[]);
    assert!(wait_until_installing(&f, &mut child));
    send(&child, libc::SIGKILL);
    child.wait().unwrap();
    // Linux: the frontend got SIGTERM when blasfix died (PR_SET_PDEATHSIG).
    if cfg!(target_os = "linux") {
        assert_none_left(&token(&f));
    }
    assert_eq!(
        std::fs::read_to_string(meta.join("pinned.blasfix-backup")).unwrap(),
        PINNED
    );
    assert_eq!(
        std::fs::read_to_string(meta.join("pinned")).unwrap(),
        "python 3.12.*\n"
    );
    let journal_state = snapshot(&f.prefix);

    // doctor reports it, with the fix.
    let out = blasfix()
        .args(["doctor", "--no-runtime", "-p"])
        .arg(&f.prefix)
        .output()
        .unwrap();
    let report = text(&out.stdout);
    assert!(
        report.contains("A `blasfix apply` was interrupted"),
        "{report}"
    );
    assert!(report.contains("mv "), "{report}");
    let out = blasfix()
        .args(["doctor", "--no-runtime", "--json", "-p"])
        .arg(&f.prefix)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == "interrupted-switch")
    );
    assert!(v["blas"]["pinned_journal"].as_str().is_some());

    // --dry-run shows it and leaves it; a new switch never writes over it.
    let out = f.cmd_to("ok", "mkl").arg("--dry-run").output().unwrap();
    let err = text(&out.stderr);
    assert!(err.contains("was interrupted"), "{err}");
    assert!(err.contains("+libblas=*=*openblas"), "{err}");
    assert_eq!(snapshot(&f.prefix), journal_state);

    // --yes restores it first, then goes on (here: already on OpenBLAS, nothing to do).
    let out = f.cmd_to("ok", "openblas").arg("--yes").output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("restored"), "{err}");
    assert!(text(&out.stdout).contains("nothing to do"));
    assert_eq!(snapshot(&f.prefix), before);
}

/// A stdout that closes (`blasfix ... | head`) never panics any command.
#[test]
fn a_closed_stdout_never_panics() {
    let f = fixture(Some(PINNED));
    let prefix = f.prefix.to_string_lossy().into_owned();
    let runs: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["--version"],
        vec!["apply", "--help"],
        vec!["doctor", "--no-runtime", "-v", "-p", &prefix],
        vec!["doctor", "--no-runtime", "--json", "-p", &prefix],
        vec!["explain", "--no-runtime", "-p", &prefix],
        vec!["pin", "--backend", "mkl"],
        vec!["completions", "bash"],
        vec!["ps", "--interval", "0.1"],
        vec!["ps", "--json", "--interval", "0.1"],
        vec!["bench", "--quick", "-p", &prefix],
        vec![
            "apply",
            "--frontend",
            "conda",
            "--backend",
            "mkl",
            "--dry-run",
            "-p",
            &prefix,
        ],
        vec![
            "apply",
            "--frontend",
            "conda",
            "--backend",
            "mkl",
            "--dry-run",
            "--json",
            "-p",
            &prefix,
        ],
    ];
    for args in runs {
        let (r, w) = std::io::pipe().unwrap();
        drop(r);
        let out = blasfix_process()
            .env("CONDA_EXE", &f.fake)
            .env("FAKE_MODE", "ok")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(w))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `blasfix apply --yes ... | head`: the pipe closes while the frontend runs; the switch is
/// completed all the same.
#[test]
fn a_closed_stdout_does_not_abandon_a_switch() {
    let f = fixture(Some(PINNED));
    let (r, w) = std::io::pipe().unwrap();
    drop(r);
    let out = blasfix_process()
        .env("CONDA_EXE", &f.fake)
        .env("FAKE_MODE", "ok")
        .env_remove("MAMBA_EXE")
        .args([
            "apply",
            "--frontend",
            "conda",
            "--backend",
            "mkl",
            "--yes",
            "-p",
        ])
        .arg(&f.prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::from(w))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        f.prefix
            .join("conda-meta/libblas-3.9.0-20_linux64_mkl.json")
            .is_file()
    );
    assert_eq!(
        f.pinned().as_deref(),
        Some("python 3.12.*\nlibblas=*=*mkl\n")
    );
    assert!(!f.prefix.join("conda-meta/pinned.blasfix-backup").exists());
}
