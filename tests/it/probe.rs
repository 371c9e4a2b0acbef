//! The runtime probe against real and fake interpreters (plain `cargo test`: Python 3 without
//! NumPy is all it needs).

use std::path::Path;
#[cfg(unix)]
use std::path::PathBuf;
use std::time::Duration;

use blasfix::facts::blas::BlasImpl;
use blasfix::facts::probe::{self, ProbeError};

use crate::support::{python_without_numpy, python2, python3};

const T: Duration = Duration::from_secs(60);

/// An executable shell script standing in for a Python interpreter.
#[cfg(unix)]
fn fake_python(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("python");
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write fake python");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

#[test]
fn real_python_without_numpy_says_numpy_is_not_installed() {
    let Some(venv) = python_without_numpy() else {
        return;
    };
    let py = venv.join("bin/python");
    let empty = tempfile::tempdir().expect("tempdir");
    let res = probe::spawn(
        &py,
        T,
        &[("PYTHONPATH".into(), empty.path().display().to_string())],
    )
    .wait_result();
    match res {
        Err(ProbeError::NumpyMissing { path, message }) => {
            assert_eq!(path, py);
            assert!(message.contains("ModuleNotFoundError"), "{message}");
            let text = ProbeError::NumpyMissing { path, message }.to_string();
            assert!(text.contains("NumPy is not installed for"), "{text}");
        }
        other => panic!("unexpected: {other:?}"),
    }
    // The infallible form carries the same message.
    let facts = probe::spawn(&py, T, &[]).wait();
    assert!(facts.numpy_version.is_none(), "{facts:?}");
    assert!(
        facts
            .error
            .as_deref()
            .is_some_and(|e| e.contains("NumPy is not installed"))
    );
    assert_eq!(facts.implementation, BlasImpl::Unknown);
}

#[test]
fn missing_interpreter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let py = dir.path().join("bin/python");
    let err = probe::spawn(&py, T, &[]).wait_result().unwrap_err();
    assert_eq!(err, ProbeError::PythonMissing { path: py.clone() });
    assert!(err.to_string().contains("no such Python interpreter"));
    assert!(probe::spawn(&py, T, &[]).wait().error.is_some());
}

#[cfg(unix)]
#[test]
fn venv_python_linking_to_a_removed_interpreter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let py = dir.path().join("python");
    std::os::unix::fs::symlink("/nonexistent/python3.9", &py).expect("symlink");
    let err = probe::spawn(&py, T, &[]).wait_result().unwrap_err();
    assert!(matches!(err, ProbeError::BrokenLink { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("/nonexistent/python3.9, which does not exist"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn not_executable_interpreter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let py = dir.path().join("python");
    std::fs::write(&py, "not a program").expect("write");
    let err = probe::spawn(&py, T, &[]).wait_result().unwrap_err();
    assert!(matches!(err, ProbeError::NotExecutable { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot run it"), "{err}");
}

#[cfg(unix)]
#[test]
fn hanging_interpreter_times_out_and_is_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The child `sleep` is in the same process group and is stopped with it.
    let py = fake_python(dir.path(), "echo starting >&2\nsleep 300\necho never");
    let err = probe::spawn(&py, Duration::from_secs(1), &[])
        .wait_result()
        .unwrap_err();
    match &err {
        ProbeError::Timeout { secs, stderr, .. } => {
            assert_eq!(*secs, 1);
            assert!(stderr.contains("starting"), "{stderr}");
        }
        other => panic!("unexpected: {other:?}"),
    }
    assert!(err.to_string().contains("timed out after 1 s"), "{err}");
}

#[cfg(unix)]
#[test]
fn crashing_interpreter_names_the_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let py = fake_python(dir.path(), "echo 'loading numpy' >&2\nkill -SEGV $$");
    let err = probe::spawn(&py, T, &[]).wait_result().unwrap_err();
    match &err {
        ProbeError::Crashed { signal, stderr, .. } => {
            assert!(signal.starts_with("SIGSEGV"), "{signal}");
            assert!(stderr.contains("loading numpy"));
        }
        other => panic!("unexpected: {other:?}"),
    }
    let py = fake_python(dir.path(), "kill -ILL $$");
    let err = probe::spawn(&py, T, &[]).wait_result().unwrap_err();
    assert!(err.to_string().contains("SIGILL"), "{err}");
    assert!(err.to_string().contains("newer CPU"), "{err}");
}

#[cfg(unix)]
#[test]
fn garbage_output_is_an_invalid_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let py = fake_python(
        dir.path(),
        "echo 'Hello from not-python'\necho 'Traceback: oops' >&2\nexit 1",
    );
    let err = probe::spawn(&py, T, &[]).wait_result().unwrap_err();
    assert!(matches!(err, ProbeError::InvalidOutput { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("exit code 1"), "{msg}");
    assert!(msg.contains("Hello from not-python"), "{msg}");
    assert!(msg.contains("Traceback: oops"), "{msg}");

    let py = fake_python(dir.path(), "echo '[1, 2, 3]'");
    assert!(matches!(
        probe::spawn(&py, T, &[]).wait_result(),
        Err(ProbeError::InvalidOutput { .. })
    ));
}

#[cfg(unix)]
#[test]
fn too_old_python_is_reported_with_its_version() {
    // What the bootstrap prints under Python < 3.6.
    let dir = tempfile::tempdir().expect("tempdir");
    let py = fake_python(
        dir.path(),
        r#"echo '{"probe_version": 1, "fatal": "python_too_old", "python": {"version": "2.7.18"}}'"#,
    );
    let err = probe::spawn(&py, T, &[]).wait_result().unwrap_err();
    assert!(
        err.to_string().contains("Python 2.7.18 is too old"),
        "{err}"
    );
}

/// A fake `numpy` package that loads real system libraries the way NumPy loads its BLAS.
fn fake_numpy(dir: &Path) {
    let pkg = dir.join("numpy");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    std::fs::write(
        pkg.join("__init__.py"),
        r#"
import ctypes, ctypes.util, os, shutil, sys
__version__ = "0.0.fake"
print("noise on stdout from print")
os.write(1, b"noise on fd 1\n")
_here = os.path.dirname(os.path.abspath(__file__))
_keep = []
for name in ("gomp", "openblas", "blas"):
    found = ctypes.util.find_library(name)
    if found:
        _keep.append(ctypes.CDLL(found))
# A library named like OpenBLAS that is not OpenBLAS: the symbol check must reject it.
_m = ctypes.util.find_library("m")
if _m and sys.platform.startswith("linux"):
    for d in ("/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib"):
        if os.path.exists(os.path.join(d, _m)):
            shutil.copy(os.path.join(d, _m), os.path.join(_here, "libopenblas-impostor.so"))
            _keep.append(ctypes.CDLL(os.path.join(_here, "libopenblas-impostor.so")))
            break
"#,
    )
    .expect("write numpy");
}

fn library_check(facts: &blasfix::facts::probe::RuntimeFacts) {
    assert!(
        !facts
            .libraries
            .iter()
            .any(|l| l.filepath.contains("impostor")),
        "a library without OpenBLAS symbols was listed: {:?}",
        facts.libraries
    );
    for lib in &facts.libraries {
        assert!(Path::new(&lib.filepath).is_absolute(), "{lib:?}");
        assert!(
            lib.user_api == "blas" || lib.user_api == "openmp",
            "{lib:?}"
        );
    }
    // libgomp is on most Linux machines; when the fake NumPy loaded it, it is listed with the
    // thread count OMP_NUM_THREADS asked for.
    if let Some(gomp) = facts
        .libraries
        .iter()
        .find(|l| l.filepath.contains("libgomp"))
    {
        assert_eq!(gomp.user_api, "openmp");
        assert_eq!(gomp.num_threads, Some(3), "{gomp:?}");
    }
    if let Some(ob) = facts
        .libraries
        .iter()
        .find(|l| l.internal_api == "openblas")
    {
        assert!(ob.version.is_some() && ob.num_threads.is_some(), "{ob:?}");
        assert_eq!(facts.implementation, BlasImpl::Openblas);
    }
}

#[test]
fn fake_numpy_runs_the_real_probe_and_listing() {
    let Some(py) = python3() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    fake_numpy(dir.path());
    let env = vec![
        ("PYTHONPATH".to_string(), dir.path().display().to_string()),
        ("OMP_NUM_THREADS".to_string(), "3".to_string()),
        ("OPENBLAS_NUM_THREADS".to_string(), "3".to_string()),
    ];
    for args in [vec!["--no-threadpoolctl".to_string()], vec![]] {
        let facts = probe::spawn_with_args(&py, T, &env, &args)
            .wait_result()
            .expect("probe ran");
        assert_eq!(facts.numpy_version.as_deref(), Some("0.0.fake"));
        let file = facts.numpy_file.clone().expect("numpy file");
        assert!(
            file.ends_with("__init__.py") && file.contains("numpy"),
            "{file}"
        );
        assert!(facts.python.as_deref().is_some_and(|v| v.starts_with('3')));
        assert!(facts.python_executable.is_some());
        assert_eq!(
            facts.thread_env.get("OMP_NUM_THREADS").map(String::as_str),
            Some("3")
        );
        // The fake has no numpy.__config__: reported, not fatal.
        assert!(facts.config_blas.is_none());
        assert!(
            facts
                .warnings
                .iter()
                .any(|w| w.contains("numpy.__config__")),
            "{:?}",
            facts.warnings
        );
        if args.is_empty() {
            assert!(facts.library_source.is_some());
        } else if cfg!(target_os = "linux") {
            assert_eq!(
                facts.library_source.as_deref(),
                Some("blasfix (dl_iterate_phdr)")
            );
        }
        library_check(&facts);
        assert!(facts.elapsed_ms.is_some());
    }
}

#[test]
fn stdout_noise_from_imports_does_not_reach_the_report() {
    let Some(py) = python3() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    fake_numpy(dir.path());
    let env = vec![("PYTHONPATH".to_string(), dir.path().display().to_string())];
    let run = probe::run_script(&py, probe::PROBE_PY, &[], T, &env, &mut |_| {}).expect("ran");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {:?}", run.stdout);
    assert!(lines[0].starts_with('{'));
    assert!(run.stderr.contains("noise on fd 1"), "{}", run.stderr);
}

#[test]
fn working_directory_is_not_on_sys_path() {
    let Some(py) = python3() else { return };
    // With `-c`, sys.path[0] is '' (the working directory), where a `numpy/` source folder
    // would shadow the environment's NumPy; the bootstrap removes it.
    let script =
        "import sys, json\nprint(json.dumps({'path0': sys.path[0] if sys.path else None}))\n";
    let run = probe::run_script(&py, script, &[], T, &[], &mut |_| {}).expect("ran");
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    let p0 = v["path0"].as_str().unwrap_or_default();
    assert_ne!(p0, "", "the empty entry (cwd) must be gone");
    assert_ne!(Some(Path::new(p0)), std::env::current_dir().ok().as_deref());
}

#[test]
fn real_python2_is_too_old() {
    // Where a Python 2 runs (pyenv, old distributions): the bootstrap must parse under Python 2
    // and report the version instead of a syntax error.
    let Some(py) = python2() else { return };
    match probe::spawn(&py, T, &[]).wait_result() {
        Err(ProbeError::TooOld { version, .. }) => assert!(version.starts_with("2."), "{version}"),
        other => panic!("{}: unexpected: {other:?}", py.display()),
    }
}

#[cfg(unix)]
#[test]
fn probe_script_is_cached_with_bytecode_and_works_without_a_cache() {
    // A real venv (a hand-made pyvenv.cfg would name some other Python's home); the fake NumPy
    // comes through PYTHONPATH.
    let Some(prefix) = python_without_numpy() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    fake_numpy(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    for (home, cached) in [
        (home.clone(), true),
        (home.clone(), true),
        (dir.path().join("no/such/home"), false),
    ] {
        std::fs::create_dir_all(dir.path().join("no")).ok();
        // A file where the cache's parent directory would be: the cache cannot be created.
        std::fs::write(dir.path().join("no/such"), "").ok();
        let out = crate::support::blasfix()
            .env("HOME", &home)
            .env("PYTHONPATH", dir.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .args(["doctor", "--json", "-p"])
            .arg(&prefix)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["runtime"]["numpy_version"], "0.0.fake",
            "{}",
            v["runtime"]
        );
        let pycache = home.join(".cache/blasfix/py/__pycache__");
        if cached {
            let n = std::fs::read_dir(&pycache).map(|d| d.count()).unwrap_or(0);
            assert_eq!(n, 1, "one compiled probe in {}", pycache.display());
        }
    }

    // Bytecode that does not belong to the cached source (another script's, with the right
    // magic number; then garbage) is not run: the probe compiles its source again.
    let pyc = std::fs::read_dir(home.join(".cache/blasfix/py/__pycache__"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let other = dir.path().join("other.py");
    std::fs::write(
        &other,
        "print('{\"probe_version\": 1, \"fatal\": \"probe_failed\"}')\n",
    )
    .unwrap();
    let compiled = std::process::Command::new(prefix.join("bin/python"))
        .args([
            "-c",
            "import py_compile, sys; print(py_compile.compile(sys.argv[1]))",
        ])
        .arg(&other)
        .output()
        .unwrap();
    let other_pyc = String::from_utf8_lossy(&compiled.stdout).trim().to_string();
    for bogus in [std::fs::read(&other_pyc).unwrap(), b"garbage".to_vec()] {
        std::fs::write(&pyc, bogus).unwrap();
        let out = crate::support::blasfix()
            .env("HOME", &home)
            .env("PYTHONPATH", dir.path())
            .args(["doctor", "--json", "-p"])
            .arg(&prefix)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["runtime"]["numpy_version"], "0.0.fake",
            "stale bytecode ran: {}",
            v["runtime"]
        );
    }
}

/// doctor promises to change nothing in the environment: importing NumPy through the probe
/// writes no `__pycache__` there (the fake NumPy below is imported from the venv's own
/// site-packages, where Python would otherwise cache its bytecode).
#[cfg(unix)]
#[test]
fn the_probe_writes_no_bytecode_into_the_environment() {
    let Some(py) = python3() else { return };
    // The real interpreter (python3 on PATH may be a pyenv shim script) and its version.
    let out = std::process::Command::new(&py)
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable)); print('%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let real = PathBuf::from(lines.next().unwrap());
    let ver = lines.next().unwrap().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("venv");
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::write(
        prefix.join("pyvenv.cfg"),
        format!(
            "home = {}\nversion = {ver}\ninclude-system-site-packages = false\n",
            real.parent().unwrap().display()
        ),
    )
    .unwrap();
    std::os::unix::fs::symlink(&real, prefix.join("bin/python3")).unwrap();
    let site = prefix.join(format!("lib/python{ver}/site-packages"));
    std::fs::create_dir_all(&site).unwrap();
    fake_numpy(&site);
    let out = crate::support::blasfix()
        // As on a user's machine: Python would write bytecode.
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .args(["doctor", "--json", "-p"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["runtime"]["numpy_version"], "0.0.fake",
        "{}",
        v["runtime"]
    );
    let mut stack = vec![prefix.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            assert!(
                !p.ends_with("__pycache__") && p.extension().is_none_or(|x| x != "pyc"),
                "written into the environment: {}",
                p.display()
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
}

/// The probe's Windows-only Python (EnumProcessModulesEx with a growing buffer,
/// GetModuleFileNameExW, Windows DLL names, the queries of MKL/OpenBLAS/OpenMP DLLs) run by this
/// machine's python3 with ctypes stand-ins: no Windows CPython can run here (README "Platforms").
#[test]
fn probe_windows_code_paths_with_ctypes_stand_ins() {
    let Some(py) = python3() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(py)
        .arg(root.join("tests/python/probe_win32.py"))
        .arg(root.join("templates/probe.py"))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The probe writes its report without importing the json package; what it writes must be what
/// `json.dumps(obj, ensure_ascii=True, default=str, sort_keys=True)` writes, for every kind of
/// value a report holds (escapes, non-ASCII, lone surrogates from undecodable paths, big
/// integers, floats, nesting, non-string keys, objects only `str` can render).
#[test]
fn the_probe_json_writer_matches_json_dumps() {
    let Some(py) = python3() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = r#"
import sys
g = {"__name__": "probe", "_BLASFIX_NO_MAIN": True}
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), g)
g["_dumps"]({"warm": [1]})
print("probe imported json:", "json" in sys.modules)
import json
cases = [None, True, False, 0, -5, 2**70, 1.5, -0.0, 1e300, 1e-7, float("nan"), float("inf"),
         float("-inf"), "plain", 'q"b\\s\n\t\x00\x1f\x7f', "\u00e9\u2603\U0001F600",
         "/home/u/\udcff\udcfe", [], {}, (1, "t"), {"b": 1, "a": [1, 2, {"z": None}]},
         {1: "int key", 2: "two"}, {"o": object.__new__(type("Thing", (), {"__str__": lambda s: "thing"}))},
         {"bytes": b"\x00ab"}, [[[["deep"]]]]]
bad = [c for c in cases
       if g["_dumps"](c) != json.dumps(c, ensure_ascii=True, default=str, sort_keys=True)]
print("differ:", bad if bad else "none")
"#;
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(root.join("templates/probe.py"))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains("probe imported json: False")
            && stdout.contains("differ: none"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
