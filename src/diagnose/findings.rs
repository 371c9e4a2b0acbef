//! Rules: pure functions from `Facts` to findings (each with its reason and exact fix) and to
//! a recommendation of the backend this machine and platform should use.

use serde::Serialize;

use crate::facts::blas;

use crate::facts::blas::{BlasImpl, ChannelFamily};

use crate::facts::Facts;
use crate::facts::cpu::VendorFamily;
use crate::facts::declared::NumpySource;
use crate::facts::envs::EnvKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier (`openblas-on-intel`, `mkl-on-amd`, ...).
    pub id: String,
    pub severity: Severity,
    pub title: String,
    /// Why, with the facts that triggered it.
    pub detail: String,
    /// The command that fixes it (`blasfix apply --backend mkl`), if one does.
    pub fix: Option<String>,
    /// The raw command it stands for on this channel (`conda install -n x "libblas=*=*mkl"`).
    pub fix_raw: Option<String>,
}

impl Finding {
    fn new(
        id: &str,
        severity: Severity,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Finding {
            id: id.into(),
            severity,
            title: title.into(),
            detail: detail.into(),
            fix: None,
            fix_raw: None,
        }
    }
    fn fix(mut self, fix: Option<String>, raw: Option<String>) -> Self {
        self.fix = fix;
        self.fix_raw = raw;
        self
    }
}

/// The backend this machine and platform should use, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Recommendation {
    pub backend: BlasImpl,
    pub reason: String,
}

/// Which layer a verdict on the BLAS in use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Loaded,
    Linked,
    Declared,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Loaded => "loaded",
            Layer::Linked => "linked",
            Layer::Declared => "declared",
        }
    }
}

/// The BLAS NumPy runs on as far as the facts can tell: what a real import loaded beats what
/// the binaries link, which beats what the records declare.
pub fn effective(f: &Facts) -> (BlasImpl, Layer) {
    if let Some(rt) = &f.runtime
        && rt.error.is_none()
        && rt.implementation.is_concrete()
    {
        return (rt.implementation, Layer::Loaded);
    }
    if let Some(l) = &f.linkage
        && l.implementation.is_concrete()
    {
        return (l.implementation, Layer::Linked);
    }
    (f.blas.implementation, Layer::Declared)
}

/// The environment's subdir (from its records), else the one this process runs as.
pub fn env_subdir(f: &Facts) -> String {
    f.prefix
        .subdir
        .clone()
        .filter(|s| !s.is_empty() && s != "noarch")
        .unwrap_or_else(|| f.machine.process_subdir.clone())
}

/// The channel family whose BLAS scheme applies: NumPy's, else the declared BLAS's, else the
/// first effective channel's (what a fresh `conda install numpy` would use).
pub fn env_family(f: &Facts) -> ChannelFamily {
    if let Some(fam) = f.blas.numpy.family.filter(|x| *x != ChannelFamily::Other) {
        return fam;
    }
    if f.blas.numpy.source == Some(NumpySource::Pip) {
        return ChannelFamily::Pip;
    }
    if let Some(fam) = f.blas.family.filter(|x| *x != ChannelFamily::Other) {
        return fam;
    }
    if f.environment.kind.is_conda_like() || f.prefix.has_conda_meta {
        for ch in &f.channels.effective {
            let fam = crate::facts::mirrors::channel_family(&ch.url);
            if fam != ChannelFamily::Other {
                return fam;
            }
        }
        return ChannelFamily::Other;
    }
    ChannelFamily::Pip
}

/// Quote one shell word for display (POSIX shells), only when needed.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The spec quoted as the conda docs write it (`"libblas=*=*mkl"`).
fn quoted_spec(spec: &str) -> String {
    if spec.contains('*') || spec.contains('[') || spec.contains(' ') {
        format!("\"{spec}\"")
    } else {
        spec.to_string()
    }
}

/// `-n NAME` or `-p PREFIX` for commands, empty (for blasfix) when the env is the active one.
/// `-n` only when the env was found by that name: a folder's name is no conda env name unless
/// it sits in one of conda's envs dirs.
fn env_args(f: &Facts, for_blasfix: bool) -> String {
    let active = f.environment.how == "CONDA_PREFIX" || f.environment.how == "VIRTUAL_ENV";
    if for_blasfix && active {
        return String::new();
    }
    match &f.environment.name {
        Some(n) if f.environment.how.starts_with("-n ") && f.environment.kind != EnvKind::Pixi => {
            format!(" -n {}", shell_quote(n))
        }
        _ => format!(
            " -p {}",
            shell_quote(&f.environment.prefix.to_string_lossy())
        ),
    }
}

/// The install command a frontend runs for a conda spec switch.
fn frontend_name(f: &Facts) -> &'static str {
    match f.environment.kind {
        EnvKind::Mamba => "mamba",
        EnvKind::Micromamba => "micromamba",
        _ => "conda",
    }
}

/// The exact `blasfix apply` command and the raw command it stands for, for a switch to `to`.
pub fn switch_fix(f: &Facts, to: BlasImpl) -> (Option<String>, Option<String>) {
    let family = env_family(f);
    let fix = Some(format!(
        "blasfix apply --backend {}{}",
        to.as_str(),
        env_args(f, true)
    ));
    let raw = match family {
        ChannelFamily::CondaForge if f.environment.kind == EnvKind::Pixi => {
            Some(format!("pixi add \"libblas=*=*{}\"", to.as_str()))
        }
        ChannelFamily::CondaForge => Some(format!(
            "{} install{} {}",
            frontend_name(f),
            env_args(f, false),
            quoted_spec(&format!("libblas=*=*{}", to.as_str()))
        )),
        ChannelFamily::Defaults => {
            let spec = match to {
                BlasImpl::Mkl => "blas=*=mkl",
                BlasImpl::Openblas => "blas=*=openblas",
                _ => return (fix, None),
            };
            Some(format!(
                "{} install{} numpy {}",
                frontend_name(f),
                env_args(f, false),
                quoted_spec(spec)
            ))
        }
        ChannelFamily::Pip | ChannelFamily::Other => None,
    };
    (fix, raw)
}

/// Whether `imp` is published for this environment's family and subdir.
fn exists_here(f: &Facts, imp: BlasImpl) -> bool {
    blas::available(env_family(f), &env_subdir(f)).contains(&imp)
}

fn is_x86(f: &Facts) -> bool {
    matches!(f.machine.arch.as_str(), "x86_64" | "x86")
        || env_subdir(f).ends_with("-64") && !env_subdir(f).contains("arm")
}

fn cpu_label(f: &Facts) -> String {
    let m = &f.machine;
    let brand = m.brand.clone().unwrap_or_else(|| m.vendor.clone());
    match &m.microarch {
        Some(u) => format!("{brand} ({u})"),
        None => brand,
    }
}

fn list(items: &[String]) -> String {
    items.join("; ")
}

/// All findings, most severe first (pure).
pub fn evaluate(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let (imp, layer) = effective(f);
    let subdir = env_subdir(f);
    let family = env_family(f);
    let vendor = f.machine.vendor_family;

    // No NumPy at all.
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

    // Ambiguous metadata.
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

    // OpenBLAS on Intel where MKL exists.
    if imp == BlasImpl::Openblas && vendor == VendorFamily::Intel && is_x86(f) {
        if matches!(family, ChannelFamily::CondaForge | ChannelFamily::Defaults)
            && exists_here(f, BlasImpl::Mkl)
        {
            let (fix, raw) = switch_fix(f, BlasImpl::Mkl);
            out.push(
                Finding::new(
                    "openblas-on-intel",
                    Severity::Warning,
                    "NumPy runs on OpenBLAS on an Intel CPU where MKL is available",
                    format!(
                        "{} uses OpenBLAS ({}) on {}. {} publishes MKL builds for {}; on Intel CPUs MKL is \
                         often faster for BLAS-3 and LAPACK work. Measure with `blasfix bench` before and after.",
                        "NumPy",
                        layer.as_str(),
                        cpu_label(f),
                        family_name(family),
                        subdir
                    ),
                )
                .fix(fix, raw),
            );
        } else if family == ChannelFamily::Pip && matches!(subdir.as_str(), "linux-64" | "win-64") {
            out.push(Finding::new(
                "openblas-on-intel-pip",
                Severity::Info,
                "NumPy from PyPI bundles its own OpenBLAS; MKL is not an option for this NumPy",
                format!(
                    "PyPI NumPy wheels always load the OpenBLAS in numpy.libs, whatever else is installed. On {} \
                     a conda environment with conda-forge or defaults NumPy can use MKL instead.",
                    cpu_label(f)
                ),
            ));
        }
    }

    // MKL on AMD / Hygon.
    if imp == BlasImpl::Mkl
        && matches!(
            vendor,
            VendorFamily::Amd | VendorFamily::Hygon | VendorFamily::Zhaoxin
        )
    {
        let to = BlasImpl::Openblas;
        let (fix, raw) = if exists_here(f, to) {
            switch_fix(f, to)
        } else {
            (None, None)
        };
        out.push(
            Finding::new(
                "mkl-on-non-intel",
                Severity::Warning,
                format!("NumPy runs on MKL on a non-Intel CPU ({})", f.machine.vendor.trim()),
                format!(
                    "MKL picks its fast code paths by checking for a GenuineIntel CPU; on {} it may fall back to \
                     slower generic kernels (MKL_DEBUG_CPU_TYPE=5 no longer works since MKL 2020.1). OpenBLAS (or \
                     BLIS) is usually as fast or faster here. Measure with `blasfix bench`.",
                    cpu_label(f)
                ),
            )
            .fix(fix, raw),
        );
    }

    // MKL requested where the platform has none.
    let mkl_pins: Vec<&String> = f
        .blas
        .pinned
        .iter()
        .filter(|p| p.contains("mkl") && !p.contains("nomkl"))
        .collect();
    let mkl_here = family == ChannelFamily::Other || exists_here(f, BlasImpl::Mkl);
    if !mkl_here && (!mkl_pins.is_empty() || imp == BlasImpl::Mkl) {
        let alts: Vec<&str> = blas::available(family, &subdir)
            .iter()
            .map(|b| b.as_str())
            .collect();
        let what = if mkl_pins.is_empty() {
            "The environment has MKL".to_string()
        } else {
            format!(
                "conda-meta/pinned asks for MKL ({})",
                mkl_pins
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push(Finding::new(
            "mkl-unavailable",
            if mkl_pins.is_empty() { Severity::Warning } else { Severity::Error },
            format!("MKL is not published for {subdir} on {}", family_name(family)),
            format!(
                "{what}, but {} has no current MKL builds for {subdir} (MKL exists only for x86_64 Linux and \
                 Windows; conda-forge dropped it on osx-64 in 2024). The solver will refuse or keep stale packages. \
                 Available here: {}.",
                family_name(family),
                if alts.is_empty() { "none known".to_string() } else { alts.join(", ") }
            ),
        ));
    }

    // pip NumPy shadowing or mixed with conda NumPy.
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

    // Mixed conda-forge and defaults BLAS stacks.
    if !f.blas.mixed_stacks.is_empty() {
        out.push(Finding::new(
            "mixed-blas-stacks",
            Severity::Warning,
            "conda-forge and Anaconda defaults BLAS packages are mixed",
            format!(
                "{}. The two channels use different BLAS schemes (conda-forge: libblas build strings; defaults: the \
                 `blas` mutex and numpy-base); mixing them makes switches and updates unpredictable. Prefer one channel \
                 family (channel_priority: strict).",
                list(&f.blas.mixed_stacks)
            ),
        ));
    }

    // A mirror makes conda-forge the source of NumPy.
    if let Some(m) = mirror_of_numpy(f) {
        out.push(Finding::new(
            "mirror-conda-forge",
            Severity::Info,
            format!("NumPy comes from conda-forge through the {} mirror", m),
            format!(
                "The channel {} is a mirror of conda-forge, whose default BLAS on {} is {}. That is why this \
                 environment got {} rather than what Anaconda's defaults channel would give ({}).",
                f.blas.numpy.channel.as_deref().unwrap_or("?"),
                subdir,
                blas::available(ChannelFamily::CondaForge, &subdir).first().map(|b| b.display_name()).unwrap_or("OpenBLAS"),
                f.blas.implementation.display_name(),
                blas::available(ChannelFamily::Defaults, &subdir).first().map(|b| b.display_name()).unwrap_or("OpenBLAS"),
            ),
        ));
    }

    // Rosetta.
    if f.machine.rosetta || (f.machine.subdir == "osx-arm64" && subdir == "osx-64") {
        out.push(Finding::new(
            "rosetta",
            Severity::Warning,
            "An x86_64 environment runs under Rosetta 2 on Apple silicon",
            format!(
                "The environment is {subdir} but the machine is osx-arm64. Every NumPy call is translated; \
                 Rosetta lacks AVX-512 (and AVX on older macOS), and MKL 2022+ refuses to run there. A native \
                 osx-arm64 environment (Miniforge) with Accelerate or OpenBLAS is many times faster."
            ),
        ));
    }

    // Threads: pool larger than usable CPUs, contradictions.
    let over = crate::facts::threads::oversubscribed(&f.threads, imp);
    if let Some((pool, usable)) = over {
        let why = match (f.machine.cpu_quota, imp) {
            (Some(q), BlasImpl::Openblas) => format!(
                "a cgroup CPU quota of {q} CPUs{} limits this process to {usable}, but OpenBLAS ignores quotas and \
                 sizes its pool from all {} CPUs it can see",
                f.machine
                    .cpu_quota_source
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default(),
                f.machine.affinity_cpus.unwrap_or(f.machine.logical_cpus)
            ),
            _ => format!("only {usable} CPUs are usable by this process"),
        };
        let var = match imp {
            BlasImpl::Mkl => "MKL_NUM_THREADS",
            BlasImpl::Blis => "BLIS_NUM_THREADS",
            _ => "OPENBLAS_NUM_THREADS",
        };
        out.push(
            Finding::new(
                "threads-oversubscribed",
                Severity::Warning,
                format!("{} would start {pool} threads but only {usable} CPUs are usable", imp.display_name()),
                format!(
                    "{why}. Extra threads time-slice the same cores and spin while waiting, which burns CPU and slows \
                     every BLAS call. With several worker processes it multiplies (N workers x {pool} threads)."
                ),
            )
            .fix(Some(format!("export {var}={n} OMP_NUM_THREADS={n}", n = crate::facts::threads::suggested_threads(&f.machine))), None),
        );
    }
    for c in crate::facts::threads::contradictions(&f.threads) {
        out.push(Finding::new(
            "thread-vars-contradict",
            Severity::Warning,
            "Thread variables contradict each other",
            c,
        ));
    }
    if !f.threads.invalid.is_empty() {
        out.push(Finding::new(
            "thread-vars-invalid",
            Severity::Warning,
            "Thread variables with values the libraries ignore",
            list(&f.threads.invalid),
        ));
    }
    for n in crate::facts::threads::notes(&f.threads) {
        out.push(Finding::new(
            &format!("env-{}", n.var.to_ascii_lowercase().replace('_', "-")),
            if n.warning {
                Severity::Warning
            } else {
                Severity::Info
            },
            format!("{}={} is set", n.var, n.value),
            n.message,
        ));
    }

    runtime_findings(f, &mut out);

    // Problems met while reading.
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
            list(&problems),
        ));
    }

    out.sort_by_key(|x| x.severity);
    out
}

/// Findings that need the linkage or the runtime probe.
fn runtime_findings(f: &Facts, out: &mut Vec<Finding>) {
    let declared = f.blas.implementation;
    let linked = f
        .linkage
        .as_ref()
        .map(|l| l.implementation)
        .filter(|i| i.is_concrete());
    let loaded = f
        .runtime
        .as_ref()
        .filter(|r| r.error.is_none())
        .map(|r| r.implementation)
        .filter(|i| i.is_concrete());
    let mut layers = vec![];
    if declared.is_concrete() {
        layers.push(("declared", declared));
    }
    if let Some(l) = linked {
        layers.push(("linked", l));
    }
    if let Some(l) = loaded {
        layers.push(("loaded", l));
    }
    if layers.windows(2).any(|w| w[0].1 != w[1].1) {
        let said: Vec<String> = layers
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.display_name()))
            .collect();
        let (winner, layer) = effective(f);
        out.push(Finding::new(
            "blas-layers-disagree",
            Severity::Warning,
            format!("Metadata and binaries disagree; NumPy really runs on {}", winner.display_name()),
            format!(
                "{}. What a process loads wins over what binaries link, which wins over what records declare; \
                 here the {} layer decides. Stale records or leftover libraries are the usual cause.",
                said.join(", "),
                layer.as_str()
            ),
        ));
    }
    let Some(rt) = &f.runtime else { return };
    if let Some(err) = &rt.error {
        // The probe confirming what the files say (no NumPy) is the `no-numpy` finding: the
        // same fact gives the same findings and exit code with and without `--no-runtime`.
        if !(rt.numpy_missing && f.blas.implementation == BlasImpl::None) {
            out.push(Finding::new(
                "probe-failed",
                Severity::Warning,
                "The runtime probe could not import NumPy",
                err.clone(),
            ));
        }
        return;
    }
    let blas_libs: Vec<&crate::facts::probe::LoadedLib> = rt
        .libraries
        .iter()
        .filter(|l| l.user_api == "blas")
        .collect();
    if blas_libs.len() > 1 {
        let names: Vec<String> = blas_libs
            .iter()
            .map(|l| format!("{} ({})", l.internal_api, l.filepath))
            .collect();
        out.push(Finding::new(
            "two-blas-loaded",
            Severity::Warning,
            format!("{} BLAS libraries are loaded in one process", blas_libs.len()),
            format!(
                "{}. Each keeps its own thread pool (e.g. numpy and scipy wheels each bundle an OpenBLAS), so the \
                 process can start twice as many threads as cores. Use one source for numpy and scipy (both conda or \
                 both pip) or limit threads with threadpoolctl.",
                names.join("; ")
            ),
        ));
    }
    let omp: Vec<&crate::facts::probe::LoadedLib> = rt
        .libraries
        .iter()
        .filter(|l| l.user_api == "openmp")
        .collect();
    let omp_kinds: std::collections::BTreeSet<String> = omp
        .iter()
        .filter_map(|l| {
            let base = l
                .filepath
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            ["libiomp", "libgomp", "libomp", "vcomp"]
                .iter()
                .find(|p| base.starts_with(*p))
                .map(|p| p.to_string())
        })
        .collect();
    if omp_kinds.len() > 1 {
        let sev = if omp_kinds.contains("libiomp") && omp_kinds.contains("libomp") {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push(
            Finding::new(
                "two-openmp-loaded",
                sev,
                format!("Several OpenMP runtimes are loaded: {}", omp_kinds.iter().cloned().collect::<Vec<_>>().join(", ")),
                "Two OpenMP runtimes in one process oversubscribe the CPU and can crash or deadlock (libiomp5 with \
                 LLVM libomp especially). With MKL, MKL_THREADING_LAYER=GNU makes MKL use libgomp."
                    .to_string(),
            )
            .fix(Some("export MKL_THREADING_LAYER=GNU".into()), None),
        );
    }
    let usable = f.machine.usable_cpus.max(1) as i64;
    for l in &blas_libs {
        if let Some(n) = l.num_threads.filter(|n| *n > usable) {
            out.push(
                Finding::new(
                    "runtime-threads-oversubscribed",
                    Severity::Warning,
                    format!("{} runs {n} threads on {usable} usable CPUs", l.internal_api),
                    format!(
                        "The loaded {} ({}) sized its pool at {n} threads but this process may use only {usable} CPUs \
                         (affinity and cgroup quota). In multiprocessing code (joblib, PyTorch DataLoader workers, \
                         Stable-Baselines3 SubprocVecEnv) every worker starts its own pool: N workers x {n} threads. \
                         Set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS before NumPy is imported, or use \
                         threadpoolctl.threadpool_limits(1) in workers.",
                        l.internal_api, l.filepath
                    ),
                )
                .fix(Some(format!("export OMP_NUM_THREADS={usable} OPENBLAS_NUM_THREADS={usable} MKL_NUM_THREADS={usable}")), None),
            );
        }
        if l.internal_api == "mkl"
            && matches!(
                f.machine.vendor_family,
                VendorFamily::Amd | VendorFamily::Hygon
            )
            && !out.iter().any(|x| x.id == "mkl-on-non-intel")
        {
            out.push(Finding::new(
                "mkl-on-non-intel",
                Severity::Warning,
                "MKL is loaded on a non-Intel CPU",
                format!(
                    "{} is loaded on {}; MKL may use generic kernels there.",
                    l.filepath,
                    cpu_label(f)
                ),
            ));
        }
        if l.internal_api == "openblas"
            && let Some(core) = &l.architecture
            && let Some(better) = weaker_core(core, f)
        {
            out.push(Finding::new(
                        "openblas-weak-core",
                        Severity::Warning,
                        format!("OpenBLAS uses its {core} kernels on a CPU that supports {better}"),
                        format!(
                            "The loaded OpenBLAS ({}) picked the {core} core, but this CPU supports {better}. An old \
                             OpenBLAS that does not know the CPU, a hypervisor hiding CPUID bits, or OPENBLAS_CORETYPE \
                             cause this. Update OpenBLAS (conda: libopenblas; pip: numpy).",
                            l.filepath
                        ),
                    ));
        }
    }
}

/// The OpenBLAS core name is weaker than what the CPU's SIMD allows.
fn weaker_core(core: &str, f: &Facts) -> Option<&'static str> {
    let c = core.to_ascii_lowercase();
    let avx512 = f.machine.has("avx512f");
    let avx2 = f.machine.has("avx2") && f.machine.has("fma");
    let weak_x86 = [
        "prescott",
        "core2",
        "nehalem",
        "penryn",
        "dunnington",
        "atom",
        "katmai",
        "northwood",
        "unknown",
        "barcelona",
        "opteron",
    ];
    if weak_x86.iter().any(|w| c == *w) && (avx2 || avx512) {
        return Some(if avx512 { "AVX-512" } else { "AVX2/FMA" });
    }
    if c == "sandybridge" && avx2 {
        return Some(if avx512 { "AVX-512" } else { "AVX2/FMA" });
    }
    if c == "haswell" && avx512 && f.machine.vendor_family == VendorFamily::Intel {
        return Some("AVX-512");
    }
    None
}

fn family_name(f: ChannelFamily) -> &'static str {
    match f {
        ChannelFamily::CondaForge => "conda-forge",
        ChannelFamily::Defaults => "Anaconda's defaults channel",
        ChannelFamily::Pip => "PyPI",
        ChannelFamily::Other => "this channel",
    }
}

/// The mirror NumPy's conda-forge record came from, if any.
fn mirror_of_numpy(f: &Facts) -> Option<&'static str> {
    let ch = f.blas.numpy.channel.as_deref()?;
    if crate::facts::mirrors::channel_family(ch) != ChannelFamily::CondaForge {
        return None;
    }
    crate::facts::mirrors::mirror_name(ch)
}

/// The recommended backend (pure).
pub fn recommend(f: &Facts) -> Recommendation {
    let subdir = env_subdir(f);
    let family = env_family(f);
    let m = &f.machine;
    let rec = |backend: BlasImpl, reason: String| Recommendation { backend, reason };
    if m.rosetta || (m.subdir == "osx-arm64" && subdir == "osx-64") {
        return rec(
            BlasImpl::Accelerate,
            "Apple silicon: use a native osx-arm64 environment; Accelerate (conda-forge `libblas=*=*accelerate`, or \
             PyPI NumPy 2 wheels on macOS 14+) runs on the AMX/SME units."
                .into(),
        );
    }
    if subdir == "osx-arm64" {
        if family == ChannelFamily::Defaults {
            return rec(BlasImpl::Openblas, "Apple silicon on Anaconda's defaults channel: OpenBLAS is the only BLAS it publishes for osx-arm64.".into());
        }
        return rec(
            BlasImpl::Accelerate,
            "Apple silicon: Accelerate uses the AMX/SME matrix units and is usually several times faster than OpenBLAS \
             for DGEMM-heavy work."
                .into(),
        );
    }
    if subdir.starts_with("osx-") {
        return rec(BlasImpl::Openblas, "Intel Mac: MKL is no longer published for osx-64 (conda-forge and defaults dropped it in 2024); OpenBLAS is the maintained choice.".into());
    }
    if !is_x86(f) {
        return rec(
            BlasImpl::Openblas,
            format!(
                "{} on {subdir}: OpenBLAS has tuned kernels for this architecture; MKL does not exist here.",
                m.vendor
            ),
        );
    }
    match m.vendor_family {
        VendorFamily::Intel => {
            if family == ChannelFamily::Pip {
                rec(
                    BlasImpl::Openblas,
                    format!(
                        "Intel CPU ({}), but PyPI NumPy always uses its bundled OpenBLAS; a conda environment could use MKL.",
                        m.microarch.as_deref().unwrap_or("x86_64")
                    ),
                )
            } else if blas::available(family, &subdir).contains(&BlasImpl::Mkl)
                || family == ChannelFamily::Other
            {
                rec(
                    BlasImpl::Mkl,
                    format!(
                        "Intel CPU ({}) on {subdir}: MKL is Intel's own BLAS/LAPACK, tuned for this CPU, and is published for this platform.",
                        m.microarch.as_deref().unwrap_or("x86_64")
                    ),
                )
            } else {
                rec(
                    BlasImpl::Openblas,
                    format!("Intel CPU, but MKL is not published for {subdir} on this channel."),
                )
            }
        }
        VendorFamily::Amd | VendorFamily::Hygon => rec(
            BlasImpl::Openblas,
            format!(
                "{} CPU ({}): MKL checks for Intel CPUs and may use slower code paths here; OpenBLAS has Zen kernels.",
                if m.vendor_family == VendorFamily::Hygon {
                    "Hygon"
                } else {
                    "AMD"
                },
                m.microarch.as_deref().unwrap_or("x86_64")
            ),
        ),
        _ => rec(
            BlasImpl::Openblas,
            format!(
                "{} CPU: OpenBLAS detects this CPU at run time; MKL targets Intel CPUs.",
                m.vendor.trim()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::cpu::CpuFacts;
    use crate::facts::declared::{DeclaredBlas, NumpyFacts};
    use crate::facts::envs::Located;
    use crate::facts::probe::{LoadedLib, RuntimeFacts};

    fn intel_linux() -> Facts {
        Facts {
            machine: CpuFacts {
                arch: "x86_64".into(),
                vendor: "GenuineIntel".into(),
                vendor_family: VendorFamily::Intel,
                brand: Some("Intel(R) Xeon(R) Gold 6338".into()),
                microarch: Some("icelake".into()),
                simd: vec!["avx2".into(), "fma".into(), "avx512f".into()],
                logical_cpus: 8,
                physical_cores: Some(4),
                usable_cpus: 8,
                affinity_cpus: Some(8),
                subdir: "linux-64".into(),
                process_subdir: "linux-64".into(),
                ..Default::default()
            },
            environment: Located {
                prefix: "/home/u/miniforge3/envs/ml".into(),
                kind: EnvKind::Conda,
                name: Some("ml".into()),
                how: "CONDA_PREFIX".into(),
                ..Default::default()
            },
            prefix: crate::facts::prefix::PrefixFacts {
                subdir: Some("linux-64".into()),
                has_conda_meta: true,
                ..Default::default()
            },
            blas: DeclaredBlas {
                implementation: BlasImpl::Openblas,
                family: Some(ChannelFamily::CondaForge),
                numpy: NumpyFacts {
                    version: Some("1.26.4".into()),
                    source: Some(NumpySource::Conda),
                    channel: Some("https://conda.anaconda.org/conda-forge/linux-64".into()),
                    family: Some(ChannelFamily::CondaForge),
                    ..Default::default()
                },
                ..Default::default()
            },
            threads: crate::facts::threads::ThreadFacts {
                openblas_default: 8,
                mkl_default: 4,
                blis_default: 1,
                usable_cpus: 8,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn ids(f: &Facts) -> Vec<String> {
        evaluate(f).into_iter().map(|x| x.id).collect()
    }

    #[test]
    fn openblas_on_intel_conda_forge_suggests_libblas_mkl() {
        let f = intel_linux();
        let found = evaluate(&f);
        let x = found
            .iter()
            .find(|x| x.id == "openblas-on-intel")
            .expect("finding");
        assert_eq!(x.severity, Severity::Warning);
        assert_eq!(x.fix.as_deref(), Some("blasfix apply --backend mkl"));
        assert_eq!(
            x.fix_raw.as_deref(),
            Some("conda install -p /home/u/miniforge3/envs/ml \"libblas=*=*mkl\"")
        );
        assert_eq!(recommend(&f).backend, BlasImpl::Mkl);
        let mut f = f;
        f.environment.how = "-n ml in /home/u/miniforge3/envs".into();
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "openblas-on-intel")
            .unwrap();
        assert_eq!(x.fix.as_deref(), Some("blasfix apply --backend mkl -n ml"));
        assert_eq!(
            x.fix_raw.as_deref(),
            Some("conda install -n ml \"libblas=*=*mkl\"")
        );
    }

    #[test]
    fn openblas_on_intel_defaults_suggests_blas_mutex() {
        let mut f = intel_linux();
        f.blas.family = Some(ChannelFamily::Defaults);
        f.blas.numpy.family = Some(ChannelFamily::Defaults);
        f.environment.how = "-p".into();
        f.environment.name = None;
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "openblas-on-intel")
            .unwrap();
        assert_eq!(
            x.fix.as_deref(),
            Some("blasfix apply --backend mkl -p /home/u/miniforge3/envs/ml")
        );
        assert_eq!(
            x.fix_raw.as_deref(),
            Some("conda install -p /home/u/miniforge3/envs/ml numpy \"blas=*=mkl\"")
        );
    }

    #[test]
    fn openblas_on_intel_but_no_mkl_for_subdir() {
        let mut f = intel_linux();
        f.prefix.subdir = Some("osx-64".into());
        f.machine.subdir = "osx-64".into();
        assert!(!ids(&f).contains(&"openblas-on-intel".to_string()));
        assert_eq!(recommend(&f).backend, BlasImpl::Openblas);
    }

    #[test]
    fn mkl_on_amd_and_hygon() {
        for (vendor, fam) in [
            ("AuthenticAMD", VendorFamily::Amd),
            ("HygonGenuine", VendorFamily::Hygon),
        ] {
            let mut f = intel_linux();
            f.machine.vendor = vendor.into();
            f.machine.vendor_family = fam;
            f.blas.implementation = BlasImpl::Mkl;
            let x = evaluate(&f)
                .into_iter()
                .find(|x| x.id == "mkl-on-non-intel")
                .unwrap();
            assert_eq!(
                x.fix_raw.as_deref(),
                Some("conda install -p /home/u/miniforge3/envs/ml \"libblas=*=*openblas\"")
            );
            assert_eq!(recommend(&f).backend, BlasImpl::Openblas);
        }
    }

    #[test]
    fn mkl_pinned_on_osx_arm64_is_an_error() {
        let mut f = intel_linux();
        f.machine.vendor_family = VendorFamily::Apple;
        f.machine.arch = "aarch64".into();
        f.machine.subdir = "osx-arm64".into();
        f.prefix.subdir = Some("osx-arm64".into());
        f.blas.pinned = vec!["libblas=*=*mkl".into()];
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "mkl-unavailable")
            .unwrap();
        assert_eq!(x.severity, Severity::Error);
        assert!(x.detail.contains("accelerate"), "{}", x.detail);
        assert_eq!(recommend(&f).backend, BlasImpl::Accelerate);
    }

    #[test]
    fn mkl_on_linux_aarch64_unavailable() {
        let mut f = intel_linux();
        f.machine.arch = "aarch64".into();
        f.machine.vendor_family = VendorFamily::Arm;
        f.prefix.subdir = Some("linux-aarch64".into());
        f.blas.implementation = BlasImpl::Mkl;
        assert!(ids(&f).contains(&"mkl-unavailable".to_string()));
        assert_eq!(recommend(&f).backend, BlasImpl::Openblas);
    }

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
    fn openblas_ignores_quota() {
        let mut f = intel_linux();
        f.machine.usable_cpus = 2;
        f.threads.usable_cpus = 2;
        f.machine.cpu_quota = Some(2.0);
        f.machine.cpu_quota_source = Some("/sys/fs/cgroup/cpu.max".into());
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "threads-oversubscribed")
            .unwrap();
        assert!(x.detail.contains("ignores quotas"), "{}", x.detail);
        assert_eq!(
            x.fix.as_deref(),
            Some("export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2")
        );
        f.threads.openblas_default = 2;
        assert!(!ids(&f).contains(&"threads-oversubscribed".to_string()));
    }

    #[test]
    fn rosetta_recommends_native_accelerate() {
        let mut f = intel_linux();
        f.machine.rosetta = true;
        f.machine.subdir = "osx-arm64".into();
        f.machine.process_subdir = "osx-64".into();
        f.prefix.subdir = Some("osx-64".into());
        assert!(ids(&f).contains(&"rosetta".to_string()));
        assert_eq!(recommend(&f).backend, BlasImpl::Accelerate);
    }

    #[test]
    fn mirror_of_conda_forge_explains_openblas() {
        let mut f = intel_linux();
        assert!(
            !ids(&f).contains(&"mirror-conda-forge".to_string()),
            "official conda-forge is no mirror"
        );
        f.blas.numpy.channel =
            Some("https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge/linux-64".into());
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "mirror-conda-forge")
            .expect("finding");
        assert!(x.title.contains("TUNA"), "{}", x.title);
        assert!(
            x.detail.contains("Intel MKL"),
            "what defaults would give: {}",
            x.detail
        );
        f.blas.numpy.channel =
            Some("https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main/linux-64".into());
        assert!(
            !ids(&f).contains(&"mirror-conda-forge".to_string()),
            "a defaults mirror is not conda-forge"
        );
    }

    #[test]
    fn thread_variable_findings() {
        let mut f = intel_linux();
        let env = crate::facts::snapshot::EnvSnapshot::from_pairs([
            ("OMP_NUM_THREADS", "1"),
            ("OPENBLAS_NUM_THREADS", "8"),
            ("MKL_NUM_THREADS", "zero"),
            ("MKL_DEBUG_CPU_TYPE", "5"),
        ]);
        f.threads = crate::facts::threads::from_env(&env, &f.machine);
        let i = ids(&f);
        for want in [
            "thread-vars-contradict",
            "thread-vars-invalid",
            "env-mkl-debug-cpu-type",
        ] {
            assert!(i.contains(&want.to_string()), "{want} missing from {i:?}");
        }
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

    #[test]
    fn findings_are_sorted_by_severity() {
        let mut f = intel_linux();
        f.blas.pinned = vec!["libblas=*=*mkl".into()];
        f.prefix.subdir = Some("osx-arm64".into());
        f.blas.mixed_stacks = vec!["x".into()];
        let found = evaluate(&f);
        assert!(found.windows(2).all(|w| w[0].severity <= w[1].severity));
    }

    #[test]
    fn runtime_layers_disagree_and_two_pools() {
        let mut f = intel_linux();
        f.runtime = Some(RuntimeFacts {
            implementation: BlasImpl::Mkl,
            libraries: vec![
                LoadedLib {
                    user_api: "blas".into(),
                    internal_api: "mkl".into(),
                    filepath: "/e/lib/libmkl_rt.so.2".into(),
                    num_threads: Some(4),
                    ..Default::default()
                },
                LoadedLib {
                    user_api: "blas".into(),
                    internal_api: "openblas".into(),
                    filepath: "/e/lib/scipy.libs/libopenblas.so".into(),
                    num_threads: Some(16),
                    architecture: Some("Prescott".into()),
                    ..Default::default()
                },
                LoadedLib {
                    user_api: "openmp".into(),
                    internal_api: "openmp".into(),
                    filepath: "/e/lib/libiomp5.so".into(),
                    ..Default::default()
                },
                LoadedLib {
                    user_api: "openmp".into(),
                    internal_api: "openmp".into(),
                    filepath: "/e/lib/libomp.so".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let found = evaluate(&f);
        let i: Vec<&str> = found.iter().map(|x| x.id.as_str()).collect();
        for want in [
            "blas-layers-disagree",
            "two-blas-loaded",
            "two-openmp-loaded",
            "runtime-threads-oversubscribed",
            "openblas-weak-core",
        ] {
            assert!(i.contains(&want), "{want} missing from {i:?}");
        }
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(effective(&f), (BlasImpl::Mkl, Layer::Loaded));
    }

    #[test]
    fn probe_error_is_reported_and_declared_wins() {
        let mut f = intel_linux();
        f.runtime = Some(RuntimeFacts {
            error: Some("NumPy import crashed (SIGILL)".into()),
            ..Default::default()
        });
        assert!(ids(&f).contains(&"probe-failed".to_string()));
        assert_eq!(effective(&f), (BlasImpl::Openblas, Layer::Declared));
    }

    #[test]
    fn probe_without_numpy_agrees_with_files_without_numpy() {
        let missing = || {
            Some(RuntimeFacts {
                numpy_missing: true,
                error: Some(
                    "NumPy is not installed for /e/bin/python (ModuleNotFoundError)".into(),
                ),
                ..Default::default()
            })
        };
        let mut f = intel_linux();
        f.blas.implementation = BlasImpl::None;
        let static_only = ids(&f);
        assert!(
            static_only.contains(&"no-numpy".to_string()),
            "{static_only:?}"
        );
        f.runtime = missing();
        assert_eq!(ids(&f), static_only, "same fact, same findings");
        // The records declare NumPy but the interpreter has none: that is worth a warning.
        let mut g = intel_linux();
        g.runtime = missing();
        assert!(ids(&g).contains(&"probe-failed".to_string()));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/a/b"), "/a/b");
        assert_eq!(shell_quote("/a b/c"), "'/a b/c'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
