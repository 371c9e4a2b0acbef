//! `blasfix apply` end to end on a real prefix with real OpenBLAS and MKL binaries: the
//! frontend is `tests/heavy/fake_conda.py` (a real py-rattler solve and install) behind a
//! `CONDA_EXE` wrapper. Runs only with `BLASFIX_HEAVY_DIR` (see `support::heavy_dir`).

use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;

use crate::apply::snapshot;
use crate::support::{blasfix, heavy_dir};

pub struct Heavy {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub prefix: PathBuf,
    pub conda: PathBuf,
    pub channel: PathBuf,
    /// The heavy dir's Python with py-rattler, and the stand-in it runs.
    pub python: PathBuf,
    pub fake: PathBuf,
}

fn fake_conda() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/heavy/fake_conda.py")
}

/// A `conda` in `bin_dir` that runs fake_conda.py with the heavy dir's py-rattler.
pub fn conda_wrapper(heavy: &Path, bin_dir: &Path) -> PathBuf {
    let conda = bin_dir.join("conda");
    std::fs::create_dir_all(bin_dir).unwrap();
    std::fs::write(
        &conda,
        format!(
            "#!/bin/sh\nFAKE_CONDA_ARGV0=\"$0\" exec '{}' '{}' \"$@\"\n",
            heavy.join("tools/bin/python").display(),
            fake_conda().display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&conda, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    conda
}

/// `conda create -y -c CHANNEL -p PREFIX numpy` through that wrapper: a real solve and install.
pub fn create_numpy_prefix(conda: &Path, channel: &Path, prefix: &Path) {
    let out = Command::new(conda)
        .args(["create", "-y", "-c"])
        .arg(channel)
        .arg("-p")
        .arg(prefix)
        .arg("numpy")
        .output()
        .expect("run fake_conda.py create");
    assert!(
        out.status.success(),
        "fake_conda.py create failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh OpenBLAS prefix made from the heavy channel by the same tool (copying
/// `prefixes/openblas` would keep its absolute paths), and a `conda` wrapper for it.
pub fn setup(heavy: &Path) -> Heavy {
    let python = heavy.join("tools/bin/python");
    let channel = heavy.join("channel");
    assert!(
        python.is_file(),
        "{} missing: rerun tests/heavy/run.sh",
        python.display()
    );
    assert!(
        channel.join("linux-64/repodata.json").is_file(),
        "{} incomplete",
        channel.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let prefix = root.join("envs").join("heavy env");
    let conda = conda_wrapper(heavy, &root.join("bin dir"));
    create_numpy_prefix(&conda, &channel, &prefix);
    assert!(
        blas_record(&prefix).ends_with("_openblas"),
        "the channel's default must be OpenBLAS"
    );
    Heavy {
        _dir: dir,
        root,
        prefix,
        conda,
        channel,
        python,
        fake: fake_conda(),
    }
}

pub fn blas_record(prefix: &Path) -> String {
    std::fs::read_dir(prefix.join("conda-meta"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .find(|n| n.starts_with("libblas-"))
        .map(|n| n.trim_end_matches(".json").to_string())
        .unwrap_or_default()
}

/// The BLAS libraries the environment's own Python maps after `import numpy` and a dot
/// product (independent of blasfix's probe).
pub fn loaded_blas(prefix: &Path) -> String {
    let code = "import numpy as np; a = np.ones((64, 64)); a @ a; \
                print('\\n'.join(sorted({l.split()[-1] for l in open('/proc/self/maps') \
                if 'blas' in l or 'mkl' in l})))";
    let out = Command::new(prefix.join("bin/python"))
        .args(["-c", code])
        .output()
        .expect("run the env's python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn apply(h: &Heavy) -> assert_cmd::Command {
    apply_to(h, "mkl")
}

fn apply_to(h: &Heavy, backend: &str) -> assert_cmd::Command {
    let mut c = blasfix();
    c.env("CONDA_EXE", &h.conda)
        .env("FAKE_CONDA_CHANNELS", &h.channel)
        .env_remove("MAMBA_EXE")
        .current_dir(&h.root)
        .args([
            "apply",
            "--yes",
            "--backend",
            backend,
            "--frontend",
            "conda",
            "-p",
        ])
        .arg(&h.prefix);
    c
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_switch_to_mkl() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    assert!(
        loaded_blas(&h.prefix).contains("openblas"),
        "before: {}",
        loaded_blas(&h.prefix)
    );
    apply(&h)
        .assert()
        .success()
        .stdout(predicate::str::contains("Switched"));
    assert!(
        blas_record(&h.prefix).ends_with("_mkl"),
        "{}",
        blas_record(&h.prefix)
    );
    assert_eq!(
        std::fs::read_to_string(h.prefix.join("conda-meta/pinned"))
            .ok()
            .as_deref(),
        Some("libblas=*=*mkl\n")
    );
    let loaded = loaded_blas(&h.prefix);
    assert!(loaded.contains("libmkl_rt"), "after: {loaded}");
    // blasfix's own view, as far as this build has readers for it.
    let out = blasfix()
        .args(["doctor", "--json", "-p"])
        .arg(&h.prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
    assert_eq!(v["blas"]["declared"], "mkl", "{}", v["blas"]);
    assert_eq!(v["blas"]["linked"], "mkl", "{}", v["linkage"]);
    assert_eq!(v["runtime"]["implementation"], "mkl", "{}", v["runtime"]);
    assert_eq!(v["blas"]["implementation"], "mkl");
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_failing_frontend_changes_nothing() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    std::fs::write(h.prefix.join("conda-meta/pinned"), "libblas=*=*openblas\n").unwrap();
    let before = snapshot(&h.prefix);
    apply(&h)
        .env("FAKE_CONDA_FAIL", "1")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("CONNECTION FAILED"));
    assert_eq!(snapshot(&h.prefix), before);
    // And the pin really holds for the real solver: without blasfix, the switch is refused.
    let out = Command::new(&h.conda)
        .args(["install", "-y", "--json", "--dry-run", "-p"])
        .arg(&h.prefix)
        .arg("libblas=*=*mkl")
        .env("FAKE_CONDA_CHANNELS", &h.channel)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("SpecsConfigurationConflictError"));
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_switch_there_and_back_keeps_numpy() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    apply_to(&h, "mkl").assert().success();
    // The pin written by the first switch conflicts with the way back: apply rewrites it.
    apply_to(&h, "openblas")
        .assert()
        .success()
        .stdout(predicate::str::contains("Switched"));
    assert!(
        blas_record(&h.prefix).ends_with("_openblas"),
        "{}",
        blas_record(&h.prefix)
    );
    assert_eq!(
        std::fs::read_to_string(h.prefix.join("conda-meta/pinned"))
            .ok()
            .as_deref(),
        Some("libblas=*=*openblas\n")
    );
    let meta: Vec<String> = std::fs::read_dir(h.prefix.join("conda-meta"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    for kept in ["numpy-", "python-"] {
        assert!(
            meta.iter().any(|n| n.starts_with(kept)),
            "{kept} removed: {meta:?}"
        );
    }
    let loaded = loaded_blas(&h.prefix);
    assert!(
        loaded.contains("openblas") && !loaded.contains("libmkl_rt"),
        "after: {loaded}"
    );
}

/// Run the stand-in (`conda ARGS`) on the heavy channel with this HOME; it must succeed.
fn stand_in(h: &Heavy, home: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(&h.conda)
        .args(args)
        .env("HOME", home)
        .env("FAKE_CONDA_CHANNELS", &h.channel)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "conda {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn doctor_json(args: &[&str], env: &[(&str, &Path)]) -> serde_json::Value {
    let mut c = blasfix();
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.arg("doctor").arg("--json").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("doctor --json")
}

fn finding<'a>(v: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
}

/// Run a printed raw fix with a real shell, `conda` on PATH being the stand-in.
fn run_raw(raw: &str, bin: &Path, h: &Heavy, home: &Path) {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-c", raw])
        .env("PATH", path)
        .env("HOME", home)
        .env("FAKE_CONDA_CHANNELS", &h.channel)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{raw}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Case 1: after `apply --backend mkl`, the old going-back command (no pin handling) run by
/// conda's classic solver switches the BLAS but leaves the MKL pin. doctor warns, its raw fix
/// really fixes the pin, and `apply --backend openblas` rewrites only the pin; then an
/// unrelated install keeps OpenBLAS.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_a_going_back_that_leaves_the_pin_is_found_and_fixed() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    apply_to(&h, "mkl").assert().success();
    let prefix = h.prefix.to_string_lossy().into_owned();
    let out = stand_in(
        &h,
        &h.root,
        &[
            "install",
            "-y",
            "--solver",
            "classic",
            "-p",
            &prefix,
            "libblas=*=*openblas",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Overriding pinned spec"));
    assert!(blas_record(&h.prefix).ends_with("_openblas"));
    let pinned = h.prefix.join("conda-meta/pinned");
    assert_eq!(
        std::fs::read_to_string(&pinned).unwrap(),
        "libblas=*=*mkl\n"
    );

    let v = doctor_json(&["-p", &prefix], &[]);
    assert_eq!(v["blas"]["implementation"], "openblas");
    let x = finding(&v, "pin-contradicts-blas").expect("pin-contradicts-blas");
    assert!(
        x["fix"]
            .as_str()
            .unwrap()
            .starts_with("blasfix apply --backend openblas -p ")
    );
    run_raw(
        x["fix_raw"].as_str().unwrap(),
        h.conda.parent().unwrap(),
        &h,
        &h.root,
    );
    assert_eq!(
        std::fs::read_to_string(&pinned).unwrap(),
        "libblas=*=*openblas\n"
    );
    assert!(finding(&doctor_json(&["-p", &prefix], &[]), "pin-contradicts-blas").is_none());

    // The same state again, fixed by `blasfix apply`: no install, only the pin.
    std::fs::write(&pinned, "libblas=*=*mkl\n").unwrap();
    let mut records = crate::apply::snapshot(&h.prefix.join("conda-meta"));
    apply_to(&h, "openblas")
        .assert()
        .success()
        .stdout(predicate::str::contains("only the pins"));
    assert_eq!(
        std::fs::read_to_string(&pinned).unwrap(),
        "libblas=*=*openblas\n"
    );
    let mut after = crate::apply::snapshot(&h.prefix.join("conda-meta"));
    records.remove(Path::new("pinned"));
    after.remove(Path::new("pinned"));
    assert_eq!(after, records, "only pinned changed");
    // An unrelated install now keeps OpenBLAS.
    stand_in(&h, &h.root, &["install", "-y", "-p", &prefix, "python"]);
    assert!(blas_record(&h.prefix).ends_with("_openblas"));
    assert!(loaded_blas(&h.prefix).contains("openblas"));
}

/// The switch finding of this machine's CPU vendor (OpenBLAS on Intel, MKL on AMD), if any.
fn switch_finding(v: &serde_json::Value) -> Option<&serde_json::Value> {
    finding(v, "openblas-on-intel").or_else(|| finding(v, "mkl-on-non-intel"))
}

/// Case 4: `-n` as conda resolves it. A named environment of the root's envs dir gets `-n`
/// fixes that the stand-in (conda's `-n`) runs; a path environment listed only in
/// environments.txt is not found by name (the error names it and `-p`), and its fixes use
/// `-p` and run.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_dash_n_resolves_like_conda_and_printed_fixes_run() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    let home = h.root.join("home");
    std::fs::create_dir_all(home.join(".conda")).unwrap();
    let root = h.root.join("miniforge3");
    std::fs::create_dir_all(root.join("conda-meta")).unwrap();
    std::fs::write(root.join("conda-meta/history"), "").unwrap();
    let conda = conda_wrapper(&heavy, &root.join("bin"));
    let out = Command::new(&conda)
        .args(["create", "-y", "-n", "ml", "-c"])
        .arg(&h.channel)
        .arg("numpy")
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root.join("envs/ml/conda-meta").is_dir());
    std::fs::write(
        home.join(".conda/environments.txt"),
        format!(
            "{}\n{}\n",
            root.join("envs/ml").display(),
            h.prefix.display()
        ),
    )
    .unwrap();
    let env: &[(&str, &Path)] = &[("HOME", &home), ("CONDA_EXE", &conda)];
    let bin = root.join("bin");
    let vendor_amd = crate::readme::this_vendor() == "amd";
    if vendor_amd {
        // MKL on AMD is what has a switch fix here: switch by name first.
        let mut c = blasfix();
        c.env("HOME", &home)
            .env("CONDA_EXE", &conda)
            .env("FAKE_CONDA_CHANNELS", &h.channel)
            .args(["apply", "--yes", "--backend", "mkl", "-n", "ml"])
            .assert()
            .success();
    }
    let v = doctor_json(&["-n", "ml"], env);
    assert_eq!(v["environment"]["name"], "ml");
    match switch_finding(&v) {
        Some(x) => {
            let raw = x["fix_raw"].as_str().unwrap();
            assert!(raw.contains("conda install -n ml "), "{raw}");
            assert!(x["fix"].as_str().unwrap().ends_with(" -n ml"));
            run_raw(raw, &bin, &h, &home);
        }
        None => eprintln!("note: no switch finding for this CPU vendor; raw -n fix not run"),
    }
    // The path environment: -n does not find it, and says where it is.
    let name = h.prefix.file_name().unwrap().to_string_lossy().into_owned();
    let mut c = blasfix();
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(["doctor", "--no-runtime", "-n", &name])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(h.prefix.display().to_string()))
        .stderr(predicate::str::contains("-p "));
    // conda's own -n fails the same way (why fixes must not say -n here).
    let out = Command::new(&conda)
        .args(["install", "-y", "-n", &name, "python"])
        .env("HOME", &home)
        .env("FAKE_CONDA_CHANNELS", &h.channel)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("EnvironmentLocationNotFound"));
    if vendor_amd {
        apply_to(&h, "mkl").assert().success();
    }
    let prefix = h.prefix.to_string_lossy().into_owned();
    let v = doctor_json(&["-p", &prefix], env);
    assert_eq!(v["environment"]["name"], serde_json::Value::Null);
    if let Some(x) = switch_finding(&v) {
        let raw = x["fix_raw"].as_str().unwrap();
        assert!(
            !raw.contains(" -n ") && raw.contains("conda install -p "),
            "{raw}"
        );
        run_raw(raw, &bin, &h, &home);
    }
}

/// Case 6: `pinned_packages` in `~/.condarc`, which the stand-in honours like conda: shown by
/// doctor with its line, refused by apply with where to change it, taken out with
/// --edit-condarc; later installs keep the new backend.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_condarc_pinned_packages_are_honoured() {
    let Some(heavy) = heavy_dir() else { return };
    let h = setup(&heavy);
    let home = h.root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join(".condarc");
    std::fs::write(&rc, "pinned_packages:\n  - libblas=*=*openblas\n").unwrap();
    // The stand-in, like conda's libmamba solver, refuses the switch on its own.
    let out = Command::new(&h.conda)
        .args(["install", "-y", "--json", "--dry-run", "-p"])
        .arg(&h.prefix)
        .arg("libblas=*=*mkl")
        .env("HOME", &home)
        .env("FAKE_CONDA_CHANNELS", &h.channel)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("SpecsConfigurationConflictError"));
    let before = crate::apply::snapshot(&h.prefix);
    blasfix()
        .env("HOME", &home)
        .args(["doctor", "--no-runtime", "-p"])
        .arg(&h.prefix)
        .assert()
        .stdout(predicate::str::contains(
            "libblas=*=*openblas (pinned_packages, ~/.condarc:2)",
        ));
    apply(&h)
        .env("HOME", &home)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(".condarc, line 2"));
    assert_eq!(crate::apply::snapshot(&h.prefix), before);
    apply(&h)
        .env("HOME", &home)
        .arg("--edit-condarc")
        .assert()
        .success()
        .stdout(predicate::str::contains("Switched"));
    assert_eq!(
        std::fs::read_to_string(&rc).unwrap(),
        "pinned_packages: []\n"
    );
    assert!(loaded_blas(&h.prefix).contains("libmkl_rt"));
    let prefix = h.prefix.to_string_lossy().into_owned();
    stand_in(&h, &home, &["install", "-y", "-p", &prefix, "python"]);
    assert!(blas_record(&h.prefix).ends_with("_mkl"));
}
