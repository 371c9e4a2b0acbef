//! What a pin says about the BLAS: the package name and build glob of a MatchSpec line (as
//! written in `conda-meta/pinned` or `pinned_packages`), whether it keeps a switch from reaching a
//! backend, and whether it contradicts the backend that runs. Pure; shared by the rules that
//! report pins and the plan that rewrites them.

use crate::facts::blas::{BlasImpl, ChannelFamily, impl_from_build_suffix};

/// Packages whose pin decides the BLAS.
const BLAS_PIN_NAMES: &[&str] = &[
    "libblas",
    "libcblas",
    "liblapack",
    "liblapacke",
    "blas",
    "blas-devel",
    "nomkl",
    "mkl-devel",
];

/// Whether a pin names a package that decides the BLAS.
pub fn is_blas(line: &str) -> bool {
    name_build(line).is_some_and(|(n, _)| BLAS_PIN_NAMES.contains(&n.as_str()))
}

/// The package name and build glob of a MatchSpec line (`libblas=*=*mkl`, `libblas * *mkl`,
/// `conda-forge::libblas[build=*mkl]`, `"blas=*=mkl"`), lowercase.
pub fn name_build(line: &str) -> Option<(String, Option<String>)> {
    let s = line.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if s.is_empty() || s.starts_with('#') {
        return None;
    }
    let s = s.rsplit("::").next().unwrap_or(s);
    let (head, bracket) = match s.find('[') {
        Some(i) => (&s[..i], Some(s[i + 1..].trim_end_matches(']'))),
        None => (s, None),
    };
    let end = head
        .find(|c: char| c.is_whitespace() || matches!(c, '=' | '<' | '>' | '!' | '~'))
        .unwrap_or(head.len());
    let name = head[..end].trim().to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    let rest = head[end..].trim();
    let mut build = None;
    if let Some(b) = bracket {
        for kv in b.split(',') {
            if let Some((k, v)) = kv.split_once('=')
                && k.trim() == "build"
            {
                build = Some(v.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
            }
        }
    }
    if build.is_none() {
        if let Some(r) = rest.strip_prefix('=') {
            // name=version=build
            build = r.split_once('=').map(|(_, b)| b.trim().to_string());
        } else {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            if parts.len() >= 2 {
                build = Some(parts[1].to_string());
            }
        }
    }
    Some((name, build.filter(|b| !b.is_empty())))
}

/// Whether a pin line keeps the solver from switching to `target`: it selects another backend by
/// its build, it is `nomkl` against MKL (`mkl-devel` against anything else), or it is a bare BLAS
/// package name, which locks the installed build under libmamba. Quoted lines count too: conda
/// ignores them, micromamba does not.
pub fn conflicts(line: &str, target: BlasImpl) -> bool {
    let Some((name, build)) = name_build(line) else {
        return false;
    };
    if !BLAS_PIN_NAMES.contains(&name.as_str()) {
        return false;
    }
    if name == "nomkl" {
        return target == BlasImpl::Mkl;
    }
    if name == "mkl-devel" {
        return target != BlasImpl::Mkl;
    }
    match build {
        Some(b) => build_impl(&b).is_some_and(|i| i != target),
        // A bare name locks the installed build under libmamba; a version alone does not.
        None => line
            .trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .trim()
            .eq_ignore_ascii_case(&name),
    }
}

/// Whether a pin line already selects `target` the way `family` spells it (unquoted).
pub fn selects(line: &str, family: ChannelFamily, target: BlasImpl) -> bool {
    let quoted = line.trim().starts_with('"') || line.trim().starts_with('\'');
    let want = if family == ChannelFamily::CondaForge {
        "libblas"
    } else {
        "blas"
    };
    !quoted
        && name_build(line).is_some_and(|(n, b)| {
            n == want && b.is_some_and(|b| b.trim_matches('*') == target.as_str())
        })
}

/// Whether a pin asks for another backend than `running`, so that the next install or update
/// switches to it (or is refused): it selects another backend by its build, or it is `nomkl`
/// while MKL runs. A bare name (it locks what is installed) does not, and neither does a quoted
/// line in `conda-meta/pinned` (`quoted`), which conda ignores.
pub fn contradicts(line: &str, running: BlasImpl, quoted_is_ignored: bool) -> bool {
    if !running.is_concrete() {
        return false;
    }
    let t = line.trim();
    if quoted_is_ignored && (t.starts_with(['"', '\'']) || t.ends_with(['"', '\''])) {
        return false;
    }
    match name_build(line) {
        // A name alone (or with a version) locks what is installed, except the two
        // metapackages that choose by being there.
        Some((name, None)) => match name.as_str() {
            "nomkl" => running == BlasImpl::Mkl,
            "mkl-devel" => running != BlasImpl::Mkl,
            _ => false,
        },
        Some(_) => conflicts(line, running),
        None => false,
    }
}

/// The backend a pin line selects, when it names one by its build (`libblas=*=*mkl`,
/// `blas=*=openblas`, `liblapack * *blis`) or is `nomkl` (OpenBLAS on defaults).
pub fn selected(line: &str) -> Option<BlasImpl> {
    let (name, build) = name_build(line)?;
    if !BLAS_PIN_NAMES.contains(&name.as_str()) {
        return None;
    }
    if name == "nomkl" {
        return Some(BlasImpl::Openblas);
    }
    build_impl(&build?)
}

/// The backend a build glob ends in (`*mkl`, `20_linux64_openblas`, `*_blis`).
fn build_impl(glob: &str) -> Option<BlasImpl> {
    impl_from_build_suffix(glob.trim_matches('*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use BlasImpl::*;

    #[test]
    fn conflict_forms() {
        assert!(conflicts("libblas * *openblas", Mkl));
        assert!(conflicts("conda-forge::libblas[build=*openblas]", Mkl));
        assert!(conflicts("\"libblas=*=*openblas\"", Mkl));
        assert!(conflicts("liblapack=3.9.0=20_linux64_openblas", Mkl));
        assert!(conflicts("blas=*=openblas", Mkl));
        assert!(conflicts("nomkl", Mkl));
        assert!(!conflicts("nomkl", Openblas));
        assert!(conflicts("libblas", Mkl));
        assert!(!conflicts("libblas 3.9.*", Mkl));
        assert!(!conflicts("libblas=*=*mkl", Mkl));
        assert!(!conflicts("numpy 1.26.*", Mkl));
        assert!(!conflicts("# libblas=*=*openblas", Mkl));
    }

    #[test]
    fn contradiction_with_what_runs() {
        assert!(contradicts("libblas=*=*mkl", Openblas, true));
        assert!(!contradicts("libblas=*=*openblas", Openblas, true));
        // A bare name locks what is installed: no contradiction.
        assert!(!contradicts("libblas", Openblas, true));
        assert!(contradicts("nomkl", Mkl, true));
        assert!(!contradicts("nomkl", Openblas, true));
        // conda ignores quoted lines in conda-meta/pinned.
        assert!(!contradicts("\"libblas=*=*mkl\"", Openblas, true));
        assert!(contradicts("\"libblas=*=*mkl\"", Openblas, false));
        assert!(!contradicts("libblas=*=*mkl", Unknown, true));
        assert!(!contradicts("python 3.11.*", Openblas, true));
    }

    #[test]
    fn selected_backend() {
        assert_eq!(selected("libblas=*=*mkl"), Some(Mkl));
        assert_eq!(selected("blas=*=openblas"), Some(Openblas));
        assert_eq!(selected("conda-forge::liblapack[build=*blis]"), Some(Blis));
        assert_eq!(selected("nomkl"), Some(Openblas));
        assert_eq!(selected("libblas"), Option::None);
        assert_eq!(selected("numpy=*=*mkl"), Option::None);
    }
}
