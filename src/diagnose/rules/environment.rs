//! Rules on what the environment holds: NumPy missing, metadata that disagree, pip NumPy in a
//! conda environment, mixed channel stacks, files that could not be read.

use crate::diagnose::finding::{Finding, Severity};
use crate::facts::Facts;
use crate::facts::blas::BlasImpl;
use crate::facts::declared::NumpySource;

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
        .chain(&f.problems)
        .map(|p| p.to_string())
        .collect();
    if !problems.is_empty() {
        out.push(Finding::new(
            "unreadable-input",
            Severity::Warning,
            format!("{} file(s) could not be read completely", problems.len()),
            problems.join("; "),
        ));
    }
    out
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
