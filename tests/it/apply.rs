//! `blasfix apply` against a fake conda: a stdlib-only Python script written at test time that
//! records its argv, answers `--dry-run --json` in conda's shape, refuses specs that conflict
//! with `conda-meta/pinned` (as libmamba does) and, told by `FAKE_MODE`, fails, hangs (writing
//! the file `FAKE_READY` names once it is there, for tests that send signals) or "installs" by
//! rewriting the prefix's BLAS records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::support::blasfix;

pub const FAKE_CONDA: &str = r#"#!/usr/bin/env python3
import json, os, sys, time, glob

argv = sys.argv[1:]
log = os.environ.get("FAKE_LOG")
if log:
    with open(log, "a") as f:
        f.write(json.dumps(argv) + "\n")
mode = os.environ.get("FAKE_MODE", "ok")

def fail(name, msg, as_json):
    if as_json:
        print(json.dumps({"exception_name": name, "message": msg, "error": name + ": " + msg}))
    else:
        print(name + ": " + msg, file=sys.stderr)
    sys.exit(1)

if not argv or argv[0] != "install":
    fail("ArgumentError", "fake conda only installs", False)
prefix, specs, as_json, dry, no_pin = None, [], False, False, False
i = 1
while i < len(argv):
    a = argv[i]
    if a == "-p":
        prefix = argv[i + 1]; i += 2; continue
    if a == "--json": as_json = True
    elif a == "--dry-run": dry = True
    elif a == "--no-pin": no_pin = True
    elif a == "-y": pass
    else: specs.append(a)
    i += 1
meta = os.path.join(prefix, "conda-meta")
if not os.path.isdir(meta):
    fail("EnvironmentLocationNotFound", "Not a conda environment: " + prefix, as_json)
want = None
for s in specs:
    if s.startswith("libblas=*=*"):
        want = s.rsplit("*", 1)[1]
if want is None:
    fail("ArgumentError", "fake conda needs libblas=*=*IMPL", as_json)
if not no_pin and os.path.exists(os.path.join(meta, "pinned")):
    for line in open(os.path.join(meta, "pinned")):
        line = line.strip()
        if line.startswith("libblas=*=*") and line.rsplit("*", 1)[1] != want:
            fail("SpecsConfigurationConflictError", "Requested specs conflict with pinned " + line, as_json)
if (mode == "fail") or (mode == "fail-install" and not dry):
    fail("CondaHTTPError", "HTTP 000 CONNECTION FAILED for url <https://conda.anaconda.org/conda-forge>", as_json)
if (mode == "hang") or (mode == "hang-install" and not dry):
    print("Solving environment: ...working...", flush=True)
    ready = os.environ.get("FAKE_READY")
    if ready:
        with open(ready + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(ready + ".tmp", ready)
    time.sleep(3600)
olds = sorted(p for n in ("libblas", "libcblas", "liblapack") for p in glob.glob(os.path.join(meta, n + "-*.json")))
old_recs = [json.load(open(p)) for p in olds]
have = old_recs[0]["build"].rsplit("_", 1)[1] if old_recs else None
if dry:
    if have == want or mode == "nothing":
        print(json.dumps({"success": True, "message": "All requested packages already installed."}))
        sys.exit(0)
    def dump(r, build):
        return {"base_url": "https://conda.anaconda.org/conda-forge", "build_number": 20, "build_string": build,
                "channel": "conda-forge", "dist_name": "%s-%s-%s" % (r["name"], r["version"], build),
                "name": r["name"], "platform": "linux-64", "version": r["version"]}
    link = [dump(r, "20_linux64_" + want) for r in old_recs]
    if want == "mkl":
        link.append({"name": "mkl", "version": "2024.2.2", "build_string": "ha957f24_16", "channel": "conda-forge",
                     "dist_name": "mkl-2024.2.2-ha957f24_16", "build_number": 16, "platform": "linux-64"})
    print(json.dumps({"success": True, "dry_run": True, "prefix": prefix,
                      "actions": {"PREFIX": prefix, "FETCH": [], "LINK": link,
                                  "UNLINK": [dump(r, r["build"]) for r in old_recs]}}, indent=2))
    sys.exit(0)
print("Channels:\n - conda-forge\nPlatform: linux-64\nCollecting package metadata (repodata.json): done")
print("Solving environment: done", flush=True)
if mode == "noop":
    sys.exit(0)
for p, r in zip(olds, old_recs):
    os.remove(p)
    r["build"] = "20_linux64_" + want
    with open(os.path.join(meta, "%s-%s-%s.json" % (r["name"], r["version"], r["build"])), "w") as f:
        json.dump(r, f)
print("Executing transaction: done")
"#;

/// A conda-forge linux-64 prefix on OpenBLAS, in a folder whose name needs shell quoting.
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub prefix: PathBuf,
    pub fake: PathBuf,
    pub log: PathBuf,
}

fn record(name: &str, version: &str, build: &str) -> String {
    serde_json::json!({
        "name": name, "version": version, "build": build, "build_number": 20,
        "channel": "https://conda.anaconda.org/conda-forge/linux-64", "subdir": "linux-64",
        "depends": [], "files": [], "fn": format!("{name}-{version}-{build}.conda"),
    })
    .to_string()
}

pub fn fixture(pinned: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let prefix = root.join("envs").join("my env $HOME;&'x");
    let meta = prefix.join("conda-meta");
    std::fs::create_dir_all(&meta).unwrap();
    for (n, v, b) in [
        ("libblas", "3.9.0", "20_linux64_openblas"),
        ("libcblas", "3.9.0", "20_linux64_openblas"),
        ("liblapack", "3.9.0", "20_linux64_openblas"),
        ("libopenblas", "0.3.27", "pthreads_h94d23a6_0"),
        ("numpy", "1.26.4", "py312heda63a1_0"),
        ("python", "3.12.3", "hab00c5b_0_cpython"),
    ] {
        std::fs::write(meta.join(format!("{n}-{v}-{b}.json")), record(n, v, b)).unwrap();
    }
    std::fs::write(
        meta.join("history"),
        "==> 2024-05-01 10:00:00 <==\n# cmd: conda create -n x numpy\n",
    )
    .unwrap();
    if let Some(p) = pinned {
        std::fs::write(meta.join("pinned"), p).unwrap();
    }
    let bin = root.join("fake bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("conda");
    std::fs::write(&fake, FAKE_CONDA).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let log = root.join("argv.log");
    Fixture {
        _dir: dir,
        root,
        prefix,
        fake,
        log,
    }
}

impl Fixture {
    pub fn cmd(&self, mode: &str) -> assert_cmd::Command {
        self.cmd_to(mode, "mkl")
    }

    pub fn cmd_to(&self, mode: &str, backend: &str) -> assert_cmd::Command {
        let mut c = blasfix();
        c.env("CONDA_EXE", &self.fake)
            .env("FAKE_LOG", &self.log)
            .env("FAKE_MODE", mode)
            .env_remove("MAMBA_EXE")
            .current_dir(&self.root)
            .args(["apply", "--frontend", "conda", "--backend", backend, "-p"])
            .arg(&self.prefix);
        c
    }

    pub fn argv_log(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("argv line"))
            .collect()
    }

    pub fn pinned(&self) -> Option<String> {
        std::fs::read_to_string(self.prefix.join("conda-meta/pinned")).ok()
    }
}

/// Every file under `dir` with its bytes (symlinks by their target).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if meta.is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(rel, format!("-> {}", target.display()).into_bytes());
            } else if meta.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn has_mkl_record(prefix: &Path) -> bool {
    prefix
        .join("conda-meta/libblas-3.9.0-20_linux64_mkl.json")
        .is_file()
}

#[test]
fn yes_switches_and_persists_pin() {
    let f = fixture(Some("python 3.12.*\nlibblas=*=*openblas\n"));
    f.cmd("ok")
        .arg("--yes")
        .assert()
        .success()
        .stdout(predicate::str::contains("Switched"))
        .stdout(predicate::str::contains("libblas=*=*mkl"))
        .stdout(predicate::str::contains(
            "~ libblas 3.9.0 20_linux64_openblas -> 3.9.0 20_linux64_mkl",
        ));
    assert!(has_mkl_record(&f.prefix));
    assert_eq!(
        f.pinned().as_deref(),
        Some("python 3.12.*\nlibblas=*=*mkl\n")
    );
    assert!(!f.prefix.join("conda-meta/pinned.blasfix-backup").exists());
    let log = f.argv_log();
    assert_eq!(log.len(), 2, "{log:?}");
    let prefix = f.prefix.to_string_lossy().into_owned();
    // The preview ignores the conflicting pin; the real run sees the rewritten file.
    assert_eq!(
        log[0],
        [
            "install",
            "-p",
            &prefix,
            "-y",
            "--json",
            "--dry-run",
            "--no-pin",
            "libblas=*=*mkl"
        ]
    );
    assert_eq!(log[1], ["install", "-p", &prefix, "-y", "libblas=*=*mkl"]);
}

#[test]
fn no_pin_leaves_no_new_pin() {
    let f = fixture(None);
    f.cmd("ok").args(["--yes", "--no-pin"]).assert().success();
    assert!(has_mkl_record(&f.prefix));
    assert_eq!(f.pinned(), None);
}

#[test]
fn dry_run_changes_nothing() {
    let f = fixture(Some("libblas=*=*openblas\n"));
    let before = snapshot(&f.prefix);
    f.cmd("ok")
        .arg("--dry-run")
        .assert()
        .success()
        .stdout(predicate::str::contains("+ mkl 2024.2.2 ha957f24_16"))
        .stdout(predicate::str::contains("Dry run: nothing changed"));
    assert_eq!(snapshot(&f.prefix), before);
    assert_eq!(f.argv_log().len(), 1);
}

#[test]
fn no_terminal_without_yes_refuses() {
    let f = fixture(None);
    let before = snapshot(&f.prefix);
    f.cmd("ok")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(snapshot(&f.prefix), before);
    assert!(f.argv_log().is_empty());
}

#[test]
fn failing_frontend_restores_everything() {
    let f = fixture(Some("python 3.12.*\r\nlibblas=*=*openblas\r\n"));
    let before = snapshot(&f.prefix);
    f.cmd("fail-install")
        .arg("--yes")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("CONNECTION FAILED"))
        .stderr(predicate::str::contains("exit status 1"));
    assert_eq!(snapshot(&f.prefix), before);
}

#[test]
fn failing_preview_exits_3_with_message() {
    let f = fixture(None);
    let before = snapshot(&f.prefix);
    f.cmd("fail")
        .arg("--yes")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("CondaHTTPError"));
    assert_eq!(snapshot(&f.prefix), before);
}

#[test]
fn hanging_frontend_times_out_and_restores() {
    let f = fixture(Some("libblas=*=*openblas\n"));
    let before = snapshot(&f.prefix);
    f.cmd("hang-install")
        .args(["--yes", "--timeout", "2"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("timed out"));
    assert_eq!(snapshot(&f.prefix), before);
}

#[test]
fn switch_that_does_not_take_effect_fails() {
    let f = fixture(Some("libblas=*=*openblas\n"));
    let before = snapshot(&f.prefix);
    f.cmd("noop")
        .arg("--yes")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("did not take effect"));
    assert_eq!(snapshot(&f.prefix), before);
}

#[test]
fn missing_frontend_exits_2() {
    let f = fixture(None);
    let before = snapshot(&f.prefix);
    f.cmd("ok")
        .env("CONDA_EXE", f.root.join("no such conda"))
        .env("PATH", f.root.join("empty"))
        .arg("--yes")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("conda not found"));
    assert_eq!(snapshot(&f.prefix), before);
}

#[test]
fn already_on_target_is_nothing_to_do() {
    let f = fixture(None);
    let before = snapshot(&f.prefix);
    f.cmd_to("ok", "openblas")
        .arg("--yes")
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to do"));
    assert_eq!(snapshot(&f.prefix), before);
    assert!(f.argv_log().is_empty());
}

#[test]
fn backend_missing_on_platform_is_refused() {
    let f = fixture(None);
    f.cmd_to("ok", "accelerate")
        .arg("--yes")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("openblas, mkl, blis, netlib"));
}

#[test]
fn not_a_conda_env_is_refused() {
    let f = fixture(None);
    let plain = f.root.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let mut c = f.cmd("ok");
    c.args(["--yes", "-p"]).arg(&plain);
    c.assert().code(2);
}

#[test]
fn json_shape() {
    let f = fixture(None);
    let out = f
        .cmd("ok")
        .args(["--yes", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object on stdout");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["target"], "mkl");
    assert_eq!(v["frontend"]["kind"], "conda");
    assert_eq!(v["decision"]["decision"], "switch");
    assert_eq!(v["decision"]["specs"][0], "libblas=*=*mkl");
    assert_eq!(v["preview"]["changed"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["outcome"]["status"], "applied");
    assert_eq!(v["outcome"]["before"]["declared"], "openblas");
    assert_eq!(v["outcome"]["after"]["declared"], "mkl");
    assert_eq!(v["outcome"]["pinned_written"], "libblas=*=*mkl");
    assert!(v["commands"][0].as_str().unwrap().contains("install -p"));
}

#[test]
fn json_failure_is_still_one_object() {
    let f = fixture(None);
    let out = f
        .cmd("fail-install")
        .args(["--yes", "--json"])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object on stdout");
    assert_eq!(v["outcome"]["status"], "failed");
}

#[cfg(unix)]
#[test]
fn read_only_prefix_exits_2_and_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture(Some("libblas=*=*openblas\n"));
    let Some(mut cmd) = crate::support::blasfix_unprivileged().or_else(|| {
        crate::support::skip(
            crate::support::Need::Ci,
            "running as root without setpriv: permission bits cannot be tested",
        )
    }) else {
        return;
    };
    crate::support::world_readable(&f.root);
    crate::support::world_readable(&crate::support::empty_home());
    let meta = f.prefix.join("conda-meta");
    let before = snapshot(&f.prefix);
    std::fs::set_permissions(&meta, std::fs::Permissions::from_mode(0o555)).unwrap();
    let assert = cmd
        .env("CONDA_EXE", &f.fake)
        .env("FAKE_LOG", &f.log)
        .env("FAKE_MODE", "ok")
        .current_dir(&f.root)
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
        .assert();
    std::fs::set_permissions(&meta, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert
        .code(2)
        .stderr(predicate::str::contains("not writable"))
        .stderr(predicate::str::contains("conda-meta"));
    assert_eq!(snapshot(&f.prefix), before);
    assert!(f.argv_log().is_empty());
}

#[test]
fn frontend_with_nothing_to_do_is_not_success() {
    let f = fixture(None);
    let before = snapshot(&f.prefix);
    f.cmd("nothing")
        .arg("--yes")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("nothing to install"));
    assert_eq!(snapshot(&f.prefix), before);
    assert_eq!(f.argv_log().len(), 1, "only the preview ran");
}

/// Issue 13, case 1: a pin that contradicts the BLAS that runs (a going-back install left the
/// MKL pin behind). doctor warns and prints a fix that handles the pin; the raw form of that
/// fix really edits pinned; `apply` is not "nothing to do" but rewrites only the pin.
#[test]
fn a_pin_that_contradicts_what_runs_is_found_and_fixed() {
    let f = fixture(Some("python 3.12.*\nlibblas=*=*mkl\n"));
    let out = blasfix()
        .args(["doctor", "--no-runtime", "--json", "-p"])
        .arg(&f.prefix)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let x = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "pin-contradicts-blas")
        .expect("pin-contradicts-blas")
        .clone();
    assert_eq!(x["severity"], "warning");
    let fix = x["fix"].as_str().unwrap();
    assert!(
        fix.starts_with("blasfix apply --backend openblas -p "),
        "{fix}"
    );
    // The raw fix, run by a real shell, makes the pin follow what runs.
    let raw = x["fix_raw"].as_str().unwrap();
    let st = std::process::Command::new("sh")
        .args(["-c", raw])
        .status()
        .unwrap();
    assert!(st.success(), "{raw}");
    assert_eq!(
        f.pinned().as_deref(),
        Some("python 3.12.*\nlibblas=*=*openblas\n")
    );
    let out = blasfix()
        .args(["doctor", "--no-runtime", "--json", "-p"])
        .arg(&f.prefix)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pin-contradicts-blas"));

    // The same state again, fixed by the printed `blasfix apply`: only the pin changes.
    std::fs::write(
        f.prefix.join("conda-meta/pinned"),
        "python 3.12.*\nlibblas=*=*mkl\n",
    )
    .unwrap();
    let records = snapshot(&f.prefix.join("conda-meta"));
    f.cmd_to("ok", "openblas")
        .arg("--yes")
        .assert()
        .success()
        .stdout(predicate::str::contains("only the pins"))
        .stdout(predicate::str::contains("its pins now say so too"));
    assert!(
        f.argv_log().is_empty(),
        "no frontend ran: {:?}",
        f.argv_log()
    );
    assert_eq!(
        f.pinned().as_deref(),
        Some("python 3.12.*\nlibblas=*=*openblas\n")
    );
    let mut after = snapshot(&f.prefix.join("conda-meta"));
    after.remove(Path::new("pinned"));
    let mut records = records;
    records.remove(Path::new("pinned"));
    assert_eq!(after, records, "only pinned changed");
}

/// A home with this `.condarc`.
fn home_with(f: &Fixture, condarc: &str) -> PathBuf {
    let home = f.root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".condarc"), condarc).unwrap();
    home
}

const CONDARC: &str = "channels:\n  - conda-forge\npinned_packages:\n  - python 3.12.*\n  - libblas=*=*openblas  # company default\n";

/// Case 6: `pinned_packages` is read with its file and line, shown by doctor, refused by
/// apply with where to change it, taken out with --edit-condarc (and put back on failure).
#[test]
fn condarc_pinned_packages_are_shown_planned_around_and_edited_when_asked() {
    let f = fixture(None);
    let home = home_with(&f, CONDARC);
    let rc = home.join(".condarc");
    blasfix()
        .env("HOME", &home)
        .args(["doctor", "--no-runtime", "-p"])
        .arg(&f.prefix)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "libblas=*=*openblas (pinned_packages, ~/.condarc:5)",
        ));
    let before = snapshot(&f.prefix);
    f.cmd("ok")
        .env("HOME", &home)
        .arg("--yes")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(".condarc, line 5"))
        .stderr(predicate::str::contains(format!(
            "conda config --file {} --remove pinned_packages 'libblas=*=*openblas'",
            rc.display()
        )))
        .stderr(predicate::str::contains("--edit-condarc"));
    assert_eq!(snapshot(&f.prefix), before);
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), CONDARC);
    assert!(f.argv_log().is_empty());

    // A failing install puts the .condarc back byte for byte.
    f.cmd("fail-install")
        .env("HOME", &home)
        .args(["--yes", "--edit-condarc"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("restored as it was"));
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), CONDARC);
    assert!(!home.join(".condarc.blasfix-backup").exists());
    assert_eq!(snapshot(&f.prefix), before);

    // Success: the entry is out (the rest of the file as it was), the env has its own pin.
    f.cmd("ok")
        .env("HOME", &home)
        .args(["--yes", "--edit-condarc"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Took `libblas=*=*openblas` out of pinned_packages",
        ));
    assert_eq!(
        std::fs::read_to_string(&rc).unwrap(),
        "channels:\n  - conda-forge\npinned_packages:\n  - python 3.12.*\n"
    );
    assert_eq!(f.pinned().as_deref(), Some("libblas=*=*mkl\n"));
    assert!(!home.join(".condarc.blasfix-backup").exists());
}

/// The plan names the refusal of the solver in use (classic overrides, libmamba refuses).
#[test]
fn the_plan_names_the_solver_that_sees_the_pin() {
    let f = fixture(Some("libblas=*=*openblas\n"));
    f.cmd("ok")
        .arg("--dry-run")
        .assert()
        .success()
        .stdout(predicate::str::contains("conda's libmamba solver refuses"));
    f.cmd("ok")
        .arg("--dry-run")
        .env("CONDA_SOLVER", "classic")
        .assert()
        .success()
        .stdout(predicate::str::contains("classic solver would override"))
        .stdout(predicate::str::contains("libmamba").not());
}

/// `-q` leaves only the line that tells how it ended.
#[test]
fn quiet_apply_prints_only_the_outcome() {
    let f = fixture(None);
    let out = f.cmd("ok").args(["--yes", "-q"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("Switched "), "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Plan"));
}

/// The hint does not repeat `--frontend` to someone who passed it.
#[test]
fn a_missing_frontend_named_with_frontend_gets_another_hint() {
    let f = fixture(None);
    let out = f
        .cmd("ok")
        .env("CONDA_EXE", f.root.join("no such conda"))
        .env("PATH", f.root.join("empty"))
        .arg("--yes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("conda not found"), "{err}");
    assert!(!err.contains("--frontend"), "{err}");
    assert!(err.contains("CONDA_EXE"), "{err}");
}

/// A symlinked `conda-meta/pinned` is written through: the link stays, its target changes.
#[cfg(unix)]
#[test]
fn a_symlinked_pinned_stays_a_link() {
    let f = fixture(None);
    let shared = f.root.join("shared-pins");
    std::fs::write(&shared, "libblas=*=*openblas\n").unwrap();
    let pinned = f.prefix.join("conda-meta/pinned");
    std::os::unix::fs::symlink(&shared, &pinned).unwrap();
    f.cmd("ok").arg("--yes").assert().success();
    assert!(std::fs::symlink_metadata(&pinned).unwrap().is_symlink());
    assert_eq!(
        std::fs::read_to_string(&shared).unwrap(),
        "libblas=*=*mkl\n"
    );
}
