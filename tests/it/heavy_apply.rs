//! `blasfix apply` end to end on a real prefix with real OpenBLAS and MKL binaries: the
//! frontend is `tests/heavy/fake_conda.py` (a real py-rattler solve and install) behind a
//! `CONDA_EXE` wrapper. Runs only with `BLASFIX_HEAVY_DIR` (see `support::heavy_dir`).

use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;

use crate::apply::snapshot;
use crate::support::{blasfix, heavy_dir};

struct Heavy {
    _dir: tempfile::TempDir,
    root: PathBuf,
    prefix: PathBuf,
    conda: PathBuf,
    channel: PathBuf,
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
            "#!/bin/sh\nexec '{}' '{}' \"$@\"\n",
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
fn setup(heavy: &Path) -> Heavy {
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
    }
}

fn blas_record(prefix: &Path) -> String {
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
fn loaded_blas(prefix: &Path) -> String {
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
