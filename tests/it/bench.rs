//! `blasfix bench` without NumPy (plain `cargo test`); the real benchmark runs in heavy_probe.rs.

use crate::support::{blasfix, python_without_numpy, python3};

#[cfg(unix)]
#[test]
fn bench_without_numpy_is_a_clear_error_with_exit_2() {
    let Some(venv) = python_without_numpy() else {
        return;
    };
    let out = blasfix()
        .args(["bench", "--quick", "-p"])
        .arg(&venv)
        .env_remove("PYTHONPATH")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("NumPy is not installed"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[cfg(unix)]
#[test]
fn bench_with_a_crashing_python_exits_2_and_names_the_signal() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
    let py = dir.path().join("bin/python");
    std::fs::write(&py, "#!/bin/sh\nkill -ILL $$\n").expect("write");
    std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(dir.path().join("pyvenv.cfg"), "home = /usr/bin\n").expect("write");
    let out = blasfix()
        .args(["bench", "--json", "-p"])
        .arg(dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SIGILL"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn bench_timeout_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
    let py = dir.path().join("bin/python");
    std::fs::write(&py, "#!/bin/sh\nsleep 300\n").expect("write");
    std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = blasfix()
        .args(["bench", "--timeout", "1", "-p"])
        .arg(dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("timed out after 1 s"), "{stderr}");
    assert!(stderr.contains("--timeout"), "{stderr}");
}

/// A fake NumPy good enough for bench.py's calls (dot/eye/linalg on lists would be too slow,
/// so it fakes the arithmetic; only the report's shape is checked), whose `dot` takes
/// `dot_seconds`, and a prefix whose `bin/python` is `py`. Returns (dir, prefix, PYTHONPATH).
#[cfg(unix)]
fn fake_numpy_env(
    py: &std::path::Path,
    dot_seconds: f64,
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = dir.path().join("site/numpy");
    std::fs::create_dir_all(pkg.join("linalg")).expect("mkdir");
    std::fs::create_dir_all(pkg.join("random")).expect("mkdir");
    std::fs::write(
        pkg.join("__init__.py"),
        r#"from . import linalg, random
__version__ = "0.0.fake"
float32 = "float32"
float64 = "float64"
class _M:
    T = property(lambda self: self)
    def astype(self, d): return self
    def __add__(self, o): return self
    __radd__ = __add__
    def __mul__(self, o): return self
    __rmul__ = __mul__
    def __truediv__(self, o): return self
def ascontiguousarray(a, dtype=None): return _M()
def empty(shape, dtype=None): return _M()
def eye(n, dtype=None): return _M()
def dot(a, b, out=None):
    import time
    time.sleep(DOT_SECONDS)
    return _M()
"#
        .replace("DOT_SECONDS", &dot_seconds.to_string()),
    )
    .expect("write");
    std::fs::write(pkg.join("linalg/__init__.py"), "def cholesky(a): return a\ndef solve(a, b): return b\ndef svd(a, compute_uv=True): return a\ndef eigvalsh(a): return a\n").expect("write");
    std::fs::write(pkg.join("random/__init__.py"), "def default_rng(seed):\n    from numpy import _M\n    class G:\n        def standard_normal(self, shape): return _M()\n    return G()\n").expect("write");
    let prefix = dir.path().join("env");
    std::fs::create_dir_all(prefix.join("bin")).expect("mkdir");
    std::os::unix::fs::symlink(py, prefix.join("bin/python")).expect("symlink");
    let site = dir.path().join("site");
    (dir, prefix, site)
}

#[cfg(unix)]
#[test]
fn bench_with_fake_numpy_gives_the_json_shape() {
    let Some(py) = python3() else { return };
    let (_dir, prefix, site) = fake_numpy_env(&py, 0.0);
    let out = blasfix()
        .args(["bench", "--quick", "--json", "-p"])
        .arg(&prefix)
        .env("PYTHONPATH", &site)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["runtime"]["numpy_version"], "0.0.fake");
    assert_eq!(v["quick"], true);
    let cases = v["cases"].as_array().expect("cases");
    let names: Vec<&str> = cases.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "dgemm", "dgemm", "sgemm", "sgemm", "cholesky", "solve", "svd", "eigh"
        ]
    );
    for c in cases {
        let g = &c["gflops"];
        assert!(g["median"].as_f64().is_some_and(|m| m > 0.0), "{c}");
        assert!(
            g["min"].as_f64() <= g["median"].as_f64() && g["median"].as_f64() <= g["max"].as_f64(),
            "{c}"
        );
        assert!(c["repeats"].as_u64().is_some_and(|r| r >= 5), "{c}");
    }
    assert!(v["peak"]["basis"].is_string());
}

/// `--quick` runs every case it plans whatever the machine's speed or load: its rows do not
/// depend on a timed guess (before, a GEMM call of 31 ms at n=256 dropped n=1024 as "would take
/// about 2 s", so a busy machine printed another table).
#[cfg(unix)]
#[test]
fn bench_quick_skips_no_case_on_a_slow_machine() {
    let Some(py) = python3() else { return };
    // 40 ms per GEMM call at every size: what a busy machine measured at n=256.
    let (_dir, prefix, site) = fake_numpy_env(&py, 0.04);
    let out = blasfix()
        .args(["bench", "--quick", "--json", "-p"])
        .arg(&prefix)
        .env("PYTHONPATH", &site)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let cases = v["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 8);
    for c in cases {
        assert!(c["skipped"].is_null(), "{c}");
        assert!(c["gflops"]["median"].is_number(), "{c}");
    }
}
