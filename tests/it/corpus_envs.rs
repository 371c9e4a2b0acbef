//! Integration tests: corpus_envs. Each committed env of `../shared/corpus/envs` is rebuilt in a
//! tempdir (its conda-meta copied; site-packages and lib/ stubbed from `site-packages.json`) and
//! `declared::declared(prefix::read(..))` must give the hand-checked truth of INDEX.md.

use std::fs;
use std::path::{Path, PathBuf};

use blasfix::facts::blas;
use blasfix::facts::blas::BlasImpl;
use blasfix::facts::declared;
use blasfix::facts::prefix;
use serde_json::Value;

use crate::support::{blasfix, corpus};

/// (dir, ground truth) rows of INDEX.md's table.
fn index_truth(root: &Path) -> Vec<(String, BlasImpl)> {
    let Ok(index) = fs::read_to_string(root.join("INDEX.md")) else {
        return Vec::new();
    };
    index
        .lines()
        .filter(|l| l.starts_with("| ") && l.as_bytes().get(2).is_some_and(u8::is_ascii_digit))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            let dir = cols.get(1)?.to_string();
            let truth = cols.iter().rev().find(|c| c.starts_with("**"))?;
            let word = truth.trim_start_matches("**").split("**").next()?;
            let imp = match word {
                "MKL" => BlasImpl::Mkl,
                "OpenBLAS" => BlasImpl::Openblas,
                "Accelerate" => BlasImpl::Accelerate,
                w if w.starts_with("none") => BlasImpl::None,
                _ => return None,
            };
            Some((dir, imp))
        })
        .collect()
}

fn touch(p: &Path, text: &str) {
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(p, text).expect("write stub");
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Rebuild one corpus env as a prefix under `dst`.
fn materialise(src: &Path, dst: &Path) {
    let cm = dst.join("conda-meta");
    fs::create_dir_all(&cm).expect("mkdir conda-meta");
    for e in fs::read_dir(src.join("conda-meta"))
        .expect("list conda-meta")
        .flatten()
    {
        fs::copy(e.path(), cm.join(e.file_name())).expect("copy record");
    }
    let Ok(text) = fs::read_to_string(src.join("site-packages.json")) else {
        return;
    };
    let sp: Value = serde_json::from_str(&text).expect("site-packages.json");
    if sp.get("site_packages_committed").and_then(Value::as_bool) == Some(true)
        && let Some(rel) = s(&sp, "site_packages_path")
    {
        let site = dst.join(rel);
        fs::create_dir_all(&site).expect("mkdir site-packages");
        for d in sp
            .get("dist_infos")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(dir), Some(name), Some(version)) =
                (s(d, "dir"), s(d, "METADATA_name"), s(d, "METADATA_version"))
            else {
                continue;
            };
            let meta = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n");
            if dir.ends_with(".egg-info") {
                touch(&site.join(dir).join("PKG-INFO"), &meta);
            } else {
                touch(&site.join(dir).join("METADATA"), &meta);
            }
            if let Some(inst) = s(d, "INSTALLER") {
                touch(&site.join(dir).join("INSTALLER"), &format!("{inst}\n"));
            }
            let tags: String = d
                .get("WHEEL_tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|t| format!("Tag: {t}\n"))
                .collect();
            if !tags.is_empty() {
                touch(
                    &site.join(dir).join("WHEEL"),
                    &format!("Wheel-Version: 1.0\n{tags}"),
                );
            }
        }
        if sp.get("numpy_dir_present").and_then(Value::as_bool) == Some(true) {
            fs::create_dir_all(site.join("numpy")).expect("mkdir numpy");
            if let (Some(file), Some(v)) = (
                s(&sp, "numpy_version_file"),
                s(&sp, "numpy_version_in_files"),
            ) {
                touch(&site.join(file), &format!("version = '{v}'\n"));
            }
            if let Some(ext) = s(&sp, "numpy_core_extension") {
                touch(&site.join(ext), "");
            }
        }
        for key in ["numpy_bundled_libs", "scipy_bundled_libs"] {
            for lib in sp
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                touch(&site.join(lib), "");
            }
        }
    }
    let lib_dir = dst.join(s(&sp, "prefix_blas_files_dir").unwrap_or("lib"));
    for f in sp
        .get("prefix_blas_files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = s(f, "name") else { continue };
        fs::create_dir_all(&lib_dir).expect("mkdir lib");
        match s(f, "symlink_to") {
            #[cfg(unix)]
            Some(target) => {
                std::os::unix::fs::symlink(target, lib_dir.join(name)).expect("symlink")
            }
            _ => touch(&lib_dir.join(name), ""),
        }
    }
}

fn corpus_envs() -> Option<(PathBuf, Vec<(String, BlasImpl)>)> {
    let root = corpus("envs")?;
    let truth = index_truth(&root);
    assert!(!truth.is_empty(), "INDEX.md has no ground-truth rows");
    Some((root, truth))
}

#[test]
fn every_present_env_gets_the_index_ground_truth() {
    let Some((root, truth)) = corpus_envs() else {
        return;
    };
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (dir, want) in &truth {
        let src = root.join(dir);
        assert!(src.is_dir(), "{} is missing from the corpus", src.display());
        let tmp = tempfile::tempdir().expect("tempdir");
        materialise(&src, tmp.path());
        let facts = prefix::read(tmp.path());
        let got = declared::declared(&facts);
        // Every present env is decided: 36 (stale pip dist-info over conda numpy) is settled by
        // the version in numpy/version.py, which the stubs carry; no env here needs the hashes.
        eprintln!(
            "{dir}: {:?} {:?} {:?} {:?}",
            got.implementation, got.evidence, got.mixed_stacks, got.pip_shadow
        );
        if got.implementation != *want {
            wrong.push(format!("{dir}: want {want:?}, got {:?}\n  evidence {:?}\n  ambiguity {:?}\n  problems {:?}",
                got.implementation, got.evidence, got.ambiguity, facts.problems));
        }
        checked += 1;
    }
    eprintln!("checked {checked} corpus envs");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn corpus_details_pip_shadow_mixed_stacks_and_mirrors() {
    let Some((root, _)) = corpus_envs() else {
        return;
    };
    let check = |dir: &str, f: &dyn Fn(&declared::DeclaredBlas, &prefix::PrefixFacts)| {
        let src = root.join(dir);
        assert!(src.is_dir(), "{} is missing from the corpus", src.display());
        let tmp = tempfile::tempdir().expect("tempdir");
        materialise(&src, tmp.path());
        let facts = prefix::read(tmp.path());
        f(&declared::declared(&facts), &facts);
    };
    check("36-osxarm64-defaults-np2-pip-np2-over", &|d, _| {
        assert_eq!(d.numpy.source, Some(declared::NumpySource::Conda));
        assert!(d.pip_shadow.is_some(), "{d:?}");
        assert!(
            d.evidence
                .iter()
                .any(|e| e.contains("says 2.2.2") && e.contains("numpy-2.2.3")),
            "{:?}",
            d.evidence
        );
    });
    check("24-osx64-defaults-blas-cf-numpy", &|d, _| {
        assert_eq!(d.family, Some(blas::ChannelFamily::CondaForge));
        assert_eq!(d.mixed_stacks.len(), 1, "{:?}", d.mixed_stacks);
    });
    check("21-win64-tuna-main-mkl", &|d, p| {
        assert_eq!(d.numpy.family, Some(blas::ChannelFamily::Defaults));
        assert_eq!(p.subdir.as_deref(), Some("win-64"));
    });
    check("12-win64-defaults-mkl-np116-egg", &|d, p| {
        assert_eq!(d.numpy.source, Some(declared::NumpySource::Conda));
        assert!(
            p.site
                .as_ref()
                .is_some_and(|s| s.dists.iter().any(|x| x.dir.ends_with(".egg-info")))
        );
    });
    check("38-osxarm64-pip-numpy24-only", &|d, _| {
        assert_eq!(
            d.numpy.wheel_tag.as_deref(),
            Some("cp312-cp312-macosx_14_0_arm64")
        );
        assert_eq!(d.numpy.source, Some(declared::NumpySource::Pip));
    });
    check("04-linux64-cf-openblas-old8", &|d, p| {
        assert!(
            p.blas_links.iter().any(|l| l.name == "lib/libblas.so.3"),
            "{:?}",
            p.blas_links
        );
        assert!(d.evidence.iter().any(|e| e.contains("8_openblas")));
        assert_eq!(p.history_tool.as_deref(), Some("conda"));
    });
}

#[test]
fn doctor_runs_on_corpus_envs() {
    let Some((root, _)) = corpus_envs() else {
        return;
    };
    for dir in [
        "36-osxarm64-defaults-np2-pip-np2-over",
        "18-win64-cf-mkl-16",
        "09-linux64-pip-numpy-2.0-wheel",
    ] {
        let src = root.join(dir);
        assert!(src.is_dir(), "{} is missing from the corpus", src.display());
        let tmp = tempfile::tempdir().expect("tempdir");
        materialise(&src, tmp.path());
        let out = blasfix()
            .args(["doctor", "--no-runtime", "--json", "-p"])
            .arg(tmp.path())
            .output()
            .expect("run blasfix");
        assert!(
            out.status.success(),
            "{dir}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _: Value = serde_json::from_slice(&out.stdout).expect("doctor --json prints JSON");
    }
}
