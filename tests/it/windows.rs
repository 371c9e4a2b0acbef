//! Real Windows layouts, read by the Windows build of blasfix under Wine (.ci/cross, stage
//! "windows"). The prefixes are built in %TEMP% (a `C:\` path) from real files that
//! tests/heavy/run.sh downloads: NumPy's win_amd64 wheel (PE extension modules, delvewheel's
//! `numpy.libs\libscipy_openblas64_-*.dll`) and PyPI's `mkl` and `intel-openmp` win_amd64
//! wheels (`Library\bin\mkl_rt.2.dll`, `libiomp5md.dll`). Records are written as conda writes
//! them on Windows. Checked: the verdicts, the linkage through `Library\bin`, `-n NAME` through
//! the Windows envs dirs, `%USERPROFILE%\.condarc`, drive letters and backslashes in every
//! printed path and fix, and `pin` on CRLF files.
//!
//! conda-forge's own win-64 NumPy is not on PyPI. Its extension modules import
//! `libcblas.dll`/`liblapack.dll` from `Library\bin`, where conda-forge's mkl variant puts copies
//! of `mkl_rt.2.dll`; the conda fixtures rename the wheel's OpenBLAS import to `libcblas.dll` in
//! place (same length, NUL-padded), which keeps the PE file valid and real in every other byte.
#![cfg(windows)]

use std::path::{Path, PathBuf};

use blasfix::testing::{CONDA_FORGE, PrefixBuilder, RecordSpec};
use serde_json::Value;

use crate::support::{blasfix, heavy_dir};

/// The real files from the heavy directory.
struct Real {
    /// site-packages of the unpacked NumPy win_amd64 wheel.
    numpy: PathBuf,
    mkl_rt: PathBuf,
    iomp: PathBuf,
}

fn real() -> Option<Real> {
    let h = heavy_dir()?;
    let find = |dir: &str, name: &str| {
        let root = h.join("wheels").join(dir);
        walk(&root)
            .into_iter()
            .find(|p| p.file_name().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .unwrap_or_else(|| {
                panic!(
                    "{name} not under {}: rerun tests/heavy/run.sh",
                    root.display()
                )
            })
    };
    let numpy = h.join("wheels/win-amd64");
    assert!(
        numpy.join("numpy").is_dir(),
        "{} missing: rerun tests/heavy/run.sh",
        numpy.display()
    );
    Some(Real {
        numpy,
        mkl_rt: find("mkl-win-amd64", "mkl_rt.2.dll"),
        iomp: find("intel-openmp-win-amd64", "libiomp5md.dll"),
    })
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// NumPy's files from the wheel into `site`: version.py, the extension modules, numpy.libs and
/// the dist-info. With `import_as`, the OpenBLAS import of each module is renamed to that DLL
/// and numpy.libs/dist-info are left out (a conda NumPy has neither).
fn copy_numpy(real: &Real, site: &Path, import_as: Option<&str>) -> Vec<String> {
    let mut copied = Vec::new();
    for src in walk(&real.numpy) {
        let rel = src.strip_prefix(&real.numpy).unwrap();
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        let name = rel.file_name().unwrap().to_string_lossy().to_string();
        let keep = rel_s == "numpy/version.py"
            || rel_s == "numpy/__init__.py"
            || (rel_s.starts_with("numpy/_core/") && name.ends_with(".pyd"))
            || (rel_s.starts_with("numpy/linalg/") && name.ends_with(".pyd"))
            || (import_as.is_none()
                && (rel_s.starts_with("numpy.libs/") || rel_s.contains(".dist-info/")));
        if !keep {
            continue;
        }
        let dest = site.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let mut bytes = std::fs::read(&src).unwrap();
        if let (Some(new), true) = (import_as, name.ends_with(".pyd")) {
            rename_openblas_import(&mut bytes, new);
        }
        std::fs::write(&dest, bytes).unwrap();
        copied.push(format!("Lib/site-packages/{rel_s}"));
    }
    copied
}

/// Replace every `libscipy_openblas64_-<hash>.dll` string in a PE file by `new` + NULs.
fn rename_openblas_import(bytes: &mut [u8], new: &str) {
    let pat = b"libscipy_openblas64_-";
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(pat.len()).position(|w| w == pat) {
        let start = i + pos;
        let end = start + bytes[start..].iter().position(|b| *b == 0).unwrap();
        assert!(new.len() < end - start);
        bytes[start..end].fill(0);
        bytes[start..start + new.len()].copy_from_slice(new.as_bytes());
        i = end;
    }
}

/// A conda-forge win-64 environment: `variant` is "mkl" or "openblas"; python.exe present or
/// not. Returns the prefix.
fn conda_env(real: &Real, prefix: &Path, variant: &str, python_exe: bool) -> PathBuf {
    let bin = prefix.join("Library").join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(prefix.join("Scripts")).unwrap();
    let imp = match variant {
        "mkl" => {
            std::fs::copy(&real.mkl_rt, bin.join("mkl_rt.2.dll")).unwrap();
            std::fs::copy(&real.iomp, bin.join("libiomp5md.dll")).unwrap();
            bin.join("mkl_rt.2.dll")
        }
        _ => {
            let openblas = walk(&real.numpy.join("numpy.libs"))
                .into_iter()
                .find(|p| p.extension().is_some_and(|e| e == "dll"))
                .unwrap();
            std::fs::copy(openblas, bin.join("openblas.dll")).unwrap();
            bin.join("openblas.dll")
        }
    };
    // conda-forge's blas-feedstock copies the implementation to the generic names on Windows.
    for generic in ["libblas.dll", "libcblas.dll", "liblapack.dll"] {
        std::fs::copy(&imp, bin.join(generic)).unwrap();
    }
    let site = prefix.join("Lib").join("site-packages");
    let numpy_files = copy_numpy(real, &site, Some("libcblas.dll"));
    let numpy_files: Vec<&str> = numpy_files.iter().map(String::as_str).collect();
    if python_exe {
        std::fs::write(prefix.join("python.exe"), b"MZ").unwrap();
    }
    let build = format!("31_h641d27c_{variant}");
    let mut b = PrefixBuilder::new(prefix).windows_layout();
    for n in ["libblas", "libcblas", "liblapack"] {
        b = b.record(
            RecordSpec::new(n, "3.9.0", &build)
                .channel(CONDA_FORGE)
                .subdir("win-64")
                .files(&[&format!("Library/bin/{n}.dll")]),
        );
    }
    b = match variant {
        "mkl" => b
            .record(
                RecordSpec::new("mkl", "2025.3.0", "h66d3029_0")
                    .channel(CONDA_FORGE)
                    .subdir("win-64")
                    .depends(&["intel-openmp 2025.*"])
                    .files(&["Library/bin/mkl_rt.2.dll"]),
            )
            .record(
                RecordSpec::new("intel-openmp", "2025.3.0", "h57928b3_0")
                    .channel(CONDA_FORGE)
                    .subdir("win-64")
                    .files(&["Library/bin/libiomp5md.dll"]),
            ),
        _ => b.record(
            RecordSpec::new("libopenblas", "0.3.28", "pthreads_h5b2b0c0_0")
                .channel(CONDA_FORGE)
                .subdir("win-64")
                .files(&["Library/bin/openblas.dll"]),
        ),
    };
    b.record(
        RecordSpec::new("python", "3.12.7", "h2628c8c_0_cpython")
            .channel(CONDA_FORGE)
            .subdir("win-64")
            .files(&["python.exe", "python312.dll"]),
    )
    .record(
        RecordSpec::new("numpy", "2.1.3", "py312h49bc9c5_0")
            .channel(CONDA_FORGE)
            .subdir("win-64")
            .depends(&[
                "libblas >=3.9.0,<4.0a0",
                "libcblas >=3.9.0,<4.0a0",
                "liblapack >=3.9.0,<4.0a0",
                "python >=3.12,<3.13.0a0",
            ])
            .files(&numpy_files),
    )
    .history(
        "==> 2025-01-10 10:00:00 <==\r\n# cmd: C:\\Users\\u\\miniforge3\\Scripts\\conda-script.py create -n ml numpy\r\n",
    )
    .build()
    .unwrap()
}

/// A pip venv: pyvenv.cfg, Scripts\ (python.exe present or not), the NumPy wheel's files.
fn pip_venv(real: &Real, prefix: &Path, python_exe: bool) -> PathBuf {
    std::fs::create_dir_all(prefix.join("Scripts")).unwrap();
    if python_exe {
        std::fs::write(prefix.join("Scripts").join("python.exe"), b"MZ").unwrap();
    }
    std::fs::write(
        prefix.join("pyvenv.cfg"),
        "home = C:\\Program Files\\Python312\r\ninclude-system-site-packages = false\r\nversion = 3.12.7\r\n",
    )
    .unwrap();
    copy_numpy(real, &prefix.join("Lib").join("site-packages"), None);
    prefix.to_path_buf()
}

/// `blasfix doctor --no-runtime ARGS` with this home as %USERPROFILE%: its stdout, after
/// checking it succeeded.
fn doctor(args: &[&str], home: &Path) -> Vec<u8> {
    let out = blasfix()
        .env("USERPROFILE", home)
        .env("HOME", home)
        .args(["doctor", "--no-runtime"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn doctor_json(args: &[&str], home: &Path) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_slice(&doctor(&all, home)).unwrap()
}

/// Every string in the report that names a path under `root` is a Windows path: drive letter,
/// backslashes only.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn assert_windows_paths(texts: &[String], root: &Path) -> usize {
    let root_s = root.to_string_lossy().to_lowercase();
    let (drive, rest) = root_s.split_at(2);
    assert!(
        drive.ends_with(':') && rest.starts_with('\\'),
        "temp dir is not a drive path: {root_s}"
    );
    let mut n = 0;
    for t in texts {
        let lower = t.to_lowercase();
        // The path in its Windows form, and not in a mixed or forward-slash form.
        let forward = root_s.replace('\\', "/");
        assert!(
            !lower.contains(&forward),
            "forward slashes in a printed path: {t}"
        );
        if let Some(i) = lower.find(&root_s) {
            let tail: String = t[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
                .collect();
            assert!(!tail.contains('/'), "mixed separators in {t:?}");
            n += 1;
        }
    }
    n
}

fn home(dir: &Path) -> PathBuf {
    let h = dir.join("home");
    std::fs::create_dir_all(&h).unwrap();
    h
}

#[test]
fn conda_win64_prefixes_verdict_and_linkage() {
    let Some(real) = real() else { return };
    let t = tempfile::tempdir().unwrap();
    let home = home(t.path());
    let mut fixes_with_path = 0;
    for (variant, python_exe) in [("mkl", true), ("mkl", false), ("openblas", true)] {
        let prefix = conda_env(
            &real,
            &t.path().join(format!("{variant}-{python_exe}")),
            variant,
            python_exe,
        );
        let v = doctor_json(&["-p", &prefix.to_string_lossy()], &home);
        eprintln!(
            "{variant} python.exe={python_exe}: {}",
            serde_json::to_string_pretty(&v["linkage"]).unwrap()
        );
        assert_eq!(v["blas"]["implementation"], variant, "{}", v["blas"]);
        assert_eq!(v["blas"]["family"], "conda-forge");
        assert_eq!(v["blas"]["linked"], variant, "{}", v["linkage"]);
        assert_eq!(
            v["environment"]["prefix"],
            prefix.to_string_lossy().as_ref()
        );
        assert_eq!(v["environment"]["subdir"], "win-64");
        assert_eq!(v["machine"]["subdir"], "win-64");
        let python = &v["environment"]["python_executable"];
        if python_exe {
            assert_eq!(python, prefix.join("python.exe").to_string_lossy().as_ref());
        } else {
            assert!(python.is_null(), "{python}");
        }
        let mut texts = Vec::new();
        strings(&v, &mut texts);
        assert!(assert_windows_paths(&texts, t.path()) >= 2);
        for f in v["findings"].as_array().unwrap() {
            for key in ["fix", "fix_raw"] {
                if let Some(fix) = f[key].as_str().filter(|s| s.contains(" -p ")) {
                    assert!(fix.contains(&*prefix.to_string_lossy()), "{fix}");
                    fixes_with_path += 1;
                }
            }
        }
        let text = String::from_utf8(doctor(&["-p", &prefix.to_string_lossy()], &home)).unwrap();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        assert!(assert_windows_paths(&lines, t.path()) >= 1, "{text}");
    }
    // openblas-on-intel (an Intel host) or mkl-on-non-intel (any other) names the prefix.
    assert!(fixes_with_path >= 1);
}

#[test]
fn pip_venv_with_numpy_libs_dlls() {
    let Some(real) = real() else { return };
    let t = tempfile::tempdir().unwrap();
    let home = home(t.path());
    for python_exe in [true, false] {
        let prefix = pip_venv(
            &real,
            &t.path().join(format!("venv-{python_exe}")),
            python_exe,
        );
        let v = doctor_json(&["-p", &prefix.to_string_lossy()], &home);
        assert_eq!(v["environment"]["kind"], "venv");
        assert_eq!(v["blas"]["implementation"], "openblas", "{}", v["blas"]);
        assert_eq!(v["blas"]["family"], "pip");
        assert_eq!(v["blas"]["linked"], "openblas", "{}", v["linkage"]);
        let linkage = v["linkage"].to_string();
        assert!(
            linkage.contains("numpy.libs\\\\libscipy_openblas64_-"),
            "{linkage}"
        );
        if python_exe {
            assert_eq!(
                v["environment"]["python_executable"],
                prefix
                    .join("Scripts")
                    .join("python.exe")
                    .to_string_lossy()
                    .as_ref()
            );
        }
        let mut texts = Vec::new();
        strings(&v, &mut texts);
        assert!(assert_windows_paths(&texts, t.path()) >= 2);
    }
}

#[test]
fn named_env_through_windows_envs_dirs_and_userprofile_condarc() {
    let Some(real) = real() else { return };
    let t = tempfile::tempdir().unwrap();
    let home = home(t.path());
    // %USERPROFILE%\.condarc with CRLF line ends, as Notepad writes it.
    std::fs::write(
        home.join(".condarc"),
        "channels:\r\n  - conda-forge\r\nenvs_dirs:\r\n  - D:\\nowhere\\envs\r\n",
    )
    .unwrap();
    let root = t.path().join("miniforge3");
    PrefixBuilder::new(&root)
        .windows_layout()
        .record(
            RecordSpec::new("conda", "24.11.0", "py312h2e8e312_0")
                .channel(CONDA_FORGE)
                .subdir("win-64"),
        )
        .build()
        .unwrap();
    let conda_exe = root.join("Scripts").join("conda.exe");
    std::fs::create_dir_all(conda_exe.parent().unwrap()).unwrap();
    std::fs::write(&conda_exe, b"MZ").unwrap();
    // <root>\envs\ml and %USERPROFILE%\.conda\envs\other.
    let ml = conda_env(&real, &root.join("envs").join("ml"), "mkl", true);
    let other = conda_env(
        &real,
        &home.join(".conda").join("envs").join("other"),
        "openblas",
        false,
    );
    for (name, prefix, dir) in [
        ("ml", &ml, root.join("envs")),
        ("other", &other, home.join(".conda").join("envs")),
    ] {
        let out = blasfix()
            .env("USERPROFILE", &home)
            .env("HOME", &home)
            .env("CONDA_EXE", &conda_exe)
            .args(["doctor", "--json", "--no-runtime", "-n", name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["environment"]["prefix"],
            prefix.to_string_lossy().as_ref()
        );
        assert_eq!(v["environment"]["name"], name);
        let found_by = v["environment"]["found_by"].as_str().unwrap();
        assert_eq!(found_by, format!("-n {name} in {}", dir.display()));
        // The user's .condarc is read from %USERPROFILE%, with its line.
        let channels = v["channels"].to_string();
        assert!(
            channels.contains(
                &home
                    .join(".condarc")
                    .to_string_lossy()
                    .replace('\\', "\\\\")
            ),
            "{channels}"
        );
        for f in v["findings"].as_array().unwrap() {
            if let Some(fix) = f["fix"].as_str().filter(|s| s.contains("blasfix apply")) {
                assert!(fix.ends_with(&format!(" -n {name}")), "{fix}");
            }
        }
        let mut texts = Vec::new();
        strings(&v, &mut texts);
        assert_windows_paths(&texts, t.path());
    }
    let out = blasfix()
        .env("USERPROFILE", &home)
        .env("HOME", &home)
        .env("CONDA_EXE", &conda_exe)
        .args(["doctor", "--no-runtime", "-n", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&*root.join("envs").to_string_lossy()), "{err}");
    assert!(
        err.contains("D:\\nowhere\\envs") || err.contains("envs"),
        "{err}"
    );
}

#[test]
fn pin_keeps_crlf_files_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("environment.yml");
    let original = "name: ml\r\nchannels:\r\n  - conda-forge\r\ndependencies:\r\n  - python=3.12\r\n  - numpy\r\n";
    std::fs::write(&file, original).unwrap();
    let out = blasfix()
        .current_dir(t.path())
        .args(["pin", "--backend", "mkl", "--yes"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(after.starts_with(original), "{after:?}");
    let added = &after[original.len()..];
    assert!(added.contains("libblas=*=*mkl"), "{after:?}");
    assert!(
        !after.replace("\r\n", "").contains('\n'),
        "a bare LF in {after:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all: Vec<String> = stdout
        .lines()
        .chain(stderr.lines())
        .map(str::to_string)
        .collect();
    assert_windows_paths(&all, t.path());
}

/// Physical cores come from GetLogicalProcessorInformationEx (Wine answers from the host's
/// topology); .ci/cross compares the number with the Linux build's on the same machine.
#[test]
fn physical_cores_are_reported() {
    let f = blasfix::facts::cpu::detect();
    let cores = f.physical_cores.expect("physical cores on Windows");
    assert!(cores >= 1 && cores <= f.logical_cpus, "{f:#?}");
    assert_eq!(f.subdir, "win-64");
    eprintln!(
        "physical cores {cores}, logical {}, usable {}",
        f.logical_cpus, f.usable_cpus
    );
}
