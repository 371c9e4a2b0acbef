//! Rules on thread settings: contradicting variables, pools larger than the usable CPUs, and
//! what the kernel- and layer-selecting variables do.

use crate::facts::blas::BlasImpl;
use crate::facts::cpu::CpuFacts;
use serde::Serialize;

use crate::facts::threads::{ThreadFacts, parse_count};

/// The first level of a thread variable as the libraries read it, when valid.
fn var_count(t: &ThreadFacts, var: &str) -> Option<usize> {
    t.vars
        .get(var)
        .and_then(|v| parse_count(var, v).ok().flatten())
}

/// Thread variables that disagree, each explained: which value wins for which library.
pub fn contradictions(t: &ThreadFacts) -> Vec<String> {
    let mut out = Vec::new();
    let omp = var_count(t, "OMP_NUM_THREADS");
    let pairs: [(&str, &str); 3] = [
        ("MKL_NUM_THREADS", "MKL uses MKL_NUM_THREADS"),
        (
            "OPENBLAS_NUM_THREADS",
            "OpenBLAS (pthreads build) uses OPENBLAS_NUM_THREADS",
        ),
        ("BLIS_NUM_THREADS", "BLIS uses BLIS_NUM_THREADS"),
    ];
    if let Some(omp) = omp {
        for (var, who) in pairs {
            if let Some(n) = var_count(t, var).filter(|n| *n != omp) {
                let extra = if var == "OPENBLAS_NUM_THREADS" {
                    "; an OpenMP build of OpenBLAS follows OMP_NUM_THREADS instead"
                } else {
                    ""
                };
                out.push(format!(
                    "OMP_NUM_THREADS={omp} and {var}={n} disagree: {who} ({n}){extra}, while \
                     other OpenMP code (and any BLAS without its own variable) uses {omp}."
                ));
            }
        }
    }
    if let (Some(ob), Some(goto)) = (
        var_count(t, "OPENBLAS_NUM_THREADS"),
        var_count(t, "GOTO_NUM_THREADS"),
    ) && ob != goto
    {
        out.push(format!(
            "OPENBLAS_NUM_THREADS={ob} and GOTO_NUM_THREADS={goto} disagree: OpenBLAS uses \
             OPENBLAS_NUM_THREADS ({ob}); GOTO_NUM_THREADS is a legacy name."
        ));
    }
    out
}

/// The default pool of `imp` against the usable CPUs, when it is larger: `(pool, usable)`.
/// `None` for libraries whose default is not modelled (Accelerate, netlib...).
pub fn oversubscribed(t: &ThreadFacts, imp: BlasImpl) -> Option<(usize, usize)> {
    let pool = match imp {
        BlasImpl::Openblas => t.openblas_default,
        BlasImpl::Mkl => t.mkl_default,
        BlasImpl::Blis => t.blis_default,
        _ => return None,
    };
    (pool > t.usable_cpus).then_some((pool, t.usable_cpus))
}

/// A thread count worth recommending: the usable CPUs, capped at the physical cores in the
/// affinity mask (SMT siblings share the FMA units that dense BLAS saturates).
pub fn suggested_threads(cpu: &CpuFacts) -> usize {
    let usable = cpu.usable_cpus.max(1);
    cpu.physical_cores
        .filter(|p| *p > 0)
        .map_or(usable, |p| usable.min(p))
}

/// An explanation of one variable's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VarNote {
    pub var: String,
    pub value: String,
    pub message: String,
    /// The setting is harmful or has no effect (as opposed to being informational).
    pub warning: bool,
}

/// OpenBLAS core names accepted by `OPENBLAS_CORETYPE` (lowercase; x86 and arm64 DYNAMIC_ARCH).
const OPENBLAS_CORES: &[&str] = &[
    "katmai",
    "coppermine",
    "northwood",
    "prescott",
    "banias",
    "atom",
    "core2",
    "penryn",
    "dunnington",
    "nehalem",
    "athlon",
    "opteron",
    "opteron_sse3",
    "barcelona",
    "nano",
    "sandybridge",
    "bobcat",
    "bulldozer",
    "piledriver",
    "haswell",
    "steamroller",
    "excavator",
    "zen",
    "skylakex",
    "cooperlake",
    "sapphirerapids",
    "armv8",
    "cortexa53",
    "cortexa55",
    "cortexa57",
    "cortexa72",
    "cortexa73",
    "neoversen1",
    "neoversen2",
    "neoversev1",
    "neoversev2",
    "cortexx1",
    "cortexx2",
    "cortexa510",
    "cortexa710",
    "thunderx",
    "thunderx2t99",
    "thunderx3t110",
    "tsv110",
    "emag8180",
    "falkor",
    "a64fx",
    "armv8sve",
    "ft2000",
    "vortex",
];

/// Notes on variables that change which kernels or runtime a BLAS uses.
pub fn notes(t: &ThreadFacts) -> Vec<VarNote> {
    let mut out = Vec::new();
    let mut note = |var: &str, value: &str, warning: bool, message: String| {
        out.push(VarNote {
            var: var.into(),
            value: value.into(),
            message,
            warning,
        });
    };
    let get = |k: &str| t.vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());

    if let Some(v) = get("MKL_DEBUG_CPU_TYPE") {
        note(
            "MKL_DEBUG_CPU_TYPE",
            v,
            true,
            "MKL_DEBUG_CPU_TYPE has been ignored since MKL 2020 Update 1: it no longer makes MKL \
             use its AVX2 kernels on AMD CPUs. Newer MKL has its own Zen code path for DGEMM; \
             OpenBLAS or BLIS are the usual choice on AMD."
                .into(),
        );
    }
    if let Some(v) = get("OPENBLAS_CORETYPE") {
        let known = OPENBLAS_CORES.contains(&v.to_ascii_lowercase().as_str());
        let msg = if known {
            format!(
                "OPENBLAS_CORETYPE={v} forces OpenBLAS (DYNAMIC_ARCH builds) to use the {v} \
                 kernels instead of the ones for this CPU. It works around crashes or wrong \
                 results on some CPUs, but an older core type can be much slower; unset it \
                 unless you need it."
            )
        } else {
            format!(
                "OPENBLAS_CORETYPE={v} is not a core name OpenBLAS is known to accept (e.g. \
                 Haswell, SkylakeX, Zen, NeoverseN1); OpenBLAS may ignore it or fall back to a \
                 generic kernel."
            )
        };
        note("OPENBLAS_CORETYPE", v, true, msg);
    }
    if let Some(v) = get("MKL_THREADING_LAYER") {
        let (warning, msg) = match v.to_ascii_uppercase().as_str() {
            "INTEL" => (
                false,
                "MKL uses Intel OpenMP (libiomp5), its default.".to_string(),
            ),
            "SEQUENTIAL" => (
                false,
                "MKL runs single-threaded (MKL_NUM_THREADS and OMP_NUM_THREADS do not apply to \
                 it)."
                    .to_string(),
            ),
            "GNU" => (
                false,
                "MKL uses GNU OpenMP (libgomp), sharing the runtime of GCC-built OpenMP code \
                 instead of loading libiomp5."
                    .to_string(),
            ),
            "TBB" => (false, "MKL uses Intel TBB for threading.".to_string()),
            "PGI" => (
                false,
                "MKL uses the PGI OpenMP runtime (older MKL only).".to_string(),
            ),
            _ => (
                true,
                format!(
                    "MKL_THREADING_LAYER={v} is not a layer MKL knows (INTEL, SEQUENTIAL, GNU, \
                     TBB); libmkl_rt will not start as intended."
                ),
            ),
        };
        note("MKL_THREADING_LAYER", v, warning, msg);
    }
    if let Some(v) = get("MKL_INTERFACE_LAYER") {
        let upper = v.to_ascii_uppercase().replace(' ', "");
        let msg = match upper.as_str() {
            "LP64" | "GNU,LP64" => (
                false,
                "MKL uses 32-bit integers (LP64), its default.".into(),
            ),
            "ILP64" | "GNU,ILP64" => (
                true,
                format!(
                    "MKL_INTERFACE_LAYER={v} makes libmkl_rt expect 64-bit integers; callers \
                     built for LP64 (the usual NumPy/SciPy builds linked to libblas) can get \
                     wrong results or crash."
                ),
            ),
            _ => (
                true,
                format!(
                    "MKL_INTERFACE_LAYER={v} is not a value MKL knows (LP64, ILP64, GNU,LP64, \
                     GNU,ILP64)."
                ),
            ),
        };
        note("MKL_INTERFACE_LAYER", v, msg.0, msg.1);
    }
    if let Some(v) = get("MKL_ENABLE_INSTRUCTIONS") {
        note(
            "MKL_ENABLE_INSTRUCTIONS",
            v,
            false,
            format!(
                "MKL_ENABLE_INSTRUCTIONS={v} caps the instruction set MKL dispatches to (Intel \
                 CPUs only); kernels newer than {v} are not used."
            ),
        );
    }
    if let Some(v) = get("MKL_DYNAMIC") {
        let upper = v.to_ascii_uppercase();
        if matches!(upper.as_str(), "FALSE" | "0" | "NO" | "OFF" | "F" | "N") {
            note(
                "MKL_DYNAMIC",
                v,
                false,
                "MKL_DYNAMIC=FALSE: MKL uses exactly the threads requested, SMT siblings \
                 included, instead of scaling down to the physical cores."
                    .into(),
            );
        } else if !matches!(upper.as_str(), "TRUE" | "1" | "YES" | "ON" | "T" | "Y") {
            note(
                "MKL_DYNAMIC",
                v,
                true,
                format!("MKL_DYNAMIC={v} is neither TRUE nor FALSE."),
            );
        }
    }
    if let Some(v) = get("KMP_DUPLICATE_LIB_OK")
        && matches!(v.to_ascii_uppercase().as_str(), "TRUE" | "1" | "YES")
    {
        note(
            "KMP_DUPLICATE_LIB_OK",
            v,
            true,
            "KMP_DUPLICATE_LIB_OK hides Intel OpenMP's \"OMP: Error #15\" about two copies of \
             libiomp5 in one process; running with both can crash or give wrong results. \
             Remove the duplicate runtime instead."
                .into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::threads::tests::{cpu, facts};

    #[test]
    fn contradictions_explain_the_winner() {
        let c = cpu(8, Some(4), 8);
        let t = facts(&[("OMP_NUM_THREADS", "8"), ("MKL_NUM_THREADS", "2")], &c);
        let cs = contradictions(&t);
        assert_eq!(cs.len(), 1);
        assert!(cs[0].contains("MKL uses MKL_NUM_THREADS (2)"), "{}", cs[0]);
        let t = facts(
            &[("OMP_NUM_THREADS", "1"), ("OPENBLAS_NUM_THREADS", "4")],
            &c,
        );
        let cs = contradictions(&t);
        assert_eq!(cs.len(), 1);
        assert!(cs[0].contains("OpenMP build of OpenBLAS"));
        let t = facts(&[("OMP_NUM_THREADS", "4,2"), ("MKL_NUM_THREADS", "4")], &c);
        assert!(contradictions(&t).is_empty());
        let t = facts(
            &[("OPENBLAS_NUM_THREADS", "4"), ("GOTO_NUM_THREADS", "2")],
            &c,
        );
        assert_eq!(contradictions(&t).len(), 1);
        let t = facts(&[("OMP_NUM_THREADS", "bad"), ("MKL_NUM_THREADS", "2")], &c);
        assert!(contradictions(&t).is_empty());
    }

    #[test]
    fn oversubscription_against_quota() {
        // A 64-CPU host, docker --cpus=2: OpenBLAS starts 64 threads.
        let c = cpu(64, Some(32), 2);
        let t = facts(&[], &c);
        assert_eq!(oversubscribed(&t, BlasImpl::Openblas), Some((64, 2)));
        assert_eq!(oversubscribed(&t, BlasImpl::Mkl), Some((32, 2)));
        assert_eq!(oversubscribed(&t, BlasImpl::Blis), None);
        assert_eq!(oversubscribed(&t, BlasImpl::Accelerate), None);
        let t = facts(&[("OMP_NUM_THREADS", "2")], &c);
        assert_eq!(oversubscribed(&t, BlasImpl::Openblas), None);
        assert_eq!(suggested_threads(&c), 2);
        assert_eq!(suggested_threads(&cpu(16, Some(8), 16)), 8);
        assert_eq!(suggested_threads(&cpu(4, None, 4)), 4);
    }

    #[test]
    fn notes_on_kernel_and_layer_variables() {
        let c = cpu(8, Some(4), 8);
        let t = facts(
            &[
                ("MKL_DEBUG_CPU_TYPE", "5"),
                ("OPENBLAS_CORETYPE", "Haswell"),
                ("MKL_THREADING_LAYER", "GNU"),
                ("KMP_DUPLICATE_LIB_OK", "TRUE"),
            ],
            &c,
        );
        let n = notes(&t);
        let by = |v: &str| n.iter().find(|x| x.var == v).unwrap();
        assert!(by("MKL_DEBUG_CPU_TYPE").message.contains("2020 Update 1"));
        assert!(by("MKL_DEBUG_CPU_TYPE").warning);
        assert!(by("OPENBLAS_CORETYPE").message.contains("forces"));
        assert!(!by("MKL_THREADING_LAYER").warning);
        assert!(by("KMP_DUPLICATE_LIB_OK").warning);

        let t = facts(
            &[
                ("OPENBLAS_CORETYPE", "Pentium9"),
                ("MKL_THREADING_LAYER", "openmp"),
                ("MKL_INTERFACE_LAYER", "ILP64"),
                ("MKL_DYNAMIC", "maybe"),
            ],
            &c,
        );
        let n = notes(&t);
        assert_eq!(n.len(), 4);
        assert!(n.iter().all(|x| x.warning), "{n:?}");
        assert!(n.iter().any(|x| x.message.contains("not a core name")));
        assert!(
            n.iter()
                .any(|x| x.message.contains("not a layer MKL knows"))
        );
        assert!(notes(&facts(&[], &c)).is_empty());
    }
}
