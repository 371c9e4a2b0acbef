//! Rules on what the environment holds: NumPy missing, metadata that disagree, pip NumPy in a
//! conda environment, mixed channel stacks, files that could not be read.

use crate::diagnose::finding::{Finding, Severity};
use crate::facts::Facts;
use crate::facts::blas::BlasImpl;
use crate::facts::declared::NumpySource;
use crate::facts::sitepath::Origin;

/// `no-numpy`: no NumPy record and no numpy package.
pub fn no_numpy(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    if f.blas.implementation == BlasImpl::None
        && f.runtime.as_ref().is_none_or(|r| r.numpy_version.is_none())
    {
        out.push(Finding::new(
            "no-numpy",
            Severity::Info,
            "NumPy is not installed in this environment",
            format!(
                "No NumPy record in conda-meta and no numpy package in site-packages of {}. \
                 There is no BLAS for NumPy to use yet; the channel defaults decide which one it gets \
                 when it is installed.",
                f.environment.prefix.display()
            ),
        ));
    }
    out
}

/// `blas-ambiguous`: records and files point to different BLAS libraries.
pub fn blas_ambiguous(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    if f.blas.implementation == BlasImpl::Ambiguous {
        out.push(Finding::new(
            "blas-ambiguous",
            Severity::Warning,
            "The environment's metadata disagree about NumPy's BLAS",
            f.blas
                .ambiguity
                .clone()
                .unwrap_or_else(|| "Records and files point to different BLAS libraries.".into()),
        ));
    }
    out
}

/// `pip-numpy-mixed` / `pip-numpy-in-conda-env`: NumPy from pip where conda manages the BLAS.
pub fn pip_numpy(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(shadow) = &f.blas.pip_shadow {
        out.push(Finding::new(
            "pip-numpy-mixed",
            Severity::Warning,
            "pip and conda both installed NumPy in this environment",
            format!(
                "{shadow} A pip NumPy brings its own OpenBLAS and ignores conda's BLAS; mixing them leaves stale \
                 files and makes the BLAS depend on which copy wins."
            ),
        ));
    } else if f.blas.numpy.source == Some(NumpySource::Pip)
        && (f.environment.kind.is_conda_like() || f.prefix.has_conda_meta)
    {
        out.push(Finding::new(
            "pip-numpy-in-conda-env",
            Severity::Warning,
            "NumPy in this conda environment came from pip",
            format!(
                "numpy {} was installed by {} ({}); a PyPI wheel always uses its bundled OpenBLAS, so conda's BLAS \
                 packages (libblas, mkl) cannot reach it. `blasfix apply --replace-pip-numpy` replaces it with conda's NumPy.",
                f.blas.numpy.version.as_deref().unwrap_or("?"),
                f.blas.numpy.installer.as_deref().unwrap_or("pip"),
                f.blas.numpy.dist_info.as_deref().unwrap_or("dist-info")
            ),
        ));
    }
    out
}

/// `mixed-blas-stacks`: conda-forge and defaults BLAS packages side by side.
pub fn mixed_blas_stacks(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    if !f.blas.mixed_stacks.is_empty() {
        out.push(Finding::new(
            "mixed-blas-stacks",
            Severity::Warning,
            "conda-forge and Anaconda defaults BLAS packages are mixed",
            format!(
                "{}. The two channels use different BLAS schemes (conda-forge: libblas build strings; defaults: the \
                 `blas` mutex and numpy-base); mixing them makes switches and updates unpredictable. Prefer one channel \
                 family (channel_priority: strict).",
                f.blas.mixed_stacks.join("; ")
            ),
        ));
    }
    out
}

/// `unreadable-input`: problems met while reading, with the files they concern.
pub fn unreadable_input(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let problems: Vec<String> = f
        .prefix
        .problems
        .iter()
        .chain(&f.channels.config.problems)
        // A corrupt or unresolvable extension module makes the linked verdict unreliable (a
        // site-packages without NumPy's modules is not a problem).
        .chain(
            f.linkage
                .iter()
                .flat_map(|l| &l.problems)
                .filter(|p| !p.message.starts_with("no NumPy extension module")),
        )
        .chain(&f.problems)
        .map(|p| p.to_string())
        .collect();
    if !problems.is_empty() {
        out.push(Finding::new(
            "unreadable-input",
            Severity::Warning,
            if problems.len() == 1 {
                "1 file could not be read completely".to_string()
            } else {
                format!("{} files could not be read completely", problems.len())
            },
            problems.join("; "),
        ));
    }
    out
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
pub fn numpy_shadowed(f: &Facts) -> Vec<Finding> {
    numpy_shadowed_check(f).into_iter().collect()
}

fn numpy_shadowed_check(f: &Facts) -> Option<Finding> {
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
    let mut x = Finding::new("numpy-shadowed", severity, title, detail);
    x.fix = first.fix.clone();
    Some(x)
}

/// `two-openblas-wheels`: NumPy's and SciPy's wheels each bundle an OpenBLAS. That is by design
/// (self-contained wheels, ILP64 for NumPy, LP64 for SciPy); what matters is limiting both pools.
pub fn two_openblas_wheels(f: &Facts) -> Vec<Finding> {
    two_openblas_wheels_check(f).into_iter().collect()
}

fn two_openblas_wheels_check(f: &Facts) -> Option<Finding> {
    let site = f.prefix.site.as_ref()?;
    let is_ob = |l: &&String| l.to_ascii_lowercase().contains("openblas");
    let numpy = site.numpy_bundled_libs.iter().find(is_ob)?;
    let scipy = site.scipy_bundled_libs.iter().find(is_ob)?;
    let mut x = Finding::new(
        "two-openblas-wheels",
        Severity::Info,
        "NumPy and SciPy wheels each bundle their own OpenBLAS",
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
        n = crate::diagnose::threads::suggested_threads(&f.machine)
    ));
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixture::{ids, intel_linux};
    use crate::diagnose::rules::evaluate;
    use crate::facts::blas::ChannelFamily;

    #[test]
    fn pip_numpy_in_conda_env() {
        let mut f = intel_linux();
        f.blas.numpy.source = Some(NumpySource::Pip);
        f.blas.numpy.family = Some(ChannelFamily::Pip);
        f.blas.numpy.installer = Some("pip".into());
        let i = ids(&f);
        assert!(i.contains(&"pip-numpy-in-conda-env".to_string()), "{i:?}");
        assert!(!i.contains(&"openblas-on-intel".to_string()));
        assert!(i.contains(&"openblas-on-intel-pip".to_string()));
        f.blas.pip_shadow = Some("numpy-2.2.3.dist-info (pip) beside conda numpy 2.2.2.".into());
        assert!(ids(&f).contains(&"pip-numpy-mixed".to_string()));
    }

    #[test]
    fn mixed_stacks_and_no_numpy_and_ambiguous() {
        let mut f = intel_linux();
        f.blas.mixed_stacks = vec!["defaults blas 1.0 openblas beside conda-forge libblas".into()];
        assert!(ids(&f).contains(&"mixed-blas-stacks".to_string()));
        f.blas.implementation = BlasImpl::None;
        assert!(ids(&f).contains(&"no-numpy".to_string()));
        f.blas.implementation = BlasImpl::Ambiguous;
        f.blas.ambiguity = Some("files cannot decide".into());
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "blas-ambiguous")
            .unwrap();
        assert_eq!(x.detail, "files cannot decide");
    }

    #[test]
    fn unreadable_input_names_the_files() {
        let mut f = intel_linux();
        f.prefix.problems.push(crate::facts::problem::Problem::at(
            std::path::Path::new("/e/conda-meta/x-1-0.json"),
            "truncated JSON",
        ));
        f.channels
            .config
            .problems
            .push(crate::facts::problem::Problem::at(
                std::path::Path::new("/h/.condarc"),
                "invalid YAML",
            ));
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "unreadable-input")
            .unwrap();
        assert!(
            x.detail.contains("x-1-0.json") && x.detail.contains(".condarc"),
            "{}",
            x.detail
        );
        assert_eq!(x.severity, Severity::Warning);
    }
}

#[cfg(test)]
mod shadow_and_wheel_tests {
    use super::*;
    use crate::facts::probe::{PathEntry, RuntimeFacts};
    use crate::facts::sitepath::SiteDir;
    use std::path::PathBuf;

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
        let x = numpy_shadowed_check(&f).expect("static");
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
        let x = numpy_shadowed_check(&f).expect("runtime");
        assert!(x.detail.contains("user site"), "{}", x.detail);
        assert!(x.fix.as_deref().is_some_and(|c| c.contains("--user")));
        // Only the environment's own copy: nothing to say.
        f.runtime = None;
        f.prefix.numpy_copies = vec![copy("/env/site", Origin::SitePackages)];
        assert!(numpy_shadowed_check(&f).is_none());
        // No own copy at all: information.
        f.prefix.numpy_copies = vec![copy("/x", Origin::Pythonpath)];
        assert_eq!(
            numpy_shadowed_check(&f).map(|x| x.severity),
            Some(Severity::Info)
        );
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
        let x = two_openblas_wheels_check(&f).expect("finding");
        assert_eq!(x.severity, Severity::Info);
        assert!(x.detail.starts_with(
            "numpy.libs/libscipy_openblas64_-ab.so (used by NumPy) and scipy.libs/libscipy_openblas-cd.so (used by SciPy)"
        ));
        f.prefix.site.as_mut().unwrap().scipy_bundled_libs.clear();
        assert!(two_openblas_wheels_check(&f).is_none());
    }
}
