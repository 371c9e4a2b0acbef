//! `blasfix ps` against real processes this test starts (plain Python 3; the NumPy, SciPy,
//! scikit-learn and joblib workloads are in `heavy_ps.rs`). Every target runs in its own process
//! group, is killed with its workers when the test ends (failed or not), and exits by itself
//! when the test process dies (its stdin closes). Tests wait for conditions (a ready file, a
//! line on stderr), never for time to pass.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{blasfix, blasfix_unprivileged};

pub const PS_SCHEMA: &str = include_str!("../../templates/schema/ps.schema.json");

/// The compiled ps schema (draft 2020-12).
pub fn ps_validator() -> jsonschema::Validator {
    crate::schema::compile(PS_SCHEMA)
}

/// Panic with every violation of the ps schema.
pub fn assert_valid(doc: &Value, what: &str) {
    let errors = crate::schema::violations(&ps_validator(), doc);
    assert!(
        errors.is_empty(),
        "ps --json for {what} breaks templates/schema/ps.schema.json:\n{}\n{doc:#}",
        errors.join("\n")
    );
}

/// The real Python 3 interpreter (not a pyenv shim script).
pub fn python3() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 on PATH");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Lines every target script starts with: exit with the whole group when stdin closes (the
/// test process died), and `ready(name)` to tell the test a condition holds.
const PRELUDE: &str = r#"
import os, sys, threading, time
READY = os.environ["READY_DIR"]
def ready(name="ready", text=""):
    tmp = os.path.join(READY, "." + name)
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(READY, name))
def _watch_stdin():
    # os.read, not sys.stdin: a fork()ed multiprocessing child closes sys.stdin, which would
    # wait forever for the buffer lock this thread held at fork time.
    while os.read(0, 4096):
        pass
    os.killpg(0, 9)
def watch_stdin():
    threading.Thread(target=_watch_stdin, daemon=True).start()
"#;

/// The script of a target that only idles once it is ready.
const IDLE: &str = "watch_stdin()\nready()\nwhile True:\n    time.sleep(1)\n";

/// A Python process that idles, started with these variables, once it is ready.
pub fn idle_target(env: &[(&str, &str)]) -> Target {
    let mut t = Target::start(&python3(), IDLE, env);
    t.wait_ready("ready");
    t
}

/// A target process (group) started by a test.
pub struct Target {
    pub child: Child,
    pub dir: tempfile::TempDir,
}

impl Target {
    /// Run `script` (after the prelude) with `python`, in its own process group.
    pub fn start(python: &Path, script: &str, env: &[(&str, &str)]) -> Target {
        Self::start_as(&[], python, script, env)
    }

    /// The same with the script saved as `name` and run by that relative name (as a person
    /// runs `python train.py`).
    pub fn start_named(python: &Path, name: &str, script: &str, env: &[(&str, &str)]) -> Target {
        Self::start_full(&[], python, name, script, env)
    }

    /// The same through `runner` (e.g. setpriv as another user) before the interpreter.
    pub fn start_as(runner: &[&str], python: &Path, script: &str, env: &[(&str, &str)]) -> Target {
        Self::start_full(runner, python, "target.py", script, env)
    }

    fn start_full(
        runner: &[&str],
        python: &Path,
        name: &str,
        script: &str,
        env: &[(&str, &str)],
    ) -> Target {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{PRELUDE}\n{script}")).unwrap();
        // Readable and writable (ready files) by a target running as another user.
        crate::support::world_readable(dir.path());
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let mut cmd = match runner.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(python);
                c
            }
            None => Command::new(python),
        };
        cmd.arg(name)
            .current_dir(dir.path())
            .env("READY_DIR", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0);
        for v in blasfix::facts::threads::THREAD_VARS {
            cmd.env_remove(v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start the target");
        Target { child, dir }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait until the script calls `ready(name)`; its text. Panics (with the target's state)
    /// when it exits first or takes more than two minutes (a hang guard, not a timing).
    pub fn wait_ready(&mut self, name: &str) -> String {
        let path = self.dir.path().join(name);
        let t0 = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                return text;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the target exited ({status}) before `{name}`");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "the target did not reach `{name}` in two minutes"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kill the group now and reap the leader.
    pub fn kill(&mut self) {
        // SAFETY: kill(2) on our own child's process group.
        unsafe { libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `blasfix ps --json ARGS`, parsed and validated against the schema.
pub fn ps_json(args: &[&str]) -> Value {
    json_of(
        blasfix().arg("ps").arg("--json").args(args),
        &format!("{args:?}"),
    )
}

/// Run a `ps --json` command line that must succeed; its document, validated.
pub fn json_of(cmd: &mut assert_cmd::Command, what: &str) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "ps {what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    assert_valid(&doc, what);
    doc
}

pub fn process(doc: &Value, pid: u32) -> &Value {
    doc["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("PID {pid} not in {doc:#}"))
}

// ------------------------------------------------------------------------------------------

#[test]
fn a_python_process_with_its_thread_variables_matches_the_schema() {
    let py = python3();
    let mut t = Target::start(
        &py,
        "watch_stdin()\nready()\nwhile True:\n    time.sleep(1)\n",
        &[
            ("OMP_NUM_THREADS", "3"),
            ("MKL_NUM_THREADS", "2"),
            ("UNRELATED", "x"),
        ],
    );
    t.wait_ready("ready");
    let doc = ps_json(&["--interval", "0.2", &t.pid().to_string()]);
    let p = process(&doc, t.pid());
    assert_eq!(p["role"], "main");
    assert_eq!(p["python"], true);
    assert_eq!(p["env"]["OMP_NUM_THREADS"], "3");
    assert_eq!(p["env"]["MKL_NUM_THREADS"], "2");
    assert!(
        p["env"].get("UNRELATED").is_none(),
        "only thread variables are kept"
    );
    // The main thread and the stdin watcher.
    assert_eq!(p["threads"], 2, "{p:#}");
    assert!(!p["affinity"].as_array().unwrap().is_empty());
    assert!(
        p["libraries"].as_array().unwrap().is_empty(),
        "plain Python maps no BLAS"
    );
    assert_eq!(doc["totals"]["processes"], 1);
    assert!(doc["window_s"].as_f64().unwrap() > 0.0);
    assert!(doc["unreadable"].as_array().unwrap().is_empty(), "{doc:#}");
}

/// Real multiprocessing launchers and the roles `ps` gives their processes.
#[test]
fn multiprocessing_roles_from_real_launchers() {
    let py = python3();
    for (method, worker_role, extra_roles, launcher) in [
        ("fork", "fork-worker", &[][..], "multiprocessing"),
        (
            "spawn",
            "spawn-worker",
            &["resource-tracker"][..],
            "multiprocessing",
        ),
        (
            "forkserver",
            "forkserver-worker",
            &["forkserver", "resource-tracker"][..],
            "forkserver",
        ),
    ] {
        let script = format!(
            r#"
import multiprocessing as mp
def work(i):
    ready("worker-%d" % os.getpid())
    while True:
        time.sleep(1)
if __name__ == "__main__":
    watch_stdin()
    ctx = mp.get_context("{method}")
    procs = [ctx.Process(target=work, args=(i,)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        while not os.path.exists(os.path.join(READY, "worker-%d" % p.pid)):
            time.sleep(0.02)
    ready()
    for p in procs:
        p.join()
"#
        );
        let mut t = Target::start(&py, &script, &[]);
        t.wait_ready("ready");
        let doc = ps_json(&["--interval", "0.2", &t.pid().to_string()]);
        assert_eq!(process(&doc, t.pid())["role"], "main", "{method}");
        let roles: Vec<&str> = doc["processes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["pid"] != t.pid())
            .map(|p| p["role"].as_str().unwrap())
            .collect();
        assert_eq!(
            roles.iter().filter(|r| **r == worker_role).count(),
            2,
            "{method}: {roles:?}"
        );
        for r in extra_roles {
            assert!(roles.contains(r), "{method}: {roles:?}");
        }
        assert_eq!(doc["trees"].as_array().unwrap().len(), 1, "{method}");
        assert_eq!(doc["trees"][0]["launcher"], launcher, "{method}");
    }
}

#[test]
fn the_command_keeps_its_stdio_and_exit_code() {
    let py = python3();
    let out = blasfix()
        .args(["ps", "--interval", "0.2", "--"])
        .arg(&py)
        .args([
            "-c",
            "import sys; d = sys.stdin.read(); sys.stdout.write(d.upper()); \
             sys.stderr.write('cmd-stderr\\n'); sys.exit(3)",
        ])
        .write_stdin("hello\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"HELLO\n", "the report never goes to stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("cmd-stderr\n"), "{err}");
    assert!(
        err.contains("\nFindings\n"),
        "the report goes to stderr: {err}"
    );
}

#[test]
fn the_command_report_goes_to_output_and_for_reports_while_it_runs() {
    let py = python3();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    // CMD waits for the report to exist: it can only appear while CMD runs (--for).
    let out = blasfix()
        .args([
            "ps",
            "--json",
            "--interval",
            "0.2",
            "--for",
            "0.5",
            "--output",
        ])
        .arg(&report)
        .arg("--")
        .arg(&py)
        .args([
            "-c",
            "import os, sys, time\n\
             while not os.path.exists(sys.argv[1]): time.sleep(0.02)\n\
             print('report seen')",
        ])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "report seen\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_valid(&doc, "ps --for --output");
    let p = &doc["processes"][0];
    assert_eq!(p["python"], true, "{doc:#}");
    assert_eq!(p["role"], "main");
}

#[test]
fn a_command_that_cannot_start_is_a_usage_error() {
    if crate::support::runner().is_some() {
        crate::support::skip::<()>(
            crate::support::Need::Optional,
            "under qemu-user the emulator reports a failed exec of CMD as its exit code 127, not \
             as a spawn error",
        );
        return;
    }
    let out = blasfix()
        .args(["ps", "--", "/nonexistent/program"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start /nonexistent/program"));
}

/// A process that exits after the first sample and before the second: `-v` says when the
/// window starts; the test kills the target then; the window ends early and says so.
#[test]
fn a_process_exiting_during_the_window() {
    let mut t = idle_target(&[]);
    let mut ps = crate::support::blasfix_command()
        .args(["ps", "--json", "-v", "--interval", "600"])
        .arg(t.pid().to_string())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(ps.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.starts_with("sampling 1 process(es)"), "{line}");
    t.kill();
    let out = ps.wait_with_output().unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&doc, "exit during the window");
    assert!(doc["processes"].as_array().unwrap().is_empty());
    let u = &doc["unreadable"][0];
    assert_eq!(u["pid"], t.pid());
    assert!(
        u["reason"]
            .as_str()
            .unwrap()
            .starts_with("exited during the window"),
        "{u}"
    );
    assert!(
        doc["window_s"].as_f64().unwrap() < 600.0,
        "the window ended early"
    );
}

#[test]
fn gone_and_zombie_processes_are_reported_not_fatal() {
    let py = python3();
    let live = idle_target(&[]);
    // A zombie: killed, not yet collected by its parent (this test).
    let mut zombie = Command::new(&py)
        .args(["-c", "import time; time.sleep(600)"])
        .spawn()
        .unwrap();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(zombie.id() as libc::pid_t, libc::SIGKILL) };
    let zpid = zombie.id();
    let stat = format!("/proc/{zpid}/stat");
    while !std::fs::read_to_string(&stat).is_ok_and(|s| s.contains(") Z ")) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // A PID that no longer exists: a child that was collected.
    let mut gone = Command::new(&py).args(["-c", "pass"]).spawn().unwrap();
    gone.wait().unwrap();
    let gpid = gone.id();

    let doc = ps_json(&[
        "--interval",
        "0.1",
        &live.pid().to_string(),
        &zpid.to_string(),
        &gpid.to_string(),
    ]);
    zombie.wait().unwrap();
    process(&doc, live.pid());
    let reason = |pid: u32| {
        doc["unreadable"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["pid"] == pid)
            .map(|u| u["reason"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{pid} not in unreadable: {doc:#}"))
    };
    assert!(reason(zpid).starts_with("zombie:"), "{}", reason(zpid));
    assert!(
        reason(zpid).contains(&format!("parent (PID {})", std::process::id())),
        "{}",
        reason(zpid)
    );
    assert!(
        reason(gpid).starts_with("no such process"),
        "{}",
        reason(gpid)
    );

    // Only gone PIDs: a usage error naming them.
    let out = blasfix().args(["ps", &gpid.to_string()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("PID {gpid}: no such process")),
        "{err}"
    );
}

/// Another user's process: what the kernel hides is named, with the owner and what to do.
#[test]
fn another_users_process_is_partly_hidden() {
    let py = python3();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        // Not root: PID 1 belongs to another user (root) here.
        let doc = ps_json(&["--interval", "0.1", "1"]);
        let hidden =
            doc["unreadable"].as_array().unwrap().iter().any(|u| {
                u["pid"] == 1 && u["reason"].as_str().unwrap().contains("permission denied")
            });
        assert!(hidden, "{doc:#}");
        return;
    }
    // As root: a target of root read by blasfix running as nobody ...
    let t = idle_target(&[("OMP_NUM_THREADS", "2")]);
    let Some(mut nobody) = blasfix_unprivileged().or_else(|| {
        crate::support::skip(
            crate::support::Need::Ci,
            "`setpriv` (util-linux) is missing: the unprivileged half of this test is skipped",
        )
    }) else {
        return;
    };
    let doc = json_of(
        nobody
            .args(["ps", "--json", "--interval", "0.1"])
            .arg(t.pid().to_string()),
        "another user's process",
    );
    let p = process(&doc, t.pid());
    assert_eq!(
        p["hidden"],
        serde_json::json!(["environment", "memory maps"])
    );
    assert!(p["env"].as_object().unwrap().is_empty());
    assert!(p["threads"].as_u64().unwrap() >= 1, "threads stay visible");
    let reason = doc["unreadable"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("environment and memory maps: permission denied (owned by root (uid 0)"),
        "{reason}"
    );
    // ... and a target of nobody (started through setpriv) read by root: all of it, and not
    // listed among root's own processes.
    let setpriv = [
        "/usr/bin/setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    // The ready directory must be writable by nobody.
    let mut other = Target::start_as(
        &setpriv,
        &py,
        "watch_stdin()\nready()\nwhile True:\n    time.sleep(1)\n",
        &[("OMP_NUM_THREADS", "2")],
    );
    other.wait_ready("ready");
    let doc = ps_json(&["--interval", "0.1", &other.pid().to_string()]);
    let p = process(&doc, other.pid());
    assert_eq!(p["env"]["OMP_NUM_THREADS"], "2", "root reads everything");
    assert!(p["hidden"].as_array().unwrap().is_empty());
    let mine = ps_json(&["--interval", "0.1"]);
    assert!(
        mine["processes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["pid"] != other.pid()),
        "without a PID only the user's own processes are listed"
    );
}

/// A cgroup with a CPU quota: the quota caps the usable CPUs, and throttling during the window
/// is reported. Needs a writable cgroup hierarchy with the cpu controller (v2 or v1); skipped
/// with the reason otherwise.
#[test]
fn a_cgroup_limited_process() {
    let Some(cg) = TestCgroup::create(5_000) else {
        return;
    };
    let py = python3();
    let mut t = Target::start(&py, "watch_stdin()\nready()\nwhile True:\n    pass\n", &[]);
    t.wait_ready("ready");
    cg.add(t.pid());
    let doc = ps_json(&["--interval", "1", &t.pid().to_string()]);
    let after = cg.nr_throttled();
    let p = process(&doc, t.pid());
    let c = &p["cgroup"];
    assert!((c["quota"].as_f64().unwrap() - 0.05).abs() < 1e-9, "{c}");
    assert_eq!(c["quota_source"], cg.quota_file.display().to_string());
    assert_eq!(p["usable_cpus"], 1);
    assert_eq!(doc["trees"][0]["totals"]["usable_cpus"], 1);
    // Compare with what really happened: the counter the kernel keeps.
    let seen = c["nr_throttled"].as_u64().unwrap();
    assert!(
        seen <= after,
        "ps saw {seen} throttled periods, the kernel says {after}"
    );
    let throttled = c["throttled_in_window"].as_u64().unwrap();
    let finding = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "cpu-throttled");
    assert_eq!(finding, throttled > 0, "{doc:#}");
    assert!(
        throttled > 0,
        "a busy loop under a 5 % quota is throttled in every period"
    );
    drop(t);
}

/// A cgroup made for a test under the cpu controller, removed when dropped.
pub struct TestCgroup {
    dir: PathBuf,
    pub quota_file: PathBuf,
}

impl TestCgroup {
    /// A cgroup limited to `quota_us` per 100 ms period, or None with the reason printed.
    pub fn create(quota_us: u64) -> Option<TestCgroup> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mounts = blasfix::facts::cpu::parse_mountinfo(&mountinfo);
        let name = format!("blasfix-test-{}", std::process::id());
        let mut reasons = Vec::new();
        if let Some((mount, _)) = &mounts.v2 {
            let root = Path::new(mount);
            let controllers =
                std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            if controllers.split_whitespace().any(|c| c == "cpu") {
                let dir = root.join(&name);
                let _ = std::fs::write(root.join("cgroup.subtree_control"), "+cpu");
                match std::fs::create_dir(&dir) {
                    Ok(()) => {
                        let quota_file = dir.join("cpu.max");
                        if std::fs::write(&quota_file, format!("{quota_us} 100000")).is_ok() {
                            return Some(TestCgroup { dir, quota_file });
                        }
                        let _ = std::fs::remove_dir(&dir);
                        reasons.push(format!("cannot write {}", quota_file.display()));
                    }
                    Err(e) => reasons.push(format!("cannot create {}: {e}", dir.display())),
                }
            } else {
                reasons.push(format!("{mount} has no cpu controller"));
            }
        }
        if let Some((mount, _)) = &mounts.v1_cpu {
            let dir = Path::new(mount).join(&name);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let quota_file = dir.join("cpu.cfs_quota_us");
                    if std::fs::write(dir.join("cpu.cfs_period_us"), "100000").is_ok()
                        && std::fs::write(&quota_file, quota_us.to_string()).is_ok()
                    {
                        return Some(TestCgroup { dir, quota_file });
                    }
                    let _ = std::fs::remove_dir(&dir);
                    reasons.push(format!("cannot write {}", quota_file.display()));
                }
                Err(e) => reasons.push(format!("cannot create {}: {e}", dir.display())),
            }
        }
        if reasons.is_empty() {
            reasons.push("no cgroup v2 or v1 cpu hierarchy is mounted".into());
        }
        eprintln!(
            "skipped: this machine does not let the test make a cgroup ({})",
            reasons.join("; ")
        );
        None
    }

    pub fn add(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
            .expect("move the target into the test cgroup");
    }

    pub fn nr_throttled(&self) -> u64 {
        let text = std::fs::read_to_string(self.dir.join("cpu.stat")).unwrap();
        blasfix::facts::process::parse_cpu_stat(&text).1.unwrap()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // The cgroup can go once its processes have: move any left to the parent, then remove.
        let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
        let parent = self.dir.parent().unwrap().join("cgroup.procs");
        for pid in procs.lines() {
            let _ = std::fs::write(&parent, pid);
        }
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("warning: could not remove {}", self.dir.display());
    }
}

#[test]
fn usage_errors() {
    for args in [
        &["ps", "--watch", "--json"][..],
        &["ps", "--for", "1"],
        &["ps", "--interval", "0"],
        &["ps", "--interval", "soon"],
        &["ps", "1", "--", "true"],
        &["ps", "--watch", "--", "true"],
    ] {
        let out = blasfix().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // --watch without a terminal.
    let out = blasfix().args(["ps", "--watch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--watch needs a terminal"));
}

#[test]
fn the_human_report_fits_80_columns() {
    let t = idle_target(&[("OMP_NUM_THREADS", "1")]);
    let out = blasfix()
        .args(["ps", "-v", "--interval", "0.1"])
        .arg(t.pid().to_string())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for l in text.lines() {
        // Paths and commands are not cut in -v details.
        if l.trim_start().starts_with('/') || l.contains("command ") {
            continue;
        }
        assert!(l.chars().count() <= 80, "{l:?}");
    }
    assert!(text.contains(&t.pid().to_string()));
    assert!(text.contains("OMP_NUM_THREADS=1"), "{text}");
    assert!(text.contains("[ok] no issues found"), "{text}");
}

/// `doctor` cannot see worker processes; its thread section points to `blasfix ps`.
#[test]
fn doctor_points_to_ps_for_workers() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = blasfix::testing::PrefixBuilder::new(dir.path().join("env"))
        .python("3.11.9")
        .build()
        .unwrap();
    let out = blasfix()
        .args(["doctor", "--no-runtime", "-p"])
        .arg(&prefix)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("blasfix ps"), "{text}");
}

// ------------------------------------------------------------------------------------------
// --watch on a real pseudo-terminal

fn watch_session(pid: u32) -> rexpect::session::PtySession {
    let mut cmd = crate::support::blasfix_command();
    cmd.env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .args(["ps", "--watch", "--interval", "0.2"])
        .arg(pid.to_string());
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn on a pty");
    p.exp_string("\x1b[?1049h").expect("alternate screen");
    p.exp_string("blasfix ps --watch").expect("the header");
    p.exp_string(&format!("{pid}")).expect("the target's row");
    p.exp_string("[ok] no issues found").expect("a full frame");
    p
}

fn exit_code(p: &rexpect::session::PtySession) -> Option<i32> {
    let status = format!("{:?}", p.process().wait().ok()?);
    let inner = status.strip_prefix("Exited(")?.strip_suffix(')')?;
    inner.rsplit(", ").next()?.parse().ok()
}

#[test]
fn watch_quits_on_q_and_restores_the_terminal() {
    let t = idle_target(&[]);
    let mut p = watch_session(t.pid());
    p.send("q").unwrap();
    p.flush().unwrap();
    let rest = p.exp_eof().expect("exit after q");
    assert!(
        rest.contains("\x1b[?25h\x1b[?1049l"),
        "terminal restored: {rest:?}"
    );
    assert_eq!(exit_code(&p), Some(0));
}

#[test]
fn watch_quits_on_ctrl_c() {
    let t = idle_target(&[]);
    let mut p = watch_session(t.pid());
    p.send_control('c').unwrap();
    let rest = p.exp_eof().expect("exit after Ctrl-C");
    assert!(rest.contains("\x1b[?1049l"), "terminal restored: {rest:?}");
    assert_eq!(exit_code(&p), Some(0));
    assert!(rexpect_alive(t.pid()), "the observed process got no signal");
}

#[test]
fn watch_ends_on_sigterm_with_the_terminal_restored() {
    let t = idle_target(&[]);
    let mut p = watch_session(t.pid());
    p.process_mut()
        .signal(rexpect::process::Signal::SIGTERM)
        .expect("SIGTERM to blasfix");
    let rest = p.exp_eof().expect("exit after SIGTERM");
    assert!(rest.contains("\x1b[?1049l"), "terminal restored: {rest:?}");
    assert_eq!(exit_code(&p), Some(128 + libc::SIGTERM));
}

fn rexpect_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}
