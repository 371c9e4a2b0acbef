//! The probe and the benchmark against real NumPy builds from the heavy directory (see
//! `support::heavy_dir`); skipped unless `BLASFIX_HEAVY_DIR` is set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use blasfix::facts::blas::BlasImpl;
use blasfix::facts::probe::{self, RuntimeFacts};

use crate::support::{blasfix, heavy_dir};

const T: Duration = Duration::from_secs(120);

fn python(heavy: &Path, env: &str) -> PathBuf {
    let p = heavy.join(env).join("bin/python");
    assert!(
        p.exists(),
        "{} missing: the heavy directory is incomplete (run tests/heavy/run.sh)",
        p.display()
    );
    p
}

fn probe_with(py: &Path, env: &[(&str, &str)], args: &[&str]) -> RuntimeFacts {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    probe::spawn_with_args(py, T, &env, &args)
        .wait_result()
        .unwrap_or_else(|e| panic!("probe of {} failed: {e}", py.display()))
}

fn numpy_openblas(f: &RuntimeFacts) -> &probe::LoadedLib {
    f.blas_libraries()
        .find(|l| l.internal_api == "openblas" && l.owner.as_deref() == Some("numpy"))
        .unwrap_or_else(|| panic!("no OpenBLAS from numpy.libs in {:?}", f.libraries))
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_probe_venv_pypi_openblas_from_numpy_libs() {
    let Some(h) = heavy_dir() else { return };
    let py = python(&h, "venv-pypi");
    // Both listings (threadpoolctl when installed, and the built-in one) must agree.
    for args in [&[][..], &["--no-threadpoolctl"][..]] {
        let f = probe_with(&py, &[("OPENBLAS_NUM_THREADS", "1")], args);
        assert_eq!(f.implementation, BlasImpl::Openblas, "{f:?}");
        let lib = numpy_openblas(&f);
        assert!(lib.filepath.contains("numpy.libs"), "{}", lib.filepath);
        assert!(lib.filepath.contains("openblas"), "{}", lib.filepath);
        assert!(lib.version.is_some(), "{lib:?}");
        assert!(lib.architecture.is_some(), "{lib:?}");
        assert_eq!(lib.threading_layer.as_deref(), Some("pthreads"));
        assert_eq!(
            lib.num_threads,
            Some(1),
            "OPENBLAS_NUM_THREADS=1 must give 1 thread"
        );
        assert!(
            f.numpy_version
                .as_deref()
                .is_some_and(|v| v.starts_with('2')),
            "{:?}",
            f.numpy_version
        );
        assert_eq!(f.config_format.as_deref(), Some("meson"));
        assert!(
            f.config_blas
                .as_deref()
                .is_some_and(|n| n.contains("openblas")),
            "{:?}",
            f.config_blas
        );
    }
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let f = probe_with(&py, &[("OPENBLAS_NUM_THREADS", "2")], &[]);
    let two = numpy_openblas(&f).num_threads;
    if cpus >= 2 {
        assert_eq!(two, Some(2), "OPENBLAS_NUM_THREADS=2 must give 2 threads");
    } else {
        assert_eq!(two, Some(1));
    }
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_probe_conda_prefix_openblas() {
    let Some(h) = heavy_dir() else { return };
    let py = python(&h, "prefixes/openblas");
    let f = probe_with(&py, &[], &[]);
    assert_eq!(f.implementation, BlasImpl::Openblas, "{f:?}");
    let prefix = h.join("prefixes/openblas");
    let lib = f
        .blas_libraries()
        .find(|l| l.internal_api == "openblas")
        .expect("openblas listed");
    // libblas.so.3 / libcblas.so.3 resolve to the real OpenBLAS file inside the prefix.
    assert!(lib.filepath.contains("libopenblas"), "{}", lib.filepath);
    assert!(
        Path::new(&lib.filepath).starts_with(prefix.canonicalize().unwrap_or(prefix)),
        "{}",
        lib.filepath
    );
    assert_eq!(f.blas_libraries().count(), 1, "{:?}", f.libraries);
    assert!(lib.num_threads.is_some_and(|n| n >= 1));
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_probe_conda_prefix_mkl() {
    let Some(h) = heavy_dir() else { return };
    let py = python(&h, "prefixes/mkl");
    let f = probe_with(&py, &[("MKL_NUM_THREADS", "1")], &[]);
    assert_eq!(f.implementation, BlasImpl::Mkl, "{f:?}");
    let lib = f
        .blas_libraries()
        .find(|l| l.internal_api == "mkl")
        .expect("mkl listed");
    assert!(
        Path::new(&lib.filepath)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("libmkl_rt"))
    );
    assert!(lib.version.is_some(), "{lib:?}");
    assert_eq!(
        lib.num_threads,
        Some(1),
        "MKL_NUM_THREADS=1 must give 1 thread"
    );
    assert!(lib.threading_layer.is_some(), "{lib:?}");
    // MKL's default Intel threading layer brings libiomp5.
    assert!(
        f.libraries
            .iter()
            .any(|l| l.user_api == "openmp" && l.filepath.contains("iomp")),
        "{:?}",
        f.libraries
    );
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_bench_quick_json_on_venv_pypi() {
    let Some(h) = heavy_dir() else { return };
    let out = blasfix()
        .args(["bench", "--quick", "--json", "-p"])
        .arg(h.join("venv-pypi"))
        .env("OPENBLAS_NUM_THREADS", "1")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["runtime"]["implementation"], "openblas");
    assert_eq!(v["threads"], 1);
    let cases = v["cases"].as_array().expect("cases");
    assert!(cases.iter().any(|c| c["name"] == "dgemm"));
    for c in cases {
        if c["skipped"].is_string() {
            continue;
        }
        let g = &c["gflops"];
        let (min, med, max) = (g["min"].as_f64(), g["median"].as_f64(), g["max"].as_f64());
        assert!(med.is_some_and(|m| m > 0.0), "{c}");
        assert!(min <= med && med <= max, "spread reported: {c}");
        assert!(g["q1"].is_number() && g["q3"].is_number(), "{c}");
        assert!(c["repeats"].as_u64().is_some_and(|r| r >= 5), "{c}");
    }
}

/// Debian's arm64 CPython 3.11 under qemu-user with NumPy's manylinux aarch64 wheel
/// (tests/heavy/run.sh, `arm64-python/env`; its `bin/python3` starts `qemu-aarch64 -L sysroot`):
/// the probe runs in a real aarch64 interpreter and finds the bundled OpenBLAS, and `doctor`
/// (the aarch64 build in the aarch64 stage of .ci/cross) agrees with what it declares.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_probe_arm64_python_under_qemu() {
    let Some(h) = heavy_dir() else { return };
    let env = h.join("arm64-python/env");
    let py = env.join("bin/python3");
    assert!(
        py.exists(),
        "{} missing: the heavy directory is incomplete (run tests/heavy/run.sh)",
        py.display()
    );
    // qemu makes the interpreter slow to start: a longer budget than the other probes.
    let f = probe::spawn_with_args(&py, Duration::from_secs(600), &[], &[])
        .wait_result()
        .unwrap_or_else(|e| panic!("probe of {} failed: {e}", py.display()));
    assert_eq!(f.implementation, BlasImpl::Openblas, "{f:?}");
    let lib = numpy_openblas(&f);
    assert!(
        lib.filepath.contains("numpy.libs/libscipy_openblas64_-") && lib.filepath.ends_with(".so"),
        "{}",
        lib.filepath
    );
    assert_eq!(f.numpy_version.as_deref(), Some("2.1.3"));
    assert_eq!(lib.threading_layer.as_deref(), Some("pthreads"));
    // OpenBLAS picks an aarch64 kernel for qemu's CPU (armv8, armv8sve, neoversen1, ...).
    let arch = lib
        .architecture
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(
        arch.starts_with("armv8") || arch.starts_with("neoverse") || arch.starts_with("cortex"),
        "{arch}"
    );
    let out = blasfix()
        .args(["doctor", "--json", "--timeout", "600", "-p"])
        .arg(&env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["blas"]["implementation"], "openblas", "{}", v["blas"]);
    assert_eq!(v["blas"]["loaded"], "openblas", "{}", v["runtime"]);
    assert_eq!(v["blas"]["linked"], "openblas", "{}", v["linkage"]);
}
