//! Running processes as the kernel shows them, without touching them: ids, command lines, the
//! thread variables they were started with, every thread with its CPU time and affinity, the
//! BLAS and OpenMP libraries mapped, and the cgroup CPU quota with its throttling counters.
//!
//! Read-only by construction: files under `/proc` and `/sys/fs/cgroup`, `sched_getaffinity(2)`
//! and the mapped library files themselves; never ptrace, signals or injected code. The types
//! are plain, platform-neutral data; only [`Reader::snapshot`] is per platform (Linux through
//! `/proc`; README.md says what macOS and Windows need). Processes and threads vanish while they
//! are read, PIDs are reused, other users' processes hide their memory: each such case becomes an
//! [`Unreadable`] entry with its reason or a thread skipped, never a panic.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::facts::blas::BlasImpl;

/// Variables captured from a process's environment besides `threads::THREAD_VARS`: what
/// launchers set (torchrun, loky, Ray) and what shapes OpenMP pools. Nothing else is kept.
pub const LAUNCH_VARS: &[&str] = &[
    "OMP_PROC_BIND",
    "OMP_PLACES",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "KMP_BLOCKTIME",
    "NUMBA_NUM_THREADS",
    "LOKY_MAX_CPU_COUNT",
    "LOCAL_RANK",
    "RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "TORCHELASTIC_RUN_ID",
    "RAY_JOB_ID",
    "CUDA_VISIBLE_DEVICES",
];

// ------------------------------------------------------------------------------------------
// CPU sets

/// A set of CPU ids (an affinity mask), as a bitset. Serialised as the sorted list of ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CpuSet {
    words: Vec<u64>,
}

impl CpuSet {
    pub fn from_ids(ids: impl IntoIterator<Item = usize>) -> Self {
        let mut s = CpuSet::default();
        for id in ids {
            s.insert(id);
        }
        s
    }
    /// From the kernel's bitmask words (CPU n is bit n % 64 of word n / 64).
    pub fn from_words(words: &[u64]) -> Self {
        let len = words.iter().rposition(|w| *w != 0).map_or(0, |i| i + 1);
        CpuSet {
            words: words[..len].to_vec(),
        }
    }
    pub fn insert(&mut self, id: usize) {
        let w = id / 64;
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (id % 64);
    }
    pub fn contains(&self, id: usize) -> bool {
        self.words
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }
    pub fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, w)| {
            (0..64)
                .filter(move |b| w & (1u64 << b) != 0)
                .map(move |b| i * 64 + b)
        })
    }
    pub fn union(&self, other: &CpuSet) -> CpuSet {
        let n = self.words.len().max(other.words.len());
        CpuSet {
            words: (0..n)
                .map(|i| {
                    self.words.get(i).copied().unwrap_or(0)
                        | other.words.get(i).copied().unwrap_or(0)
                })
                .collect(),
        }
    }
    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        CpuSet {
            words: self
                .words
                .iter()
                .zip(&other.words)
                .map(|(a, b)| a & b)
                .collect(),
        }
    }
    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.intersection(other).count() == self.count()
    }
    /// The kernel's list syntax: "0-3,8,10-11".
    pub fn to_list(&self) -> String {
        let ids: Vec<usize> = self.ids().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < ids.len() {
            let start = ids[i];
            let mut end = start;
            while i + 1 < ids.len() && ids[i + 1] == end + 1 {
                i += 1;
                end = ids[i];
            }
            out.push(if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
            i += 1;
        }
        out.join(",")
    }
}

impl Serialize for CpuSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.ids())
    }
}

// ------------------------------------------------------------------------------------------
// What a snapshot holds

/// A BLAS, LAPACK or OpenMP runtime, named from its file (and, where the name is generic, its
/// exported symbols).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LibImpl {
    Openblas,
    Mkl,
    Blis,
    Netlib,
    Atlas,
    Flexiblas,
    Nvpl,
    Armpl,
    Accelerate,
    /// GNU OpenMP (libgomp).
    Libgomp,
    /// Intel OpenMP (libiomp5).
    Libiomp,
    /// LLVM OpenMP (libomp).
    Libomp,
    /// Microsoft OpenMP (vcomp).
    Vcomp,
    /// A generic `libblas`/`liblapack` whose own files do not say which implementation it is.
    Unknown,
}

impl LibImpl {
    pub fn as_str(self) -> &'static str {
        match self {
            LibImpl::Openblas => "openblas",
            LibImpl::Mkl => "mkl",
            LibImpl::Blis => "blis",
            LibImpl::Netlib => "netlib",
            LibImpl::Atlas => "atlas",
            LibImpl::Flexiblas => "flexiblas",
            LibImpl::Nvpl => "nvpl",
            LibImpl::Armpl => "armpl",
            LibImpl::Accelerate => "accelerate",
            LibImpl::Libgomp => "libgomp",
            LibImpl::Libiomp => "libiomp",
            LibImpl::Libomp => "libomp",
            LibImpl::Vcomp => "vcomp",
            LibImpl::Unknown => "unknown",
        }
    }
    pub fn display_name(self) -> &'static str {
        match self {
            LibImpl::Openblas => "OpenBLAS",
            LibImpl::Mkl => "MKL",
            LibImpl::Blis => "BLIS",
            LibImpl::Netlib => "reference BLAS",
            LibImpl::Atlas => "ATLAS",
            LibImpl::Flexiblas => "FlexiBLAS",
            LibImpl::Nvpl => "NVPL",
            LibImpl::Armpl => "ArmPL",
            LibImpl::Accelerate => "Accelerate",
            LibImpl::Libgomp => "GNU OpenMP",
            LibImpl::Libiomp => "Intel OpenMP",
            LibImpl::Libomp => "LLVM OpenMP",
            LibImpl::Vcomp => "MS OpenMP",
            LibImpl::Unknown => "unknown BLAS",
        }
    }
    pub fn is_openmp(self) -> bool {
        matches!(
            self,
            LibImpl::Libgomp | LibImpl::Libiomp | LibImpl::Libomp | LibImpl::Vcomp
        )
    }
    /// The BLAS vocabulary's name for it (None for OpenMP runtimes and an unknown BLAS).
    pub fn blas(self) -> Option<BlasImpl> {
        Some(match self {
            LibImpl::Openblas => BlasImpl::Openblas,
            LibImpl::Mkl => BlasImpl::Mkl,
            LibImpl::Blis => BlasImpl::Blis,
            LibImpl::Netlib => BlasImpl::Netlib,
            LibImpl::Atlas => BlasImpl::Atlas,
            LibImpl::Armpl => BlasImpl::Armpl,
            LibImpl::Flexiblas => BlasImpl::Flexiblas,
            LibImpl::Nvpl => BlasImpl::Nvpl,
            LibImpl::Accelerate => BlasImpl::Accelerate,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LibKind {
    Blas,
    Lapack,
    Openmp,
}

impl LibKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LibKind::Blas => "blas",
            LibKind::Lapack => "lapack",
            LibKind::Openmp => "openmp",
        }
    }
}

/// One library mapped in a process (MKL's many files are one entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedLib {
    pub implementation: LibImpl,
    pub kind: LibKind,
    /// The file as the kernel maps it (symlinks resolved).
    pub path: String,
    /// From the file name, the binary, or the package record that installed it.
    pub version: Option<String>,
    /// "pthreads", "openmp", "serial" (OpenBLAS, BLIS, ... from the file's name, directory,
    /// dependencies or exports: `linkage::file_detail`); "intel", "gnu", "tbb", "sequential"
    /// (MKL, from the threading layer file mapped beside it).
    pub threading_layer: Option<String>,
}

/// One thread at the moment it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadSample {
    pub tid: u32,
    /// `comm`: the name a runtime gave it, else inherited from the process (15 bytes at most).
    pub name: String,
    /// Kernel state: R running or runnable, S sleeping, D uninterruptible, ...
    pub state: char,
    /// User + system CPU time so far, in clock ticks.
    pub cpu_ticks: u64,
    /// When it started, in clock ticks after boot.
    pub start_ticks: u64,
    /// The CPUs it may run on, when they differ from the process's (None: the same, or the
    /// kernel would not say). Most threads share their process's mask; not storing it keeps a
    /// snapshot of thousands of threads small.
    pub affinity: Option<CpuSet>,
}

/// The CPU controller of a process's cgroup.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct CgroupCpu {
    /// The cgroup's path in its hierarchy (`/user.slice/...`).
    pub path: String,
    /// The strictest CPU quota over the cgroup and its ancestors, in CPUs.
    pub quota: Option<f64>,
    /// The file the quota came from.
    pub quota_source: Option<String>,
    /// Periods with the quota in force, periods throttled, time throttled (µs), from
    /// `cpu.stat` beside the quota file.
    pub nr_periods: Option<u64>,
    pub nr_throttled: Option<u64>,
    pub throttled_usec: Option<u64>,
}

/// One process at the moment it was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessSample {
    pub pid: u32,
    pub ppid: u32,
    /// Owner (effective uid, as the kernel shows it on `/proc/PID`).
    pub uid: u32,
    /// Start time in clock ticks after boot: (pid, start) names a process across PID reuse.
    pub start_ticks: u64,
    pub comm: String,
    pub state: char,
    /// argv as the process shows it now (setproctitle rewrites it; empty when hidden).
    pub cmdline: Vec<String>,
    /// The executable's path, from the first file mapping.
    pub exe: Option<String>,
    /// Python interpreter (by executable or libpython).
    pub python: bool,
    /// Thread and launcher variables of the environment it was exec'd with (see `LAUNCH_VARS`).
    pub env: BTreeMap<String, String>,
    /// User + system CPU time of the whole process so far (exited threads included), in ticks.
    pub cpu_ticks: u64,
    pub threads: Vec<ThreadSample>,
    /// The CPUs the main thread may run on.
    pub affinity: Option<CpuSet>,
    pub cgroup: Option<CgroupCpu>,
    pub libraries: Vec<MappedLib>,
    /// Parts the kernel would not show ("environment", "memory maps"), with why.
    pub hidden: Vec<String>,
}

impl ProcessSample {
    /// (pid, start): the identity of a process across PID reuse.
    pub fn key(&self) -> (u32, u64) {
        (self.pid, self.start_ticks)
    }
}

/// A process that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub pid: u32,
    pub reason: String,
}

/// Which processes to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Processes owned by this uid that are Python or map a BLAS or OpenMP runtime.
    User(u32),
    /// These processes and all their descendants, whatever they map.
    Trees(Vec<u32>),
}

/// Everything read at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// When it was read: seconds on a monotonic clock, the middle of the reading (only
    /// differences mean something).
    pub at: f64,
    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
    pub ticks_per_s: u64,
    pub processes: Vec<ProcessSample>,
    pub unreadable: Vec<Unreadable>,
    /// Facts about the reading itself ("/proc is mounted with hidepid=2: ...").
    pub notes: Vec<String>,
}

impl Snapshot {
    pub fn get(&self, key: (u32, u64)) -> Option<&ProcessSample> {
        self.processes.iter().find(|p| p.key() == key)
    }
}

// ------------------------------------------------------------------------------------------
// Pure parsers (tests feed them recorded text)

/// The fields of `/proc/PID/stat` (or `task/TID/stat`) blasfix uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub flags: u32,
    pub utime: u64,
    pub stime: u64,
    pub num_threads: u32,
    pub start_ticks: u64,
}

/// `PF_KTHREAD` in the stat flags: a kernel thread.
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// Parse a stat line. The command name sits in parentheses and may itself hold spaces and
/// parentheses, so the fields start after the last `)`.
pub fn parse_stat(line: &[u8]) -> Option<Stat> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = line.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let comm = String::from_utf8_lossy(&line[open + 1..close]).into_owned();
    let rest = line.get(close + 2..)?;
    let mut f = rest
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|s| !s.is_empty());
    let state = *f.next()?.first()? as char;
    let num = |s: Option<&[u8]>| -> Option<u64> {
        std::str::from_utf8(s?)
            .ok()?
            .parse::<i64>()
            .ok()
            .map(|v| v.max(0) as u64)
    };
    let ppid = num(f.next())? as u32; // 4
    let _pgrp = f.next()?; // 5
    let _session = f.next()?; // 6
    let _tty = f.next()?; // 7
    let _tpgid = f.next()?; // 8
    let flags = num(f.next())? as u32; // 9
    for _ in 10..=13 {
        f.next()?;
    }
    let utime = num(f.next())?; // 14
    let stime = num(f.next())?; // 15
    for _ in 16..=19 {
        f.next()?;
    }
    let num_threads = num(f.next())? as u32; // 20
    let _itreal = f.next()?; // 21
    let start_ticks = num(f.next())?; // 22
    Some(Stat {
        comm,
        state,
        ppid,
        flags,
        utime,
        stime,
        num_threads,
        start_ticks,
    })
}

/// NUL-separated argv (a trailing NUL or none; setproctitle may leave a single string).
pub fn parse_cmdline(raw: &[u8]) -> Vec<String> {
    raw.split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// The variables named in `keep` from a NUL-separated environment block.
pub fn parse_environ(raw: &[u8], keep: &dyn Fn(&str) -> bool) -> BTreeMap<String, String> {
    raw.split(|&b| b == 0)
        .filter_map(|kv| {
            let eq = kv.iter().position(|&b| b == b'=')?;
            let k = std::str::from_utf8(&kv[..eq]).ok()?;
            keep(k).then(|| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(&kv[eq + 1..]).into_owned(),
                )
            })
        })
        .collect()
}

/// Whether a variable is one `ps` keeps from a process's environment.
pub fn kept_var(k: &str) -> bool {
    crate::facts::threads::THREAD_VARS.contains(&k) || LAUNCH_VARS.contains(&k)
}

/// The distinct file paths of a `/proc/PID/maps` text, in order (anonymous and special
/// mappings skipped; a " (deleted)" suffix kept, as the kernel writes it).
pub fn parse_maps(text: &[u8]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        // address perms offset dev inode   pathname
        let Some(slash) = line.iter().position(|&b| b == b'/') else {
            continue;
        };
        let Ok(path) = std::str::from_utf8(&line[slash..]) else {
            continue;
        };
        if out.last() != Some(&path) && !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// What a mapped file is, from its path alone: a BLAS/LAPACK/OpenMP runtime, one of MKL's
/// threading layers, a generic BLAS name that needs its exports read, or nothing of interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    Lib(LibImpl, LibKind),
    /// libmkl_intel_thread, libmkl_gnu_thread, ...: which layer MKL threads with.
    MklLayer(&'static str),
    /// libblas.so.3 / libcblas / liblapack outside a directory that names the implementation.
    Generic(LibKind),
}

/// Classify a mapped path by its file name (and Debian's alternatives directories).
pub fn classify_file(path: &str) -> Option<FileRole> {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    let base = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    if !(base.contains(".so") || base.ends_with(".dylib") || base.ends_with(".dll")) {
        return None;
    }
    let starts = |ps: &[&str]| ps.iter().any(|p| base.starts_with(p));
    for (prefix, layer) in [
        ("libmkl_intel_thread", "intel"),
        ("libmkl_gnu_thread", "gnu"),
        ("libmkl_tbb_thread", "tbb"),
        ("libmkl_pgi_thread", "pgi"),
        ("libmkl_sequential", "sequential"),
    ] {
        if base.starts_with(prefix) {
            return Some(FileRole::MklLayer(layer));
        }
    }
    if starts(&["libgomp"]) {
        return Some(FileRole::Lib(LibImpl::Libgomp, LibKind::Openmp));
    }
    if starts(&["libiomp5", "libiomp"]) && !base.starts_with("libiompstubs") {
        return Some(FileRole::Lib(LibImpl::Libiomp, LibKind::Openmp));
    }
    if (base.starts_with("libomp.") || base.starts_with("libomp-")) && !base.contains("target") {
        return Some(FileRole::Lib(LibImpl::Libomp, LibKind::Openmp));
    }
    if starts(&["vcomp"]) {
        return Some(FileRole::Lib(LibImpl::Vcomp, LibKind::Openmp));
    }
    let lapack = base.starts_with("liblapack") || base.starts_with("lapack");
    let kind = if lapack {
        LibKind::Lapack
    } else {
        LibKind::Blas
    };
    // MKL's interface, core and kernel files; OpenBLAS, BLIS, Accelerate, NVPL; Debian's
    // alternatives directories (`openblas-pthread/libblas.so.3`, `blas/libblas.so.3`).
    if let Some(imp) = crate::facts::linkage::classify_path(Path::new(path)) {
        let lib = match imp {
            BlasImpl::Openblas => LibImpl::Openblas,
            BlasImpl::Mkl => LibImpl::Mkl,
            BlasImpl::Blis => LibImpl::Blis,
            BlasImpl::Accelerate => LibImpl::Accelerate,
            BlasImpl::Nvpl => LibImpl::Nvpl,
            BlasImpl::Netlib => LibImpl::Netlib,
            BlasImpl::Atlas => LibImpl::Atlas,
            BlasImpl::Armpl => LibImpl::Armpl,
            BlasImpl::Flexiblas => LibImpl::Flexiblas,
            _ => return None,
        };
        return Some(FileRole::Lib(lib, kind));
    }
    crate::facts::linkage::is_generic_blas_name(&base).then_some(FileRole::Generic(kind))
}

/// A version in a library's file name (`libopenblasp-r0.3.21.so` -> 0.3.21).
pub fn version_from_name(path: &str) -> Option<String> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let i = base.find("-r")?;
    let v: String = base[i + 2..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v = v.trim_end_matches('.');
    (v.contains('.') && v.starts_with(|c: char| c.is_ascii_digit())).then(|| v.to_string())
}

/// The version OpenBLAS writes into its configuration string ("OpenBLAS 0.3.27 ..."), found in
/// a chunk of its read-only data.
pub fn openblas_version_in(data: &[u8]) -> Option<String> {
    const NEEDLE: &[u8] = b"OpenBLAS ";
    let mut at = 0;
    while let Some(i) = data[at..].windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let start = at + i + NEEDLE.len();
        let v: Vec<u8> = data[start..]
            .iter()
            .take(24)
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .copied()
            .collect();
        if v.first().is_some_and(u8::is_ascii_digit) && v.contains(&b'.') {
            let v = String::from_utf8_lossy(&v)
                .trim_end_matches('.')
                .to_string();
            // "0.3.31.188.0" (scipy-openblas builds): OpenBLAS's own version is the first three.
            return Some(v.split('.').take(3).collect::<Vec<_>>().join("."));
        }
        at = start;
    }
    None
}

/// The package version in a conda-meta record or dist-info directory name for one of `names`
/// (`mkl-2024.2.2-ha957f24_16.json`, `intel_openmp-2025.0.4.dist-info`).
pub fn version_from_record_name(file: &str, names: &[&str]) -> Option<String> {
    for n in names {
        let Some(rest) = file.strip_prefix(n).and_then(|r| r.strip_prefix('-')) else {
            continue;
        };
        let v = rest.strip_suffix(".dist-info").or_else(|| {
            rest.strip_suffix(".json")
                .and_then(|r| r.rsplit_once('-').map(|x| x.0))
        })?;
        if v.starts_with(|c: char| c.is_ascii_digit()) && !v.contains('-') {
            return Some(v.to_string());
        }
    }
    None
}

/// The packages that install each runtime, by conda and PyPI name.
fn package_names(imp: LibImpl) -> &'static [&'static str] {
    match imp {
        LibImpl::Mkl => &["mkl"],
        LibImpl::Libiomp => &["intel-openmp", "intel_openmp"],
        LibImpl::Libomp => &["llvm-openmp"],
        LibImpl::Libgomp => &["libgomp"],
        LibImpl::Blis => &["blis"],
        LibImpl::Openblas => &["libopenblas"],
        _ => &[],
    }
}

/// Whether the first mapping (the executable) or a libpython says "Python".
pub fn is_python(exe: Option<&str>, paths: &[&str]) -> bool {
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    exe.map(base).is_some_and(|b| {
        b.strip_prefix("python").is_some_and(|r| {
            r.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == 't')
        })
    }) || paths.iter().any(|p| base(p).starts_with("libpython"))
}

/// A `cpu.stat` file: (nr_periods, nr_throttled, throttled µs) for cgroup v2 and v1.
pub fn parse_cpu_stat(text: &str) -> (Option<u64>, Option<u64>, Option<u64>) {
    let mut out = (None, None, None);
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next().and_then(|v| v.parse::<u64>().ok())) else {
            continue;
        };
        match k {
            "nr_periods" => out.0 = Some(v),
            "nr_throttled" => out.1 = Some(v),
            "throttled_usec" => out.2 = Some(v),
            "throttled_time" => out.2 = Some(v / 1000),
            _ => {}
        }
    }
    out
}

/// `hidepid=` from a mountinfo line of `/proc` ("2", "invisible", "1", "noaccess").
pub fn proc_hidepid(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        (pre.split_whitespace().nth(4)? == "/proc" && post.starts_with("proc ")).then_some(())?;
        post.split([' ', ','])
            .find_map(|o| o.strip_prefix("hidepid="))
            .map(str::to_string)
            .filter(|v| v != "0" && v != "off")
    })
}

/// A user's name from `/etc/passwd` text.
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        f.next()?;
        (f.next()?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

// ------------------------------------------------------------------------------------------
// What the library files say (read once per file, cached)

/// What a library file tells about itself.
#[derive(Debug, Clone, Default)]
struct FileFacts {
    /// For a generic name: the implementation its exports prove, else the one the conda
    /// record that installed it names (`libblas-3.9.0-20_linux64_netlib`).
    generic: Option<BlasImpl>,
    version: Option<String>,
    /// What the library's own files tell of its build (`linkage::file_detail`): "pthreads",
    /// "openmp", "serial", ...
    detail: Option<String>,
}

/// What was learnt about library files (exports, versions, build details) and environments'
/// records, kept between snapshots so that each file is read once. Platform-neutral: any
/// reader that knows the paths a process maps names its libraries with [`libraries_of`].
#[derive(Default)]
pub struct Libraries {
    files: HashMap<String, FileFacts>,
    /// conda-meta record and dist-info names per environment prefix.
    records: HashMap<PathBuf, Vec<String>>,
}

impl Libraries {
    fn facts(&mut self, path: &str, role: FileRole) -> FileFacts {
        if let Some(f) = self.files.get(path) {
            return f.clone();
        }
        let p = Path::new(path);
        let mut f = FileFacts::default();
        match role {
            FileRole::Generic(_) => {
                let exports = crate::facts::linkage::read_exports(p).unwrap_or_default();
                f.generic = crate::facts::linkage::classify_exports(&exports)
                    .map(|(i, _)| i)
                    .or_else(|| self.record_build(p));
            }
            FileRole::Lib(imp, _) => {
                if let Some(b) = imp.blas() {
                    f.detail = crate::facts::linkage::file_detail(b, p, None);
                }
                f.version = version_from_name(path);
                if f.version.is_none() && imp == LibImpl::Openblas {
                    f.version = rodata(p).as_deref().and_then(openblas_version_in);
                }
                if f.version.is_none() {
                    f.version = self.record_version(p, package_names(imp));
                }
            }
            FileRole::MklLayer(_) => {}
        }
        self.files.insert(path.to_string(), f.clone());
        f
    }

    /// The version of the package that installed a file under `PREFIX/lib/`, from the names in
    /// `PREFIX/conda-meta/` or `PREFIX/lib/pythonX.Y/site-packages/*.dist-info`.
    fn record_version(&mut self, file: &Path, names: &[&str]) -> Option<String> {
        if names.is_empty() {
            return None;
        }
        self.records(file)?
            .iter()
            .find_map(|r| version_from_record_name(r, names))
    }

    /// The BLAS a conda-forge `libblas`/`liblapack` record beside a generic file selects by its
    /// build string (`libblas-3.9.0-20_linux64_netlib.json`).
    fn record_build(&mut self, file: &Path) -> Option<BlasImpl> {
        self.records(file)?.iter().find_map(|r| {
            let rest = r
                .strip_prefix("libblas-")
                .or_else(|| r.strip_prefix("liblapack-"))?;
            crate::facts::blas::impl_from_build_suffix(rest.strip_suffix(".json")?)
        })
    }

    /// Record and dist-info names of the environment a `PREFIX/lib/` file belongs to.
    fn records(&mut self, file: &Path) -> Option<&Vec<String>> {
        let lib = file.parent()?;
        if lib.file_name()? != "lib" {
            return None;
        }
        let prefix = lib.parent()?.to_path_buf();
        Some(self.records.entry(prefix.clone()).or_insert_with(|| {
            let mut out = Vec::new();
            let mut list = |dir: &Path| {
                if let Ok(rd) = std::fs::read_dir(dir) {
                    out.extend(
                        rd.flatten()
                            .filter_map(|e| e.file_name().into_string().ok()),
                    );
                }
            };
            list(&prefix.join("conda-meta"));
            if let Ok(rd) = std::fs::read_dir(prefix.join("lib")) {
                for e in rd.flatten() {
                    let n = e.file_name();
                    if n.to_string_lossy().starts_with("python") {
                        list(&e.path().join("site-packages"));
                    }
                }
            }
            out
        }))
    }
}

/// A library's read-only data section (where version strings live), at most 16 MiB of it.
fn rodata(path: &Path) -> Option<Vec<u8>> {
    use object::{Object, ObjectSection};
    let file = std::fs::File::open(path).ok()?;
    let cache = object::ReadCache::new(file);
    let obj = object::File::parse(&cache).ok()?;
    let section = obj.section_by_name(".rodata")?;
    let (offset, size) = section.file_range()?;
    let data = object::ReadRef::read_bytes_at(&cache, offset, size.min(16 << 20)).ok()?;
    Some(data.to_vec())
}

/// Turn the files a process maps into library entries: MKL's files become one entry with its
/// threading layer; OpenBLAS, BLIS and the rest get their build detail from their own files.
pub fn libraries_of(paths: &[&str], cache: &mut Libraries) -> Vec<MappedLib> {
    let mut out: Vec<MappedLib> = Vec::new();
    let mut mkl_layer = None;
    for &raw in paths {
        let Some(role) = classify_file(raw) else {
            continue;
        };
        let path = raw.strip_suffix(" (deleted)").unwrap_or(raw);
        let facts = cache.facts(path, role);
        let (imp, kind) = match role {
            FileRole::MklLayer(l) => {
                mkl_layer = Some(l);
                continue;
            }
            FileRole::Lib(i, k) => (i, k),
            FileRole::Generic(kind) => {
                // Named only by evidence: its exports or its package record; a plain libblas
                // with neither is unknown, not assumed to be the reference BLAS.
                let imp = match facts.generic {
                    Some(BlasImpl::Openblas) => LibImpl::Openblas,
                    Some(BlasImpl::Mkl) => LibImpl::Mkl,
                    Some(BlasImpl::Blis) => LibImpl::Blis,
                    Some(BlasImpl::Netlib) => LibImpl::Netlib,
                    Some(BlasImpl::Atlas) => LibImpl::Atlas,
                    Some(BlasImpl::Flexiblas) => LibImpl::Flexiblas,
                    Some(BlasImpl::Armpl) => LibImpl::Armpl,
                    Some(BlasImpl::Nvpl) => LibImpl::Nvpl,
                    _ => LibImpl::Unknown,
                };
                (imp, kind)
            }
        };
        if imp == LibImpl::Mkl {
            // One entry for MKL: the runtime dispatcher (mkl_rt) or its core names it.
            let base = path.rsplit('/').next().unwrap_or(path);
            let main = base.starts_with("libmkl_rt") || base.starts_with("libmkl_core");
            if let Some(e) = out.iter_mut().find(|l| l.implementation == LibImpl::Mkl) {
                if main
                    && !e
                        .path
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .starts_with("libmkl_rt")
                {
                    e.path = path.to_string();
                    e.version = e.version.take().or(facts.version);
                }
                continue;
            }
        }
        let threading_layer = facts.detail;
        out.push(MappedLib {
            implementation: imp,
            kind,
            path: path.to_string(),
            version: facts.version,
            threading_layer,
        });
    }
    if let Some(e) = out.iter_mut().find(|l| l.implementation == LibImpl::Mkl) {
        e.threading_layer = Some(mkl_layer.unwrap_or("intel").to_string());
    }
    out
}

// ------------------------------------------------------------------------------------------
// The reader

/// Reads snapshots; keeps what it learns about library files and cgroup mounts between them
/// (so `--watch` reads each library file once).
pub struct Reader {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    cache: Libraries,
    #[cfg(target_os = "linux")]
    linux: linux::State,
}

impl Default for Reader {
    fn default() -> Self {
        Self::new()
    }
}

impl Reader {
    pub fn new() -> Self {
        Reader {
            cache: Libraries::default(),
            #[cfg(target_os = "linux")]
            linux: linux::State::new(),
        }
    }

    /// Read the selected processes now.
    pub fn snapshot(&mut self, sel: &Selection) -> Snapshot {
        #[cfg(target_os = "linux")]
        {
            linux::snapshot(&mut self.linux, &mut self.cache, sel)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let pids = match sel {
                Selection::Trees(p) => p.clone(),
                Selection::User(_) => Vec::new(),
            };
            Snapshot {
                at: monotonic_seconds(),
                ticks_per_s: 100,
                processes: Vec::new(),
                unreadable: pids
                    .into_iter()
                    .map(|pid| Unreadable {
                        pid,
                        reason: format!(
                            "reading processes is implemented for Linux only (this is {})",
                            std::env::consts::OS
                        ),
                    })
                    .collect(),
                notes: vec![format!(
                    "process inspection is not implemented on {} yet (see README: blasfix ps)",
                    std::env::consts::OS
                )],
            }
        }
    }
}

/// Whether the process (pid, start) still runs: its stat can be read, it has the same start
/// time (not a reused PID) and it is no zombie. Reads one file; sends no signal.
pub fn alive(key: (u32, u64)) -> bool {
    #[cfg(target_os = "linux")]
    {
        std::fs::read(format!("/proc/{}/stat", key.0))
            .ok()
            .and_then(|b| parse_stat(&b))
            .is_some_and(|s| s.start_ticks == key.1 && s.state != 'Z')
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = key;
        true
    }
}

/// Seconds on a monotonic clock.
pub fn monotonic_seconds() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// The effective uid of this process.
pub fn current_uid() -> u32 {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        0
    }
}

#[cfg(target_os = "linux")]
mod linux {
    //! `/proc` reading with few system calls: files are opened relative to an open directory
    //! (`openat`), read into reused buffers, directories listed with raw `getdents64`, and
    //! every error is a reason, never a panic.

    use std::collections::{HashMap, HashSet};
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::path::Path;

    use super::*;
    use crate::facts::cpu;

    pub struct State {
        ticks_per_s: u64,
        mounts: cpu::CgroupMounts,
        hidepid: Option<String>,
        passwd: Option<String>,
        buf: Vec<u8>,
        name: Vec<u8>,
        dents: Vec<u8>,
        /// cgroup file text -> its CPU controller, for one snapshot (processes share cgroups).
        cgroups: HashMap<Vec<u8>, Option<CgroupCpu>>,
    }

    impl State {
        pub fn new() -> Self {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            // SAFETY: sysconf has no preconditions.
            let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
            State {
                ticks_per_s: u64::try_from(tck).ok().filter(|t| *t > 0).unwrap_or(100),
                mounts: cpu::parse_mountinfo(&mountinfo),
                hidepid: proc_hidepid(&mountinfo),
                passwd: None,
                buf: Vec::with_capacity(64 * 1024),
                name: Vec::with_capacity(64),
                dents: vec![0; 32 * 1024],
                cgroups: HashMap::new(),
            }
        }
        fn user(&mut self, uid: u32) -> String {
            let passwd = self
                .passwd
                .get_or_insert_with(|| std::fs::read_to_string("/etc/passwd").unwrap_or_default());
            match user_name(passwd, uid) {
                Some(n) => format!("{n} (uid {uid})"),
                None => format!("uid {uid}"),
            }
        }
    }

    /// Open `dir/name` (`name` formatted into the reused buffer) with `flags`.
    fn open_at(
        dir: RawFd,
        name: &mut Vec<u8>,
        rel: std::fmt::Arguments<'_>,
        flags: libc::c_int,
    ) -> io::Result<OwnedFd> {
        use std::io::Write;
        name.clear();
        let _ = name.write_fmt(rel);
        name.push(0);
        // SAFETY: `name` is NUL-terminated and outlives the call.
        let fd = unsafe { libc::openat(dir, name.as_ptr().cast(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor, owned from here on.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Read an open file whole into `buf`. `one_read`: the kernel produces the file in one read
    /// when the buffer is large enough (stat, cmdline, environ, cgroup), so a short read is the
    /// end and saves a system call.
    fn read_fd(fd: &OwnedFd, buf: &mut Vec<u8>, one_read: bool) -> io::Result<()> {
        buf.clear();
        loop {
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(buf.capacity().max(4096));
            }
            let spare = buf.capacity() - buf.len();
            // SAFETY: reading into the vector's spare capacity, then growing len by what the
            // kernel wrote.
            let n = unsafe {
                libc::read(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().add(buf.len()).cast(),
                    spare,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let n = n as usize;
            // SAFETY: the kernel initialised n bytes.
            unsafe { buf.set_len(buf.len() + n) };
            if n == 0 || (one_read && n < spare) {
                return Ok(());
            }
        }
    }

    fn read_at(
        dir: RawFd,
        name: &mut Vec<u8>,
        rel: std::fmt::Arguments<'_>,
        buf: &mut Vec<u8>,
        one_read: bool,
    ) -> io::Result<()> {
        let fd = open_at(dir, name, rel, libc::O_RDONLY | libc::O_NOCTTY)?;
        read_fd(&fd, buf, one_read)
    }

    /// The kernel's affinity words of a task (CPU n at bit n % 64 of word n / 64).
    fn affinity_words(tid: u32) -> Option<[u64; AFFINITY_WORDS]> {
        // SAFETY: cpu_set_t is plain data; the kernel fills at most its size.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::sched_getaffinity(
                tid as libc::pid_t,
                std::mem::size_of::<libc::cpu_set_t>(),
                &mut set,
            )
        };
        // SAFETY: cpu_set_t is an array of unsigned longs of this size.
        (rc == 0)
            .then(|| unsafe { std::mem::transmute::<libc::cpu_set_t, [u64; AFFINITY_WORDS]>(set) })
    }

    const AFFINITY_WORDS: usize = std::mem::size_of::<libc::cpu_set_t>() / 8;

    fn gone(e: &io::Error) -> bool {
        matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH))
    }

    fn denied(e: &io::Error) -> bool {
        matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM))
    }

    /// Numeric entries of an open directory, read with raw getdents64 into a reused buffer.
    fn list_numeric(fd: RawFd, dents: &mut [u8]) -> Vec<u32> {
        let mut out = Vec::new();
        loop {
            // SAFETY: the kernel writes at most `dents.len()` bytes of linux_dirent64 records.
            let n =
                unsafe { libc::syscall(libc::SYS_getdents64, fd, dents.as_mut_ptr(), dents.len()) };
            if n <= 0 {
                return out;
            }
            let mut at = 0usize;
            let n = n as usize;
            // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
            while at + 19 <= n {
                let reclen = u16::from_ne_bytes([dents[at + 16], dents[at + 17]]) as usize;
                if reclen == 0 || at + reclen > n {
                    return out;
                }
                let name = &dents[at + 19..at + reclen];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                if !name.is_empty()
                    && name.iter().all(u8::is_ascii_digit)
                    && let Some(v) = std::str::from_utf8(name).ok().and_then(|s| s.parse().ok())
                {
                    out.push(v);
                }
                at += reclen;
            }
        }
    }

    /// One pid's stat line and owner, read before deciding whether to look closer.
    struct Head {
        pid: u32,
        uid: u32,
        stat: Stat,
    }

    fn head(st: &mut State, pid: u32) -> io::Result<Head> {
        let fd = open_at(
            libc::AT_FDCWD,
            &mut st.name,
            format_args!("/proc/{pid}/stat"),
            libc::O_RDONLY,
        )?;
        // The owner of a /proc/PID file is the process's effective uid (root when it is not
        // dumpable), as for the directory.
        // SAFETY: fstat on an open descriptor into a zeroed struct.
        let mut meta: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut meta) } != 0 {
            return Err(io::Error::last_os_error());
        }
        read_fd(&fd, &mut st.buf, true)?;
        let stat = parse_stat(&st.buf).ok_or_else(|| io::Error::other("unparsable stat"))?;
        Ok(Head {
            pid,
            uid: meta.st_uid,
            stat,
        })
    }

    pub fn snapshot(st: &mut State, cache: &mut Libraries, sel: &Selection) -> Snapshot {
        let begin = monotonic_seconds();
        let mut snap = read_all(st, cache, sel);
        // Threads are read one after another: the middle of the reading stands for all.
        snap.at = (begin + monotonic_seconds()) / 2.0;
        snap
    }

    fn read_all(st: &mut State, cache: &mut Libraries, sel: &Selection) -> Snapshot {
        let mut snap = Snapshot {
            at: 0.0,
            ticks_per_s: st.ticks_per_s,
            processes: Vec::new(),
            unreadable: Vec::new(),
            notes: Vec::new(),
        };
        st.cgroups.clear();
        if let Some(h) = &st.hidepid {
            snap.notes.push(format!(
                "/proc is mounted with hidepid={h}: other users' processes are hidden or \
                 unreadable"
            ));
        }
        let all = match open_at(
            libc::AT_FDCWD,
            &mut st.name,
            format_args!("/proc"),
            libc::O_RDONLY | libc::O_DIRECTORY,
        ) {
            Ok(fd) => list_numeric(fd.as_raw_fd(), &mut st.dents),
            Err(e) => {
                snap.notes.push(format!("cannot list /proc: {e}"));
                return snap;
            }
        };
        // First pass: the stat line of every process (cheap) for owners and the tree.
        let mut heads: HashMap<u32, Head> = HashMap::with_capacity(all.len());
        let wanted_user = match sel {
            Selection::User(u) => Some(*u),
            Selection::Trees(_) => None,
        };
        for pid in all {
            if let Ok(h) = head(st, pid) {
                if wanted_user.is_some_and(|u| u != h.uid) {
                    continue;
                }
                heads.insert(pid, h);
            }
        }
        let chosen: Vec<u32> = match sel {
            Selection::User(_) => {
                let mut v: Vec<u32> = heads
                    .values()
                    .filter(|h| h.stat.flags & PF_KTHREAD == 0 && h.pid != std::process::id())
                    .map(|h| h.pid)
                    .collect();
                v.sort_unstable();
                v
            }
            Selection::Trees(roots) => {
                let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
                for h in heads.values() {
                    children.entry(h.stat.ppid).or_default().push(h.pid);
                }
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                let mut stack: Vec<u32> = roots.iter().rev().copied().collect();
                while let Some(pid) = stack.pop() {
                    if !seen.insert(pid) {
                        continue;
                    }
                    out.push(pid);
                    if let Some(c) = children.get(&pid) {
                        let mut c = c.clone();
                        c.sort_unstable_by(|a, b| b.cmp(a));
                        stack.extend(c);
                    }
                }
                for &r in roots {
                    if !heads.contains_key(&r) {
                        let reason = match &st.hidepid {
                            Some(h) => format!(
                                "no such process (or hidden: /proc is mounted with hidepid={h})"
                            ),
                            None => "no such process".to_string(),
                        };
                        snap.unreadable.push(Unreadable { pid: r, reason });
                    }
                }
                out.retain(|p| heads.contains_key(p));
                out
            }
        };
        let explicit = matches!(sel, Selection::Trees(_));
        for pid in chosen {
            let Some(head) = heads.remove(&pid) else {
                continue;
            };
            match read_process(st, cache, head, explicit) {
                Ok(Some(p)) => {
                    if !p.hidden.is_empty() {
                        let owner = st.user(p.uid);
                        snap.unreadable.push(Unreadable {
                            pid,
                            reason: format!(
                                "{}: permission denied (owned by {owner}; run blasfix as that \
                                 user or as root)",
                                p.hidden.join(" and ")
                            ),
                        });
                    }
                    snap.processes.push(p);
                }
                Ok(None) => {}
                Err(reason) => {
                    if explicit {
                        snap.unreadable.push(Unreadable { pid, reason });
                    }
                }
            }
        }
        snap
    }

    /// Read one process. `Ok(None)`: not of interest (user scan: neither Python nor a BLAS or
    /// OpenMP runtime). `Err`: why it could not be read.
    fn read_process(
        st: &mut State,
        cache: &mut Libraries,
        head: Head,
        explicit: bool,
    ) -> Result<Option<ProcessSample>, String> {
        let pid = head.pid;
        let exited = || "exited while it was being read".to_string();
        if head.stat.flags & PF_KTHREAD != 0 {
            return Err("kernel thread: it has no user-space memory to inspect".into());
        }
        if head.stat.state == 'Z' {
            return Err(format!(
                "zombie: it has exited and its parent (PID {}) has not collected it yet",
                head.stat.ppid
            ));
        }
        let dir = open_at(
            libc::AT_FDCWD,
            &mut st.name,
            format_args!("/proc/{pid}"),
            libc::O_RDONLY | libc::O_DIRECTORY,
        )
        .map_err(|_| exited())?;
        let fd = dir.as_raw_fd();
        let mut hidden = Vec::new();

        // Memory maps: the libraries, and whether this is Python.
        let (exe, python, libraries) =
            match read_at(fd, &mut st.name, format_args!("maps"), &mut st.buf, false) {
                Ok(()) => {
                    let paths = parse_maps(&st.buf);
                    let exe = paths.first().map(|s| s.to_string());
                    let python = is_python(exe.as_deref(), &paths);
                    (exe, python, libraries_of(&paths, cache))
                }
                Err(e) if gone(&e) => return Err(exited()),
                Err(e) if denied(&e) => {
                    hidden.push("memory maps".to_string());
                    (None, head.stat.comm.starts_with("python"), Vec::new())
                }
                Err(e) => return Err(format!("memory maps: {e}")),
            };
        if !explicit && !python && libraries.is_empty() {
            return Ok(None);
        }
        let cmdline = match read_at(fd, &mut st.name, format_args!("cmdline"), &mut st.buf, true) {
            Ok(()) => parse_cmdline(&st.buf),
            Err(e) if gone(&e) => return Err(exited()),
            Err(_) => Vec::new(),
        };
        let env = match read_at(fd, &mut st.name, format_args!("environ"), &mut st.buf, true) {
            Ok(()) => parse_environ(&st.buf, &kept_var),
            Err(e) if gone(&e) => return Err(exited()),
            Err(e) if denied(&e) => {
                hidden.insert(0, "environment".to_string());
                BTreeMap::new()
            }
            Err(_) => BTreeMap::new(),
        };
        let cgroup = match read_at(fd, &mut st.name, format_args!("cgroup"), &mut st.buf, true) {
            Ok(()) => cgroup_of(st),
            Err(_) => None,
        };
        let mask = affinity_words(pid);
        let threads = read_threads(st, fd, mask.as_ref());
        // Same process still? A reused PID has another start time (the main thread's is the
        // process's), and an exited one has no main thread left.
        if !threads
            .iter()
            .any(|t| t.tid == pid && t.start_ticks == head.stat.start_ticks)
        {
            return Err(exited());
        }
        Ok(Some(ProcessSample {
            pid,
            ppid: head.stat.ppid,
            uid: head.uid,
            start_ticks: head.stat.start_ticks,
            comm: head.stat.comm,
            state: head.stat.state,
            cmdline,
            exe,
            python,
            env,
            cpu_ticks: head.stat.utime + head.stat.stime,
            affinity: mask.map(|w| CpuSet::from_words(&w)),
            threads,
            cgroup,
            libraries,
            hidden,
        }))
    }

    fn read_threads(
        st: &mut State,
        proc_fd: RawFd,
        process_mask: Option<&[u64; AFFINITY_WORDS]>,
    ) -> Vec<ThreadSample> {
        let Ok(task) = open_at(
            proc_fd,
            &mut st.name,
            format_args!("task"),
            libc::O_RDONLY | libc::O_DIRECTORY,
        ) else {
            return Vec::new();
        };
        let tids = list_numeric(task.as_raw_fd(), &mut st.dents);
        let mut out = Vec::with_capacity(tids.len());
        for tid in tids {
            // A thread that ended between the listing and now is simply not there.
            if read_at(
                task.as_raw_fd(),
                &mut st.name,
                format_args!("{tid}/stat"),
                &mut st.buf,
                true,
            )
            .is_err()
            {
                continue;
            }
            let Some(s) = parse_stat(&st.buf) else {
                continue;
            };
            out.push(ThreadSample {
                tid,
                name: s.comm,
                state: s.state,
                cpu_ticks: s.utime + s.stime,
                start_ticks: s.start_ticks,
                affinity: affinity_words(tid)
                    .filter(|w| Some(w) != process_mask)
                    .map(|w| CpuSet::from_words(&w)),
            });
        }
        out
    }

    /// The CPU controller of the cgroup whose `/proc/PID/cgroup` text is in `st.buf` (resolved
    /// once per snapshot for each distinct text).
    fn cgroup_of(st: &mut State) -> Option<CgroupCpu> {
        if let Some(c) = st.cgroups.get(&st.buf) {
            return c.clone();
        }
        let text = String::from_utf8_lossy(&st.buf).into_owned();
        let paths = cpu::parse_proc_self_cgroup(&text);
        let resolved = paths.v1_cpu.clone().or(paths.v2.clone()).map(|path| {
            let read = |p: &Path| std::fs::read_to_string(p).ok();
            let mut out = CgroupCpu {
                path,
                ..Default::default()
            };
            if let Some(q) = cpu::cgroup_quota(&paths, &st.mounts, &read) {
                let stat = Path::new(&q.source).with_file_name("cpu.stat");
                if let Some(text) = read(&stat) {
                    let (p, t, us) = parse_cpu_stat(&text);
                    out.nr_periods = p;
                    out.nr_throttled = t;
                    out.throttled_usec = us;
                }
                out.quota = Some(q.cpus);
                out.quota_source = Some(q.source);
            }
            out
        });
        st.cgroups.insert(st.buf.clone(), resolved.clone());
        resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_the_name() {
        let line = b"4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 25 7 0 0 20 0 3 0 123456 1000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.comm, "my (odd) name");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.utime + s.stime, 32);
        assert_eq!(s.num_threads, 3);
        assert_eq!(s.start_ticks, 123456);
        assert_eq!(s.flags & PF_KTHREAD, 0);
        assert!(parse_stat(b"12 (trunc").is_none());
        assert!(parse_stat(b"").is_none());
        assert!(parse_stat(b"1 (x) R 0").is_none());
    }

    #[test]
    fn kernel_thread_flag() {
        let line = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 2 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 1 0 0 0 0 0\n";
        assert_ne!(parse_stat(line).unwrap().flags & PF_KTHREAD, 0);
    }

    #[test]
    fn environ_keeps_only_thread_and_launch_vars() {
        let raw =
            b"PATH=/bin\0OMP_NUM_THREADS=1\0SECRET=x\0LOCAL_RANK=3\0BROKEN\0MKL_NUM_THREADS=\0";
        let env = parse_environ(raw, &kept_var);
        assert_eq!(
            env.into_iter().collect::<Vec<_>>(),
            vec![
                ("LOCAL_RANK".to_string(), "3".to_string()),
                ("MKL_NUM_THREADS".to_string(), String::new()),
                ("OMP_NUM_THREADS".to_string(), "1".to_string()),
            ]
        );
    }

    #[test]
    fn cmdline_forms() {
        assert_eq!(parse_cmdline(b"python\0-c\0x\0"), vec!["python", "-c", "x"]);
        assert_eq!(parse_cmdline(b"ray::IDLE"), vec!["ray::IDLE"]);
        assert!(parse_cmdline(b"").is_empty());
    }

    #[test]
    fn maps_paths_in_order_without_duplicates() {
        let text = b"55d0c0000000-55d0c0001000 r--p 00000000 08:01 131 /usr/bin/python3.11\n\
55d0c0001000-55d0c0002000 r-xp 00001000 08:01 131 /usr/bin/python3.11\n\
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 \n\
7f0000100000-7f0000200000 r-xp 00000000 08:01 99 /opt/env/lib/libopenblasp-r0.3.21.so\n\
7f0000300000-7f0000400000 r-xp 00000000 08:01 98 /tmp/lib with space.so (deleted)\n\
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n";
        assert_eq!(
            parse_maps(text),
            vec![
                "/usr/bin/python3.11",
                "/opt/env/lib/libopenblasp-r0.3.21.so",
                "/tmp/lib with space.so (deleted)"
            ]
        );
    }

    #[test]
    fn library_files_are_classified_by_name() {
        use FileRole::*;
        use LibImpl::*;
        let cases: &[(&str, Option<FileRole>)] = &[
            (
                "/e/lib/libopenblasp-r0.3.21.so",
                Some(Lib(Openblas, LibKind::Blas)),
            ),
            (
                "/v/site-packages/numpy.libs/libscipy_openblas64_-32a4b2a6.so",
                Some(Lib(Openblas, LibKind::Blas)),
            ),
            ("/e/lib/libmkl_rt.so.2", Some(Lib(Mkl, LibKind::Blas))),
            ("/e/lib/libmkl_avx512.so.2", Some(Lib(Mkl, LibKind::Blas))),
            ("/e/lib/libmkl_gnu_thread.so.2", Some(MklLayer("gnu"))),
            (
                "/e/lib/libmkl_sequential.so.2",
                Some(MklLayer("sequential")),
            ),
            ("/e/lib/libiomp5.so", Some(Lib(Libiomp, LibKind::Openmp))),
            ("/e/lib/libiompstubs5.so", None),
            ("/e/lib/libomp.so", Some(Lib(Libomp, LibKind::Openmp))),
            ("/e/lib/libomptarget.so.17", None),
            (
                "/v/site-packages/scikit_learn.libs/libgomp-e985bcbb.so.1.0.0",
                Some(Lib(Libgomp, LibKind::Openmp)),
            ),
            (
                "/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0",
                Some(Lib(Libgomp, LibKind::Openmp)),
            ),
            (
                "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0",
                Some(Lib(Netlib, LibKind::Blas)),
            ),
            (
                "/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3.11.0",
                Some(Lib(Netlib, LibKind::Lapack)),
            ),
            (
                "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
                Some(Lib(Openblas, LibKind::Blas)),
            ),
            ("/e/lib/libblas.so.3", Some(Generic(LibKind::Blas))),
            ("/e/lib/libblis.so.4", Some(Lib(Blis, LibKind::Blas))),
            (
                "/usr/lib64/libflexiblas.so.3",
                Some(Lib(Flexiblas, LibKind::Blas)),
            ),
            ("/usr/lib/x86_64-linux-gnu/libc.so.6", None),
            ("/usr/bin/python3.11", None),
            (
                "/e/lib/libopenblas.so.0 (deleted)",
                Some(Lib(Openblas, LibKind::Blas)),
            ),
        ];
        for (path, want) in cases {
            assert_eq!(classify_file(path), *want, "{path}");
        }
    }

    #[test]
    fn versions_from_names_binaries_and_records() {
        assert_eq!(
            version_from_name("/e/lib/libopenblasp-r0.3.21.so").as_deref(),
            Some("0.3.21")
        );
        assert_eq!(version_from_name("/e/lib/libopenblas.so.0"), None);
        assert_eq!(
            version_from_name("/x/libscipy_openblas64_-32a4b2a6.so"),
            None
        );
        assert_eq!(
            openblas_version_in(b"\0\0OpenBLAS \0junk OpenBLAS 0.3.31.188.0 DYNAMIC_ARCH\0")
                .as_deref(),
            Some("0.3.31")
        );
        assert_eq!(openblas_version_in(b"OpenBLAS x"), None);
        assert_eq!(
            version_from_record_name("mkl-2024.2.2-ha957f24_16.json", &["mkl"]).as_deref(),
            Some("2024.2.2")
        );
        assert_eq!(
            version_from_record_name(
                "intel_openmp-2025.0.4.dist-info",
                &["intel-openmp", "intel_openmp"]
            )
            .as_deref(),
            Some("2025.0.4")
        );
        assert_eq!(
            version_from_record_name("mkl-service-2.4.0-py311_1.json", &["mkl"]),
            None
        );
        assert_eq!(
            version_from_record_name("mkl_fft-1.3.8.dist-info", &["mkl"]),
            None
        );
    }

    #[test]
    fn python_by_executable_or_libpython() {
        assert!(is_python(Some("/usr/bin/python3.11"), &[]));
        assert!(is_python(Some("/v/bin/python3.13t"), &[]));
        assert!(is_python(Some("/v/bin/python"), &[]));
        assert!(!is_python(Some("/usr/bin/python-config"), &[]));
        assert!(is_python(
            Some("/opt/app/uwsgi"),
            &["/opt/lib/libpython3.11.so.1.0"]
        ));
        assert!(!is_python(Some("/usr/bin/bash"), &["/usr/lib/libc.so.6"]));
    }

    #[test]
    fn cpu_stat_v1_and_v2() {
        assert_eq!(
            parse_cpu_stat("usage_usec 5\nnr_periods 10\nnr_throttled 4\nthrottled_usec 900\n"),
            (Some(10), Some(4), Some(900))
        );
        assert_eq!(
            parse_cpu_stat("nr_periods 7\nnr_throttled 2\nthrottled_time 3000000\n"),
            (Some(7), Some(2), Some(3000))
        );
    }

    #[test]
    fn hidepid_and_user_names() {
        let mi = "22 1 0:21 / /proc rw,nosuid - proc proc rw,hidepid=invisible\n";
        assert_eq!(proc_hidepid(mi).as_deref(), Some("invisible"));
        assert_eq!(proc_hidepid("22 1 0:21 / /proc rw - proc proc rw\n"), None);
        let pw =
            "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n";
        assert_eq!(user_name(pw, 65534).as_deref(), Some("nobody"));
        assert_eq!(user_name(pw, 7), None);
    }

    #[test]
    fn cpu_sets() {
        let s = CpuSet::from_ids([0, 1, 2, 3, 8, 10, 11, 70]);
        assert_eq!(s.to_list(), "0-3,8,10-11,70");
        assert_eq!(s.count(), 8);
        let t = CpuSet::from_ids([3, 4]);
        assert_eq!(s.union(&t).count(), 9);
        assert_eq!(s.intersection(&t).to_list(), "3");
        assert!(CpuSet::from_ids([1, 2]).is_subset(&s));
        assert!(!t.is_subset(&s));
        assert_eq!(serde_json::to_string(&t).unwrap(), "[3,4]");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process_tree() {
        // Under qemu-user (.ci/cross sets the cargo runner) the process is the emulator, which
        // fakes /proc/self for the guest but not the /proc/PID this reader lists.
        if crate::testing::cross_runner().is_some() {
            crate::testing::skip::skip::<()>(
                crate::testing::skip::Need::Optional,
                "running under qemu-user: this process is the emulator",
            );
            return;
        }
        let mut r = Reader::new();
        let me = std::process::id();
        let snap = r.snapshot(&Selection::Trees(vec![me]));
        let p = snap
            .processes
            .iter()
            .find(|p| p.pid == me)
            .expect("this process");
        assert!(!p.threads.is_empty());
        assert!(p.threads.iter().any(|t| t.tid == me));
        assert!(p.affinity.as_ref().is_some_and(|a| a.count() >= 1));
        assert!(!p.cmdline.is_empty());
        assert!(snap.unreadable.is_empty(), "{:?}", snap.unreadable);
    }
}
