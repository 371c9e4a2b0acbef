//! The machine: CPU vendor, brand, microarchitecture (archspec names, as conda's `__archspec`),
//! SIMD the OS really enables, cores, the CPUs this process may use (affinity and cgroup quota),
//! the native conda subdir and Rosetta 2.
//!
//! The readers at the bottom are thin: they gather raw text and numbers into [`CpuParts`], and
//! the pure [`assemble`] turns those into [`CpuFacts`]. Every parser takes text, so tests feed
//! recorded `/proc/cpuinfo`, cgroup and sysfs contents.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

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
    /// x86 CPUID family (combined base + extended, e.g. 25 for Zen3/Zen4, 6 for Intel cores).
    pub family: Option<u32>,
    /// x86 CPUID model (combined, e.g. 0x55 for Skylake-SP/Cascade Lake).
    pub model: Option<u32>,
    /// aarch64 `CPU part` as written in /proc/cpuinfo (e.g. "0xd40" for Neoverse-V1).
    pub cpu_part: Option<String>,
}

impl CpuFacts {
    pub fn has(&self, feature: &str) -> bool {
        self.simd.iter().any(|f| f == feature)
    }
}

// ------------------------------------------------------------------------------------------
// Raw inputs gathered by the readers.

/// What CPUID says on x86 (raw-cpuid).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuidInfo {
    /// The 12-byte vendor string, untrimmed ("  Shanghai  ").
    pub vendor: String,
    pub brand: Option<String>,
    pub family: u32,
    pub model: u32,
    pub hypervisor: Option<String>,
    /// CPUID leaf 0x16 base frequency, when non-zero (it reads all zeros under KVM).
    pub base_mhz: Option<u32>,
}

/// What macOS `sysctlbyname` says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SysctlInfo {
    /// `machdep.cpu.brand_string`.
    pub brand: Option<String>,
    /// `machdep.cpu.vendor` (Intel Macs only).
    pub vendor: Option<String>,
    /// `hw.physicalcpu`.
    pub physical_cpus: Option<usize>,
    /// `hw.logicalcpu`.
    pub logical_cpus: Option<usize>,
    /// `hw.optional.arm64` is 1: Apple silicon hardware, also seen from a Rosetta process.
    pub arm64: bool,
    /// `sysctl.proc_translated` is 1: this process runs under Rosetta 2.
    pub translated: bool,
    /// `hw.cpufrequency` in Hz (Intel Macs only).
    pub cpufrequency_hz: Option<u64>,
    /// `hw.optional.arm.FEAT_SME` is 1 (M4 and later).
    pub sme: bool,
}

/// One logical CPU's place in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTopology {
    pub cpu: usize,
    pub package: u32,
    pub core: u32,
}

/// A cgroup CPU quota in CPUs and the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    pub cpus: f64,
    pub source: String,
}

/// Everything the readers gather; [`assemble`] turns it into [`CpuFacts`] without I/O.
#[derive(Debug, Clone, Default)]
pub struct CpuParts {
    /// `std::env::consts::OS`: "linux", "macos", "windows".
    pub os: String,
    /// `std::env::consts::ARCH` of this process.
    pub process_arch: String,
    /// The kernel's machine name (`uname -m`), when known.
    pub machine: Option<String>,
    /// The text of `/proc/cpuinfo`.
    pub cpuinfo: Option<String>,
    pub cpuid: Option<CpuidInfo>,
    pub sysctl: Option<SysctlInfo>,
    /// SIMD the OS enables for this process, already in archspec/Linux spelling.
    pub simd: Vec<String>,
    /// Online CPUs (`sysconf(_SC_NPROCESSORS_ONLN)`).
    pub online_cpus: Option<usize>,
    /// CPU ids in the affinity mask.
    pub affinity: Option<Vec<usize>>,
    /// Per-CPU package and core ids from sysfs (empty when unreadable).
    pub topology: Vec<CpuTopology>,
    pub quota: Option<Quota>,
    /// `archspec::cpu::host()` name, used where there is no /proc/cpuinfo (Intel Mac, Windows).
    pub archspec_host: Option<String>,
    /// `cpufreq/cpuinfo_max_freq` of cpu0 in kHz (last-resort clock, e.g. on aarch64 Linux).
    pub cpufreq_max_khz: Option<u64>,
}

// ------------------------------------------------------------------------------------------
// /proc/cpuinfo

/// `/proc/cpuinfo` split into per-processor blocks of `key: value` pairs.
#[derive(Debug, Clone, Default)]
pub struct CpuInfo {
    pub blocks: Vec<Vec<(String, String)>>,
}

impl CpuInfo {
    pub fn parse(text: &str) -> Self {
        let mut blocks = Vec::new();
        let mut cur: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            match line.split_once(':') {
                Some((k, v)) => cur.push((k.trim().to_string(), v.trim().to_string())),
                None if line.trim().is_empty() && !cur.is_empty() => {
                    blocks.push(std::mem::take(&mut cur));
                }
                None => {}
            }
        }
        if !cur.is_empty() {
            blocks.push(cur);
        }
        CpuInfo { blocks }
    }

    /// A value from the first block (what archspec reads).
    pub fn first(&self, key: &str) -> Option<&str> {
        block_get(self.blocks.first()?, key)
    }

    /// Blocks that describe a processor (have a `processor` line).
    fn processors(&self) -> impl Iterator<Item = &Vec<(String, String)>> {
        self.blocks
            .iter()
            .filter(|b| block_get(b, "processor").is_some())
    }

    /// Number of `processor` entries.
    pub fn processor_count(&self) -> usize {
        self.processors().count()
    }

    /// The highest `cpu MHz` over all processors, rounded.
    pub fn max_mhz(&self) -> Option<u32> {
        self.blocks
            .iter()
            .filter_map(|b| block_get(b, "cpu MHz")?.parse::<f64>().ok())
            .filter(|m| m.is_finite() && *m > 0.0)
            .fold(None, |acc: Option<f64>, m| {
                Some(acc.map_or(m, |a| a.max(m)))
            })
            .map(|m| m.round() as u32)
    }

    /// Package and core ids from `physical id` / `core id` (x86 only; aarch64 has neither).
    pub fn topology(&self) -> Vec<CpuTopology> {
        self.processors()
            .filter_map(|b| {
                Some(CpuTopology {
                    cpu: block_get(b, "processor")?.parse().ok()?,
                    package: block_get(b, "physical id")?.parse().ok()?,
                    core: block_get(b, "core id")?.parse().ok()?,
                })
            })
            .collect()
    }
}

fn block_get<'a>(block: &'a [(String, String)], key: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Parse an integer written in decimal or `0x` hex ("0x41", "0xd40", "65").
fn parse_int(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

// ------------------------------------------------------------------------------------------
// Vendors

/// The vendor family of an x86 CPUID vendor string (spaces allowed, as CPUID returns them).
pub fn x86_vendor_family(vendor: &str) -> VendorFamily {
    match vendor.trim() {
        "GenuineIntel" => VendorFamily::Intel,
        "AuthenticAMD" => VendorFamily::Amd,
        "HygonGenuine" => VendorFamily::Hygon,
        "Shanghai" | "CentaurHauls" | "VIA VIA VIA" => VendorFamily::Zhaoxin,
        _ => VendorFamily::Other,
    }
}

/// Name of an aarch64 `CPU implementer` code (util-linux lscpu-arm and archspec tables).
pub fn arm_implementer_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x41 => "ARM",
        0x42 => "Broadcom",
        0x43 => "Cavium",
        0x44 => "DEC",
        0x46 => "Fujitsu",
        0x48 => "HiSilicon",
        0x49 => "Infineon",
        0x4d => "Motorola",
        0x4e => "NVIDIA",
        0x50 => "APM",
        0x51 => "Qualcomm",
        0x53 => "Samsung",
        0x56 => "Marvell",
        0x61 => "Apple",
        0x66 => "Faraday",
        0x68 => "HXT",
        0x69 => "Intel",
        0x6d => "Microsoft",
        0x70 => "Phytium",
        0xc0 => "Ampere",
        _ => return None,
    })
}

/// A readable core name for an aarch64 (implementer, part) pair, when known.
pub fn arm_part_name(implementer: u32, part: u32) -> Option<&'static str> {
    Some(match (implementer, part) {
        (0x41, 0xd03) => "Cortex-A53",
        (0x41, 0xd07) => "Cortex-A57",
        (0x41, 0xd08) => "Cortex-A72",
        (0x41, 0xd0b) => "Cortex-A76",
        (0x41, 0xd0c) => "Neoverse-N1",
        (0x41, 0xd40) => "Neoverse-V1",
        (0x41, 0xd49) => "Neoverse-N2",
        (0x41, 0xd4f) => "Neoverse-V2",
        (0x41, 0xd83) => "Neoverse-V3AE",
        (0x41, 0xd84) => "Neoverse-V3",
        (0x41, 0xd8e) => "Neoverse-N3",
        (0x43, 0x0af) => "ThunderX2",
        (0x46, 0x001) => "A64FX",
        (0x48, 0xd01) => "Kunpeng-920",
        (0x50, 0x000) => "X-Gene/eMAG",
        (0x61, 0x022) | (0x61, 0x024) => "M1 Icestorm",
        (0x61, 0x023) | (0x61, 0x025) => "M1 Firestorm",
        (0x61, 0x032) => "M2 Blizzard",
        (0x61, 0x033) => "M2 Avalanche",
        (0xc0, 0xac3) => "AmpereOne",
        (0xc0, 0xac4) => "AmpereOne-A",
        _ => return None,
    })
}

// ------------------------------------------------------------------------------------------
// Microarchitecture (archspec)

/// The archspec target name for a host with these properties, following archspec's `host()`:
/// candidates descend from the architecture's root, share the vendor (or are generic) and have
/// a subset of the host's features; keep descendants of the best generic candidate, prefer a
/// matching `CPU part`, and pick the most derived. `None` when no target fits.
pub fn archspec_name(
    arch: &str,
    vendor: &str,
    features: &HashSet<&str>,
    cpu_part: Option<&str>,
    generation: usize,
) -> Option<String> {
    use archspec::cpu::Microarchitecture;
    let targets = Microarchitecture::known_targets();
    let schema = &archspec::schema::MicroarchitecturesSchema::schema().microarchitectures;
    let own_features = |name: &str| {
        schema
            .get(name)
            .map(|m| m.features.as_slice())
            .unwrap_or(&[])
    };
    let part_of = |name: &str| schema.get(name).and_then(|m| m.cpupart.as_deref());

    let root_name = match arch {
        "x86_64" | "x86" => "x86_64",
        "aarch64" => "aarch64",
        "ppc64le" => "ppc64le",
        "ppc64" => "ppc64",
        _ => return None,
    };
    let root = targets.get(root_name)?;
    let in_family = |t: &Microarchitecture| t.name() == root.name() || t.decendent_of(root);
    let feature_subset = |t: &Microarchitecture| {
        own_features(t.name())
            .iter()
            .all(|f| features.contains(f.as_str()))
    };

    let candidates: Vec<_> = targets
        .values()
        .filter(|t| match root_name {
            "x86_64" => {
                in_family(t)
                    && (t.vendor() == vendor || t.vendor() == "generic")
                    && feature_subset(t)
            }
            "aarch64" => {
                !(t.vendor() == "generic" && t.name() != "aarch64")
                    && t.family().name() == root.name()
                    && (t.vendor() == "generic" || t.vendor() == vendor)
                    && feature_subset(t)
            }
            _ => in_family(t) && t.generation() <= generation,
        })
        .collect();

    let rank = |t: &Microarchitecture| (t.ancestors().len(), own_features(t.name()).len());
    fn best<'a>(
        v: &[&'a std::sync::Arc<Microarchitecture>],
        rank: impl Fn(&Microarchitecture) -> (usize, usize),
    ) -> Option<&'a std::sync::Arc<Microarchitecture>> {
        // Ties broken by name so the answer does not depend on hash order.
        v.iter()
            .max_by(|a, b| rank(a).cmp(&rank(b)).then(b.name().cmp(a.name())))
            .copied()
    }
    let generic: Vec<_> = candidates
        .iter()
        .copied()
        .filter(|t| t.vendor() == "generic")
        .collect();
    let best_generic = best(&generic, rank)?;
    let mut specific: Vec<_> = candidates
        .iter()
        .copied()
        .filter(|t| t.is_strict_superset(best_generic))
        .collect();
    if let Some(part) = cpu_part {
        let part = part.to_ascii_lowercase();
        if specific
            .iter()
            .any(|t| part_of(t.name()) == Some(part.as_str()))
        {
            specific.retain(|t| part_of(t.name()) == Some(part.as_str()));
        }
    }
    Some(
        best(&specific, rank)
            .unwrap_or(best_generic)
            .name()
            .to_string(),
    )
}

/// The archspec name for a Linux host from its `/proc/cpuinfo` (first block, as archspec does).
pub fn microarch_from_cpuinfo(machine: &str, info: &CpuInfo) -> Option<String> {
    match machine {
        "x86_64" => {
            let vendor = info.first("vendor_id").unwrap_or("generic");
            let features = info
                .first("flags")
                .unwrap_or("")
                .split_whitespace()
                .collect();
            archspec_name("x86_64", vendor, &features, None, 0)
        }
        "aarch64" | "arm64" => {
            let vendor = info
                .first("CPU implementer")
                .and_then(|c| {
                    archspec::schema::MicroarchitecturesSchema::schema()
                        .conversions
                        .arm_vendors
                        .get(c)
                        .map(String::as_str)
                })
                .unwrap_or("generic");
            let features = info
                .first("Features")
                .unwrap_or("")
                .split_whitespace()
                .collect();
            archspec_name("aarch64", vendor, &features, info.first("CPU part"), 0)
        }
        "ppc64le" | "ppc64" => {
            let generation = info
                .first("cpu")
                .and_then(|c| c.strip_prefix("POWER"))
                .map(|r| {
                    r.chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .and_then(|g| g.parse().ok())
                .unwrap_or(0);
            archspec_name(machine, "generic", &HashSet::new(), None, generation)
        }
        _ => None,
    }
}

/// archspec's name for Apple silicon from the brand string: `Apple M<N>` counts down to the
/// newest known `mN`; the bare "Apple processor" of Big Sur is `m1`.
pub fn apple_microarch(brand: &str) -> Option<String> {
    let brand = brand.trim().to_ascii_lowercase();
    if brand == "apple processor" {
        return Some("m1".into());
    }
    let known = archspec::cpu::Microarchitecture::known_targets();
    let n: u32 = brand
        .split_whitespace()
        .skip_while(|t| *t != "apple")
        .nth(1)?
        .strip_prefix('m')
        .map(|d| {
            d.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })?
        .parse()
        .ok()?;
    (1..=n)
        .rev()
        .map(|i| format!("m{i}"))
        .find(|c| known.contains_key(c))
}

// ------------------------------------------------------------------------------------------
// Clock and peak

/// The clock in a brand string such as "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz".
pub fn mhz_from_brand(brand: &str) -> Option<u32> {
    let after = brand.rsplit_once('@')?.1.trim();
    let lower = after.to_ascii_lowercase();
    let (num, scale) = if let Some(i) = lower.find("ghz") {
        (&after[..i], 1000.0)
    } else if let Some(i) = lower.find("mhz") {
        (&after[..i], 1.0)
    } else {
        return None;
    };
    let v: f64 = num.trim().parse().ok()?;
    (v > 0.0).then(|| (v * scale).round() as u32)
}

/// Nominal P-core clock of Apple silicon generations, which macOS does not report.
fn apple_mhz(microarch: &str) -> Option<u32> {
    Some(match microarch {
        "m1" => 3200,
        "m2" => 3500,
        "m3" => 4050,
        "m4" => 4400,
        _ => return None,
    })
}

/// FP64 FLOPs per cycle per core (FMA counted as 2) by archspec name.
///
/// One number per name, deliberately simple: `skylake_avx512`/`cascadelake`/`icelake` assume
/// the two 512-bit FMA units of Xeon Gold 6xxx/Platinum; Silver, Bronze, most Gold 5xxx,
/// Xeon-D and client Ice/Tiger/Rocket Lake have one (half this). `zen5` assumes the desktop and
/// server 512-bit datapath (mobile Strix Point has half). Apple is the NEON figure; Accelerate
/// runs DGEMM on AMX/SME and can exceed it.
pub fn fp64_flops_per_cycle(microarch: &str) -> Option<u32> {
    Some(match microarch {
        "nocona" | "core2" | "nehalem" | "westmere" | "k10" => 4,
        "sandybridge" | "ivybridge" => 8,
        "haswell" | "broadwell" | "skylake" | "cannonlake" | "alderlake" | "arrowlake" => 16,
        "skylake_avx512" | "cascadelake" | "icelake" | "sapphirerapids" | "mic_knl" => 32,
        "zen" => 8,
        "zen2" | "zen3" | "zen4" => 16,
        "zen5" => 32,
        "neoverse_n1" | "neoverse_n2" | "cortex_a72" | "thunderx2" | "ampere1" | "ampere1a" => 8,
        "neoverse_v1" | "neoverse_v2" => 16,
        "m1" | "m2" | "m3" | "m4" => 16,
        "a64fx" => 32,
        _ => return None,
    })
}

/// FLOPs per cycle implied by the SIMD alone, for unknown microarchitectures.
pub fn fp64_flops_from_simd(simd: &[String]) -> Option<u32> {
    let has = |f: &str| simd.iter().any(|s| s == f);
    if has("avx512f") {
        Some(32)
    } else if has("avx2") && has("fma") {
        Some(16)
    } else if has("avx") || has("neon") {
        Some(8)
    } else {
        None
    }
}

/// Theoretical peak GFLOP/s for `threads` threads: GHz × FLOPs/cycle × cores, FP64, or FP32
/// (twice that) when `single`. Threads beyond the usable CPUs or the physical cores add nothing
/// (SMT siblings share the FMA units). `None` without a clock or a FLOPs figure.
pub fn peak_gflops(cpu: &CpuFacts, threads: usize, single: bool) -> Option<f64> {
    let mhz = cpu.base_mhz.filter(|m| *m > 0)?;
    let fpc = cpu.fp64_flops_per_cycle?;
    let mut cores = threads.min(cpu.usable_cpus.max(1));
    if let Some(p) = cpu.physical_cores.filter(|p| *p > 0) {
        cores = cores.min(p);
    }
    if cores == 0 {
        return None;
    }
    let width = if single { 2.0 } else { 1.0 };
    Some(f64::from(mhz) / 1000.0 * f64::from(fpc) * cores as f64 * width)
}

// ------------------------------------------------------------------------------------------
// Subdirs

/// The conda subdir for an OS (`std::env::consts::OS` spelling) and a machine name (`uname -m`
/// or `std::env::consts::ARCH` spelling).
pub fn subdir_for(os: &str, machine: &str) -> String {
    let m = match machine {
        "x86_64" | "amd64" | "AMD64" => "64",
        "i386" | "i486" | "i586" | "i686" | "x86" => "32",
        "aarch64" | "arm64" | "ARM64" => {
            if os == "linux" {
                "aarch64"
            } else {
                "arm64"
            }
        }
        "ppc64le" | "powerpc64le" => "ppc64le",
        "ppc64" | "powerpc64" => {
            if cfg!(target_endian = "little") && machine == "powerpc64" {
                "ppc64le"
            } else {
                "ppc64"
            }
        }
        "arm" | "armv7l" => "armv7l",
        "armv6l" => "armv6l",
        other => other,
    };
    let os = match os {
        "macos" | "darwin" => "osx",
        "windows" => "win",
        other => other,
    };
    format!("{os}-{m}")
}

// ------------------------------------------------------------------------------------------
// cgroups

/// The cgroup paths of this process from `/proc/self/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupPaths {
    /// The v2 (unified) path, from the `0::<path>` line.
    pub v2: Option<String>,
    /// The v1 path of the hierarchy that holds the `cpu` controller.
    pub v1_cpu: Option<String>,
}

pub fn parse_proc_self_cgroup(text: &str) -> CgroupPaths {
    let mut out = CgroupPaths::default();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            out.v2 = Some(path.to_string());
        } else if ctrls.split(',').any(|c| c == "cpu") {
            out.v1_cpu = Some(path.to_string());
        }
    }
    out
}

/// Where the cgroup hierarchies are mounted, from `/proc/self/mountinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupMounts {
    /// (mount point, root within the hierarchy) of the cgroup2 mount.
    pub v2: Option<(String, String)>,
    /// (mount point, root) of the v1 hierarchy carrying the `cpu` controller.
    pub v1_cpu: Option<(String, String)>,
}

pub fn parse_mountinfo(text: &str) -> CgroupMounts {
    let mut out = CgroupMounts::default();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split_whitespace().collect();
        let post: Vec<&str> = post.split_whitespace().collect();
        let (Some(root), Some(mount), Some(fstype)) = (pre.get(3), pre.get(4), post.first()) else {
            continue;
        };
        let entry = Some((unescape_mount(mount), unescape_mount(root)));
        match *fstype {
            "cgroup2" if out.v2.is_none() => out.v2 = entry,
            "cgroup"
                if out.v1_cpu.is_none()
                    && post
                        .get(2)
                        .is_some_and(|o| o.split(',').any(|o| o == "cpu")) =>
            {
                out.v1_cpu = entry;
            }
            _ => {}
        }
    }
    out
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// A cgroup v2 `cpu.max` in CPUs: "200000 100000" is 2.0, "max 100000" is no limit. Only the
/// first two tokens count (newer kernels may add a burst).
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut it = text.split_whitespace();
    let quota: f64 = it.next()?.parse().ok()?;
    let period: f64 = it.next().map_or(Some(100_000.0), |p| p.parse().ok())?;
    (quota > 0.0 && period > 0.0 && quota.is_finite()).then(|| quota / period)
}

/// cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` in CPUs; a quota of -1 is no limit.
pub fn parse_cfs(quota: &str, period: &str) -> Option<f64> {
    let q: i64 = quota.trim().parse().ok()?;
    let p: i64 = period.trim().parse().ok()?;
    (q > 0 && p > 0).then(|| q as f64 / p as f64)
}

/// The directories from the process's cgroup up to the hierarchy's mount point.
fn cgroup_dirs(mount: &str, root: &str, path: &str) -> Vec<PathBuf> {
    let rel = match path.strip_prefix(root) {
        Some(r) if root != "/" => r,
        _ => path,
    };
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != "..")
        .collect();
    (0..=parts.len())
        .rev()
        .map(|n| {
            parts[..n]
                .iter()
                .fold(PathBuf::from(mount), |p, c| p.join(c))
        })
        .collect()
}

/// The strictest CPU quota over the process's cgroup and its ancestors, v2 and v1 alike.
/// `read` returns a file's text (tests pass a map; the reader passes the filesystem).
pub fn cgroup_quota(
    cgroup: &CgroupPaths,
    mounts: &CgroupMounts,
    read: &dyn Fn(&Path) -> Option<String>,
) -> Option<Quota> {
    let mut found: Vec<Quota> = Vec::new();
    if let Some(path) = &cgroup.v2 {
        let (mount, root) = mounts
            .v2
            .clone()
            .unwrap_or_else(|| ("/sys/fs/cgroup".into(), "/".into()));
        for dir in cgroup_dirs(&mount, &root, path) {
            let file = dir.join("cpu.max");
            if let Some(cpus) = read(&file).as_deref().and_then(parse_cpu_max) {
                found.push(Quota {
                    cpus,
                    source: file.display().to_string(),
                });
            }
        }
    }
    if let Some(path) = &cgroup.v1_cpu {
        let (mount, root) = mounts
            .v1_cpu
            .clone()
            .unwrap_or_else(|| ("/sys/fs/cgroup/cpu".into(), "/".into()));
        for dir in cgroup_dirs(&mount, &root, path) {
            let file = dir.join("cpu.cfs_quota_us");
            let cpus = read(&file)
                .zip(read(&dir.join("cpu.cfs_period_us")))
                .and_then(|(q, p)| parse_cfs(&q, &p));
            if let Some(cpus) = cpus {
                found.push(Quota {
                    cpus,
                    source: file.display().to_string(),
                });
            }
        }
    }
    found.into_iter().min_by(|a, b| a.cpus.total_cmp(&b.cpus))
}

/// Parse a kernel CPU list such as "0-3,8,10-11".
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 1 << 20 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// Physical cores: distinct (package, core) pairs among the CPUs in `affinity` (all CPUs in
/// the topology when the mask is unknown). `None` when no CPU's topology is known.
pub fn count_physical_cores(topology: &[CpuTopology], affinity: Option<&[usize]>) -> Option<usize> {
    let allowed: Option<HashSet<usize>> = affinity.map(|a| a.iter().copied().collect());
    let cores: BTreeSet<(u32, u32)> = topology
        .iter()
        .filter(|t| allowed.as_ref().is_none_or(|a| a.contains(&t.cpu)))
        .map(|t| (t.package, t.core))
        .collect();
    (!cores.is_empty()).then_some(cores.len())
}

// ------------------------------------------------------------------------------------------
// Assembly

/// Turn gathered parts into facts (pure).
pub fn assemble(parts: CpuParts) -> CpuFacts {
    let info = parts
        .cpuinfo
        .as_deref()
        .map(CpuInfo::parse)
        .unwrap_or_default();
    let sysctl = parts.sysctl.clone().unwrap_or_default();
    let machine = parts
        .machine
        .clone()
        .unwrap_or_else(|| parts.process_arch.clone());
    let is_mac = parts.os == "macos";
    let apple_hw = is_mac && (sysctl.arm64 || parts.process_arch == "aarch64");

    // Vendor, brand, family/model, part.
    let implementer = info.first("CPU implementer").and_then(parse_int);
    let part = info.first("CPU part").and_then(parse_int);
    let (vendor, vendor_family, mut brand) = if apple_hw {
        (
            "Apple".to_string(),
            VendorFamily::Apple,
            sysctl
                .brand
                .clone()
                .or_else(|| parts.cpuid.as_ref().and_then(|c| c.brand.clone())),
        )
    } else if let Some(c) = &parts.cpuid {
        let v = c.vendor.trim().to_string();
        (v.clone(), x86_vendor_family(&v), c.brand.clone())
    } else if let Some(code) = implementer {
        let name = arm_implementer_name(code).map_or_else(|| format!("{code:#x}"), str::to_string);
        let fam = if code == 0x61 {
            VendorFamily::Apple
        } else {
            VendorFamily::Arm
        };
        let brand = part.and_then(|p| arm_part_name(code, p)).map(|p| {
            if p.starts_with("M1") || p.starts_with("M2") {
                format!("Apple {p}")
            } else {
                format!("{name} {p}")
            }
        });
        (name, fam, brand)
    } else if let Some(v) = info.first("vendor_id").or(sysctl.vendor.as_deref()) {
        (v.trim().to_string(), x86_vendor_family(v), None)
    } else {
        (String::new(), VendorFamily::Other, None)
    };
    if brand.as_deref().is_none_or(|b| b.trim().is_empty()) {
        brand = info
            .first("model name")
            .map(str::to_string)
            .or(sysctl.brand.clone());
    }
    let brand = brand
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty());
    let family = parts
        .cpuid
        .as_ref()
        .map(|c| c.family)
        .or_else(|| info.first("cpu family").and_then(parse_int));
    let model = parts
        .cpuid
        .as_ref()
        .map(|c| c.model)
        .or_else(|| info.first("model").and_then(parse_int));
    let cpu_part = info.first("CPU part").map(str::to_string);

    // Microarchitecture.
    let microarch = if apple_hw {
        brand
            .as_deref()
            .and_then(apple_microarch)
            .or(parts.archspec_host.clone())
    } else if parts.os == "linux" && !info.blocks.is_empty() {
        microarch_from_cpuinfo(&machine, &info)
    } else {
        parts.archspec_host.clone()
    };

    // SIMD.
    let mut simd = parts.simd.clone();
    let arm_features = info.first("Features").unwrap_or("");
    for f in ["sme", "sme2"] {
        if arm_features.split_whitespace().any(|x| x == f) && !simd.iter().any(|s| s == f) {
            simd.push(f.to_string());
        }
    }
    if sysctl.sme && !simd.iter().any(|s| s == "sme") {
        simd.push("sme".into());
    }

    // CPUs.
    let logical_cpus = sysctl
        .logical_cpus
        .or(parts.online_cpus)
        .or_else(|| Some(info.processor_count()).filter(|n| *n > 0))
        .or_else(|| parts.affinity.as_ref().map(Vec::len))
        .unwrap_or(1)
        .max(1);
    let affinity_cpus = parts.affinity.as_ref().map(Vec::len).filter(|n| *n > 0);
    let physical_cores = sysctl.physical_cpus.or_else(|| {
        count_physical_cores(&parts.topology, parts.affinity.as_deref())
            .or_else(|| count_physical_cores(&info.topology(), parts.affinity.as_deref()))
    });
    let quota_cap = parts
        .quota
        .as_ref()
        .map(|q| (q.cpus.floor() as usize).max(1));
    let usable_cpus = affinity_cpus
        .unwrap_or(logical_cpus)
        .min(quota_cap.unwrap_or(usize::MAX))
        .max(1);

    // Subdirs and Rosetta.
    let native_machine = if apple_hw { "arm64" } else { machine.as_str() };
    let subdir = subdir_for(&parts.os, native_machine);
    let process_subdir = subdir_for(&parts.os, &parts.process_arch);

    // Clock and FLOPs.
    let base_mhz = brand
        .as_deref()
        .and_then(mhz_from_brand)
        .or_else(|| {
            parts
                .cpuid
                .as_ref()
                .and_then(|c| c.base_mhz)
                .filter(|m| *m > 0)
        })
        .or_else(|| info.max_mhz())
        .or_else(|| {
            sysctl
                .cpufrequency_hz
                .map(|hz| (hz / 1_000_000) as u32)
                .filter(|m| *m > 0)
        })
        .or_else(|| microarch.as_deref().and_then(apple_mhz))
        .or_else(|| {
            parts
                .cpufreq_max_khz
                .map(|k| (k / 1000) as u32)
                .filter(|m| *m > 0)
        });
    let fp64 = microarch
        .as_deref()
        .and_then(fp64_flops_per_cycle)
        .or_else(|| fp64_flops_from_simd(&simd));

    CpuFacts {
        arch: parts.process_arch.clone(),
        vendor,
        vendor_family,
        brand,
        microarch,
        simd,
        logical_cpus,
        physical_cores,
        usable_cpus,
        affinity_cpus,
        cpu_quota: parts.quota.as_ref().map(|q| q.cpus),
        cpu_quota_source: parts.quota.as_ref().map(|q| q.source.clone()),
        subdir,
        process_subdir,
        rosetta: is_mac && sysctl.translated,
        hypervisor: parts.cpuid.as_ref().and_then(|c| c.hypervisor.clone()),
        base_mhz,
        fp64_flops_per_cycle: fp64,
        family,
        model,
        cpu_part,
    }
}

// ------------------------------------------------------------------------------------------
// Readers (thin, never fail)

/// Read the facts of the machine this process runs on. Never panics; a missing file means a
/// fallback. No subprocesses.
pub fn detect() -> CpuFacts {
    assemble(gather())
}

/// Gather the raw parts from this machine.
pub fn gather() -> CpuParts {
    let os = std::env::consts::OS.to_string();
    let mut parts = CpuParts {
        os: os.clone(),
        process_arch: std::env::consts::ARCH.to_string(),
        machine: uname_machine(),
        cpuid: read_cpuid(),
        simd: read_simd(),
        online_cpus: online_cpus(),
        ..Default::default()
    };
    if os == "linux" {
        linux_parts(&mut parts);
    } else if os == "macos" {
        parts.sysctl = read_sysctl();
        let apple = parts.sysctl.as_ref().is_some_and(|s| s.arm64);
        if !apple {
            parts.archspec_host = archspec::cpu::host().ok().map(|m| m.name().to_string());
        }
    } else {
        parts.archspec_host = archspec::cpu::host().ok().map(|m| m.name().to_string());
    }
    parts
}

fn read_text(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn linux_parts(parts: &mut CpuParts) {
    parts.cpuinfo = read_text(Path::new("/proc/cpuinfo"));
    parts.affinity = linux_affinity();
    let cpus: Vec<usize> = match &parts.affinity {
        Some(a) => a.clone(),
        None => read_text(Path::new("/sys/devices/system/cpu/online"))
            .and_then(|t| parse_cpu_list(&t))
            .unwrap_or_default(),
    };
    parts.topology = cpus
        .iter()
        .filter_map(|&cpu| {
            let dir = PathBuf::from(format!("/sys/devices/system/cpu/cpu{cpu}/topology"));
            let num = |f: &str| read_text(&dir.join(f))?.trim().parse::<i64>().ok();
            Some(CpuTopology {
                cpu,
                package: u32::try_from(num("physical_package_id")?).ok()?,
                core: u32::try_from(num("core_id")?).ok()?,
            })
        })
        .collect();
    let cgroup = read_text(Path::new("/proc/self/cgroup"))
        .map(|t| parse_proc_self_cgroup(&t))
        .unwrap_or_default();
    if cgroup.v1_cpu.is_some() || cgroup.v2.is_some() {
        let mounts = read_text(Path::new("/proc/self/mountinfo"))
            .map(|t| parse_mountinfo(&t))
            .unwrap_or_default();
        parts.quota = cgroup_quota(&cgroup, &mounts, &read_text);
    }
    parts.cpufreq_max_khz = read_text(Path::new(
        "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
    ))
    .and_then(|t| t.trim().parse().ok());
}

#[cfg(target_os = "linux")]
fn linux_affinity() -> Option<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; the kernel fills at most size_of::<cpu_set_t>() bytes.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return None;
    }
    let n = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: i < the set's bit size.
    let cpus: Vec<usize> = (0..n)
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect();
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(not(target_os = "linux"))]
fn linux_affinity() -> Option<Vec<usize>> {
    None
}

#[cfg(unix)]
fn online_cpus() -> Option<usize> {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).ok().filter(|n| *n > 0)
}

#[cfg(not(unix))]
fn online_cpus() -> Option<usize> {
    std::thread::available_parallelism().ok().map(|n| n.get())
}

#[cfg(unix)]
fn uname_machine() -> Option<String> {
    // SAFETY: utsname is plain data, filled by uname on success.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    // SAFETY: uname NUL-terminates the field.
    let m = unsafe { std::ffi::CStr::from_ptr(u.machine.as_ptr()) };
    Some(m.to_string_lossy().into_owned()).filter(|s| !s.is_empty())
}

#[cfg(not(unix))]
fn uname_machine() -> Option<String> {
    None
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn read_cpuid() -> Option<CpuidInfo> {
    use raw_cpuid::{CpuId, Hypervisor};
    let id = CpuId::new();
    let vendor = id.get_vendor_info()?.as_str().to_string();
    let fi = id.get_feature_info();
    let hypervisor = id.get_hypervisor_info().map(|h| {
        match h.identify() {
            Hypervisor::Xen => "Xen",
            Hypervisor::VMware => "VMware",
            Hypervisor::HyperV => "Hyper-V",
            Hypervisor::KVM => "KVM",
            Hypervisor::QEMU => "QEMU",
            Hypervisor::Bhyve => "bhyve",
            Hypervisor::QNX => "QNX",
            Hypervisor::ACRN => "ACRN",
            Hypervisor::Unknown(..) => "unknown",
        }
        .to_string()
    });
    let base_mhz = id
        .get_processor_frequency_info()
        .map(|f| u32::from(f.processor_base_frequency()))
        .filter(|m| *m > 0);
    Some(CpuidInfo {
        vendor,
        brand: id
            .get_processor_brand_string()
            .map(|b| b.as_str().trim().to_string()),
        family: fi.as_ref().map_or(0, |f| u32::from(f.family_id())),
        model: fi.as_ref().map_or(0, |f| u32::from(f.model_id())),
        hypervisor,
        base_mhz,
    })
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn read_cpuid() -> Option<CpuidInfo> {
    None
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn read_simd() -> Vec<String> {
    let mut v = Vec::new();
    macro_rules! check {
        ($($name:literal => $std:tt),* $(,)?) => {
            $( if is_x86_feature_detected!($std) { v.push($name.to_string()); } )*
        };
    }
    check!(
        "sse4_2" => "sse4.2",
        "avx" => "avx",
        "avx2" => "avx2",
        "fma" => "fma",
        "avx512f" => "avx512f",
        "avx512cd" => "avx512cd",
        "avx512bw" => "avx512bw",
        "avx512dq" => "avx512dq",
        "avx512vl" => "avx512vl",
        "avx512ifma" => "avx512ifma",
        "avx512vbmi" => "avx512vbmi",
        "avx512_vnni" => "avx512vnni",
        "avx512_bf16" => "avx512bf16",
        "avx512_fp16" => "avx512fp16",
        "avx_vnni" => "avxvnni",
    );
    v.extend(amx_features());
    v
}

/// AMX tiles: the CPUID bits and the OS enabling XTILECFG/XTILEDATA in XCR0 (bits 17 and 18),
/// the test std_detect uses (its AMX names are not stable yet).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn amx_features() -> Vec<String> {
    #[cfg(target_arch = "x86")]
    use core::arch::x86::_xgetbv;
    #[cfg(target_arch = "x86_64")]
    use core::arch::x86_64::_xgetbv;
    let id = raw_cpuid::CpuId::new();
    let osxsave = id.get_feature_info().is_some_and(|f| f.has_oxsave());
    let Some(ext) = id.get_extended_feature_info() else {
        return Vec::new();
    };
    if !osxsave || !is_x86_feature_detected!("xsave") || !ext.has_amx_tile() {
        return Vec::new();
    }
    // SAFETY: OSXSAVE is set, so XGETBV is available and XCR0 (index 0) is readable.
    let xcr0 = unsafe { _xgetbv(0) };
    if xcr0 & 0x60000 != 0x60000 {
        return Vec::new();
    }
    let mut v = vec!["amx_tile".to_string()];
    if ext.has_amx_int8() {
        v.push("amx_int8".into());
    }
    if ext.has_amx_bf16() {
        v.push("amx_bf16".into());
    }
    v
}

#[cfg(target_arch = "aarch64")]
fn read_simd() -> Vec<String> {
    let mut v = Vec::new();
    if std::arch::is_aarch64_feature_detected!("neon") {
        v.push("neon".to_string());
    }
    if std::arch::is_aarch64_feature_detected!("sve") {
        v.push("sve".to_string());
    }
    if std::arch::is_aarch64_feature_detected!("sve2") {
        v.push("sve2".to_string());
    }
    v
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
fn read_simd() -> Vec<String> {
    Vec::new()
}

#[cfg(target_os = "macos")]
fn read_sysctl() -> Option<SysctlInfo> {
    let int = |name: &str| sysctl_int(name);
    Some(SysctlInfo {
        brand: sysctl_string("machdep.cpu.brand_string"),
        vendor: sysctl_string("machdep.cpu.vendor"),
        physical_cpus: int("hw.physicalcpu")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0),
        logical_cpus: int("hw.logicalcpu")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0),
        arm64: int("hw.optional.arm64") == Some(1),
        translated: int("sysctl.proc_translated") == Some(1),
        cpufrequency_hz: int("hw.cpufrequency")
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0),
        sme: int("hw.optional.arm.FEAT_SME") == Some(1),
    })
}

#[cfg(not(target_os = "macos"))]
fn read_sysctl() -> Option<SysctlInfo> {
    None
}

#[cfg(target_os = "macos")]
fn sysctl_raw(name: &str) -> Option<Vec<u8>> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut len: libc::size_t = 0;
    // SAFETY: a NULL buffer asks for the size only.
    let rc = unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            std::ptr::null_mut(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 || len == 0 || len > 1 << 16 {
        return None;
    }
    let mut buf = vec![0u8; len];
    // SAFETY: buf holds len bytes; the kernel writes at most len and updates it.
    let rc = unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    buf.truncate(len);
    Some(buf)
}

#[cfg(target_os = "macos")]
fn sysctl_string(name: &str) -> Option<String> {
    let buf = sysctl_raw(name)?;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).trim().to_string()).filter(|s| !s.is_empty())
}

#[cfg(target_os = "macos")]
fn sysctl_int(name: &str) -> Option<i64> {
    let buf = sysctl_raw(name)?;
    match buf.len() {
        4 => Some(i64::from(i32::from_ne_bytes(buf[..4].try_into().ok()?))),
        8 => Some(i64::from_ne_bytes(buf[..8].try_into().ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ZEN4: &str = "processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 97
model name\t: AMD Ryzen 9 7950X 16-Core Processor
stepping\t: 2
cpu MHz\t\t: 3000.000
physical id\t: 0
siblings\t: 4
core id\t\t: 0
cpu cores\t: 2
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf rapl pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx512_bf16 clzero irperf xsaveerptr rdpru wbnoinvd cppc arat npt lbrv avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid overflow_recov succor smca fsrm flush_l1d

processor\t: 1
vendor_id\t: AuthenticAMD
cpu MHz\t\t: 5100.125
physical id\t: 0
core id\t\t: 0

processor\t: 2
vendor_id\t: AuthenticAMD
cpu MHz\t\t: 4000.000
physical id\t: 0
core id\t\t: 1

processor\t: 3
vendor_id\t: AuthenticAMD
cpu MHz\t\t: 4000.000
physical id\t: 0
core id\t\t: 1
";

    const NEOVERSE_V1: &str = "processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x1
CPU part\t: 0xd40
CPU revision\t: 1

processor\t: 1
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x1
CPU part\t: 0xd40
CPU revision\t: 1
";

    const AMPERE_ONE: &str = "processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg dcpodp flagm2 frint i8mm bf16 rng bti ecv
CPU implementer\t: 0xc0
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xac3
CPU revision\t: 1
";

    fn linux(machine: &str, cpuinfo: &str) -> CpuParts {
        CpuParts {
            os: "linux".into(),
            process_arch: machine.into(),
            machine: Some(machine.into()),
            cpuinfo: Some(cpuinfo.into()),
            ..Default::default()
        }
    }

    fn files(pairs: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: HashMap<PathBuf, String> = pairs
            .iter()
            .map(|(k, v)| (PathBuf::from(k), v.to_string()))
            .collect();
        move |p: &Path| map.get(p).cloned()
    }

    #[test]
    fn cpuinfo_blocks_and_topology() {
        let info = CpuInfo::parse(ZEN4);
        assert_eq!(info.processor_count(), 4);
        assert_eq!(info.first("vendor_id"), Some("AuthenticAMD"));
        assert_eq!(info.max_mhz(), Some(5100));
        assert_eq!(count_physical_cores(&info.topology(), None), Some(2));
        assert_eq!(
            count_physical_cores(&info.topology(), Some(&[0, 1])),
            Some(1)
        );
        assert_eq!(CpuInfo::parse("").processor_count(), 0);
        assert_eq!(CpuInfo::parse("garbage without colon\n\n").blocks.len(), 0);
    }

    #[test]
    fn zen4_from_cpuinfo() {
        let info = CpuInfo::parse(ZEN4);
        assert_eq!(
            microarch_from_cpuinfo("x86_64", &info).as_deref(),
            Some("zen4")
        );
        let f = assemble(linux("x86_64", ZEN4));
        assert_eq!(f.microarch.as_deref(), Some("zen4"));
        assert_eq!(f.vendor, "AuthenticAMD");
        assert_eq!(f.vendor_family, VendorFamily::Amd);
        assert_eq!(
            f.brand.as_deref(),
            Some("AMD Ryzen 9 7950X 16-Core Processor")
        );
        assert_eq!((f.family, f.model), (Some(25), Some(97)));
        assert_eq!(f.fp64_flops_per_cycle, Some(16));
        assert_eq!(f.base_mhz, Some(5100));
        assert_eq!(f.logical_cpus, 4);
        assert_eq!(f.physical_cores, Some(2));
        assert_eq!(f.subdir, "linux-64");
    }

    #[test]
    fn intel_feature_sets_map_to_archspec_names() {
        let base = "fpu mmx sse sse2 ssse3 sse4_1 sse4_2 popcnt abm lahf_lm cx16 aes pclmulqdq avx \
                    rdrand f16c movbe fma avx2 bmi1 bmi2 rdseed adx clflushopt xsave xsavec xsaveopt";
        let skylake: HashSet<&str> = base.split_whitespace().collect();
        assert_eq!(
            archspec_name("x86_64", "GenuineIntel", &skylake, None, 0).as_deref(),
            Some("skylake")
        );
        let cl = format!("{base} avx512f clwb avx512vl avx512bw avx512dq avx512cd avx512_vnni");
        let cl: HashSet<&str> = cl.split_whitespace().collect();
        assert_eq!(
            archspec_name("x86_64", "GenuineIntel", &cl, None, 0).as_deref(),
            Some("cascadelake")
        );
        // The same features on another vendor stop at the generic level.
        assert_eq!(
            archspec_name("x86_64", "HygonGenuine", &cl, None, 0).as_deref(),
            Some("x86_64_v4")
        );
        let v2: HashSet<&str> = "mmx sse sse2 ssse3 sse4_1 sse4_2 popcnt lahf_lm cx16"
            .split(' ')
            .collect();
        assert_eq!(
            archspec_name("x86_64", "GenuineIntel", &v2, None, 0).as_deref(),
            Some("nehalem")
        );
        assert_eq!(
            archspec_name("x86_64", "Other", &v2, None, 0).as_deref(),
            Some("x86_64_v2")
        );
        assert_eq!(
            archspec_name("x86_64", "GenuineIntel", &HashSet::new(), None, 0).as_deref(),
            Some("x86_64")
        );
        assert_eq!(archspec_name("sparc", "x", &HashSet::new(), None, 0), None);
    }

    #[test]
    fn neoverse_v1_from_cpuinfo() {
        let f = assemble(linux("aarch64", NEOVERSE_V1));
        assert_eq!(f.microarch.as_deref(), Some("neoverse_v1"));
        assert_eq!(f.vendor, "ARM");
        assert_eq!(f.vendor_family, VendorFamily::Arm);
        assert_eq!(f.brand.as_deref(), Some("ARM Neoverse-V1"));
        assert_eq!(f.cpu_part.as_deref(), Some("0xd40"));
        assert_eq!(f.fp64_flops_per_cycle, Some(16));
        assert_eq!(f.subdir, "linux-aarch64");
        assert_eq!(f.physical_cores, None);
        assert_eq!(f.logical_cpus, 2);
    }

    #[test]
    fn ampere_and_apple_implementers() {
        let f = assemble(linux("aarch64", AMPERE_ONE));
        assert_eq!(f.vendor, "Ampere");
        assert_eq!(f.vendor_family, VendorFamily::Arm);
        assert_eq!(f.microarch.as_deref(), Some("ampere1"));
        assert_eq!(f.brand.as_deref(), Some("Ampere AmpereOne"));
        assert_eq!(arm_implementer_name(0xc0), Some("Ampere"));
        assert_eq!(arm_implementer_name(0x61), Some("Apple"));
        let asahi =
            "processor\t: 0\nFeatures\t: fp asimd\nCPU implementer\t: 0x61\nCPU part\t: 0x023\n";
        let f = assemble(linux("aarch64", asahi));
        assert_eq!(f.vendor, "Apple");
        assert_eq!(f.vendor_family, VendorFamily::Apple);
        assert_eq!(f.brand.as_deref(), Some("Apple M1 Firestorm"));
        let unknown = "processor\t: 0\nCPU implementer\t: 0x99\nCPU part\t: 0x001\n";
        let f = assemble(linux("aarch64", unknown));
        assert_eq!(f.vendor, "0x99");
        assert_eq!(f.microarch.as_deref(), Some("aarch64"));
    }

    #[test]
    fn x86_vendor_mapping() {
        assert_eq!(x86_vendor_family("GenuineIntel"), VendorFamily::Intel);
        assert_eq!(x86_vendor_family("AuthenticAMD"), VendorFamily::Amd);
        assert_eq!(x86_vendor_family("HygonGenuine"), VendorFamily::Hygon);
        assert_eq!(x86_vendor_family("  Shanghai  "), VendorFamily::Zhaoxin);
        assert_eq!(x86_vendor_family("CentaurHauls"), VendorFamily::Zhaoxin);
        assert_eq!(x86_vendor_family("VIA VIA VIA "), VendorFamily::Zhaoxin);
        assert_eq!(x86_vendor_family("CyrixInstead"), VendorFamily::Other);
        let parts = CpuParts {
            os: "linux".into(),
            process_arch: "x86_64".into(),
            cpuid: Some(CpuidInfo {
                vendor: "  Shanghai  ".into(),
                brand: Some("ZHAOXIN KaiXian KX-U6780A@2.7GHz".into()),
                family: 7,
                model: 0x1b,
                hypervisor: None,
                base_mhz: None,
            }),
            ..Default::default()
        };
        let f = assemble(parts);
        assert_eq!(f.vendor, "Shanghai");
        assert_eq!(f.vendor_family, VendorFamily::Zhaoxin);
        assert_eq!(f.base_mhz, Some(2700));
        let hygon = CpuParts {
            cpuid: Some(CpuidInfo {
                vendor: "HygonGenuine".into(),
                ..Default::default()
            }),
            ..linux("x86_64", "")
        };
        assert_eq!(assemble(hygon).vendor_family, VendorFamily::Hygon);
    }

    #[test]
    fn brand_clock() {
        assert_eq!(
            mhz_from_brand("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"),
            Some(2500)
        );
        assert_eq!(
            mhz_from_brand("Intel(R) Core(TM) i7-2600 CPU @ 3.40GHz"),
            Some(3400)
        );
        assert_eq!(
            mhz_from_brand("VirtualApple @ 2.50GHz processor"),
            Some(2500)
        );
        assert_eq!(mhz_from_brand("Foo @ 800MHz"), Some(800));
        assert_eq!(mhz_from_brand("AMD EPYC 7763 64-Core Processor"), None);
        assert_eq!(mhz_from_brand("Bad @ fastGHz"), None);
    }

    #[test]
    fn clock_sources_in_order() {
        let cpuid = |brand: &str, base| CpuidInfo {
            vendor: "GenuineIntel".into(),
            brand: Some(brand.into()),
            base_mhz: base,
            ..Default::default()
        };
        let p = |c| CpuParts {
            cpuid: Some(c),
            ..linux("x86_64", ZEN4)
        };
        assert_eq!(
            assemble(p(cpuid("Xeon @ 2.10GHz", Some(2400)))).base_mhz,
            Some(2100)
        );
        assert_eq!(
            assemble(p(cpuid("Intel(R) Xeon(R) Processor", Some(2400)))).base_mhz,
            Some(2400)
        );
        assert_eq!(
            assemble(p(cpuid("Intel(R) Xeon(R) Processor", None))).base_mhz,
            Some(5100)
        );
        let arm = CpuParts {
            cpufreq_max_khz: Some(2_600_000),
            ..linux("aarch64", NEOVERSE_V1)
        };
        assert_eq!(assemble(arm).base_mhz, Some(2600));
    }

    #[test]
    fn cgroup_v2_quota() {
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2.0));
        assert_eq!(parse_cpu_max("250000 100000"), Some(2.5));
        assert_eq!(parse_cpu_max("max 100000"), None);
        assert_eq!(parse_cpu_max("150000 100000 5000"), Some(1.5));
        assert_eq!(parse_cpu_max(""), None);
        assert_eq!(parse_cpu_max("banana"), None);
        let cg = parse_proc_self_cgroup("0::/user.slice/app.scope\n");
        assert_eq!(cg.v2.as_deref(), Some("/user.slice/app.scope"));
        let read = files(&[
            (
                "/sys/fs/cgroup/user.slice/app.scope/cpu.max",
                "max 100000\n",
            ),
            ("/sys/fs/cgroup/user.slice/cpu.max", "400000 100000\n"),
        ]);
        let q = cgroup_quota(&cg, &CgroupMounts::default(), &read).unwrap();
        assert_eq!(q.cpus, 4.0);
        assert_eq!(q.source, "/sys/fs/cgroup/user.slice/cpu.max");
    }

    #[test]
    fn cgroup_v2_stricter_parent_wins() {
        let cg = parse_proc_self_cgroup("0::/kubepods/pod1/ctr\n");
        let read = files(&[
            ("/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "300000 100000"),
            ("/sys/fs/cgroup/kubepods/pod1/cpu.max", "150000 100000"),
            ("/sys/fs/cgroup/kubepods/cpu.max", "max 100000"),
        ]);
        let q = cgroup_quota(&cg, &CgroupMounts::default(), &read).unwrap();
        assert_eq!(q.cpus, 1.5);
        assert_eq!(q.source, "/sys/fs/cgroup/kubepods/pod1/cpu.max");
        // A namespaced container sees "/" and its own limit at the mount point.
        let cg = parse_proc_self_cgroup("0::/\n");
        let read = files(&[("/sys/fs/cgroup/cpu.max", "50000 100000")]);
        assert_eq!(
            cgroup_quota(&cg, &CgroupMounts::default(), &read)
                .unwrap()
                .cpus,
            0.5
        );
        let none = files(&[("/sys/fs/cgroup/cpu.max", "max 100000")]);
        assert_eq!(cgroup_quota(&cg, &CgroupMounts::default(), &none), None);
    }

    #[test]
    fn cgroup_v1_quota_and_hybrid() {
        assert_eq!(parse_cfs("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs("250000", "100000"), Some(2.5));
        assert_eq!(parse_cfs("x", "100000"), None);
        assert_eq!(parse_cfs("100000", "0"), None);
        let hybrid = "12:cpuset:/\n11:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n";
        let cg = parse_proc_self_cgroup(hybrid);
        assert_eq!(cg.v1_cpu.as_deref(), Some("/docker/abc"));
        assert_eq!(cg.v2.as_deref(), Some("/docker/abc"));
        let mountinfo = "30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:4 - cgroup2 cgroup2 rw\n\
                         35 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct\n\
                         36 25 0:32 / /sys/fs/cgroup/cpuset rw shared:10 - cgroup cgroup rw,cpuset\n";
        let mounts = parse_mountinfo(mountinfo);
        assert_eq!(
            mounts.v2,
            Some(("/sys/fs/cgroup/unified".into(), "/".into()))
        );
        assert_eq!(
            mounts.v1_cpu,
            Some(("/sys/fs/cgroup/cpu,cpuacct".into(), "/".into()))
        );
        let read = files(&[
            (
                "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us",
                "250000\n",
            ),
            (
                "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us",
                "100000\n",
            ),
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n"),
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n"),
        ]);
        let q = cgroup_quota(&cg, &mounts, &read).unwrap();
        assert_eq!(q.cpus, 2.5);
        assert_eq!(
            q.source,
            "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us"
        );
        let unlimited = files(&[
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1"),
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000"),
        ]);
        assert_eq!(cgroup_quota(&cg, &mounts, &unlimited), None);
    }

    #[test]
    fn cgroup_v1_container_root_is_stripped() {
        let cg = parse_proc_self_cgroup("5:cpu,cpuacct:/docker/abc\n");
        let mounts = parse_mountinfo(
            "40 30 0:31 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpuacct,cpu\n",
        );
        let read = files(&[
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "100000"),
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000"),
        ]);
        assert_eq!(cgroup_quota(&cg, &mounts, &read).unwrap().cpus, 1.0);
        assert_eq!(
            parse_proc_self_cgroup("garbage\n\n"),
            CgroupPaths::default()
        );
        assert_eq!(
            parse_mountinfo("not a mountinfo line"),
            CgroupMounts::default()
        );
    }

    #[test]
    fn usable_cpus_combines_affinity_and_quota() {
        let topo: Vec<CpuTopology> = (0..8)
            .map(|cpu| CpuTopology {
                cpu,
                package: 0,
                core: (cpu % 4) as u32,
            })
            .collect();
        let parts = |affinity: Option<Vec<usize>>, quota: Option<f64>| CpuParts {
            online_cpus: Some(8),
            affinity,
            topology: topo.clone(),
            quota: quota.map(|cpus| Quota {
                cpus,
                source: "/sys/fs/cgroup/cpu.max".into(),
            }),
            ..linux("x86_64", "")
        };
        let f = assemble(parts(Some((0..8).collect()), Some(2.5)));
        assert_eq!(
            (f.logical_cpus, f.affinity_cpus, f.usable_cpus),
            (8, Some(8), 2)
        );
        assert_eq!(f.cpu_quota, Some(2.5));
        assert_eq!(
            f.cpu_quota_source.as_deref(),
            Some("/sys/fs/cgroup/cpu.max")
        );
        assert_eq!(f.physical_cores, Some(4));
        let f = assemble(parts(Some(vec![0, 4]), None));
        assert_eq!((f.usable_cpus, f.physical_cores), (2, Some(1)));
        let f = assemble(parts(None, Some(0.5)));
        assert_eq!(f.usable_cpus, 1);
        let f = assemble(parts(None, None));
        assert_eq!(f.usable_cpus, 8);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a-b"), None);
    }

    #[test]
    fn subdirs() {
        assert_eq!(subdir_for("linux", "x86_64"), "linux-64");
        assert_eq!(subdir_for("linux", "aarch64"), "linux-aarch64");
        assert_eq!(subdir_for("linux", "ppc64le"), "linux-ppc64le");
        assert_eq!(subdir_for("linux", "i686"), "linux-32");
        assert_eq!(subdir_for("macos", "x86_64"), "osx-64");
        assert_eq!(subdir_for("macos", "aarch64"), "osx-arm64");
        assert_eq!(subdir_for("windows", "x86_64"), "win-64");
        assert_eq!(subdir_for("windows", "aarch64"), "win-arm64");
    }

    fn mac(process_arch: &str, sysctl: SysctlInfo) -> CpuParts {
        CpuParts {
            os: "macos".into(),
            process_arch: process_arch.into(),
            machine: Some(process_arch.into()),
            sysctl: Some(sysctl),
            ..Default::default()
        }
    }

    #[test]
    fn rosetta_reports_native_subdir() {
        let sysctl = SysctlInfo {
            brand: Some("Apple M2 Pro".into()),
            physical_cpus: Some(10),
            logical_cpus: Some(10),
            arm64: true,
            translated: true,
            ..Default::default()
        };
        let mut p = mac("x86_64", sysctl.clone());
        p.cpuid = Some(CpuidInfo {
            vendor: "GenuineIntel".into(),
            brand: Some("VirtualApple @ 2.50GHz processor".into()),
            ..Default::default()
        });
        p.simd = vec!["sse4_2".into()];
        let f = assemble(p);
        assert!(f.rosetta);
        assert_eq!(
            (f.subdir.as_str(), f.process_subdir.as_str()),
            ("osx-arm64", "osx-64")
        );
        assert_eq!(f.vendor_family, VendorFamily::Apple);
        assert_eq!(f.brand.as_deref(), Some("Apple M2 Pro"));
        assert_eq!(f.microarch.as_deref(), Some("m2"));
        assert_eq!((f.logical_cpus, f.physical_cores), (10, Some(10)));

        let native = assemble(mac(
            "aarch64",
            SysctlInfo {
                translated: false,
                ..sysctl
            },
        ));
        assert!(!native.rosetta);
        assert_eq!(
            (native.subdir.as_str(), native.process_subdir.as_str()),
            ("osx-arm64", "osx-arm64")
        );
        assert_eq!(native.base_mhz, Some(3500));
        assert_eq!(native.fp64_flops_per_cycle, Some(16));

        let intel = SysctlInfo {
            brand: Some("Intel(R) Core(TM) i9-9880H CPU @ 2.30GHz".into()),
            vendor: Some("GenuineIntel".into()),
            physical_cpus: Some(8),
            logical_cpus: Some(16),
            cpufrequency_hz: Some(2_300_000_000),
            ..Default::default()
        };
        let mut p = mac("x86_64", intel);
        p.archspec_host = Some("skylake".into());
        p.cpuid = Some(CpuidInfo {
            vendor: "GenuineIntel".into(),
            ..Default::default()
        });
        let f = assemble(p);
        assert!(!f.rosetta);
        assert_eq!(
            (f.subdir.as_str(), f.process_subdir.as_str()),
            ("osx-64", "osx-64")
        );
        assert_eq!(f.microarch.as_deref(), Some("skylake"));
        assert_eq!(f.base_mhz, Some(2300));
        assert_eq!(
            f.brand.as_deref(),
            Some("Intel(R) Core(TM) i9-9880H CPU @ 2.30GHz")
        );
    }

    #[test]
    fn apple_names_follow_archspec() {
        assert_eq!(apple_microarch("Apple M1").as_deref(), Some("m1"));
        assert_eq!(apple_microarch("Apple M4 Max").as_deref(), Some("m4"));
        assert_eq!(apple_microarch("Apple processor").as_deref(), Some("m1"));
        assert_eq!(apple_microarch("Apple M9 Ultra").as_deref(), Some("m4"));
        assert_eq!(apple_microarch("Intel(R) Core(TM)"), None);
        let m4 = SysctlInfo {
            brand: Some("Apple M4 Max".into()),
            arm64: true,
            sme: true,
            ..Default::default()
        };
        let f = assemble(mac("aarch64", m4));
        assert!(f.has("sme"));
    }

    #[test]
    fn flops_table_and_fallback() {
        assert_eq!(fp64_flops_per_cycle("sandybridge"), Some(8));
        assert_eq!(fp64_flops_per_cycle("haswell"), Some(16));
        assert_eq!(fp64_flops_per_cycle("icelake"), Some(32));
        assert_eq!(fp64_flops_per_cycle("zen"), Some(8));
        assert_eq!(fp64_flops_per_cycle("zen5"), Some(32));
        assert_eq!(fp64_flops_per_cycle("neoverse_n1"), Some(8));
        assert_eq!(fp64_flops_per_cycle("a64fx"), Some(32));
        assert_eq!(fp64_flops_per_cycle("x86_64_v3"), None);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            fp64_flops_from_simd(&s(&["avx", "avx2", "fma", "avx512f"])),
            Some(32)
        );
        assert_eq!(fp64_flops_from_simd(&s(&["avx", "avx2", "fma"])), Some(16));
        assert_eq!(fp64_flops_from_simd(&s(&["avx", "avx2"])), Some(8));
        assert_eq!(fp64_flops_from_simd(&s(&["neon"])), Some(8));
        assert_eq!(fp64_flops_from_simd(&s(&["sse4_2"])), None);
        let p = CpuParts {
            simd: s(&["avx", "avx2", "fma"]),
            ..linux("x86_64", "processor : 0\nvendor_id : Foo\nflags : sse\n")
        };
        assert_eq!(assemble(p).fp64_flops_per_cycle, Some(16));
    }

    #[test]
    fn peak() {
        let cpu = CpuFacts {
            base_mhz: Some(2000),
            fp64_flops_per_cycle: Some(32),
            usable_cpus: 8,
            physical_cores: Some(4),
            ..Default::default()
        };
        assert_eq!(peak_gflops(&cpu, 1, false), Some(64.0));
        assert_eq!(peak_gflops(&cpu, 1, true), Some(128.0));
        assert_eq!(peak_gflops(&cpu, 16, false), Some(256.0));
        assert_eq!(peak_gflops(&cpu, 0, false), None);
        assert_eq!(
            peak_gflops(
                &CpuFacts {
                    base_mhz: None,
                    ..cpu.clone()
                },
                1,
                false
            ),
            None
        );
        assert_eq!(
            peak_gflops(
                &CpuFacts {
                    fp64_flops_per_cycle: None,
                    ..cpu
                },
                1,
                false
            ),
            None
        );
    }

    #[test]
    fn empty_parts_do_not_panic() {
        let f = assemble(CpuParts::default());
        assert_eq!(f.logical_cpus, 1);
        assert_eq!(f.usable_cpus, 1);
        assert_eq!(f.vendor_family, VendorFamily::Other);
        assert_eq!(f.microarch, None);
    }

    #[test]
    #[ignore = "prints this machine's facts and timing"]
    fn show_detect() {
        let t = std::time::Instant::now();
        let f = detect();
        let first = t.elapsed();
        let t = std::time::Instant::now();
        let _ = detect();
        eprintln!("{f:#?}\nfirst {first:?}, second {:?}", t.elapsed());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn detect_agrees_with_std_and_archspec() {
        let f = detect();
        assert_eq!(f.arch, std::env::consts::ARCH);
        let std_n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        assert_eq!(f.usable_cpus, std_n, "{f:#?}");
        assert!(f.logical_cpus >= f.usable_cpus);
        if let Ok(host) = archspec::cpu::host() {
            assert_eq!(f.microarch.as_deref(), Some(host.name()), "{f:#?}");
        }
        #[cfg(target_arch = "x86_64")]
        assert_eq!(f.has("avx2"), is_x86_feature_detected!("avx2"));
    }
}
