//! Integration tests: prefix reading and the declared BLAS on prefixes built on disk, bad
//! input included, and the CLI's answer to paths that are not environments.

use std::fs;
use std::path::Path;

use blasfix::facts::blas::{BlasImpl, ChannelFamily};
use blasfix::facts::declared;
use blasfix::facts::declared::NumpySource;
use blasfix::facts::prefix;
use blasfix::testing::{PKGS_MAIN, PrefixBuilder, RecordSpec};
use serde_json::Value;

use crate::support::blasfix;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn cf_numpy(version: &str) -> RecordSpec {
    RecordSpec::new("numpy", version, "py311h64a7726_0")
        .depends(&[
            "libblas >=3.9.0,<4.0a0",
            "libcblas >=3.9.0,<4.0a0",
            "liblapack >=3.9.0,<4.0a0",
        ])
        .constrains(&["numpy-base <0a0"])
}

fn cf_blas(build: &str) -> Vec<RecordSpec> {
    ["libblas", "libcblas", "liblapack"]
        .iter()
        .map(|n| RecordSpec::new(n, "3.9.0", build).files(&[&format!("lib/{n}.so.3")]))
        .collect()
}

fn with_records(mut b: PrefixBuilder, specs: Vec<RecordSpec>) -> PrefixBuilder {
    for s in specs {
        b = b.record(s);
    }
    b
}

fn defaults_numpy(version: &str, imp: &str, subdir: &str) -> Vec<RecordSpec> {
    let blas = format!("blas 1.0 {imp}");
    let lib = if imp == "mkl" {
        "mkl >=2023.1.0,<2024.0a0"
    } else {
        "libopenblas >=0.3.21,<1.0a0"
    };
    let base = format!("numpy-base {version} py311hfbfe69c_0");
    vec![
        RecordSpec::new("numpy", version, "py311he598dae_0")
            .channel(PKGS_MAIN)
            .subdir(subdir)
            .depends(&[&blas, lib, &base]),
        RecordSpec::new("numpy-base", version, "py311hfbfe69c_0")
            .channel(PKGS_MAIN)
            .subdir(subdir)
            .depends(&[&blas, lib]),
        RecordSpec::new("blas", "1.0", imp)
            .channel(PKGS_MAIN)
            .subdir(subdir)
            .track_features(if imp == "openblas" { "nomkl" } else { "" }),
    ]
}

#[test]
fn rattler_written_openblas_record() {
    let d = tmp();
    let b = with_records(
        PrefixBuilder::new(d.path())
            .rattler_style()
            .python("3.12.2"),
        cf_blas("20_linux64_openblas"),
    )
    .record(cf_numpy("1.26.4"))
    .numpy_files(
        "1.26.4",
        "_multiarray_umath.cpython-312-x86_64-linux-gnu.so",
    )
    .lib_link("libblas.so.3", "libopenblas.so.0");
    b.build().expect("build");
    let text = fs::read_to_string(
        d.path()
            .join("conda-meta/libblas-3.9.0-20_linux64_openblas.json"),
    )
    .expect("read");
    assert!(
        text.starts_with("{\n  \"arch\": \"x86_64\",\n  \"build\""),
        "{text}"
    );
    assert!(text.contains("\"channel\": \"https://conda.anaconda.org/conda-forge/\""));
    let f = prefix::read(d.path());
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    let dec = declared::declared(&f);
    assert_eq!(dec.implementation, BlasImpl::Openblas);
    assert_eq!(
        dec.evidence[0],
        "libblas 3.9.0 20_linux64_openblas [conda-forge, linux-64]"
    );
    assert_eq!(
        f.site.as_ref().and_then(|s| s.numpy_files_owner.as_deref()),
        Some("conda")
    );
}

#[test]
fn conda_written_mkl_record() {
    let d = tmp();
    with_records(PrefixBuilder::new(d.path()).python("3.11.9"), cf_blas("20_linux64_mkl"))
        .record(cf_numpy("1.26.4"))
        .record(RecordSpec::new("mkl", "2023.2.0", "h84fe81f_50496"))
        .history("==> 2026-11-24 22:30:07 <==\n# cmd: /home/user/miniforge3/lib/python3.11/site-packages/conda/__main__.py install -y libblas=*=*mkl\n# conda version: 26.7.1\n")
        .build()
        .expect("build");
    let f = prefix::read(d.path());
    assert_eq!(f.history_tool.as_deref(), Some("conda"));
    assert_eq!(f.python_version.as_deref(), Some("3.11.9"));
    let dec = declared::declared(&f);
    assert_eq!(dec.implementation, BlasImpl::Mkl);
    assert_eq!(dec.family, Some(ChannelFamily::CondaForge));
}

#[test]
fn each_era_of_build_strings_on_disk() {
    for (build, want) in [
        ("8_openblas", BlasImpl::Openblas),
        ("12_linux64_mkl", BlasImpl::Mkl),
        ("31_h59b9bed_openblas", BlasImpl::Openblas),
        ("1_h86c2bf4_netlib", BlasImpl::Netlib),
        ("20_linux64_blis", BlasImpl::Blis),
    ] {
        let d = tmp();
        with_records(PrefixBuilder::new(d.path()), cf_blas(build))
            .record(cf_numpy("1.26.4"))
            .build()
            .expect("build");
        assert_eq!(
            declared::declared(&prefix::read(d.path())).implementation,
            want,
            "{build}"
        );
    }
    let d = tmp();
    with_records(
        PrefixBuilder::new(d.path()),
        cf_blas("37_h1462f9a_newaccelerate")
            .into_iter()
            .map(|r| r.subdir("osx-arm64"))
            .collect(),
    )
    .record(cf_numpy("2.2.2").subdir("osx-arm64"))
    .build()
    .expect("build");
    assert_eq!(
        declared::declared(&prefix::read(d.path())).implementation,
        BlasImpl::Accelerate
    );
}

#[test]
fn defaults_mkl_openblas_and_nomkl() {
    for (imp, want) in [("mkl", BlasImpl::Mkl), ("openblas", BlasImpl::Openblas)] {
        let d = tmp();
        with_records(
            PrefixBuilder::new(d.path()),
            defaults_numpy("1.26.4", imp, "linux-64"),
        )
        .build()
        .expect("build");
        let dec = declared::declared(&prefix::read(d.path()));
        assert_eq!(
            (dec.implementation, dec.family),
            (want, Some(ChannelFamily::Defaults))
        );
    }
    let d = tmp();
    PrefixBuilder::new(d.path())
        .record(
            RecordSpec::new("numpy", "1.11.3", "py27_0")
                .channel(PKGS_MAIN)
                .subdir("osx-64")
                .depends(&["python 2.7*"]),
        )
        .record(
            RecordSpec::new("nomkl", "1.0", "0")
                .channel(PKGS_MAIN)
                .subdir("osx-64"),
        )
        .build()
        .expect("build");
    assert_eq!(
        declared::declared(&prefix::read(d.path())).implementation,
        BlasImpl::Openblas
    );
}

#[test]
fn conda_forge_numpy_with_defaults_blas_mutex() {
    let d = tmp();
    with_records(
        PrefixBuilder::new(d.path()),
        cf_blas("18_osx64_openblas")
            .into_iter()
            .map(|r| r.subdir("osx-64"))
            .collect(),
    )
    .record(cf_numpy("1.25.2").subdir("osx-64"))
    .record(
        RecordSpec::new("blas", "1.0", "mkl")
            .channel(PKGS_MAIN)
            .subdir("osx-64"),
    )
    .build()
    .expect("build");
    let dec = declared::declared(&prefix::read(d.path()));
    assert_eq!(dec.implementation, BlasImpl::Openblas);
    assert_eq!(dec.mixed_stacks.len(), 1);
}

#[test]
fn record_without_channel_is_read_from_its_url() {
    let d = tmp();
    let specs: Vec<RecordSpec> = defaults_numpy("1.26.4", "mkl", "win-64")
        .into_iter()
        .map(RecordSpec::no_channel)
        .collect();
    with_records(PrefixBuilder::new(d.path()).windows_layout(), specs)
        .build()
        .expect("build");
    let f = prefix::read(d.path());
    assert!(
        f.records
            .iter()
            .all(|r| r.channel.is_none() && r.url.is_some())
    );
    let dec = declared::declared(&f);
    assert_eq!(dec.implementation, BlasImpl::Mkl);
    assert_eq!(dec.numpy.family, Some(ChannelFamily::Defaults));
}

#[test]
fn pip_numpy_alone() {
    let d = tmp();
    PrefixBuilder::new(d.path())
        .venv("3.12.3")
        .pip_dist(
            "numpy",
            "2.1.3",
            "pip",
            &[
                "cp312-cp312-manylinux_2_17_x86_64",
                "cp312-cp312-manylinux2014_x86_64",
            ],
        )
        .numpy_files("2.1.3", "_multiarray_umath.cpython-312-x86_64-linux-gnu.so")
        .bundled_lib("numpy.libs/libscipy_openblas64_-ff651d7f.so")
        .build()
        .expect("build");
    let dec = declared::declared(&prefix::read(d.path()));
    assert_eq!(dec.implementation, BlasImpl::Openblas);
    assert_eq!(dec.numpy.source, Some(NumpySource::Pip));
    assert_eq!(dec.numpy.installer.as_deref(), Some("pip"));
    let d = tmp();
    PrefixBuilder::new(d.path())
        .venv("3.12.3")
        .pip_dist("numpy", "2.3.0", "uv", &["cp312-cp312-macosx_14_0_arm64"])
        .numpy_files("2.3.0", "_multiarray_umath.cpython-312-darwin.so")
        .build()
        .expect("build");
    assert_eq!(
        declared::declared(&prefix::read(d.path())).implementation,
        BlasImpl::Accelerate
    );
}

fn pip_over_conda(on_disk: &str, pip_version: &str) -> prefix::PrefixFacts {
    let d = tmp();
    with_records(
        PrefixBuilder::new(d.path()).python("3.11.9"),
        defaults_numpy("2.2.2", "openblas", "osx-arm64"),
    )
    .pip_dist(
        "numpy",
        "2.2.2",
        "conda",
        &["cp311-cp311-macosx_11_0_arm64"],
    )
    .pip_dist(
        "numpy",
        pip_version,
        "pip",
        &["cp311-cp311-macosx_14_0_arm64"],
    )
    .numpy_files(on_disk, "_multiarray_umath.cpython-311-darwin.so")
    .build()
    .expect("build");
    let f = prefix::read(d.path());
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    f
}

#[test]
fn pip_over_conda_decided_by_numpys_files() {
    // Stale pip dist-info: the files are conda's 2.2.2 (hashes agree with paths_data).
    let f = pip_over_conda("2.2.2", "2.2.3");
    assert_eq!(
        f.site.as_ref().and_then(|s| s.numpy_files_owner.as_deref()),
        Some("conda")
    );
    let dec = declared::declared(&f);
    assert_eq!(
        (dec.implementation, dec.numpy.source),
        (BlasImpl::Openblas, Some(NumpySource::Conda))
    );
    assert!(dec.pip_shadow.is_some());
    // Live pip wheel: the files are pip's 2.2.3 (hashes agree with its RECORD).
    let f = pip_over_conda("2.2.3", "2.2.3");
    assert_eq!(
        f.site.as_ref().and_then(|s| s.numpy_files_owner.as_deref()),
        Some("pip")
    );
    let dec = declared::declared(&f);
    assert_eq!(
        (dec.implementation, dec.numpy.source),
        (BlasImpl::Accelerate, Some(NumpySource::Pip))
    );
}

#[test]
fn pip_over_conda_undecidable_is_ambiguous() {
    // Same version from both, and both hashes match the file: nothing can tell them apart.
    let f = pip_over_conda("2.2.2", "2.2.2");
    assert_eq!(
        f.site.as_ref().and_then(|s| s.numpy_files_owner.as_deref()),
        None
    );
    let dec = declared::declared(&f);
    assert_eq!(dec.implementation, BlasImpl::Ambiguous);
    assert!(dec.ambiguity.is_some());
}

#[test]
fn bad_records_become_problems_and_reading_goes_on() {
    let d = tmp();
    with_records(PrefixBuilder::new(d.path()), cf_blas("20_linux64_mkl"))
        .record(cf_numpy("1.26.4"))
        .build()
        .expect("build");
    let cm = d.path().join("conda-meta");
    let lapack = cm.join("liblapack-3.9.0-20_linux64_mkl.json");
    let text = fs::read_to_string(&lapack).expect("read");
    fs::write(&lapack, &text[..40]).expect("truncate");
    fs::write(
        cm.join("mkl-2023.2.0-h84fe81f_50496.json"),
        b"{\"name\": \"mkl\", \"version\": \"2023\xc3\x28\"}",
    )
    .expect("write");
    let f = prefix::read(d.path());
    assert_eq!(f.problems.len(), 2, "{:?}", f.problems);
    let msg = |name: &str| {
        f.problems
            .iter()
            .find(|p| p.path.as_deref().is_some_and(|x| x.ends_with(name)))
            .map(|p| p.message.clone())
            .unwrap_or_default()
    };
    assert!(msg("liblapack-3.9.0-20_linux64_mkl.json").starts_with("truncated JSON at line"));
    assert!(msg("mkl-2023.2.0-h84fe81f_50496.json").contains("not UTF-8"));
    assert_eq!(declared::declared(&f).implementation, BlasImpl::Mkl);
}

#[test]
fn pinned_with_quotes_is_flagged() {
    let d = tmp();
    with_records(PrefixBuilder::new(d.path()), cf_blas("20_linux64_mkl"))
        .record(cf_numpy("1.26.4"))
        .pinned("# keep mkl\n\"libblas=*=*mkl\"\nlibblas * *mkl\n")
        .build()
        .expect("build");
    let f = prefix::read(d.path());
    assert_eq!(f.pinned.len(), 2);
    assert!(
        f.pinned[0]
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("quoted"))
    );
    assert_eq!(f.pinned[1].problem, None);
    assert_eq!(
        declared::declared(&f).pinned,
        vec!["\"libblas=*=*mkl\"", "libblas * *mkl"]
    );
}

#[test]
fn empty_and_missing_conda_meta_read_cleanly() {
    let d = tmp();
    PrefixBuilder::new(d.path())
        .conda_meta()
        .build()
        .expect("build");
    let f = prefix::read(d.path());
    assert!(f.has_conda_meta && f.record_count == 0 && f.problems.is_empty());
    assert_eq!(declared::declared(&f).implementation, BlasImpl::None);
    let f = prefix::read(&d.path().join("does-not-exist"));
    assert!(!f.has_conda_meta && f.problems.is_empty());
}

fn doctor_json(p: &Path) -> Value {
    let out = blasfix()
        .args(["doctor", "--no-runtime", "--json", "-p"])
        .arg(p)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn doctor_survives_bad_records_and_empty_conda_meta() {
    let d = tmp();
    PrefixBuilder::new(d.path())
        .conda_meta()
        .build()
        .expect("build");
    doctor_json(d.path());
    let cm = d.path().join("conda-meta");
    fs::write(
        cm.join("libblas-3.9.0-8_openblas.json"),
        "{\"name\": \"libbl",
    )
    .expect("write");
    fs::write(
        cm.join("numpy-1.20.2-py38h9894fe3_0.json"),
        [0xffu8, 0xfe, 0x00],
    )
    .expect("write");
    doctor_json(d.path());
}

#[test]
fn dash_p_on_a_directory_that_is_not_an_env_exits_2_naming_it() {
    let d = tmp();
    let x = d.path().join("x");
    fs::create_dir_all(&x).expect("mkdir");
    let out = blasfix()
        .args(["doctor", "--no-runtime", "-p"])
        .arg(&x)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&x.display().to_string()) && err.contains("not an environment"),
        "{err}"
    );
    let missing = d.path().join("missing");
    let out = blasfix()
        .args(["doctor", "--no-runtime", "-p"])
        .arg(&missing)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&missing.display().to_string()));
}

#[test]
fn big_generated_prefix_reads_relevant_records_only() {
    let d = tmp();
    blasfix::testing::generate_big_prefix(d.path(), 300, 8_000_000).expect("generate");
    let f = prefix::read(d.path());
    assert_eq!(f.record_count, 300);
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert!(f.records.len() < 20);
    assert_eq!(declared::declared(&f).implementation, BlasImpl::Openblas);
}
