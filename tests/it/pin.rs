//! `blasfix pin`: the real environment.yml corpus (each file edited correctly or refused
//! untouched, diffs snapshotted), and the command's flags on temporary files.

use std::path::{Path, PathBuf};

use blasfix::change::envfile::{self, Selector};
use blasfix::facts::blas::BlasImpl;
use predicates::prelude::*;
use serde_yaml::Value;

use crate::support::{blasfix, corpus};

fn tmp_copy(src: &Path, name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join(name);
    std::fs::write(&dst, std::fs::read(src).unwrap()).unwrap();
    (dir, dst)
}

fn parse(bytes: &[u8]) -> Value {
    let (text, _) = envfile::decode_text(bytes).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn deps(v: &Value) -> Vec<Value> {
    v.get("dependencies")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default()
}

/// Is this dependency entry part of the BLAS choice (what an edit may add, remove or rewrite)?
fn is_pin_entry(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        matches!(
            envfile::classify(s),
            Selector::Selects { .. }
                | Selector::Unbuilt { .. }
                | Selector::Nomkl
                | Selector::GnuOpenmpMutex
        ) || s.starts_with("_openmp_mutex")
    })
}

/// The independent check of an edit: other keys equal; the dependency list differs only in
/// pin entries; afterwards something selects the backend and nothing selects another.
fn check_edit(before: &[u8], after: &[u8], backend: BlasImpl, what: &str) {
    let (b, a) = (parse(before), parse(after));
    if let (Some(bm), Some(am)) = (b.as_mapping(), a.as_mapping()) {
        for (k, v) in bm {
            if k.as_str() != Some("dependencies") {
                assert_eq!(am.get(k), Some(v), "{what}: key {k:?} changed");
            }
        }
    }
    let (bd, ad) = (deps(&b), deps(&a));
    let removed: Vec<_> = bd.iter().filter(|v| !ad.contains(v)).collect();
    let added: Vec<_> = ad.iter().filter(|v| !bd.contains(v)).collect();
    assert!(
        removed.iter().chain(&added).all(|v| is_pin_entry(v)),
        "{what}: non-pin change {removed:?} -> {added:?}"
    );
    let kept: Vec<_> = bd.iter().filter(|v| !removed.contains(v)).collect();
    let kept_after: Vec<_> = ad.iter().filter(|v| !added.contains(v)).collect();
    assert_eq!(kept, kept_after, "{what}: untouched entries moved");
    let selects: Vec<BlasImpl> = ad
        .iter()
        .filter_map(|v| match envfile::classify(v.as_str()?) {
            Selector::Selects { backend, .. } => Some(backend),
            _ => None,
        })
        .collect();
    assert!(
        selects.contains(&backend),
        "{what}: nothing selects {backend:?}"
    );
    assert!(
        selects.iter().all(|b| *b == backend),
        "{what}: another backend still selected: {selects:?}"
    );
}

/// Every corpus file, for MKL and OpenBLAS in the family its channels imply: edited and
/// verified, or refused with the file byte-identical. Snapshots hold the diffs and messages.
#[test]
fn corpus_envyml_each_file_edited_or_refused() {
    let Some(dir) = corpus("envyml") else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "corpus looks incomplete: {}",
        files.len()
    );
    let (mut edited, mut refused, mut noop) = (0, 0, 0);
    for file in &files {
        let original = std::fs::read(file).unwrap();
        let family = envfile::family_from_channels(&envfile::file_channels(&original, None));
        let family_arg = match family {
            Some(blasfix::facts::blas::ChannelFamily::Defaults) => "defaults",
            _ => "conda-forge",
        };
        for (backend, arg) in [(BlasImpl::Mkl, "mkl"), (BlasImpl::Openblas, "openblas")] {
            let stem = file.file_stem().unwrap().to_string_lossy().to_string();
            let what = format!("{stem} {arg} {family_arg}");
            let (_d, path) = tmp_copy(file, "environment.yml");
            let out = blasfix()
                .current_dir(_d.path())
                .args([
                    "pin",
                    "--yes",
                    "--backend",
                    arg,
                    "--channel-family",
                    family_arg,
                    "environment.yml",
                ])
                .output()
                .unwrap();
            let after = std::fs::read(&path).unwrap();
            let code = out.status.code();
            let outcome = match code {
                Some(0) if after == original => {
                    noop += 1;
                    check_edit(&original, &after, backend, &what);
                    "already pinned"
                }
                Some(0) => {
                    edited += 1;
                    check_edit(&original, &after, backend, &what);
                    let again = blasfix()
                        .args([
                            "pin",
                            "--yes",
                            "--backend",
                            arg,
                            "--channel-family",
                            family_arg,
                        ])
                        .arg(&path)
                        .output()
                        .unwrap();
                    assert!(again.status.success(), "{what}: second run failed");
                    assert_eq!(
                        std::fs::read(&path).unwrap(),
                        after,
                        "{what}: not idempotent"
                    );
                    assert_eq!(
                        std::fs::read(path.with_extension("yml.bak")).unwrap(),
                        original,
                        "{what}: backup"
                    );
                    "edited"
                }
                Some(2) => {
                    refused += 1;
                    assert_eq!(after, original, "{what}: refused but the file changed");
                    "refused"
                }
                other => panic!(
                    "{what}: exit {other:?}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            };
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let body = format!("{outcome}\n--- stderr\n{stderr}--- stdout\n{stdout}");
            insta::assert_snapshot!(format!("pin_{stem}_{arg}"), body);
        }
    }
    eprintln!("corpus: {edited} edited, {noop} already pinned, {refused} refused");
    assert!(edited >= files.len(), "too few edits: {edited}");
}

const ENV: &str = "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.12  # keep\n  - numpy\n  - nomkl\n";
const ENV_MKL: &str = "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.12  # keep\n  - numpy\n  - libblas=*=*mkl\n";

fn env_file(content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("environment.yml");
    std::fs::write(&p, content).unwrap();
    (dir, p)
}

#[test]
fn pin_yes_writes_and_keeps_backup() {
    let (dir, p) = env_file(ENV);
    blasfix()
        .args(["pin", "--yes", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("-  - nomkl\n+  - libblas=*=*mkl"))
        .stderr(predicate::str::contains("environment.yml.bak"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), ENV_MKL);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("environment.yml.bak")).unwrap(),
        ENV
    );
    blasfix()
        .args(["pin", "--yes", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .success()
        .stderr(predicate::str::contains("already pins"));
}

#[test]
fn pin_dry_run_writes_nothing() {
    let (_d, p) = env_file(ENV);
    blasfix()
        .args(["pin", "--dry-run", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("+  - libblas=*=*mkl"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), ENV);
}

#[test]
fn pin_without_tty_or_yes_refuses() {
    let (_d, p) = env_file(ENV);
    blasfix()
        .args(["pin", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), ENV);
}

#[test]
fn pin_stdout_prints_the_edited_file() {
    let (_d, p) = env_file(ENV);
    blasfix()
        .args(["pin", "--stdout", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .success()
        .stdout(ENV_MKL);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), ENV);
}

#[test]
fn pin_creates_a_new_file_from_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("environment.yml");
    blasfix()
        .args([
            "pin",
            "--yes",
            "--backend",
            "openblas",
            "--channel-family",
            "defaults",
        ])
        .arg(&p)
        .assert()
        .success();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(
        text.contains("  - defaults\n")
            && text.contains("  - numpy\n")
            && text.contains("  - blas=*=openblas\n"),
        "{text}"
    );
    let v: Value = serde_yaml::from_str(&text).unwrap();
    assert!(v.get("name").is_some());
}

#[test]
fn pin_edits_pixi_toml() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pixi.toml");
    let src = "[workspace]\nchannels = [\"conda-forge\"]\nplatforms = [\"linux-64\"]\n\n[dependencies]\nnumpy = \"*\"  # the point\nlibblas = \"*=*openblas\"\n";
    std::fs::write(&p, src).unwrap();
    blasfix()
        .args(["pin", "--yes", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .success();
    let out = std::fs::read_to_string(&p).unwrap();
    assert_eq!(
        out,
        src.replace(
            "libblas = \"*=*openblas\"",
            "libblas = { build = \"*mkl\" }"
        ),
        "{out}"
    );
}

#[test]
fn pin_edits_pyproject_toml() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pyproject.toml");
    let src = "[project]\nname = \"x\"\n\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\n\n[tool.pixi.dependencies]\nnumpy = \">=2\"\nlibblas = { build = \"*openblas\" }\n";
    std::fs::write(&p, src).unwrap();
    blasfix()
        .args(["pin", "--yes", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        src.replace("*openblas", "*mkl")
    );
    let plain = dir.path().join("other").join("pyproject.toml");
    std::fs::create_dir(plain.parent().unwrap()).unwrap();
    std::fs::write(&plain, "[project]\nname = \"x\"\n").unwrap();
    blasfix()
        .args(["pin", "--yes", "--backend", "mkl"])
        .arg(&plain)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tool.pixi"));
}

#[cfg(unix)]
#[test]
fn pin_read_only_file_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, p) = env_file(ENV);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
    blasfix()
        .args(["pin", "--yes", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(p.display().to_string())
                .and(predicate::str::contains("read-only")),
        );
    assert_eq!(std::fs::read_to_string(&p).unwrap(), ENV);
}

#[test]
fn pin_refuses_merge_conflicts_untouched() {
    let src = "dependencies:\n<<<<<<< HEAD\n  - numpy\n=======\n  - scipy\n>>>>>>> branch\n";
    let (_d, p) = env_file(src);
    blasfix()
        .args(["pin", "--yes", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("merge-conflict"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), src);
}

#[test]
fn pin_keeps_utf16_encoding() {
    let text = "name: x\r\nchannels:\r\n  - conda-forge\r\ndependencies:\r\n  - numpy\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    text.encode_utf16()
        .for_each(|u| bytes.extend_from_slice(&u.to_le_bytes()));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("environment.yml");
    std::fs::write(&p, &bytes).unwrap();
    blasfix()
        .args(["pin", "--yes", "--backend", "mkl"])
        .arg(&p)
        .assert()
        .success();
    let out = std::fs::read(&p).unwrap();
    assert_eq!(&out[..2], &[0xFF, 0xFE]);
    let (decoded, _) = envfile::decode_text(&out).unwrap();
    assert_eq!(decoded, format!("{text}  - libblas=*=*mkl\r\n"));
}

#[test]
fn pin_without_file_prints_the_lines() {
    blasfix()
        .args([
            "pin",
            "--backend",
            "openblas",
            "--channel-family",
            "conda-forge",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("  - libblas=*=*openblas\n"))
        .stdout(predicate::str::contains("\nlibblas=*=*openblas\n"))
        .stdout(predicate::str::contains(
            "libblas = { build = \"*openblas\" }",
        ));
}

#[test]
fn pin_auto_backend_unknown_asks_for_backend() {
    blasfix()
        .args(["pin", "-p", "/nonexistent/blasfix-test-prefix"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--backend"));
}

#[test]
fn pin_unsupported_backend_for_family() {
    blasfix()
        .args(["pin", "--backend", "blis", "--channel-family", "defaults"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("BLIS"));
}
