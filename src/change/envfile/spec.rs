//! What one conda dependency string means for the BLAS, read through conda's MatchSpec grammar
//! (`rattler_conda_types::MatchSpec`, lenient, as conda itself parses environment files), and
//! the rewrite of a selector's build that keeps the rest of the spec as written.

use rattler_conda_types::{MatchSpec, ParseStrictness, StringMatcher};

use crate::facts::blas::{BlasImpl, impl_from_build_suffix};

/// Packages whose build string names the BLAS implementation (conda-forge's split outputs, and
/// the `blas` metapackage of both families).
const SELECTOR_NAMES: &[&str] = &[
    "libblas",
    "libcblas",
    "liblapack",
    "liblapacke",
    "blas-devel",
    "blas",
];
/// Packages that belong to MKL (stay installed after a switch away from it).
const MKL_PACKAGES: &[&str] = &[
    "mkl",
    "mkl-service",
    "mkl_fft",
    "mkl_random",
    "mkl-devel",
    "mkl-include",
    "intel-openmp",
    "mkl_umath",
];

/// The role of one dependency entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A selector package whose build names an implementation (`libblas=*=*mkl`,
    /// `libblas=3.9.0=20_linux64_openblas`, `blas=1.0=mkl`, `libblas=*[build=*accelerate]`).
    Selects {
        name: String,
        backend: BlasImpl,
    },
    /// A selector package without a build (`libblas=3.9.0`, `blas=1.0` from `--no-builds`).
    Unbuilt {
        name: String,
    },
    /// A selector package with a build that names no implementation.
    Opaque {
        name: String,
    },
    /// `nomkl`: forbids MKL.
    Nomkl,
    /// MKL's own packages (mkl, mkl-service, mkl_fft, ...).
    MklPackage {
        name: String,
    },
    /// OpenBLAS's own packages (openblas, libopenblas).
    OpenblasPackage {
        name: String,
    },
    /// numpy or numpy-base with an exact build string (an export).
    NumpyExactBuild {
        name: String,
    },
    /// `_openmp_mutex` with an exact build ending in `_gnu` (conda-forge's MKL needs `*_llvm`).
    GnuOpenmpMutex,
    /// numpy without a build.
    Numpy,
    Other,
}

fn parse(s: &str) -> Option<MatchSpec> {
    MatchSpec::from_str(s, ParseStrictness::Lenient).ok()
}

fn exact_name(spec: &MatchSpec) -> Option<String> {
    spec.name.as_exact().map(|n| n.as_normalized().to_string())
}

/// The implementation a build matcher selects (`*mkl`, `20_linux64_openblas`, `mkl`).
fn backend_of(build: &StringMatcher) -> Option<BlasImpl> {
    let text = build.to_string();
    let core = text.trim_matches('*');
    if core.is_empty() || core.contains(['*', '?', '[', '^', '$']) {
        return None;
    }
    impl_from_build_suffix(&core.to_ascii_lowercase())
}

/// Classify one conda dependency string.
pub fn classify(s: &str) -> Selector {
    let Some(spec) = parse(s) else {
        return Selector::Other;
    };
    let Some(name) = exact_name(&spec) else {
        return Selector::Other;
    };
    let build = spec
        .build
        .as_ref()
        .filter(|b| !matches!(b, StringMatcher::Any));
    if SELECTOR_NAMES.contains(&name.as_str()) {
        return match build {
            None => Selector::Unbuilt { name },
            Some(b) => match backend_of(b) {
                Some(backend) => Selector::Selects { name, backend },
                None => Selector::Opaque { name },
            },
        };
    }
    match name.as_str() {
        "nomkl" => Selector::Nomkl,
        "openblas" | "libopenblas" => Selector::OpenblasPackage { name },
        "numpy" | "numpy-base" => match build {
            Some(StringMatcher::Exact(_)) => Selector::NumpyExactBuild { name },
            _ if name == "numpy" => Selector::Numpy,
            _ => Selector::Other,
        },
        "_openmp_mutex" => match build {
            Some(StringMatcher::Exact(b)) if b.ends_with("_gnu") => Selector::GnuOpenmpMutex,
            _ => Selector::Other,
        },
        n if MKL_PACKAGES.contains(&n) => Selector::MklPackage { name },
        _ => Selector::Other,
    }
}

/// Does `s` parse to package `name` with a build that selects `backend`?
pub fn selects(s: &str, name: &str, backend: BlasImpl) -> bool {
    parse(s).is_some_and(|m| {
        exact_name(&m).as_deref() == Some(name)
            && m.build.as_ref().and_then(backend_of) == Some(backend)
    })
}

/// Split `conda-forge::libblas=...` into (`conda-forge::`, `libblas=...`).
fn split_channel(s: &str) -> (&str, &str) {
    let head_end = s.find('[').unwrap_or(s.len());
    match s[..head_end].rfind("::") {
        Some(i) => s.split_at(i + 2),
        None => ("", s),
    }
}

/// Rewrite the build of a selector spec to `build`, keeping channel, version and syntax (`=`,
/// space or bracket form) as written; falls back to `name=<version>=build`, then `name=*=build`.
/// Returns the new spec and whether the version constraint had to be dropped.
pub fn rewrite_build(s: &str, name: &str, build: &str, backend: BlasImpl) -> (String, bool) {
    let had_version = parse(s).is_some_and(|m| m.version.is_some());
    let (chan, rest) = split_channel(s.trim());
    let mut candidates = Vec::new();
    if let Some(c) = textual_rewrite(rest, build) {
        candidates.push(format!("{chan}{c}"));
    }
    let ok = |c: &str, keep_version: bool| {
        selects(c, name, backend)
            && (!keep_version || parse(c).is_some_and(|m| m.version.is_some()) == had_version)
    };
    for c in &candidates {
        if ok(c, true) {
            return (c.clone(), false);
        }
    }
    if let Some(v) = parse(s).and_then(|m| m.version).map(|v| v.to_string()) {
        let c = format!("{chan}{name}={}={build}", v.trim_start_matches("=="));
        if ok(&c, true) {
            return (c, false);
        }
    }
    (format!("{chan}{name}=*={build}"), had_version)
}

fn textual_rewrite(rest: &str, build: &str) -> Option<String> {
    if let Some(open) = rest.find('[') {
        let (head, bracket) = rest.split_at(open);
        let key = bracket.find("build=")?;
        let val_start = key + "build=".len();
        let after = &bracket[val_start..];
        let (val_len, quote) = match after.chars().next()? {
            q @ ('"' | '\'') => (after[1..].find(q)? + 2, Some(q)),
            _ => (after.find([',', ']'])?, None),
        };
        let new_val = match quote {
            Some(q) => format!("{q}{build}{q}"),
            None => build.to_string(),
        };
        return Some(format!(
            "{head}{}{new_val}{}",
            &bracket[..val_start],
            &after[val_len..]
        ));
    }
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    if tokens.len() > 1 {
        return match tokens.as_slice() {
            [n, v] | [n, v, _] => Some(format!("{n} {v} {build}")),
            _ => None,
        };
    }
    let name_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .unwrap_or(rest.len());
    let (n, tail) = rest.split_at(name_end);
    if tail.is_empty() {
        return Some(format!("{n}=*={build}"));
    }
    let t = tail.strip_prefix('=')?;
    if t.starts_with('=') {
        return None;
    }
    let version = t.split('=').next()?;
    (!version.is_empty() && t.matches('=').count() <= 1).then(|| format!("{n}={version}={build}"))
}

/// The relaxed form of an exact `_openmp_mutex=4.5=2_gnu`: the same without the build.
pub fn drop_build(s: &str) -> Option<String> {
    let (chan, rest) = split_channel(s.trim());
    if rest.contains(['[', ' ']) {
        return None;
    }
    let mut parts = rest.splitn(3, '=');
    let (n, v) = (parts.next()?, parts.next()?);
    parts.next()?;
    Some(format!("{chan}{n}={v}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use BlasImpl::*;

    #[test]
    fn classifies_through_matchspec() {
        let sel = |n: &str, b| Selector::Selects {
            name: n.into(),
            backend: b,
        };
        assert_eq!(classify("libblas=*=*mkl"), sel("libblas", Mkl));
        assert_eq!(
            classify("libblas=3.9.0=20_linux64_openblas"),
            sel("libblas", Openblas)
        );
        assert_eq!(
            classify("conda-forge::libblas=*[build=*accelerate]"),
            sel("libblas", Accelerate)
        );
        assert_eq!(classify("libblas * *blis"), sel("libblas", Blis));
        assert_eq!(classify("blas=*=mkl"), sel("blas", Mkl));
        assert_eq!(classify("blas=2.106=mkl"), sel("blas", Mkl));
        assert_eq!(
            classify("libcblas=3.9.0=31_he106b2a_openblas"),
            sel("libcblas", Openblas)
        );
        assert_eq!(
            classify("libblas=3.9.0=37_h1462f9a_newaccelerate"),
            sel("libblas", Accelerate)
        );
        assert_eq!(
            classify("blas=1.0"),
            Selector::Unbuilt {
                name: "blas".into()
            }
        );
        assert_eq!(
            classify("libblas=3.9.0"),
            Selector::Unbuilt {
                name: "libblas".into()
            }
        );
        assert_eq!(
            classify("libblas=*=h123_0"),
            Selector::Opaque {
                name: "libblas".into()
            }
        );
        assert_eq!(classify("nomkl"), Selector::Nomkl);
        assert_eq!(
            classify("mkl=2023.1.0"),
            Selector::MklPackage { name: "mkl".into() }
        );
        assert_eq!(
            classify("libopenblas=0.3.25=pthreads_h413a1c8_0"),
            Selector::OpenblasPackage {
                name: "libopenblas".into()
            }
        );
        assert_eq!(
            classify("numpy=1.21.5=py39h7a5d4dd_0"),
            Selector::NumpyExactBuild {
                name: "numpy".into()
            }
        );
        assert_eq!(
            classify("anaconda::numpy=1.11.2=py35_0"),
            Selector::NumpyExactBuild {
                name: "numpy".into()
            }
        );
        assert_eq!(classify("numpy>=1.26"), Selector::Numpy);
        assert_eq!(
            classify("_openmp_mutex=4.5=2_gnu"),
            Selector::GnuOpenmpMutex
        );
        assert_eq!(classify("_openmp_mutex=4.5=2_kmp_llvm"), Selector::Other);
        // names that merely contain the word are not selectors
        assert_eq!(classify("openblas-devel-tools"), Selector::Other);
        assert_eq!(classify("libblastest=*=*mkl"), Selector::Other);
        assert_eq!(classify("-e ..[doc]"), Selector::Other);
    }

    #[test]
    fn rewrites_keep_the_form() {
        let r = |s: &str, n: &str, b: &str, t| rewrite_build(s, n, b, t).0;
        assert_eq!(
            r("libblas=3.9.0=20_linux64_openblas", "libblas", "*mkl", Mkl),
            "libblas=3.9.0=*mkl"
        );
        assert_eq!(
            r("libblas=*=*openblas", "libblas", "*mkl", Mkl),
            "libblas=*=*mkl"
        );
        assert_eq!(
            r("blas=2.106=mkl", "blas", "openblas", Openblas),
            "blas=2.106=openblas"
        );
        assert_eq!(r("blas=1.0", "blas", "mkl", Mkl), "blas=1.0=mkl");
        assert_eq!(r("libblas", "libblas", "*mkl", Mkl), "libblas=*=*mkl");
        assert_eq!(
            r(
                "conda-forge::libblas=*[build=*accelerate]",
                "libblas",
                "*mkl",
                Mkl
            ),
            "conda-forge::libblas=*[build=*mkl]"
        );
        assert_eq!(
            r("libblas[build='*openblas']", "libblas", "*mkl", Mkl),
            "libblas[build='*mkl']"
        );
        assert_eq!(
            r("libblas 3.9.0 *openblas", "libblas", "*blis", Blis),
            "libblas 3.9.0 *blis"
        );
        let (s, dropped) = rewrite_build("libblas>=3.9=*openblas", "libblas", "*mkl", Mkl);
        assert!(selects(&s, "libblas", Mkl), "{s}");
        let _ = dropped;
        assert_eq!(
            drop_build("_openmp_mutex=4.5=2_gnu").as_deref(),
            Some("_openmp_mutex=4.5")
        );
    }
}
