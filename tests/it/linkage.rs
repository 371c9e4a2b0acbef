//! `linkage::inspect` on real ELF files built here with `cc -shared`: a fake NumPy extension
//! with a `DT_NEEDED` on `libcblas.so.3`, resolved through RUNPATH/RPATH/`LD_LIBRARY_PATH` and
//! conda-style symlinks to fake OpenBLAS/MKL libraries. Recorded as skipped when there is no
//! C compiler (a failure under `CI=true`) or not on Linux.

use std::path::{Path, PathBuf};
use std::process::Command;

use blasfix::facts::blas::BlasImpl;
use blasfix::facts::linkage::{self, LoaderEnv};

use crate::support::{Need, program, skip};

const MODULE: &str = "_multiarray_umath.cpython-311-x86_64-linux-gnu.so";

struct Lab {
    _dir: tempfile::TempDir,
    root: PathBuf,
    prefix: PathBuf,
    lib: PathBuf,
    site: PathBuf,
    core: PathBuf,
}

impl Lab {
    fn new() -> Option<Lab> {
        if !cfg!(target_os = "linux") {
            return skip(
                Need::Optional,
                "ELF linkage tests build ELF files: Linux only",
            );
        }
        program("cc", Need::Ci)?;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let prefix = root.join("env");
        let lib = prefix.join("lib");
        let site = lib.join("python3.11/site-packages");
        let core = site.join("numpy/_core");
        for d in [&lib, &core, &root.join("build")] {
            std::fs::create_dir_all(d).unwrap();
        }
        Some(Lab {
            _dir: dir,
            root,
            prefix,
            lib,
            site,
            core,
        })
    }

    /// Compile `code` into a shared library at `out` with extra linker arguments.
    fn cc(&self, out: &Path, code: &str, args: &[&str]) {
        let src = self
            .root
            .join(format!("{}.c", out.file_name().unwrap().to_string_lossy()));
        std::fs::write(&src, code).unwrap();
        let st = Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(out)
            .arg(&src)
            .args(args)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "cc failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    }

    /// A library with this soname defining these functions.
    fn library(&self, out: &Path, soname: &str, funcs: &[&str], args: &[&str]) {
        let code: String = funcs
            .iter()
            .map(|f| format!("int {f}(void) {{ return 1; }}\n"))
            .collect();
        let mut a = vec![format!("-Wl,-soname,{soname}")];
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        self.cc(out, &code, &a);
    }

    /// A stub to link against, so that the module records `DT_NEEDED name`.
    fn stub(&self, name: &str) -> PathBuf {
        let p = self.root.join("build").join(name);
        self.library(&p, name, &["stub_symbol"], &[]);
        p
    }

    /// The fake `_multiarray_umath` needing `needed`, with extra linker arguments.
    fn module(&self, needed: &str, args: &[&str]) -> PathBuf {
        let stub = self.stub(needed);
        let out = self.core.join(MODULE);
        let mut a = vec!["-Wl,--no-as-needed".to_string(), stub.display().to_string()];
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        self.cc(&out, "int module_init(void) { return 0; }\n", &a);
        out
    }

    fn openblas(&self, dir: &Path) {
        let real = dir.join("libopenblasp-r0.3.99.so");
        self.library(
            &real,
            "libopenblas.so.0",
            &["openblas_get_num_threads", "cblas_dgemm"],
            &[],
        );
        symlink("libopenblasp-r0.3.99.so", &dir.join("libopenblas.so.0"));
    }
}

fn symlink(target: &str, link: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, link).unwrap();
    #[cfg(not(unix))]
    let _ = (target, link);
}

const RUNPATH_TO_LIB: &str = "-Wl,-rpath,$ORIGIN/../../../..";

#[test]
fn runpath_and_conda_symlinks_lead_to_openblas() {
    let Some(lab) = Lab::new() else { return };
    lab.openblas(&lab.lib);
    symlink("libopenblas.so.0", &lab.lib.join("libcblas.so.3"));
    lab.module("libcblas.so.3", &["-Wl,--enable-new-dtags", RUNPATH_TO_LIB]);
    let f = linkage::inspect(&lab.prefix, &lab.site, Some("linux-64"));
    assert_eq!(f.implementation, BlasImpl::Openblas, "{f:?}");
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.chains.len(), 1);
    let c = &f.chains[0];
    assert_eq!(c.module, lab.core.join(MODULE));
    assert_eq!(
        c.render(),
        "_multiarray_umath -> libcblas.so.3 -> libopenblas.so.0 -> libopenblasp-r0.3.99.so"
    );
    let hop = &c.hops[0];
    assert_eq!(
        hop.resolved.as_deref(),
        Some(lab.lib.join("libcblas.so.3").as_path())
    );
    assert_eq!(
        hop.real.as_deref(),
        Some(lab.lib.join("libopenblasp-r0.3.99.so").as_path())
    );
}

#[test]
fn rpath_is_searched_before_the_prefix_lib() {
    let Some(lab) = Lab::new() else { return };
    lab.openblas(&lab.lib);
    symlink("libopenblas.so.0", &lab.lib.join("libcblas.so.3"));
    let other = lab.root.join("other");
    std::fs::create_dir_all(&other).unwrap();
    lab.library(
        &other.join("libmkl_rt.so.2"),
        "libmkl_rt.so.2",
        &["MKL_Get_Max_Threads"],
        &[],
    );
    symlink("libmkl_rt.so.2", &other.join("libcblas.so.3"));
    let rpath = format!("-Wl,-rpath,{}", other.display());
    lab.module("libcblas.so.3", &["-Wl,--disable-new-dtags", &rpath]);
    let f = linkage::inspect(&lab.prefix, &lab.site, None);
    assert_eq!(f.implementation, BlasImpl::Mkl, "{f:?}");
    assert_eq!(
        f.chains[0].hops[0].resolved.as_deref(),
        Some(other.join("libcblas.so.3").as_path())
    );
}

#[test]
fn ld_library_path_is_honoured() {
    let Some(lab) = Lab::new() else { return };
    let dir = lab.root.join("ldpath");
    std::fs::create_dir_all(&dir).unwrap();
    lab.library(
        &dir.join("libblis.so.4"),
        "libblis.so.4",
        &["bli_thread_get_num_threads"],
        &[],
    );
    symlink("libblis.so.4", &dir.join("libcblas_blasfix_test.so.3"));
    lab.module("libcblas_blasfix_test.so.3", &[]);
    let env = LoaderEnv {
        ld_library_path: vec![dir.clone()],
        ..Default::default()
    };
    let f = linkage::inspect_with(&lab.prefix, &lab.site, None, &env);
    assert_eq!(f.implementation, BlasImpl::Blis, "{f:?}");
    let without = linkage::inspect(&lab.prefix, &lab.site, None);
    assert_eq!(without.implementation, BlasImpl::Unknown);
}

#[test]
fn generic_libblas_with_openblas_exports_is_openblas() {
    let Some(lab) = Lab::new() else { return };
    lab.library(
        &lab.lib.join("libblas.so.3"),
        "libblas.so.3",
        &["scipy_openblas_get_num_threads64_", "dgemm_"],
        &[],
    );
    lab.module("libblas.so.3", &[RUNPATH_TO_LIB]);
    let f = linkage::inspect(&lab.prefix, &lab.site, None);
    assert_eq!(f.implementation, BlasImpl::Openblas, "{f:?}");
    assert_eq!(f.chains[0].hops.len(), 1);
}

#[test]
fn generic_libblas_without_implementation_symbols_is_unknown_with_the_reason() {
    let Some(lab) = Lab::new() else { return };
    lab.library(
        &lab.lib.join("libblas.so.3.9.0"),
        "libblas.so.3",
        &["dgemm_", "xerbla_"],
        &[],
    );
    symlink("libblas.so.3.9.0", &lab.lib.join("libblas.so.3"));
    lab.module("libblas.so.3", &[RUNPATH_TO_LIB]);
    let f = linkage::inspect(&lab.prefix, &lab.site, None);
    // Never netlib by default: a plain libblas could be any BLAS built without its own API.
    assert_eq!(f.implementation, BlasImpl::Unknown, "{f:?}");
    let why = f.chains[0].evidence.as_deref().unwrap_or("");
    assert!(why.contains("exports no function of OpenBLAS"), "{why}");
}

#[test]
fn debian_directories_name_reference_blas_and_atlas() {
    let Some(lab) = Lab::new() else { return };
    for (dir, funcs, want) in [
        ("blas", &["dgemm_", "xerbla_"][..], BlasImpl::Netlib),
        ("atlas", &["dgemm_"][..], BlasImpl::Atlas),
    ] {
        let d = lab.root.join("multiarch").join(dir);
        std::fs::create_dir_all(&d).unwrap();
        lab.library(&d.join("libblas.so.3"), "libblas.so.3", funcs, &[]);
        let env = LoaderEnv {
            ld_library_path: vec![d.clone()],
            ..Default::default()
        };
        lab.module("libblas.so.3", &[]);
        let f = linkage::inspect_with(&lab.prefix, &lab.site, None, &env);
        assert_eq!(f.implementation, want, "{dir}: {f:?}");
        assert_eq!(
            f.chains[0].evidence.as_deref(),
            Some(format!("directory {dir}/").as_str())
        );
    }
}

#[test]
fn own_symbols_name_atlas_armpl_and_aocl_blis() {
    let Some(lab) = Lab::new() else { return };
    for (funcs, want, detail) in [
        (&["atl_f77wrap_dgemm_", "dgemm_"][..], BlasImpl::Atlas, None),
        (
            &["armplversion", "dgemm_"][..],
            BlasImpl::Armpl,
            Some("sequential"),
        ),
        (
            &["bli_info_get_version_str", "aocl_get_version", "dgemm_"][..],
            BlasImpl::Blis,
            Some("AMD AOCL"),
        ),
    ] {
        let _ = std::fs::remove_file(lab.lib.join("libblas.so.3"));
        lab.library(&lab.lib.join("libblas.so.3"), "libblas.so.3", funcs, &[]);
        lab.module("libblas.so.3", &[RUNPATH_TO_LIB]);
        let f = linkage::inspect(&lab.prefix, &lab.site, None);
        assert_eq!(f.implementation, want, "{f:?}");
        assert_eq!(f.chains[0].detail.as_deref(), detail, "{f:?}");
        assert!(
            f.chains[0]
                .evidence
                .as_deref()
                .is_some_and(|e| e.contains("exports")),
            "{f:?}"
        );
    }
}

#[test]
fn flexiblas_stands_for_the_backend_its_configuration_selects() {
    let Some(lab) = Lab::new() else { return };
    lab.library(
        &lab.lib.join("libflexiblas.so.3"),
        "libflexiblas.so.3",
        &[
            "flexiblas_get_num_threads",
            "flexiblas_current_backend",
            "dgemm_",
        ],
        &[],
    );
    lab.module("libflexiblas.so.3", &[RUNPATH_TO_LIB]);
    let env = LoaderEnv {
        flexiblas: Some(("OPENBLAS-OPENMP".into(), "/etc/flexiblasrc".into())),
        ..Default::default()
    };
    let f = linkage::inspect_with(&lab.prefix, &lab.site, None, &env);
    assert_eq!(f.implementation, BlasImpl::Openblas, "{f:?}");
    assert_eq!(
        f.chains[0].detail.as_deref(),
        Some("backend OPENBLAS-OPENMP (/etc/flexiblasrc)")
    );
    let f = linkage::inspect_with(&lab.prefix, &lab.site, None, &LoaderEnv::default());
    assert_eq!(f.implementation, BlasImpl::Flexiblas, "{f:?}");
}

#[test]
fn debian_style_libblas_forwards_to_libopenblas() {
    let Some(lab) = Lab::new() else { return };
    lab.openblas(&lab.lib);
    // A real libblas.so.3 that needs libopenblas.so.0, found through its own RUNPATH.
    let needs = lab.lib.join("libopenblas.so.0").display().to_string();
    let args = [
        "-Wl,--no-as-needed",
        &needs,
        "-Wl,--enable-new-dtags",
        "-Wl,-rpath,$ORIGIN",
    ];
    lab.library(
        &lab.lib.join("libblas.so.3"),
        "libblas.so.3",
        &["dgemm_"],
        &args,
    );
    lab.module("libblas.so.3", &[RUNPATH_TO_LIB]);
    let f = linkage::inspect(&lab.prefix, &lab.site, None);
    assert_eq!(f.implementation, BlasImpl::Openblas, "{f:?}");
    let c = &f.chains[0];
    assert_eq!(c.hops.len(), 2, "{c:?}");
    assert_eq!(c.hops[1].needed, "libopenblas.so.0");
    assert_eq!(
        c.render(),
        "_multiarray_umath -> libblas.so.3 -> libopenblas.so.0 -> libopenblasp-r0.3.99.so"
    );
}

#[test]
fn a_cycle_between_generic_libraries_terminates() {
    let Some(lab) = Lab::new() else { return };
    // libblas.so.3 needs liblapack.so.3, which needs libblas.so.3 (both plain files).
    let stub_lapack = lab.stub("liblapack.so.3");
    lab.library(
        &lab.lib.join("libblas.so.3"),
        "libblas.so.3",
        &["dgemm_"],
        &[
            "-Wl,--no-as-needed",
            &stub_lapack.display().to_string(),
            "-Wl,-rpath,$ORIGIN",
        ],
    );
    let blas = lab.lib.join("libblas.so.3").display().to_string();
    lab.library(
        &lab.lib.join("liblapack.so.3"),
        "liblapack.so.3",
        &["dgesv_"],
        &["-Wl,--no-as-needed", &blas, "-Wl,-rpath,$ORIGIN"],
    );
    lab.module("libblas.so.3", &[RUNPATH_TO_LIB]);
    let f = linkage::inspect(&lab.prefix, &lab.site, None);
    assert_eq!(f.implementation, BlasImpl::Unknown, "{f:?}");
}

#[test]
fn a_missing_dependency_is_a_problem_naming_the_module() {
    let Some(lab) = Lab::new() else { return };
    let module = lab.module("libcblas_blasfix_missing.so.3", &[RUNPATH_TO_LIB]);
    let f = linkage::inspect(&lab.prefix, &lab.site, None);
    assert_eq!(f.implementation, BlasImpl::Unknown);
    assert_eq!(f.problems.len(), 1, "{:?}", f.problems);
    assert_eq!(f.problems[0].path.as_deref(), Some(module.as_path()));
    assert!(
        f.problems[0]
            .message
            .contains("libcblas_blasfix_missing.so.3")
    );
    assert_eq!(f.chains[0].hops[0].resolved, None);
    assert!(f.chains[0].render().ends_with("(not found)"));
}

#[test]
fn a_module_linking_no_blas_gives_no_chain() {
    let Some(lab) = Lab::new() else { return };
    lab.cc(&lab.core.join(MODULE), "int f(void) { return 0; }\n", &[]);
    let f = linkage::inspect(&lab.prefix, &lab.site, None);
    assert!(f.chains.is_empty());
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.implementation, BlasImpl::Unknown);
}

#[test]
fn the_loaders_rpath_is_inherited_by_a_generic_libcblas() {
    let Some(lab) = Lab::new() else { return };
    let dir = lab.root.join("rp");
    std::fs::create_dir_all(&dir).unwrap();
    let ob = dir.join("libopenblas_blasfix_test.so.0");
    lab.library(
        &ob,
        "libopenblas_blasfix_test.so.0",
        &["openblas_get_num_threads"],
        &[],
    );
    // libcblas.so.3 has no search path of its own: only the module's DT_RPATH finds its dep.
    let args = ["-Wl,--no-as-needed", ob.to_str().unwrap()];
    lab.library(
        &dir.join("libcblas.so.3"),
        "libcblas.so.3",
        &["cblas_dgemm"],
        &args,
    );
    let rpath = format!("-Wl,-rpath,{}", dir.display());
    lab.module("libcblas.so.3", &["-Wl,--disable-new-dtags", &rpath]);
    let f = linkage::inspect(&lab.prefix, &lab.site, None);
    assert_eq!(f.implementation, BlasImpl::Openblas, "{f:?}");
    assert_eq!(f.chains[0].hops.len(), 2);
    assert_eq!(f.chains[0].hops[1].resolved.as_deref(), Some(ob.as_path()));
}
