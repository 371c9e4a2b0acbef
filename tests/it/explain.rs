//! `blasfix explain`: the facts told as prose.

use predicates::prelude::*;

use crate::doctor::conda_forge_env;
use crate::support::blasfix;

const TUNA: &str = "https://mirrors.tuna.tsinghua.edu.cn/anaconda";

#[test]
fn mirrors_topic_says_why_the_mirror_gives_openblas() {
    let t = tempfile::tempdir().unwrap();
    let prefix = conda_forge_env(t.path(), &format!("{TUNA}/cloud/conda-forge"));
    let home = t.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join(".condarc"),
        format!("channels:\n  - conda-forge\ncustom_channels:\n  conda-forge: {TUNA}/cloud\n"),
    )
    .unwrap();
    let out = blasfix()
        .env("HOME", &home)
        .env("USERPROFILE", &home)
        .args(["explain", "mirrors", "--no-runtime", "-p"])
        .arg(&prefix)
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("TUNA"), "{text}");
    assert!(
        text.contains(".condarc, line 4"),
        "names the file and line: {text}"
    );
    assert!(
        text.contains("conda-forge's default BLAS on linux-64 is OpenBLAS"),
        "{text}"
    );
    assert!(text.contains("so this environment got OpenBLAS"), "{text}");
    assert!(
        !text.contains("{{") && !text.contains("[[if"),
        "unfilled template: {text}"
    );
    for l in text.lines().filter(|l| !l.starts_with("    ")) {
        assert!(l.chars().count() <= 80, "line over 80 columns: {l:?}");
    }
}

#[test]
fn every_topic_renders_for_a_real_prefix() {
    let t = tempfile::tempdir().unwrap();
    let prefix = conda_forge_env(t.path(), "https://conda.anaconda.org/conda-forge");
    for topic in ["all", "cpu", "blas", "channels", "mirrors", "threads"] {
        blasfix()
            .args(["explain", topic, "--no-runtime", "-p"])
            .arg(&prefix)
            .assert()
            .success()
            .stdout(predicate::str::contains("{{").not());
    }
    blasfix()
        .args(["explain", "blas", "--no-runtime", "-p"])
        .arg(&prefix)
        .assert()
        .stdout(predicate::str::contains(
            "libblas 3.9.0 20_linux64_openblas",
        ))
        .stdout(predicate::str::contains("What this machine should use"));
}

#[test]
fn unknown_topic_is_a_usage_error() {
    blasfix().args(["explain", "gpu"]).assert().code(2);
}
