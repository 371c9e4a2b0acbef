//! Linkage on real binaries prepared by `tests/heavy/run.sh`: conda prefixes made by py-rattler
//! (OpenBLAS and MKL behind libblas/libcblas/liblapack symlinks), a PyPI NumPy venv, Debian's
//! own NumPy (alternatives), and unpacked macOS and Windows wheels.

use std::path::{Path, PathBuf};

use blasfix::facts::blas::BlasImpl;
use blasfix::facts::linkage::{self, LinkageFacts};

use crate::support::{blasfix, heavy_dir};

fn need(dir: PathBuf) -> PathBuf {
    assert!(
        dir.exists(),
        "{} missing: rerun tests/heavy/run.sh",
        dir.display()
    );
    dir
}

fn site_packages(env: &Path) -> PathBuf {
    let lib = need(env.join("lib"));
    std::fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.join("numpy").is_dir())
        .unwrap_or_else(|| panic!("no site-packages with numpy under {}", lib.display()))
}

fn show(label: &str, f: &LinkageFacts) {
    eprintln!("{label}: {:?}", f.implementation);
    for c in &f.chains {
        eprintln!("  {}  [{:?}]", c.render(), c.implementation);
    }
    for p in &f.problems {
        eprintln!("  problem: {p}");
    }
}

/// The real file the chains end in, for each chain that names an implementation.
fn ends(f: &LinkageFacts) -> Vec<String> {
    f.chains
        .iter()
        .filter(|c| c.implementation.is_concrete())
        .filter_map(|c| c.hops.last())
        .map(|h| {
            h.real
                .as_ref()
                .or(h.resolved.as_ref())
                .map(|p| p.display().to_string().replace('\\', "/"))
                .unwrap_or_default()
        })
        .collect()
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_conda_openblas_through_symlinks() {
    let Some(h) = heavy_dir() else { return };
    let prefix = need(h.join("prefixes/openblas"));
    let f = linkage::inspect(&prefix, &site_packages(&prefix), Some("linux-64"));
    show("prefixes/openblas", &f);
    assert_eq!(f.implementation, BlasImpl::Openblas);
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    let blas = f
        .chains
        .iter()
        .flat_map(|c| &c.hops)
        .find(|h| h.needed == "libblas.so.3" || h.needed == "libcblas.so.3")
        .expect("a libblas.so.3/libcblas.so.3 hop");
    assert_eq!(
        blas.resolved.as_deref(),
        Some(prefix.join("lib").join(&blas.needed).as_path())
    );
    let real = blas.real.as_ref().unwrap();
    assert!(
        real.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("libopenblas"),
        "{real:?}"
    );
    assert!(real.starts_with(prefix.join("lib").canonicalize().unwrap()));
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_conda_mkl() {
    let Some(h) = heavy_dir() else { return };
    let prefix = need(h.join("prefixes/mkl"));
    let f = linkage::inspect(&prefix, &site_packages(&prefix), Some("linux-64"));
    show("prefixes/mkl", &f);
    assert_eq!(f.implementation, BlasImpl::Mkl);
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    for end in ends(&f) {
        assert!(end.contains("libmkl_rt"), "{end}");
    }
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_pypi_wheel_bundled_openblas() {
    let Some(h) = heavy_dir() else { return };
    let venv = need(h.join("venv-pypi"));
    let f = linkage::inspect(&venv, &site_packages(&venv), None);
    show("venv-pypi", &f);
    assert_eq!(f.implementation, BlasImpl::Openblas);
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    let ends = ends(&f);
    assert!(!ends.is_empty());
    for end in ends {
        assert!(end.contains("numpy.libs/libscipy_openblas"), "{end}");
    }
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_debian_system_numpy_via_alternatives() {
    let Some(_) = heavy_dir() else { return };
    let site = need(PathBuf::from("/usr/lib/python3/dist-packages"));
    let f = linkage::inspect(Path::new("/usr"), &site, None);
    show("debian python3-numpy", &f);
    assert_eq!(f.implementation, BlasImpl::Openblas);
    let blas = f
        .chains
        .iter()
        .flat_map(|c| &c.hops)
        .find(|h| h.needed == "libblas.so.3")
        .unwrap();
    assert!(
        blas.real
            .as_ref()
            .unwrap()
            .to_string_lossy()
            .contains("openblas"),
        "{blas:?}"
    );
}

fn wheel(h: &Path, name: &str, subdir: &str) -> LinkageFacts {
    let dir = need(h.join("wheels").join(name));
    let f = linkage::inspect(&dir, &dir, Some(subdir));
    show(name, &f);
    f
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_macos_arm64_accelerate_wheel() {
    let Some(h) = heavy_dir() else { return };
    let f = wheel(&h, "macos-arm64-accelerate", "osx-arm64");
    assert_eq!(f.implementation, BlasImpl::Accelerate);
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert!(
        f.chains
            .iter()
            .flat_map(|c| &c.hops)
            .any(|h| h.needed.contains("Accelerate.framework"))
    );
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_macos_openblas_wheels_resolve_rpath() {
    let Some(h) = heavy_dir() else { return };
    for (name, subdir) in [
        ("macos-arm64-openblas", "osx-arm64"),
        ("macos-x86_64-openblas", "osx-64"),
    ] {
        let f = wheel(&h, name, subdir);
        assert_eq!(f.implementation, BlasImpl::Openblas, "{name}");
        assert!(f.problems.is_empty(), "{name}: {:?}", f.problems);
        assert!(
            f.chains
                .iter()
                .flat_map(|c| &c.hops)
                .any(|h| h.needed.starts_with('@')),
            "{name}"
        );
        for end in ends(&f) {
            assert!(end.contains("numpy/.dylibs/libscipy_openblas"), "{end}");
        }
    }
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_windows_wheel_delvewheel_dll() {
    let Some(h) = heavy_dir() else { return };
    bundled_openblas(&wheel(&h, "win-amd64", "win-64"), ".dll");
}

/// Every chain ends in the wheel's own `numpy.libs/libscipy_openblas64_-<hash><ext>`.
fn bundled_openblas(f: &LinkageFacts, ext: &str) {
    assert_eq!(f.implementation, BlasImpl::Openblas);
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    let ends = ends(f);
    assert!(!ends.is_empty());
    for end in ends {
        assert!(
            end.contains("numpy.libs/libscipy_openblas64_-") && end.ends_with(ext),
            "{end}"
        );
    }
}

/// PyPI's manylinux aarch64 wheel: the core module's RPATH `$ORIGIN/../../numpy.libs` leads to
/// the bundled OpenBLAS, read from aarch64 ELF files (on every host, and natively under qemu).
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_linux_aarch64_wheel() {
    let Some(h) = heavy_dir() else { return };
    bundled_openblas(&wheel(&h, "linux-aarch64", "linux-aarch64"), ".so");
}

/// Not a timed assertion: prints how long `inspect` takes on each real layout (the budget is a
/// few milliseconds inside `doctor --no-runtime`).
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_timing_report() {
    let Some(h) = heavy_dir() else { return };
    let cases = [
        ("prefixes/mkl", Some("linux-64")),
        ("prefixes/openblas", Some("linux-64")),
        ("venv-pypi", None),
        ("wheels/macos-arm64-openblas", Some("osx-arm64")),
        ("wheels/win-amd64", Some("win-64")),
    ];
    for (name, subdir) in cases {
        let env = need(h.join(name));
        let site = if name.starts_with("wheels/") {
            env.clone()
        } else {
            site_packages(&env)
        };
        let runs = 20;
        let start = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(linkage::inspect(&env, &site, subdir));
        }
        eprintln!(
            "inspect {name}: {:?} per call (mean of {runs})",
            start.elapsed() / runs
        );
    }
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_linkage_doctor_json_on_prefixes() {
    let Some(h) = heavy_dir() else { return };
    for (name, want) in [
        ("prefixes/openblas", "openblas"),
        ("prefixes/mkl", "mkl"),
        ("venv-pypi", "openblas"),
    ] {
        let prefix = need(h.join(name));
        let out = blasfix()
            .args(["doctor", "--no-runtime", "--json", "-p"])
            .arg(&prefix)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: doctor --json is not JSON ({e})"));
        let l = &v["linkage"];
        assert!(l.is_object(), "{name}: doctor --json has no linkage: {l}");
        assert_eq!(l["implementation"], want, "{name}: {l}");
    }
}
