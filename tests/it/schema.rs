//! `doctor --json` validated against `templates/schema/doctor.schema.json` (JSON Schema 2020-12)
//! on fixture prefixes of every kind; the heavy variant (real prefixes, runtime probe) is in
//! `heavy_docs.rs`. A schema that accepts everything would pass too, so the schema is also shown
//! to reject documents that break the contract.

use std::path::{Path, PathBuf};

use blasfix::testing::{CONDA_FORGE, PKGS_MAIN, PrefixBuilder, RecordSpec};
use serde_json::{Value, json};

use crate::doctor::{conda_forge_env, home_with_condarc};
use crate::support::blasfix;

pub const DOCTOR_SCHEMA: &str = include_str!("../../templates/schema/doctor.schema.json");

/// The compiled doctor schema (draft 2020-12, formats not asserted).
pub fn doctor_validator() -> jsonschema::Validator {
    compile(DOCTOR_SCHEMA)
}

/// Compile a schema of `templates/schema/` after checking it against the 2020-12 meta-schema.
pub fn compile(text: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(text).expect("the schema is JSON");
    jsonschema::draft202012::meta::validate(&schema).expect("the schema is a valid 2020-12 schema");
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

/// Every violation, each with its JSON pointer.
pub fn violations(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("  {} at {}", e, e.instance_path()))
        .collect()
}

/// Panic with every violation, each with its JSON pointer.
pub fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors = violations(v, doc);
    assert!(
        errors.is_empty(),
        "doctor --json for {what} breaks templates/schema/doctor.schema.json:\n{}",
        errors.join("\n")
    );
}

/// `blasfix doctor --json [extra] -p PREFIX` with this HOME (or the empty one), parsed.
pub fn doctor_json(prefix: &Path, home: Option<&Path>, extra: &[&str]) -> Value {
    let mut cmd = blasfix();
    if let Some(h) = home {
        cmd.env("HOME", h).env("USERPROFILE", h);
    }
    let out = cmd
        .args(["doctor", "--json"])
        .args(extra)
        .arg("-p")
        .arg(prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "doctor failed on {}: {}",
        prefix.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON object")
}

const TUNA_RC: &str = "channels:\n  - defaults\nshow_channel_urls: true\ndefault_channels:\n  - https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main\n  - https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/r\n  - https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/msys2\ncustom_channels:\n  conda-forge: https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud\n  pytorch: https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud\n";
const TUNA_CF: &str = "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge";

fn defaults_mkl(dir: &Path) -> PathBuf {
    PrefixBuilder::new(dir.join("defaults"))
        .python("3.9.7")
        .record(RecordSpec::new("blas", "1.0", "mkl").channel(PKGS_MAIN))
        .record(RecordSpec::new("mkl", "2021.4.0", "h06a4308_640").channel(PKGS_MAIN))
        .record(
            RecordSpec::new("numpy", "1.21.2", "py39h20f2e39_0")
                .channel(PKGS_MAIN)
                .depends(&["blas 1.0 mkl", "numpy-base 1.21.2 py39h79a1101_0"]),
        )
        .record(
            RecordSpec::new("numpy-base", "1.21.2", "py39h79a1101_0")
                .channel(PKGS_MAIN)
                .depends(&["blas 1.0 mkl"]),
        )
        .numpy_files("1.21.2", "_multiarray_umath.cpython-39-x86_64-linux-gnu.so")
        .pinned("blas=*=mkl\n")
        .build()
        .unwrap()
}

fn pip_venv(dir: &Path) -> PathBuf {
    PrefixBuilder::new(dir.join("venv"))
        .venv("3.12.3")
        .pip_dist(
            "numpy",
            "2.1.3",
            "pip",
            &["cp312-cp312-manylinux_2_17_x86_64"],
        )
        .numpy_files("2.1.3", "_multiarray_umath.cpython-312-x86_64-linux-gnu.so")
        .bundled_lib("numpy.libs/libscipy_openblas64_-ff651d7f.so")
        .build()
        .unwrap()
}

fn pip_in_conda(dir: &Path) -> PathBuf {
    PrefixBuilder::new(dir.join("pip-in-conda"))
        .python("3.11.9")
        .record(RecordSpec::new("libblas", "3.9.0", "20_linux64_mkl"))
        .record(RecordSpec::new("mkl", "2024.2.2", "ha957f24_16"))
        .pypi_numpy("2.0.2", "311")
        .build()
        .unwrap()
}

fn no_numpy(dir: &Path) -> PathBuf {
    PrefixBuilder::new(dir.join("bare"))
        .python("3.12.0")
        .build()
        .unwrap()
}

fn bad_records(dir: &Path) -> PathBuf {
    let prefix = conda_forge_env(&dir.join("bad"), CONDA_FORGE);
    std::fs::write(
        prefix.join("conda-meta/scipy-1.13.0-py311h0_0.json"),
        "{\"name\": \"scipy\", \"vers",
    )
    .unwrap();
    std::fs::write(
        prefix.join("conda-meta/mkl-2024.1.0-h0_0.json"),
        b"{\"name\": \"mkl\xff\"}",
    )
    .unwrap();
    prefix
}

fn windows_env(dir: &Path) -> PathBuf {
    PrefixBuilder::new(dir.join("win"))
        .windows_layout()
        .python("3.11.9")
        .record(RecordSpec::new("libblas", "3.9.0", "20_win64_mkl").subdir("win-64"))
        .record(
            RecordSpec::new("numpy", "1.26.4", "py311h0b4df5a_0")
                .subdir("win-64")
                .depends(&["libblas >=3.9.0,<4.0a0"]),
        )
        .numpy_files("1.26.4", "_multiarray_umath.cp311-win_amd64.pyd")
        .lib_link("mkl_rt.2.dll", "mkl_rt.2.dll")
        .build()
        .unwrap()
}

#[test]
fn doctor_json_matches_the_schema_on_every_kind_of_environment() {
    let v = doctor_validator();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let tuna_home = home_with_condarc(&d.join("tuna"), TUNA_RC);
    let bad_home = home_with_condarc(&d.join("badrc"), "channels: [conda-forge\n");
    let cases: Vec<(&str, PathBuf, Option<PathBuf>)> = vec![
        (
            "conda-forge",
            conda_forge_env(&d.join("cf"), CONDA_FORGE),
            None,
        ),
        (
            "tuna mirror",
            conda_forge_env(&tuna_home, TUNA_CF),
            Some(tuna_home.clone()),
        ),
        ("defaults + pin", defaults_mkl(d), None),
        ("pip venv", pip_venv(d), None),
        ("pip numpy in conda", pip_in_conda(d), None),
        ("no numpy", no_numpy(d), None),
        ("bad records + bad condarc", bad_records(d), Some(bad_home)),
        ("windows layout", windows_env(d), None),
    ];
    for (what, prefix, home) in &cases {
        let doc = doctor_json(prefix, home.as_deref(), &["--no-runtime"]);
        assert_valid(&v, &doc, what);
    }
    // The fixtures do reach the interesting shapes.
    let tuna = doctor_json(&cases[1].1, Some(&tuna_home), &["--no-runtime"]);
    assert!(!tuna["channels"]["mirrors"].as_array().unwrap().is_empty());
    assert!(!tuna["findings"].as_array().unwrap().is_empty());
    let bad = doctor_json(&cases[6].1, cases[6].2.as_deref(), &["--no-runtime"]);
    assert!(bad["problems"].as_array().unwrap().len() >= 2);
}

#[test]
fn runtime_section_and_thread_variables_match_the_schema() {
    // With the probe on (no NumPy in a venv of the test's python3: the probe reports an error,
    // which is still a runtime object), and thread variables, valid and invalid, set.
    let v = doctor_validator();
    let t = tempfile::tempdir().unwrap();
    let prefix = pip_venv(t.path());
    let out = blasfix()
        .env("OPENBLAS_NUM_THREADS", "64")
        .env("OMP_NUM_THREADS", "0")
        .env("MKL_THREADING_LAYER", "GNU")
        .env("PIP_INDEX_URL", "https://pypi.tuna.tsinghua.edu.cn/simple")
        .args(["doctor", "--json", "-p"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&v, &doc, "venv with thread variables and a pip mirror");
    assert_eq!(doc["threads"]["vars"]["OPENBLAS_NUM_THREADS"], "64");
    assert!(
        doc["channels"]["mirrors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["serves"] == "pypi"),
        "{}",
        doc["channels"]
    );
}

#[test]
fn schema_rejects_documents_that_break_the_contract() {
    let v = doctor_validator();
    let t = tempfile::tempdir().unwrap();
    let good = doctor_json(
        &conda_forge_env(t.path(), CONDA_FORGE),
        None,
        &["--no-runtime"],
    );
    assert!(v.is_valid(&good));
    let broken = |path: &str, value: Option<Value>| {
        let mut doc = good.clone();
        let (parent, key) = path.rsplit_once('/').unwrap();
        let obj = doc.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(x) => obj.insert(key.to_string(), x),
            None => obj.remove(key),
        };
        doc
    };
    for (path, value) in [
        ("/blas/implementation", Some(json!("OpenBLAS"))),
        ("/blas/decided_by", Some(json!("guessed"))),
        ("/environment/kind", Some(json!("poetry"))),
        ("/environment/numpy/source", Some(json!("brew"))),
        ("/blas/family", Some(json!("conda_forge"))),
        ("/machine/vendor_family", Some(json!("Intel"))),
        ("/schema_version", Some(json!(1))),
        ("/machine/logical_cpus", Some(json!("2"))),
        (
            "/findings",
            Some(
                json!([{"id": "x", "severity": "fatal", "title": "", "detail": "", "fix": null, "fix_raw": null}]),
            ),
        ),
        ("/blas/implementation", None),
        ("/recommendation", None),
        ("/channels/mirrors", None),
    ] {
        assert!(
            !v.is_valid(&broken(path, value.clone())),
            "the schema accepts {path} = {value:?}"
        );
    }
    // Stable-additive: a key the schema does not know is fine.
    assert!(v.is_valid(&broken("/blas/new_key", Some(json!(1)))));
}

#[test]
fn readme_key_list_and_schema_agree() {
    // Every top-level and second-level key the schema requires is named in README.md's
    // `doctor --json` section, and the other way round for top-level keys.
    let readme = crate::readme::readme();
    let section = readme
        .split("```text\nschema_version")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .map(|s| format!("schema_version{s}"))
        .expect("README.md has the `doctor --json` key list in a ```text block");
    let schema: Value = serde_json::from_str(DOCTOR_SCHEMA).unwrap();
    let top: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let listed: Vec<&str> = section
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, top, "README key list vs schema `required`");
    for key in &top {
        let Some(req) = schema["properties"][key]["required"].as_array() else {
            continue;
        };
        for sub in req {
            let sub = sub.as_str().unwrap();
            assert!(
                section.contains(sub),
                "README's key list does not mention {key}.{sub}"
            );
        }
    }
}
