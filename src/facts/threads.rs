//! Thread settings: the variables that size BLAS and OpenMP thread pools, and what each BLAS
//! will default to on this machine compared with the CPUs the process may really use.
//!
//! Everything here is pure: facts come from an [`EnvSnapshot`] and [`CpuFacts`]; the rules
//! that judge them are in `diagnose::threads`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::facts::cpu::CpuFacts;
use crate::facts::snapshot::EnvSnapshot;

/// Variables that matter, in the order they are shown.
pub const THREAD_VARS: &[&str] = &[
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "MKL_THREADING_LAYER",
    "MKL_INTERFACE_LAYER",
    "MKL_DYNAMIC",
    "MKL_DEBUG_CPU_TYPE",
    "MKL_ENABLE_INSTRUCTIONS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_VERBOSE",
    "KMP_AFFINITY",
    "KMP_DUPLICATE_LIB_OK",
    "OPENBLAS_DEFAULT_NUM_THREADS",
    "MKL_DOMAIN_NUM_THREADS",
];

/// Variables whose value must be a positive whole number (OMP_NUM_THREADS may be a nested
/// list, "4,2", of which the first counts).
pub const COUNT_VARS: &[&str] = &[
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_DEFAULT_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
];

/// The thread variables that are set, and the pool size each BLAS would pick.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ThreadFacts {
    /// Variables from `THREAD_VARS` that are set (empty values included as set-but-empty).
    pub vars: BTreeMap<String, String>,
    /// Threads OpenBLAS would start: OPENBLAS_NUM_THREADS > GOTO_NUM_THREADS > OMP_NUM_THREADS
    /// > every CPU in the affinity mask (it ignores cgroup quotas).
    pub openblas_default: usize,
    /// Threads MKL would start: MKL_NUM_THREADS > OMP_NUM_THREADS > physical cores (MKL_DYNAMIC).
    pub mkl_default: usize,
    /// Threads BLIS would start: BLIS_NUM_THREADS > OMP_NUM_THREADS > 1.
    pub blis_default: usize,
    /// The CPUs this process may use (copied from the machine facts for the renderers).
    pub usable_cpus: usize,
    /// Variables whose value is not a positive whole number where one is expected.
    pub invalid: Vec<String>,
}

/// Parse a thread count. `Ok(None)` for an empty value (treated as unset); `Err` names why a
/// value is not a positive whole number. A nested OpenMP list ("4,2") counts its first level.
pub fn parse_count(var: &str, value: &str) -> Result<Option<usize>, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let first = if var == "OMP_NUM_THREADS" {
        let levels: Vec<&str> = v.split(',').map(str::trim).collect();
        if levels
            .iter()
            .any(|l| l.parse::<usize>().map_or(true, |n| n == 0))
        {
            return Err(format!(
                "{var}={value:?} is not a positive whole number (or a list such as \"4,2\")"
            ));
        }
        levels[0]
    } else {
        v
    };
    match first.parse::<i64>() {
        Ok(n) if n > 0 => Ok(usize::try_from(n).ok()),
        Ok(_) => Err(format!("{var}={value:?} must be at least 1")),
        Err(_) => Err(format!("{var}={value:?} is not a positive whole number")),
    }
}

/// The BLAS-domain thread count from MKL_DOMAIN_NUM_THREADS ("MKL_DOMAIN_ALL=2,
/// MKL_DOMAIN_BLAS=4"; the BLAS domain wins over ALL). `None` when it says nothing usable.
pub fn mkl_domain_blas_threads(value: &str) -> Option<usize> {
    let mut all = None;
    let mut blas = None;
    for item in value.split([',', ';']) {
        let item = item.trim();
        let (k, v) = item
            .split_once('=')
            .or_else(|| item.split_once(char::is_whitespace))
            .unwrap_or((item, ""));
        let n = v.trim().parse::<usize>().ok().filter(|n| *n > 0);
        match k.trim().to_ascii_uppercase().as_str() {
            "MKL_DOMAIN_BLAS" | "MKL_BLAS" => blas = n.or(blas),
            "MKL_DOMAIN_ALL" | "MKL_ALL" => all = n.or(all),
            _ => {}
        }
    }
    blas.or(all)
}

/// MKL_DYNAMIC is on unless set to FALSE (or 0, NO, OFF).
fn mkl_dynamic(env: &EnvSnapshot) -> bool {
    !env.get("MKL_DYNAMIC").is_some_and(|v| {
        matches!(
            v.trim().to_ascii_uppercase().as_str(),
            "FALSE" | "0" | "NO" | "OFF" | "F" | "N"
        )
    })
}

/// Work out thread facts from the environment and the machine (pure).
pub fn from_env(env: &EnvSnapshot, cpu: &CpuFacts) -> ThreadFacts {
    let vars: BTreeMap<String, String> = THREAD_VARS
        .iter()
        .filter_map(|k| env.vars.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();

    let mut invalid = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for var in COUNT_VARS {
        if let Some(value) = env.vars.get(*var) {
            match parse_count(var, value) {
                Ok(Some(n)) => {
                    counts.insert(var, n);
                }
                Ok(None) => {}
                Err(e) => invalid.push(e),
            }
        }
    }
    let count = |v: &str| counts.get(v).copied();

    // OpenBLAS honours the affinity mask and clamps to it, but not cgroup quotas.
    let affinity = cpu.affinity_cpus.unwrap_or(cpu.logical_cpus).max(1);
    let openblas_default = count("OPENBLAS_NUM_THREADS")
        .or_else(|| count("OPENBLAS_DEFAULT_NUM_THREADS"))
        .or_else(|| count("GOTO_NUM_THREADS"))
        .or_else(|| count("OMP_NUM_THREADS"))
        .unwrap_or(affinity)
        .min(affinity);

    // MKL: its own variables first, then OpenMP's, else every CPU; MKL_DYNAMIC (the default)
    // scales a request beyond the physical cores down to them.
    let layer = env
        .get("MKL_THREADING_LAYER")
        .map(|l| l.trim().to_ascii_uppercase());
    let mkl_default = if layer.as_deref() == Some("SEQUENTIAL") {
        1
    } else {
        let requested = env
            .get("MKL_DOMAIN_NUM_THREADS")
            .and_then(mkl_domain_blas_threads)
            .or_else(|| count("MKL_NUM_THREADS"))
            .or_else(|| count("OMP_NUM_THREADS"))
            .unwrap_or(affinity);
        let physical = cpu
            .physical_cores
            .filter(|p| *p > 0)
            .unwrap_or(affinity)
            .min(affinity);
        if mkl_dynamic(env) {
            requested.min(physical)
        } else {
            requested
        }
    };

    let blis_default = count("BLIS_NUM_THREADS")
        .or_else(|| count("OMP_NUM_THREADS"))
        .unwrap_or(1);

    ThreadFacts {
        vars,
        openblas_default,
        mkl_default,
        blis_default,
        usable_cpus: cpu.usable_cpus.max(1),
        invalid,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A machine with these CPU counts (affinity = all logical CPUs).
    pub(crate) fn cpu(logical: usize, physical: Option<usize>, usable: usize) -> CpuFacts {
        CpuFacts {
            logical_cpus: logical,
            affinity_cpus: Some(logical),
            physical_cores: physical,
            usable_cpus: usable,
            ..Default::default()
        }
    }

    /// The thread facts for these variables on `c`.
    pub(crate) fn facts(pairs: &[(&str, &str)], c: &CpuFacts) -> ThreadFacts {
        from_env(&EnvSnapshot::from_pairs(pairs.iter().copied()), c)
    }

    #[test]
    fn defaults_without_variables() {
        let c = cpu(16, Some(8), 4);
        let t = facts(&[("PATH", "/bin")], &c);
        assert!(t.vars.is_empty());
        assert_eq!(t.openblas_default, 16, "OpenBLAS ignores the quota");
        assert_eq!(t.mkl_default, 8, "MKL_DYNAMIC scales to physical cores");
        assert_eq!(t.blis_default, 1);
        assert_eq!(t.usable_cpus, 4);
        assert!(t.invalid.is_empty());
    }

    #[test]
    fn openblas_precedence() {
        let c = cpu(16, Some(8), 16);
        let t = facts(&[("OMP_NUM_THREADS", "4"), ("GOTO_NUM_THREADS", "3")], &c);
        assert_eq!(t.openblas_default, 3);
        let t = facts(
            &[
                ("OMP_NUM_THREADS", "4"),
                ("GOTO_NUM_THREADS", "3"),
                ("OPENBLAS_NUM_THREADS", "2"),
            ],
            &c,
        );
        assert_eq!(t.openblas_default, 2);
        let t = facts(&[("OMP_NUM_THREADS", "4,2")], &c);
        assert_eq!(t.openblas_default, 4);
        assert!(t.invalid.is_empty());
        // OPENBLAS_NUM_THREADS=0 is invalid and OpenBLAS falls through to the next variable.
        let t = facts(
            &[("OPENBLAS_NUM_THREADS", "0"), ("OMP_NUM_THREADS", "5")],
            &c,
        );
        assert_eq!(t.openblas_default, 5);
        assert_eq!(t.invalid.len(), 1);
        // Clamped to the CPUs in the affinity mask.
        let t = facts(&[("OPENBLAS_NUM_THREADS", "64")], &c);
        assert_eq!(t.openblas_default, 16);
        let t = facts(
            &[
                ("OPENBLAS_DEFAULT_NUM_THREADS", "6"),
                ("OMP_NUM_THREADS", "5"),
            ],
            &c,
        );
        assert_eq!(t.openblas_default, 6);
    }

    #[test]
    fn mkl_precedence_and_dynamic() {
        let c = cpu(16, Some(8), 16);
        assert_eq!(facts(&[("OMP_NUM_THREADS", "4")], &c).mkl_default, 4);
        assert_eq!(
            facts(&[("OMP_NUM_THREADS", "4"), ("MKL_NUM_THREADS", "2")], &c).mkl_default,
            2
        );
        assert_eq!(facts(&[("MKL_NUM_THREADS", "12")], &c).mkl_default, 8);
        assert_eq!(
            facts(&[("MKL_NUM_THREADS", "12"), ("MKL_DYNAMIC", "FALSE")], &c).mkl_default,
            12
        );
        assert_eq!(facts(&[("MKL_DYNAMIC", "false")], &c).mkl_default, 16);
        assert_eq!(
            facts(&[("MKL_THREADING_LAYER", "sequential")], &c).mkl_default,
            1
        );
        assert_eq!(
            facts(
                &[(
                    "MKL_DOMAIN_NUM_THREADS",
                    "MKL_DOMAIN_ALL=2, MKL_DOMAIN_BLAS=3"
                )],
                &c
            )
            .mkl_default,
            3
        );
        // Without topology MKL's cap is the affinity count.
        assert_eq!(facts(&[], &cpu(6, None, 6)).mkl_default, 6);
    }

    #[test]
    fn blis_precedence() {
        let c = cpu(8, Some(4), 8);
        assert_eq!(facts(&[], &c).blis_default, 1);
        assert_eq!(facts(&[("OMP_NUM_THREADS", "3")], &c).blis_default, 3);
        assert_eq!(
            facts(&[("OMP_NUM_THREADS", "3"), ("BLIS_NUM_THREADS", "2")], &c).blis_default,
            2
        );
    }

    #[test]
    fn invalid_values_are_named() {
        let c = cpu(4, Some(2), 4);
        let t = facts(
            &[
                ("OMP_NUM_THREADS", "four"),
                ("MKL_NUM_THREADS", "-2"),
                ("OPENBLAS_NUM_THREADS", ""),
                ("BLIS_NUM_THREADS", "0"),
                ("NUMEXPR_NUM_THREADS", "2.5"),
            ],
            &c,
        );
        assert_eq!(t.invalid.len(), 4, "{:?}", t.invalid);
        assert!(
            t.invalid
                .iter()
                .any(|e| e.contains("OMP_NUM_THREADS=\"four\""))
        );
        assert!(
            t.invalid
                .iter()
                .any(|e| e.contains("MKL_NUM_THREADS=\"-2\""))
        );
        assert!(
            t.invalid
                .iter()
                .any(|e| e.contains("BLIS_NUM_THREADS=\"0\""))
        );
        assert!(t.invalid.iter().any(|e| e.contains("NUMEXPR_NUM_THREADS")));
        assert_eq!(
            t.vars.get("OPENBLAS_NUM_THREADS").map(String::as_str),
            Some("")
        );
        assert_eq!(t.openblas_default, 4);
        assert!(parse_count("OMP_NUM_THREADS", "4,x").is_err());
        assert!(parse_count("OMP_NUM_THREADS", "4,0").is_err());
        assert_eq!(parse_count("OMP_NUM_THREADS", " 8 "), Ok(Some(8)));
        assert!(parse_count("MKL_NUM_THREADS", "4,2").is_err());
    }

    #[test]
    fn mkl_domain_parsing() {
        assert_eq!(mkl_domain_blas_threads("MKL_DOMAIN_ALL=2"), Some(2));
        assert_eq!(
            mkl_domain_blas_threads("MKL_DOMAIN_ALL 2, MKL_DOMAIN_BLAS 4"),
            Some(4)
        );
        assert_eq!(mkl_domain_blas_threads("MKL_BLAS=3;MKL_FFT=1"), Some(3));
        assert_eq!(mkl_domain_blas_threads("MKL_DOMAIN_FFT=2"), None);
        assert_eq!(mkl_domain_blas_threads("garbage"), None);
    }
}
