//! Every verdict against what the environment's own Python maps after a GEMM
//! (`tests/heavy/truth.py`: the file that defines the DGEMM NumPy binds to, that file's own
//! version call, its dpkg owner, the process's threads), never against a hand-written
//! expectation. Covers Debian's python3-numpy with each BLAS alternative switched in turn (in a
//! private mount namespace, see `tests/heavy/with_alternatives.sh`), PyPI NumPy of three
//! generations, NumPy + SciPy + scikit-learn, an old threadpoolctl, a `--system-site-packages`
//! venv, a shadowing `PYTHONPATH`, and the conda prefixes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{empty_home, heavy_dir};

const T: &str = "x86_64-linux-gnu";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `cmd` with the alternatives switched (none: as is) and extra variables, without the host's
/// thread and conda variables.
fn run(switches: &[String], env: &[(&str, String)], cmd: &[&str]) -> Value {
    let mut c = Command::new(root().join("tests/heavy/with_alternatives.sh"));
    if switches.is_empty() {
        c = Command::new(cmd[0]);
        c.args(&cmd[1..]);
    } else {
        c.args(switches).arg("--").args(cmd);
    }
    for v in blasfix::facts::threads::THREAD_VARS.iter().chain(&[
        "CONDA_PREFIX",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
    ]) {
        c.env_remove(v);
    }
    c.env("NO_COLOR", "1").env("HOME", empty_home());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?} with {switches:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{cmd:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The implementation the truth names: the library's own answer (openblas_get_config,
/// MKL_Get_Version_String), else the distribution package that owns the file.
fn truth_impl(t: &Value) -> String {
    if t["openblas_config"].as_str().is_some() {
        return "openblas".into();
    }
    if t["mkl_version"].as_str().is_some() {
        return "mkl".into();
    }
    let owner = t["dpkg_owner"].as_str().unwrap_or("");
    blasfix::facts::declared::impl_from_debian_package(owner)
        .map(|(i, _)| i.as_str().to_string())
        .unwrap_or_else(|| panic!("truth names no implementation: {t}"))
}

/// One environment: doctor's verdicts against the truth of the same Python.
fn check(label: &str, prefix: &Path, python: &Path, switches: &[String], env: &[(&str, String)]) {
    let bin = env!("CARGO_BIN_EXE_blasfix");
    let prefix_s = prefix.to_string_lossy().into_owned();
    let d = run(switches, env, &[bin, "doctor", "--json", "-p", &prefix_s]);
    let truth_py = root().join("tests/heavy/truth.py");
    let t = run(
        switches,
        env,
        &[&python.to_string_lossy(), &truth_py.to_string_lossy()],
    );
    eprintln!("{label}: truth {t}");
    let want = truth_impl(&t);
    let rt = &d["runtime"];
    assert!(
        rt["error"].is_null(),
        "{label}: probe failed: {}",
        rt["error"]
    );
    assert_eq!(rt["numpy_file"], t["numpy_file"], "{label}");
    assert_eq!(rt["implementation"], want.as_str(), "{label}: loaded; {rt}");
    if let Some(l) = d["linkage"]["implementation"].as_str() {
        assert_eq!(l, want, "{label}: linked; {}", d["linkage"]);
    }
    let declared = d["blas"]["declared"].as_str().unwrap_or("");
    assert_eq!(declared, want, "{label}: declared; {}", d["blas"]);
    // Nothing is named that the process does not map.
    let mapped: Vec<&str> = t["mapped"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for lib in rt["libraries"].as_array().unwrap() {
        if lib["user_api"] == "blas" {
            let p = lib["filepath"].as_str().unwrap();
            assert!(mapped.contains(&p), "{label}: {p} not mapped: {mapped:?}");
        }
    }
    // The pool as it really became: the probe's process runs as many threads as the truth's.
    let threads = rt["threads"]["after_gemm"]
        .as_u64()
        .or(rt["threads"]["after_import"].as_u64());
    assert_eq!(threads, t["threads"].as_u64(), "{label}: threads; {rt}");
}

/// A label, the alternatives switched, extra variables.
type Case<'a> = (&'a str, Vec<String>, Vec<(&'a str, String)>);

fn alt(stem: &str, dir: &str) -> String {
    let file = stem.split('-').next().unwrap_or(stem);
    format!("{stem}-{T}=/usr/lib/{T}/{dir}/{file}")
}

fn debian_ready() -> bool {
    Path::new(&format!("/usr/lib/{T}/atlas/libblas.so.3")).exists()
        && Path::new("/usr/lib/python3/dist-packages/numpy").is_dir()
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_truth_debian_alternatives_in_turn() {
    let Some(_) = heavy_dir() else { return };
    assert!(
        debian_ready(),
        "Debian's BLAS alternatives missing: run tests/heavy/run.sh"
    );
    let openblas = |v: &str| {
        vec![
            alt("libblas.so.3", v),
            alt("liblapack.so.3", v),
            alt("libopenblas.so.0", v),
        ]
    };
    let cases: Vec<Case> = vec![
        ("openblas-pthread", openblas("openblas-pthread"), vec![]),
        (
            "openblas-openmp, OMP_NUM_THREADS=64",
            openblas("openblas-openmp"),
            vec![("OMP_NUM_THREADS", "64".into())],
        ),
        ("openblas-serial", openblas("openblas-serial"), vec![]),
        // Debian's BLIS has no LAPACK: liblapack.so.3 stays on OpenBLAS.
        (
            "blis-pthread",
            vec![alt("libblas.so.3", "blis-pthread")],
            vec![],
        ),
        (
            "atlas",
            vec![alt("libblas.so.3", "atlas"), alt("liblapack.so.3", "atlas")],
            vec![],
        ),
        (
            "reference",
            vec![alt("libblas.so.3", "blas"), alt("liblapack.so.3", "lapack")],
            vec![],
        ),
        // Half a switch: libblas.so.3 on the OpenMP build, libopenblas.so.0 still pthreads.
        (
            "openblas-openmp libblas only, OMP_NUM_THREADS=8",
            vec![alt("libblas.so.3", "openblas-openmp")],
            vec![("OMP_NUM_THREADS", "8".into())],
        ),
    ];
    let before = std::fs::read_link(format!("/etc/alternatives/libblas.so.3-{T}")).ok();
    for (label, switches, env) in &cases {
        check(
            label,
            Path::new("/usr"),
            Path::new("/usr/bin/python3"),
            switches,
            env,
        );
    }
    // The machine's own links were never touched.
    assert_eq!(
        std::fs::read_link(format!("/etc/alternatives/libblas.so.3-{T}")).ok(),
        before
    );
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_truth_reference_blas_is_a_warning_with_the_alternatives_fix() {
    let Some(_) = heavy_dir() else { return };
    assert!(debian_ready(), "run tests/heavy/run.sh");
    let bin = env!("CARGO_BIN_EXE_blasfix");
    let d = run(
        &[alt("libblas.so.3", "blas"), alt("liblapack.so.3", "lapack")],
        &[],
        &[bin, "doctor", "--json", "-p", "/usr"],
    );
    let f = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "reference-blas")
        .unwrap_or_else(|| panic!("no reference-blas finding: {}", d["findings"]));
    assert_eq!(f["severity"], "warning");
    let fix = f["fix"].as_str().unwrap_or("");
    assert!(
        fix.contains(&format!(
            "update-alternatives --set libblas.so.3-{T} /usr/lib/{T}/"
        )) && fix.contains(&format!("liblapack.so.3-{T}")),
        "{fix}"
    );
    // `apply` on the system Python describes that route instead of running conda.
    let out = Command::new(bin)
        .args(["apply", "--backend", "openblas", "--dry-run", "-p", "/usr"])
        .env("NO_COLOR", "1")
        .env("HOME", empty_home())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sudo update-alternatives --set"), "{err}");
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_truth_pypi_generations_sci_old_threadpoolctl_and_system_site() {
    let Some(h) = heavy_dir() else { return };
    for env in [
        "venv-pypi",
        "venv-np124",
        "venv-np126",
        "venv-sci",
        "venv-oldtpc",
        "venv-syssite",
        "prefixes/openblas",
        "prefixes/mkl",
    ] {
        let prefix = h.join(env);
        let python = prefix.join("bin/python");
        assert!(python.exists(), "{env} missing: run tests/heavy/run.sh");
        check(env, &prefix, &python, &[], &[]);
    }
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_truth_old_threadpoolctl_does_not_hide_numpys_openblas() {
    let Some(h) = heavy_dir() else { return };
    let bin = env!("CARGO_BIN_EXE_blasfix");
    let prefix = h.join("venv-oldtpc");
    let d = run(
        &[],
        &[],
        &[bin, "doctor", "--json", "-p", &prefix.to_string_lossy()],
    );
    let rt = &d["runtime"];
    assert!(
        rt["threadpoolctl"]
            .as_str()
            .is_some_and(|v| v.starts_with("2.")),
        "{rt}"
    );
    let own = rt["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["filepath"]
                .as_str()
                .is_some_and(|p| p.contains("numpy.libs/libscipy_openblas"))
        })
        .unwrap_or_else(|| panic!("numpy's OpenBLAS not listed: {rt}"));
    assert_eq!(
        own["source"], "blasfix",
        "threadpoolctl 2.2 does not know it"
    );
    assert!(own["version"].is_string(), "{own}");
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_truth_shadowing_pythonpath_is_named() {
    let Some(h) = heavy_dir() else { return };
    let bin = env!("CARGO_BIN_EXE_blasfix");
    let prefix = h.join("venv-pypi");
    let other = std::fs::read_dir(h.join("venv-np124/lib"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.join("numpy").is_dir())
        .expect("venv-np124 site-packages");
    let env = [("PYTHONPATH", other.to_string_lossy().into_owned())];
    check(
        "venv-pypi + PYTHONPATH",
        &prefix,
        &prefix.join("bin/python"),
        &[],
        &env,
    );
    let d = run(
        &[],
        &env,
        &[bin, "doctor", "--json", "-p", &prefix.to_string_lossy()],
    );
    assert_eq!(d["runtime"]["numpy_copies"][0]["origin"], "PYTHONPATH");
    assert_eq!(d["environment"]["numpy_copies"][0]["origin"], "pythonpath");
    let f = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "numpy-shadowed")
        .unwrap_or_else(|| panic!("no numpy-shadowed finding: {}", d["findings"]));
    assert_eq!(f["severity"], "warning");
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.contains(&other.to_string_lossy().into_owned()) && detail.contains("PYTHONPATH"),
        "{detail}"
    );
}
