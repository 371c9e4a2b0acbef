//! The machine: CPU vendor, brand, microarchitecture (archspec names, as conda's `__archspec`),
//! SIMD the OS really enables, cores, the CPUs this process may use (affinity and cgroup quota),
//! the native conda subdir and Rosetta 2.

use serde::Serialize;

/// Which vendor's rules apply (MKL on non-Intel, OpenBLAS core names, Accelerate...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VendorFamily {
    Intel,
    Amd,
    Hygon,
    Zhaoxin,
    Apple,
    /// An aarch64 vendor other than Apple (ARM, Ampere, HiSilicon, NVIDIA, ...).
    Arm,
    #[default]
    Other,
}

/// Facts about the CPU and what this process may use of it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CpuFacts {
    /// Architecture this binary runs as: "x86_64", "aarch64", ...
    pub arch: String,
    /// The vendor as the hardware names it: "GenuineIntel", "AuthenticAMD", "HygonGenuine",
    /// "Shanghai", "CentaurHauls", "Apple", "ARM", "Ampere", ...
    pub vendor: String,
    pub vendor_family: VendorFamily,
    pub brand: Option<String>,
    /// archspec name (the build string of conda's `__archspec` virtual package).
    pub microarch: Option<String>,
    /// SIMD extensions usable by this process (OS support checked), lowercase: "sse4_2", "avx",
    /// "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "neon", "sve", "sme", ...
    pub simd: Vec<String>,
    pub logical_cpus: usize,
    pub physical_cores: Option<usize>,
    /// CPUs this process may use: min(affinity, cgroup quota), as `available_parallelism`.
    pub usable_cpus: usize,
    /// CPUs in this process's affinity mask, when known.
    pub affinity_cpus: Option<usize>,
    /// cgroup CPU quota in CPUs (e.g. 2.5), when one is set.
    pub cpu_quota: Option<f64>,
    /// Where the quota came from (e.g. "/sys/fs/cgroup/cpu.max").
    pub cpu_quota_source: Option<String>,
    /// Native conda subdir of the hardware (osx-arm64 even under Rosetta).
    pub subdir: String,
    /// Conda subdir this process runs as (osx-64 under Rosetta).
    pub process_subdir: String,
    /// This process is x86_64 code translated by Rosetta 2 on Apple silicon.
    pub rosetta: bool,
    /// The hypervisor, when CPUID names one.
    pub hypervisor: Option<String>,
    /// Nominal clock in MHz when known (for peak estimates).
    pub base_mhz: Option<u32>,
    /// FP64 FLOPs per cycle per core for this microarchitecture, when known.
    pub fp64_flops_per_cycle: Option<u32>,
}

impl CpuFacts {
    pub fn has(&self, feature: &str) -> bool {
        self.simd.iter().any(|f| f == feature)
    }
}

/// Read the facts of the machine this process runs on.
pub fn detect() -> CpuFacts {
    CpuFacts {
        arch: std::env::consts::ARCH.to_string(),
        logical_cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        usable_cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        ..Default::default()
    }
}
