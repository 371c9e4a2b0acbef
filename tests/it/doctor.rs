//! `blasfix doctor` end to end on prefixes written like conda writes them.

use std::path::{Path, PathBuf};

use blasfix::testing::{CONDA_FORGE, PKGS_MAIN, PrefixBuilder, RecordSpec};
use predicates::prelude::*;
use serde_json::Value;

use crate::support::{blasfix, python_without_numpy};

const TUNA_CF: &str = "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge";

/// A conda-forge OpenBLAS environment whose packages came through `channel`.
pub fn conda_forge_env(dir: &Path, channel: &str) -> PathBuf {
    let mut b = PrefixBuilder::new(dir.join("envs/ml")).python("3.11.9");
    for n in ["libblas", "libcblas", "liblapack"] {
        b = b.record(RecordSpec::new(n, "3.9.0", "20_linux64_openblas").channel(channel));
    }
    b.record(RecordSpec::new("libopenblas", "0.3.27", "pthreads_h413a1c8_0").channel(channel))
        .record(
            RecordSpec::new("numpy", "1.26.4", "py311h64a7726_0")
                .channel(channel)
                .depends(&[
                    "libblas >=3.9.0,<4.0a0",
                    "libcblas >=3.9.0,<4.0a0",
                    "python >=3.11,<3.12.0a0",
                ]),
        )
        // No extension module: these fixtures stand for records; an empty stand-in module
        // would be a corrupt one (see unreadable_numpy_module_is_a_warning).
        .numpy_files("1.26.4", "")
        .lib_link("libblas.so.3", "libopenblas.so.0")
        .history("==> 2024-05-01 10:00:00 <==\n# cmd: /opt/conda/bin/conda create -n ml numpy\n")
        .build()
        .expect("prefix")
}

/// A home directory with this `.condarc`.
pub fn home_with_condarc(dir: &Path, text: &str) -> PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".condarc"), text).unwrap();
    home
}

fn doctor_json(prefix: &Path, home: Option<&Path>) -> Value {
    let mut cmd = blasfix();
    if let Some(h) = home {
        cmd.env("HOME", h).env("USERPROFILE", h);
    }
    let out = cmd
        .args(["doctor", "--json", "--no-runtime", "-p"])
        .arg(prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON object")
}

#[test]
fn tuna_mirror_explains_openblas_with_file_and_line() {
    let t = tempfile::tempdir().unwrap();
    let prefix = conda_forge_env(t.path(), TUNA_CF);
    let rc = "channels:\n  - defaults\nshow_channel_urls: true\ndefault_channels:\n  - https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main\n  - https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/r\ncustom_channels:\n  conda-forge: https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud\n";
    let home = home_with_condarc(t.path(), rc);
    let v = doctor_json(&prefix, Some(&home));

    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["blas"]["implementation"], "openblas");
    assert_eq!(v["blas"]["declared"], "openblas");
    assert_eq!(v["blas"]["family"], "conda-forge");
    assert_eq!(v["environment"]["kind"], "conda");
    assert_eq!(v["environment"]["numpy"]["version"], "1.26.4");
    assert_eq!(v["environment"]["numpy"]["source"], "conda");
    assert!(
        v["environment"]["numpy"]["channel"]
            .as_str()
            .unwrap()
            .starts_with(TUNA_CF)
    );

    let eff = v["channels"]["effective"].as_array().unwrap();
    assert_eq!(eff.len(), 2, "{eff:?}");
    assert_eq!(
        eff[0]["url"],
        "https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main"
    );
    assert_eq!(eff[0]["via"], "defaults");
    assert_eq!(eff[0]["line"], 5);
    assert!(
        eff[0]["source_file"]
            .as_str()
            .unwrap()
            .ends_with(".condarc")
    );
    assert_eq!(v["channels"]["conda_forge"], TUNA_CF);
    let mirrors = v["channels"]["mirrors"].as_array().unwrap();
    assert!(
        mirrors
            .iter()
            .any(|m| m["name"].as_str().unwrap().contains("TUNA")),
        "{mirrors:?}"
    );

    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"mirror-conda-forge"), "{ids:?}");
    for f in v["findings"].as_array().unwrap() {
        for k in ["id", "severity", "title", "detail", "fix"] {
            assert!(f.get(k).is_some(), "finding without {k}: {f}");
        }
    }
    assert!(v["recommendation"]["backend"].is_string());
    assert!(!v["recommendation"]["reason"].as_str().unwrap().is_empty());
}

#[test]
fn unreadable_numpy_module_is_a_warning_that_strict_sees() {
    let t = tempfile::tempdir().unwrap();
    let prefix = conda_forge_env(t.path(), CONDA_FORGE);
    let module = prefix
        .join("lib/python3.11/site-packages/numpy/core")
        .join("_multiarray_umath.cpython-311-x86_64-linux-gnu.so");
    std::fs::create_dir_all(module.parent().unwrap()).unwrap();
    std::fs::write(&module, b"\x7fELF truncated").unwrap();
    let out = blasfix()
        .args(["doctor", "--no-runtime", "--strict", "-p"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "--strict sees the warning");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[warn] 1 file could not be read completely"),
        "{text}"
    );
    assert!(text.contains("_multiarray_umath"), "{text}");
    assert!(!text.contains("[ok]"), "{text}");
}

#[test]
fn human_report_has_every_section_and_no_colour_when_piped() {
    let t = tempfile::tempdir().unwrap();
    let prefix = conda_forge_env(t.path(), CONDA_FORGE);
    let out = blasfix()
        .args(["doctor", "--no-runtime", "-p"])
        .arg(&prefix)
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for s in [
        "Machine",
        "Environment",
        "BLAS",
        "Threads",
        "Findings",
        "Recommendation",
    ] {
        assert!(text.lines().any(|l| l == s), "section {s} missing:\n{text}");
    }
    assert!(text.contains("libblas 3.9.0 20_linux64_openblas"), "{text}");
    assert!(!text.contains('\x1b'), "colour escapes in piped output");
    for l in text.lines() {
        assert!(
            l.chars().count() <= 80 || l.contains("fix:") || l.contains("runs:"),
            "line over 80 columns: {l:?}"
        );
    }
}

#[test]
fn color_flag_wins_over_no_color() {
    let t = tempfile::tempdir().unwrap();
    let prefix = conda_forge_env(t.path(), CONDA_FORGE);
    blasfix()
        .args(["--color", "always", "doctor", "--no-runtime", "-p"])
        .arg(&prefix)
        .assert()
        .success()
        .stdout(predicate::str::contains("\x1b["));
    blasfix()
        .env_remove("NO_COLOR")
        .env("FORCE_COLOR", "1")
        .args(["--color", "never", "doctor", "--no-runtime", "-p"])
        .arg(&prefix)
        .assert()
        .success()
        .stdout(predicate::str::contains("\x1b[").not());
}

#[test]
fn tokens_and_passwords_are_masked_everywhere() {
    let t = tempfile::tempdir().unwrap();
    let channel = "https://user:hunter2@conda.example.com/t/SECRETTOKEN/conda-forge";
    let prefix = conda_forge_env(t.path(), channel);
    let rc = format!(
        "channels:\n  - {channel}\n  - https://conda.anaconda.org/t/ANOTHERSECRET/private\n"
    );
    let home = home_with_condarc(t.path(), &rc);
    for args in [
        &["doctor", "--json", "--no-runtime"][..],
        &["doctor", "--no-runtime", "-v"][..],
        &["explain", "--no-runtime"][..],
    ] {
        let out = blasfix()
            .env("HOME", &home)
            .env("USERPROFILE", &home)
            .args(args)
            .arg("-p")
            .arg(&prefix)
            .output()
            .unwrap();
        assert!(out.status.success());
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in ["SECRETTOKEN", "ANOTHERSECRET", "hunter2"] {
            assert!(!all.contains(secret), "{secret} leaked by {args:?}:\n{all}");
        }
    }
}

#[test]
fn strict_exits_1_on_warnings_and_0_without() {
    let t = tempfile::tempdir().unwrap();
    // A pip NumPy in a conda environment is a warning.
    let prefix = PrefixBuilder::new(t.path().join("env"))
        .python("3.11.9")
        .pypi_numpy("2.0.2", "311")
        .build()
        .unwrap();
    blasfix()
        .args(["doctor", "--no-runtime", "-p"])
        .arg(&prefix)
        .assert()
        .code(0);
    blasfix()
        .args(["doctor", "--no-runtime", "--strict", "-p"])
        .arg(&prefix)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("came from pip"));
    let v = doctor_json(&prefix, None);
    assert_eq!(v["environment"]["numpy"]["source"], "pip");
    assert_eq!(v["blas"]["implementation"], "openblas");
}

/// No NumPy is one fact whether the records or the interpreter tell it: the same exit code
/// for `--strict` with and without the runtime probe, and `-q` prints no empty section.
#[test]
fn no_numpy_gives_one_exit_code_with_and_without_the_probe() {
    let Some(venv) = python_without_numpy() else {
        return;
    };
    let run = |extra: &[&str]| {
        let out = blasfix()
            .env_remove("PYTHONPATH")
            .args(["doctor", "--strict"])
            .args(extra)
            .arg("-p")
            .arg(&venv)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        (out.status.code(), stdout)
    };
    let (probe, text) = run(&[]);
    let (no_probe, _) = run(&["--no-runtime"]);
    assert_eq!(probe, no_probe, "{text}");
    assert_eq!(probe, Some(0), "{text}");
    assert!(
        text.contains("NumPy is not installed in this environment"),
        "{text}"
    );
    let (quiet, text) = run(&["-q"]);
    assert_eq!(quiet, Some(0));
    assert!(
        text.starts_with("Findings\n  [ok] no warnings or errors (-q hides 1 info finding)\n"),
        "{text}"
    );
}

#[test]
fn defaults_mkl_env_is_mkl() {
    let t = tempfile::tempdir().unwrap();
    let prefix = PrefixBuilder::new(t.path().join("env"))
        .python("3.9.7")
        .record(RecordSpec::new("blas", "1.0", "mkl").channel(PKGS_MAIN))
        .record(RecordSpec::new("mkl", "2021.4.0", "h06a4308_640").channel(PKGS_MAIN))
        .record(
            RecordSpec::new("numpy", "1.21.2", "py39h20f2e39_0")
                .channel(PKGS_MAIN)
                .depends(&[
                    "blas 1.0 mkl",
                    "mkl >=2021.4.0,<2022.0a0",
                    "numpy-base 1.21.2 py39h79a1101_0",
                ]),
        )
        .record(
            RecordSpec::new("numpy-base", "1.21.2", "py39h79a1101_0")
                .channel(PKGS_MAIN)
                .depends(&["blas 1.0 mkl"]),
        )
        .numpy_files("1.21.2", "_multiarray_umath.cpython-39-x86_64-linux-gnu.so")
        .build()
        .unwrap();
    let v = doctor_json(&prefix, None);
    assert_eq!(v["blas"]["implementation"], "mkl");
    assert_eq!(v["blas"]["family"], "defaults");
    assert_eq!(v["environment"]["numpy"]["source"], "conda");
}

#[test]
fn named_env_is_found_in_the_root_envs_dir() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("miniforge3");
    PrefixBuilder::new(&root).python("3.12.0").build().unwrap();
    conda_forge_env(&root, CONDA_FORGE); // root/envs/ml
    let out = blasfix()
        .env("CONDA_EXE", root.join("bin/conda"))
        .args(["doctor", "--json", "--no-runtime", "-n", "ml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["environment"]["name"], "ml");
    assert!(Path::new(v["environment"]["prefix"].as_str().unwrap()).ends_with("envs/ml"));
    blasfix()
        .env("CONDA_EXE", root.join("bin/conda"))
        .args(["doctor", "--no-runtime", "-n", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope"));
}

#[test]
fn missing_prefix_exits_2_naming_it() {
    blasfix()
        .args(["doctor", "-p", "/nonexistent/blasfix-test-env"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/blasfix-test-env"))
        .stdout(predicate::str::is_empty());
}

#[test]
fn bad_records_and_bad_condarc_are_reported_not_fatal() {
    let t = tempfile::tempdir().unwrap();
    let prefix = conda_forge_env(t.path(), CONDA_FORGE);
    std::fs::write(
        prefix.join("conda-meta/scipy-1.13.0-py311h0_0.json"),
        "{\"name\": \"scipy\", \"vers",
    )
    .unwrap();
    std::fs::write(
        prefix.join("conda-meta/mkl-2024.1.0-h0_0.json"),
        b"{\"name\": \"mkl\xff\xfe\"}",
    )
    .unwrap();
    let home = home_with_condarc(t.path(), "channels: [conda-forge\n");
    let v = doctor_json(&prefix, Some(&home));
    assert_eq!(
        v["blas"]["implementation"], "openblas",
        "the rest is still diagnosed"
    );
    let problems = v["problems"].as_array().unwrap();
    let text = serde_json::to_string(problems).unwrap();
    for needle in [
        "scipy-1.13.0-py311h0_0.json",
        "mkl-2024.1.0-h0_0.json",
        ".condarc",
    ] {
        assert!(text.contains(needle), "{needle} not named in {text}");
    }
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "unreadable-input")
    );
}

#[test]
fn missing_python_skips_the_probe_with_a_note() {
    let t = tempfile::tempdir().unwrap();
    let prefix = conda_forge_env(t.path(), CONDA_FORGE);
    let out = blasfix()
        .args(["doctor", "--json", "-p"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["runtime"].is_null());
    assert!(
        serde_json::to_string(&v["problems"])
            .unwrap()
            .contains("no Python")
    );
}

/// Issue 13, case 4: `-n` finds what conda's `-n` finds and nothing else. An environment
/// listed only in `~/.conda/environments.txt` is an error that says where it is and to use -p;
/// found by -p, its fixes name it by path, so a printed `conda install` works.
#[test]
fn dash_n_is_conda_s_and_fixes_use_p_for_path_environments() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("miniforge3");
    PrefixBuilder::new(&root)
        .python("3.12.0")
        .history("==> 2024-05-01 10:00:00 <==\n# cmd: conda create\n")
        .build()
        .unwrap();
    let proj = t.path().join("proj");
    let prefix = conda_forge_env(&proj, CONDA_FORGE); // proj/envs/ml: no envs dir of conda
    let home = t.path().join("home");
    std::fs::create_dir_all(home.join(".conda")).unwrap();
    std::fs::write(
        home.join(".conda/environments.txt"),
        format!("{}\n{}\n", root.display(), prefix.display()),
    )
    .unwrap();
    // The home is HOME on Unix, %USERPROFILE% on Windows; blasfix names the list as it joins
    // it to the home (backslashes on Windows), and each listed path as written there.
    blasfix()
        .env("HOME", &home)
        .env("USERPROFILE", &home)
        .env("CONDA_EXE", root.join("bin/conda"))
        .args(["doctor", "--no-runtime", "-n", "ml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{} (listed in {})",
            prefix.display(),
            home.join(".conda").join("environments.txt").display()
        )))
        .stderr(predicate::str::contains(format!("-p {}", prefix.display())))
        .stderr(predicate::str::contains(
            root.join("envs").display().to_string(),
        ));
    // By -p it has no conda name, and every printed command names it by path.
    let out = blasfix()
        .env("HOME", &home)
        .env("USERPROFILE", &home)
        .env("CONDA_EXE", root.join("bin/conda"))
        .args(["doctor", "--json", "--no-runtime", "-p"])
        .arg(&prefix)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["environment"]["name"], Value::Null);
    for x in v["findings"].as_array().unwrap() {
        for key in ["fix", "fix_raw"] {
            if let Some(cmd) = x[key].as_str() {
                assert!(!cmd.contains(" -n "), "{cmd}");
            }
        }
    }
}

/// `conda activate /path/to/env` sets CONDA_DEFAULT_ENV to the path: the report does not call
/// it "conda env `env`".
#[test]
fn an_activated_path_environment_is_not_labelled_with_a_name() {
    let t = tempfile::tempdir().unwrap();
    let prefix = conda_forge_env(t.path(), CONDA_FORGE);
    let out = blasfix()
        .env("CONDA_PREFIX", &prefix)
        .env("CONDA_DEFAULT_ENV", &prefix)
        .args(["doctor", "--no-runtime"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    // The report wraps at 80 columns, and where depends on the temporary directory's length
    // (longer on Windows): the words are compared with the line breaks taken out.
    let words = String::from_utf8_lossy(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(words.contains("(conda; found by CONDA_PREFIX)"), "{words}");
    assert!(!words.contains("conda env `"), "{words}");
}

/// `--strict` belongs to doctor's exit codes, not to apply's.
#[test]
fn exit_code_help_fits_each_command() {
    blasfix()
        .args(["doctor", "--help"])
        .assert()
        .stdout(predicate::str::contains("--strict"));
    blasfix()
        .args(["apply", "--help"])
        .assert()
        .stdout(predicate::str::contains("--strict").not())
        .stdout(predicate::str::contains("128+N"));
}
