//! Rules about what really runs on distribution Pythons and in ordinary pip venvs: the reference
//! BLAS in use (with the distribution's own switch), a NumPy copy shadowing the environment's,
//! the two OpenBLAS copies NumPy and SciPy wheels bundle, and thread pools as they really
//! became. One function per finding id, listed in [`RULES`].

use crate::diagnose::findings::{
    Finding, Severity, distro_switch, effective, env_family, switch_fix,
};
use crate::facts::Facts;
use crate::facts::blas::{BlasImpl, ChannelFamily};
use crate::facts::sitepath::Origin;

/// The rules of this module, in the order they report.
pub const RULES: &[fn(&Facts) -> Option<Finding>] = &[
    reference_blas,
    numpy_shadowed,
    two_openblas_wheels,
    pool_oversubscribed,
];

fn finding(id: &str, severity: Severity, title: String, detail: String) -> Finding {
    Finding {
        id: id.into(),
        severity,
        title,
        detail,
        fix: None,
        fix_raw: None,
    }
}

/// `reference-blas`: NumPy runs on the reference (netlib) BLAS, unoptimised and single-threaded.
/// The fix is the environment's own route: update-alternatives on Debian/Ubuntu, `flexiblas
/// default` on Fedora, the libblas build string on conda-forge.
pub fn reference_blas(f: &Facts) -> Option<Finding> {
    let (imp, layer) = effective(f);
    if imp != BlasImpl::Netlib {
        return None;
    }
    let family = env_family(f);
    let route = match family {
        ChannelFamily::Debian => {
            "Debian and Ubuntu pick it with update-alternatives (`libblas.so.3` and \
             `liblapack.so.3`); switch both to OpenBLAS (after `apt install libopenblas0-pthread` \
             when it is missing). It is a system change: every program linking libblas.so.3 \
             follows it."
        }
        ChannelFamily::Fedora => {
            "FlexiBLAS loads it as its backend; `flexiblas list` shows the installed backends \
             and `flexiblas default OPENBLAS-OPENMP` switches (or set FLEXIBLAS=OPENBLAS-OPENMP \
             for one program)."
        }
        ChannelFamily::CondaForge => {
            "conda-forge's `libblas *_netlib` build is installed; any other build string \
             switches NumPy without reinstalling it."
        }
        _ => "Install NumPy from a source that ships an optimised BLAS.",
    };
    let (fix, raw) = match family {
        ChannelFamily::Debian | ChannelFamily::Fedora => {
            let c = distro_switch(f, BlasImpl::Openblas);
            (c.clone(), c)
        }
        ChannelFamily::CondaForge | ChannelFamily::Defaults => switch_fix(f, BlasImpl::Openblas),
        _ => (None, None),
    };
    let mut x = finding(
        "reference-blas",
        Severity::Warning,
        "NumPy runs on the reference BLAS".into(),
        format!(
            "NumPy uses the reference (netlib) BLAS ({}): the unoptimised Fortran loops, one \
             thread, often 10 to 50 times slower than OpenBLAS, BLIS or MKL for matrix products \
             and LAPACK. {route}",
            layer.as_str()
        ),
    );
    x.fix = fix;
    x.fix_raw = raw;
    Some(x)
}

/// Where a NumPy copy on `sys.path` comes from, for people, and how to take it away.
struct Copy {
    path: String,
    why: String,
    fix: Option<String>,
    own: bool,
}

fn static_copy(d: &crate::facts::sitepath::SiteDir) -> Copy {
    let path = d.path.display().to_string();
    let (why, fix) = match d.origin {
        Origin::Pythonpath => (
            "PYTHONPATH, whose entries come before site-packages".to_string(),
            Some(format!("unset PYTHONPATH (or remove {path} from it)")),
        ),
        Origin::UserSite => (
            "the user site, which comes before site-packages".to_string(),
            Some("python -m pip uninstall --user numpy (or export PYTHONNOUSERSITE=1)".into()),
        ),
        Origin::Pth => (
            format!(
                "the .pth file {}",
                d.pth.as_deref().unwrap_or("in site-packages")
            ),
            d.pth
                .as_deref()
                .map(|p| format!("remove line {} (the `{path}` entry)", p)),
        ),
        Origin::SitePackages => ("the environment's site-packages".into(), None),
        Origin::BaseSitePackages => (
            "the base Python's site-packages (include-system-site-packages = true)".into(),
            None,
        ),
    };
    Copy {
        path,
        why,
        fix,
        own: matches!(d.origin, Origin::SitePackages | Origin::BaseSitePackages),
    }
}

fn runtime_copy(path: &str, origin: &str) -> Copy {
    let (why, fix, own) = match origin {
        "PYTHONPATH" => (
            "PYTHONPATH, whose entries come before site-packages".to_string(),
            Some(format!("unset PYTHONPATH (or remove {path} from it)")),
            false,
        ),
        "user site" => (
            "the user site, which comes before site-packages".to_string(),
            Some("python -m pip uninstall --user numpy (or export PYTHONNOUSERSITE=1)".into()),
            false,
        ),
        "site-packages" => ("the environment's site-packages".into(), None, true),
        "base site-packages" => (
            "the base Python's site-packages (include-system-site-packages = true)".into(),
            None,
            true,
        ),
        o if o.starts_with(".pth ") => (
            format!("the .pth file {}", &o[5..]),
            Some(format!("remove the `{path}` line ({})", &o[5..])),
            false,
        ),
        _ => (
            "an entry put on sys.path at start-up (sitecustomize, a startup hook)".into(),
            None,
            false,
        ),
    };
    Copy {
        path: path.to_string(),
        why,
        fix,
        own,
    }
}

/// `numpy-shadowed`: `import numpy` loads another copy than the environment's own (PYTHONPATH,
/// the user site, a .pth file, an earlier sys.path entry). Uses what the probe saw when it ran,
/// else the modelled sys.path.
pub fn numpy_shadowed(f: &Facts) -> Option<Finding> {
    let copies: Vec<Copy> = match f.runtime.as_ref().filter(|r| !r.numpy_copies.is_empty()) {
        Some(rt) => rt
            .numpy_copies
            .iter()
            .map(|c| runtime_copy(&c.path, &c.origin))
            .collect(),
        None => f.prefix.numpy_copies.iter().map(static_copy).collect(),
    };
    let first = copies.first()?;
    if first.own {
        return None;
    }
    let own = copies.iter().skip(1).find(|c| c.own);
    let (severity, title, detail) = match own {
        Some(o) => (
            Severity::Warning,
            "Another NumPy shadows the environment's own".to_string(),
            format!(
                "`import numpy` loads {}/numpy, from {}, instead of {}/numpy from {}. Everything \
                 blasfix reports as loaded is about the copy that really imports; what the \
                 environment's records declare is about the other one.",
                first.path, first.why, o.path, o.why
            ),
        ),
        None => (
            Severity::Info,
            "NumPy comes from outside the environment".to_string(),
            format!(
                "`import numpy` loads {}/numpy, from {}; the environment has no NumPy of its own.",
                first.path, first.why
            ),
        ),
    };
    let mut x = finding("numpy-shadowed", severity, title, detail);
    x.fix = first.fix.clone();
    Some(x)
}

/// `two-openblas-wheels`: NumPy's and SciPy's wheels each bundle an OpenBLAS. That is by design
/// (self-contained wheels, ILP64 for NumPy, LP64 for SciPy); what matters is limiting both pools.
pub fn two_openblas_wheels(f: &Facts) -> Option<Finding> {
    let site = f.prefix.site.as_ref()?;
    let is_ob = |l: &&String| l.to_ascii_lowercase().contains("openblas");
    let numpy = site.numpy_bundled_libs.iter().find(is_ob)?;
    let scipy = site.scipy_bundled_libs.iter().find(is_ob)?;
    let mut x = finding(
        "two-openblas-wheels",
        Severity::Info,
        "NumPy and SciPy wheels each bundle their own OpenBLAS".into(),
        format!(
            "{numpy} (used by NumPy) and {scipy} (used by SciPy). This is by design: each PyPI \
             wheel is self-contained (NumPy's is the 64-bit-integer build), so there is nothing to \
             unify. Each has its own thread pool once loaded, and code that calls NumPy and SciPy \
             from several threads at once can run both. Both read OPENBLAS_NUM_THREADS and \
             OMP_NUM_THREADS when they load, and threadpoolctl.threadpool_limits(n, \
             user_api=\"blas\") limits both at run time; in worker processes give each one thread."
        ),
    );
    x.fix = Some(format!(
        "export OPENBLAS_NUM_THREADS={n} OMP_NUM_THREADS={n}",
        n = crate::facts::threads::suggested_threads(&f.machine)
    ));
    Some(x)
}

/// `pool-oversubscribed`: the pools as they really became are larger than the CPUs this process
/// may use. From the probe: the threads its process ran after NumPy's first BLAS call. Without
/// the probe: an OpenMP-built OpenBLAS (as linked) takes `OMP_NUM_THREADS` as it is, with no cap
/// at the CPUs it can see.
pub fn pool_oversubscribed(f: &Facts) -> Option<Finding> {
    let usable = f.machine.usable_cpus.max(1);
    let (n, how) = match f.runtime.as_ref().filter(|r| r.error.is_none()) {
        Some(rt) => {
            let n = rt.threads.as_ref().and_then(|t| t.pool_threads())? as usize;
            (
                n,
                "the probed Python ran {n} threads after NumPy's first BLAS call".to_string(),
            )
        }
        None => {
            let openmp = f.linkage.as_ref().is_some_and(|l| {
                l.chains.iter().any(|c| {
                    c.implementation == BlasImpl::Openblas && c.detail.as_deref() == Some("openmp")
                })
            });
            let omp = f.threads.vars.get("OMP_NUM_THREADS").and_then(|v| {
                crate::facts::threads::parse_count("OMP_NUM_THREADS", v)
                    .ok()
                    .flatten()
            })?;
            if !openmp {
                return None;
            }
            (
                omp,
                "NumPy links an OpenMP build of OpenBLAS, which starts OMP_NUM_THREADS={n} \
                 threads at the first BLAS call without capping them at the CPUs it can see"
                    .to_string(),
            )
        }
    };
    if n <= usable {
        return None;
    }
    let how = how.replace("{n}", &n.to_string());
    let mut x = finding(
        "pool-oversubscribed",
        Severity::Warning,
        format!("The BLAS pools run {n} threads on {usable} usable CPUs"),
        format!(
            "{how}, but this process may use only {usable} CPUs (affinity and cgroup quota). The \
             extra threads time-slice the same cores and spin while they wait; with several \
             worker processes it multiplies (N workers x {n} threads)."
        ),
    );
    let s = crate::facts::threads::suggested_threads(&f.machine);
    x.fix = Some(format!(
        "export OMP_NUM_THREADS={s} OPENBLAS_NUM_THREADS={s} MKL_NUM_THREADS={s}"
    ));
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::declared::{DeclaredBlas, NumpyFacts, NumpySource};
    use crate::facts::distro::{Alternative, DistroFacts, Package};
    use crate::facts::probe::{PathEntry, ProcessThreads, RuntimeFacts};
    use crate::facts::sitepath::SiteDir;
    use std::path::PathBuf;

    fn debian(alt: &str) -> Facts {
        let mut f = Facts::default();
        f.machine.usable_cpus = 2;
        f.machine.logical_cpus = 2;
        f.environment.prefix = PathBuf::from("/usr");
        f.blas = DeclaredBlas {
            implementation: BlasImpl::Netlib,
            family: Some(ChannelFamily::Debian),
            numpy: NumpyFacts {
                source: Some(NumpySource::Distribution),
                family: Some(ChannelFamily::Debian),
                ..Default::default()
            },
            ..Default::default()
        };
        let t = "x86_64-linux-gnu";
        f.prefix.distro = Some(DistroFacts {
            manager: Some("dpkg".into()),
            triplet: Some(t.into()),
            numpy_package: None,
            alternatives: vec![Alternative {
                name: format!("libblas.so.3-{t}"),
                target: Some(PathBuf::from(alt)),
                mode: Some("manual".into()),
                candidates: vec![
                    (
                        PathBuf::from(format!("/usr/lib/{t}/openblas-pthread/libblas.so.3")),
                        100,
                    ),
                    (PathBuf::from(format!("/usr/lib/{t}/blas/libblas.so.3")), 10),
                ],
                owner: None,
            }],
            blas_packages: vec![Package {
                name: "libopenblas0-pthread".into(),
                version: "0.3.21".into(),
            }],
        });
        f
    }

    #[test]
    fn reference_blas_on_debian_gets_the_alternatives_fix() {
        let f = debian("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3");
        let x = reference_blas(&f).expect("finding");
        assert_eq!(x.severity, Severity::Warning);
        assert_eq!(
            x.fix.as_deref(),
            Some(
                "sudo update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 && sudo update-alternatives --set liblapack.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/liblapack.so.3"
            )
        );
        assert!(x.detail.contains("update-alternatives"), "{}", x.detail);
        let mut other = f.clone();
        other.blas.implementation = BlasImpl::Atlas;
        assert!(reference_blas(&other).is_none());
        // OpenBLAS not installed: apt first.
        let mut bare = f.clone();
        if let Some(d) = bare.prefix.distro.as_mut() {
            d.blas_packages.clear();
        }
        let x = reference_blas(&bare).expect("finding");
        assert!(
            x.fix
                .as_deref()
                .is_some_and(|c| c.starts_with("sudo apt install libopenblas0-pthread && ")),
            "{:?}",
            x.fix
        );
    }

    #[test]
    fn reference_blas_on_fedora_is_flexiblas_default() {
        let mut f = debian("/x");
        f.prefix.distro = None;
        f.blas.family = Some(ChannelFamily::Fedora);
        f.blas.numpy.family = Some(ChannelFamily::Fedora);
        let x = reference_blas(&f).expect("finding");
        assert_eq!(x.fix.as_deref(), Some("flexiblas default OPENBLAS-OPENMP"));
    }

    fn copy(p: &str, origin: Origin) -> SiteDir {
        SiteDir {
            path: PathBuf::from(p),
            origin,
            pth: None,
        }
    }

    #[test]
    fn shadowing_copy_is_named_with_both_paths_and_the_cause() {
        let mut f = Facts::default();
        f.prefix.numpy_copies = vec![
            copy("/home/u/lib", Origin::Pythonpath),
            copy("/env/lib/python3.12/site-packages", Origin::SitePackages),
        ];
        let x = numpy_shadowed(&f).expect("static");
        assert_eq!(x.severity, Severity::Warning);
        assert!(
            x.detail.contains("/home/u/lib/numpy")
                && x.detail.contains("/env/lib/python3.12/site-packages/numpy")
                && x.detail.contains("PYTHONPATH"),
            "{}",
            x.detail
        );
        // The probe's view wins when it ran.
        f.runtime = Some(RuntimeFacts {
            numpy_copies: vec![
                PathEntry {
                    path: "/home/u/.local/lib/python3.12/site-packages".into(),
                    origin: "user site".into(),
                },
                PathEntry {
                    path: "/env/lib/python3.12/site-packages".into(),
                    origin: "site-packages".into(),
                },
            ],
            ..Default::default()
        });
        let x = numpy_shadowed(&f).expect("runtime");
        assert!(x.detail.contains("user site"), "{}", x.detail);
        assert!(x.fix.as_deref().is_some_and(|c| c.contains("--user")));
        // Only the environment's own copy: nothing to say.
        f.runtime = None;
        f.prefix.numpy_copies = vec![copy("/env/site", Origin::SitePackages)];
        assert!(numpy_shadowed(&f).is_none());
        // No own copy at all: information.
        f.prefix.numpy_copies = vec![copy("/x", Origin::Pythonpath)];
        assert_eq!(numpy_shadowed(&f).map(|x| x.severity), Some(Severity::Info));
    }

    #[test]
    fn two_wheels_are_information_with_both_named() {
        let mut f = Facts::default();
        f.prefix.site = Some(crate::facts::prefix::SitePackages {
            numpy_bundled_libs: vec!["numpy.libs/libscipy_openblas64_-ab.so".into()],
            scipy_bundled_libs: vec![
                "scipy.libs/libgfortran-x.so.5".into(),
                "scipy.libs/libscipy_openblas-cd.so".into(),
            ],
            ..Default::default()
        });
        let x = two_openblas_wheels(&f).expect("finding");
        assert_eq!(x.severity, Severity::Info);
        assert!(x.detail.starts_with(
            "numpy.libs/libscipy_openblas64_-ab.so (used by NumPy) and scipy.libs/libscipy_openblas-cd.so (used by SciPy)"
        ));
        f.prefix.site.as_mut().unwrap().scipy_bundled_libs.clear();
        assert!(two_openblas_wheels(&f).is_none());
    }

    #[test]
    fn real_pool_sizes_decide_oversubscription() {
        let mut f = Facts::default();
        f.machine.usable_cpus = 2;
        f.runtime = Some(RuntimeFacts {
            threads: Some(ProcessThreads {
                before_numpy: Some(1),
                after_import: Some(1),
                after_gemm: Some(64),
            }),
            ..Default::default()
        });
        let x = pool_oversubscribed(&f).expect("64 on 2");
        assert!(x.title.contains("64 threads on 2"), "{}", x.title);
        f.runtime
            .as_mut()
            .unwrap()
            .threads
            .as_mut()
            .unwrap()
            .after_gemm = Some(2);
        assert!(pool_oversubscribed(&f).is_none());
        // Without the probe: an OpenMP OpenBLAS as linked, with OMP_NUM_THREADS=64.
        f.runtime = None;
        f.threads.vars.insert("OMP_NUM_THREADS".into(), "64".into());
        assert!(pool_oversubscribed(&f).is_none(), "not known to be OpenMP");
        f.linkage = Some(crate::facts::linkage::LinkageFacts {
            chains: vec![crate::facts::linkage::LinkChain {
                implementation: BlasImpl::Openblas,
                detail: Some("openmp".into()),
                ..Default::default()
            }],
            implementation: BlasImpl::Openblas,
            problems: vec![],
        });
        assert!(pool_oversubscribed(&f).is_some());
    }
}
