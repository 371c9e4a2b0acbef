//! The BLAS NumPy's extension modules link, without running Python: ELF `DT_NEEDED` with
//! RPATH/RUNPATH and `$ORIGIN`, Mach-O `LC_LOAD_DYLIB` with `@rpath`/`@loader_path`, PE imports;
//! resolved as the loader would, following the prefix's symlinks to the implementation.
//!
//! Entry point: [`inspect`]. Binaries are read through `object`'s `ReadCache` (positioned reads
//! of the headers, dynamic section and load commands only; no mmap, no `unsafe`, no whole-file
//! read), and only dependencies whose names look like BLAS/LAPACK are followed, so a prefix costs
//! a handful of small reads. Exported symbols are read only for a generic `libblas`-style file
//! whose name, directory and dependencies do not tell.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Component, Path, PathBuf};

use object::read::ReadCache;
use object::read::elf::{FileHeader, Sym as _};
use object::read::macho::{FatArch, MachHeader};
use object::read::pe::ImageNtHeaders;
use object::{Architecture, Endianness, FileKind, LittleEndian as LE, ReadRef, elf, macho, pe};
use serde::Serialize;

use crate::facts::blas::BlasImpl;
use crate::facts::prefix::join_rel;
use crate::facts::problem::Problem;

/// One resolved dependency chain from a NumPy extension to a BLAS.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct LinkChain {
    /// The extension module (`numpy/_core/_multiarray_umath...so`).
    pub module: PathBuf,
    /// Each hop: the name as written, then the resolved file (symlinks followed).
    pub hops: Vec<LinkHop>,
    pub implementation: BlasImpl,
    /// What the library's own files tell beyond its name: "pthreads", "openmp", "serial"
    /// (OpenBLAS, BLIS), "AMD AOCL", "backend OPENBLAS-OPENMP (/etc/flexiblasrc)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How the last library was named ("file name libopenblasp-r0.3.21.so", "directory
    /// atlas/", "exports bli_thread_get_num_threads"), or why it could not be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// A library named by its own evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub implementation: BlasImpl,
    pub detail: Option<String>,
    pub evidence: Option<String>,
}

impl Identity {
    fn new(implementation: BlasImpl, evidence: impl Into<String>) -> Self {
        Identity {
            implementation,
            detail: None,
            evidence: Some(evidence.into()),
        }
    }
    fn unknown(reason: impl Into<String>) -> Self {
        Identity::new(BlasImpl::Unknown, reason)
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct LinkHop {
    /// The name as the binary records it (`libcblas.so.3`, `@rpath/libopenblas.0.dylib`).
    pub needed: String,
    /// Where the loader would find it (None: not found). For a macOS system framework
    /// (`/System/Library/Frameworks/Accelerate.framework/...`, served from the dyld shared
    /// cache) this is the path as written, whether or not it exists here.
    pub resolved: Option<PathBuf>,
    /// The real file after following symlinks (None: not found, or a system framework).
    pub real: Option<PathBuf>,
    /// The symlinks followed from `resolved` to `real`, in order (each link's target path;
    /// the last one is `real` when it is reached by a link).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<PathBuf>,
}

impl LinkChain {
    /// `_multiarray_umath -> libcblas.so.3 -> libopenblas.so.0 -> libopenblasp-r0.3.21.so`:
    /// the module's stem, each hop's needed name, and the real file's name when it differs.
    pub fn render(&self) -> String {
        let stem = file_name(&self.module);
        let mut out = stem.split('.').next().unwrap_or(&stem).to_string();
        for hop in &self.hops {
            out.push_str(" -> ");
            out.push_str(&hop.needed);
            let mut last = file_name(Path::new(&hop.needed));
            let steps = hop.links.iter().chain(hop.real.iter());
            for step in steps {
                let name = file_name(step);
                if name != last {
                    out.push_str(" -> ");
                    out.push_str(&name);
                    last = name;
                }
            }
            if hop.real.is_none() && hop.resolved.is_none() {
                out.push_str(" (not found)");
            }
        }
        out
    }
}

/// What NumPy links.
#[derive(Debug, Clone, Serialize, Default)]
pub struct LinkageFacts {
    pub chains: Vec<LinkChain>,
    /// The implementation the chains end in (Ambiguous when they disagree, Unknown when none).
    pub implementation: BlasImpl,
    pub problems: Vec<crate::facts::problem::Problem>,
}

/// What the loader reads from the environment, passed in so that resolution stays testable.
#[derive(Debug, Clone, Default)]
pub struct LoaderEnv {
    /// `LD_LIBRARY_PATH` split on `:` (ELF only; searched after RPATH, before RUNPATH).
    pub ld_library_path: Vec<PathBuf>,
    /// The backend FlexiBLAS would load and where that was set (`FLEXIBLAS`, `~/.flexiblasrc`,
    /// `/etc/flexiblasrc`, `/etc/flexiblasrc.d/*.conf`).
    pub flexiblas: Option<(String, String)>,
}

impl LoaderEnv {
    /// From the process environment (and FlexiBLAS's configuration files).
    pub fn capture(env: &crate::facts::snapshot::EnvSnapshot) -> Self {
        let read = |p: &Path| std::fs::read_to_string(p).ok();
        LoaderEnv {
            ld_library_path: split_path_list(env.get("LD_LIBRARY_PATH").unwrap_or("")),
            flexiblas: flexiblas_backend(env.get("FLEXIBLAS"), env.home.as_deref(), &read),
        }
    }
}

/// The backend FlexiBLAS selects, as it does: the `FLEXIBLAS` variable, else `default =` in
/// `~/.flexiblasrc`, then `/etc/flexiblasrc`, then `/etc/flexiblasrc.d/*.conf` (the user's file
/// wins). Returns (backend, where it was set); None when nothing names one (FlexiBLAS then uses
/// its compiled-in default, usually NETLIB).
pub fn flexiblas_backend(
    var: Option<&str>,
    home: Option<&Path>,
    read: &dyn Fn(&Path) -> Option<String>,
) -> Option<(String, String)> {
    if let Some(v) = var.map(str::trim).filter(|v| !v.is_empty()) {
        return Some((v.to_string(), "FLEXIBLAS".into()));
    }
    let default_in = |text: &str| {
        text.lines()
            .map(|l| l.split(['#', ';']).next().unwrap_or("").trim())
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("default"))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut files: Vec<PathBuf> = home.map(|h| h.join(".flexiblasrc")).into_iter().collect();
    files.push(PathBuf::from("/etc/flexiblasrc"));
    let mut conf: Vec<PathBuf> = std::fs::read_dir("/etc/flexiblasrc.d")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    conf.sort();
    files.extend(conf);
    files.iter().find_map(|f| {
        let text = read(f)?;
        default_in(&text).map(|b| (b, f.display().to_string()))
    })
}

/// Extension modules whose links decide NumPy's BLAS and LAPACK (directory, file-name prefix).
const MODULES: &[(&str, &str)] = &[
    ("numpy/_core", "_multiarray_umath"),
    ("numpy/core", "_multiarray_umath"),
    ("numpy/linalg", "_umath_linalg"),
    ("numpy/linalg", "lapack_lite"),
];

/// Hops followed from a module before giving up (libcblas -> libblas -> libopenblas needs 3).
const MAX_DEPTH: usize = 6;

/// Find NumPy's extension modules under `site_packages`, read what each links, and resolve
/// BLAS/LAPACK dependencies the way the platform's loader would, within `prefix` (a conda
/// prefix or a venv: its `lib/`, `bin/`, `Library/bin`, `DLLs`). `subdir_hint` (`osx-arm64`,
/// `osx-64`, `linux-64`, ...) picks the slice of a universal Mach-O binary; without it the
/// machine's own architecture is preferred. Never fails: unreadable files and missing
/// dependencies become problems naming the path.
pub fn inspect(prefix: &Path, site_packages: &Path, subdir_hint: Option<&str>) -> LinkageFacts {
    inspect_with(prefix, site_packages, subdir_hint, &LoaderEnv::default())
}

/// [`inspect`] with the loader's environment (`LD_LIBRARY_PATH`).
pub fn inspect_with(
    prefix: &Path,
    site_packages: &Path,
    subdir_hint: Option<&str>,
    loader_env: &LoaderEnv,
) -> LinkageFacts {
    let mut facts = LinkageFacts::default();
    let modules = find_modules(site_packages);
    if modules.is_empty() {
        facts.problems.push(Problem::at(
            site_packages,
            "no NumPy extension module (_multiarray_umath, _umath_linalg, lapack_lite) found",
        ));
        return facts;
    }
    let mut walker = Walker {
        prefix,
        site_packages,
        arch: subdir_hint.and_then(arch_of_subdir).or_else(host_arch),
        env: loader_env,
        system_dirs: None,
        identified: std::collections::HashMap::new(),
        problems: Vec::new(),
    };
    for module in modules {
        facts.chains.extend(walker.module_chains(&module));
    }
    facts.implementation = aggregate(&facts.chains);
    facts.problems = walker.problems;
    facts
}

/// The NumPy extension modules present, in [`MODULES`] order.
pub fn find_modules(site_packages: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut listings: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (dir, stem) in MODULES {
        let names = listings.entry(dir).or_insert_with(|| {
            let mut names: Vec<String> = std::fs::read_dir(join_rel(site_packages, dir))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            names.sort();
            names
        });
        for name in names.iter() {
            if is_extension_module(name, stem) {
                out.push(join_rel(site_packages, dir).join(name));
            }
        }
    }
    out
}

/// `_multiarray_umath.cpython-311-x86_64-linux-gnu.so`, `_multiarray_umath.cp312-win_amd64.pyd`.
fn is_extension_module(name: &str, stem: &str) -> bool {
    let Some(rest) = name.strip_prefix(stem) else {
        return false;
    };
    (rest.starts_with('.') || rest.is_empty())
        && [".so", ".pyd", ".dylib"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// The implementation NumPy's BLAS calls go to: the chains of `_multiarray_umath` (where GEMM
/// is called) when they name one, else all chains; Ambiguous when they disagree. LAPACK served by
/// another library (Debian's BLIS has none; `liblapack.so.3` stays on OpenBLAS) does not make
/// the BLAS ambiguous.
pub fn aggregate(chains: &[LinkChain]) -> BlasImpl {
    let gemm: Vec<LinkChain> = chains
        .iter()
        .filter(|c| {
            file_name(&c.module).starts_with("_multiarray_umath") && c.implementation.is_concrete()
        })
        .cloned()
        .collect();
    if !gemm.is_empty() {
        return aggregate_all(&gemm);
    }
    aggregate_all(chains)
}

fn aggregate_all(chains: &[LinkChain]) -> BlasImpl {
    let mut found = chains
        .iter()
        .map(|c| c.implementation)
        .filter(|i| i.is_concrete());
    match found.next() {
        None => BlasImpl::Unknown,
        Some(first) => {
            if found.all(|i| i == first) {
                first
            } else {
                BlasImpl::Ambiguous
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Pure classification

/// A dependency worth following: BLAS, CBLAS, LAPACK or a known implementation.
pub fn looks_blas(needed: &str) -> bool {
    let base = needed
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(needed)
        .to_ascii_lowercase();
    [
        "blas",
        "lapack",
        "mkl",
        "blis",
        "accelerate",
        "veclib",
        "nvpl",
        "armpl",
        "atlas",
        "aocl",
    ]
    .iter()
    .any(|k| base.contains(k))
}

/// A name that says "some BLAS" without saying which (conda-forge's `libblas.so.3`,
/// `libcblas.3.dylib`, `liblapack.dll`; Debian's alternatives).
pub fn is_generic_blas_name(name: &str) -> bool {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    [
        "libblas",
        "libcblas",
        "liblapack",
        "blas.",
        "cblas.",
        "lapack.",
    ]
    .iter()
    .any(|p| base.starts_with(p))
        && !base.starts_with("libblas_reexport")
}

/// The implementation a file's real path names, by basename first, then by the directory
/// (Debian's `openblas-pthread/libblas.so.3`, `blas/libblas.so.3`), then by framework.
pub fn classify_path(path: &Path) -> Option<BlasImpl> {
    let text = path.to_string_lossy();
    let base = text
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(&text)
        .to_ascii_lowercase();
    if let Some(i) = classify_basename(&base) {
        return Some(i);
    }
    if text.contains("Accelerate.framework") || text.contains("vecLib.framework") {
        return Some(BlasImpl::Accelerate);
    }
    if is_generic_blas_name(&base) {
        let parent = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|p| p.to_string_lossy());
        return parent.as_deref().and_then(classify_debian_dir);
    }
    None
}

/// The implementation a library's file name names (lowercase basename).
fn classify_basename(base: &str) -> Option<BlasImpl> {
    let starts = |ps: &[&str]| ps.iter().any(|p| base.starts_with(p));
    if starts(&[
        "libopenblas",
        "libscipy_openblas",
        "openblas",
        "scipy_openblas",
    ]) {
        Some(BlasImpl::Openblas)
    } else if starts(&["libmkl_rt", "mkl_rt", "libmkl_"]) {
        Some(BlasImpl::Mkl)
    } else if starts(&["libblis", "blis"]) {
        Some(BlasImpl::Blis)
    } else if starts(&[
        "libveclibfort",
        "libblas_reexport",
        "libveclib",
        "veclib",
        "accelerate",
    ]) {
        Some(BlasImpl::Accelerate)
    } else if starts(&["libnvpl_blas", "libnvpl_lapack"]) {
        Some(BlasImpl::Nvpl)
    } else if starts(&["libaocl-blas", "libaocl_blas", "libamdblis"]) {
        Some(BlasImpl::Blis)
    } else if starts(&["libflexiblas", "flexiblas"]) {
        Some(BlasImpl::Flexiblas)
    } else if starts(&[
        "libatlas",
        "libsatlas",
        "libtatlas",
        "libptf77blas",
        "libf77blas",
    ]) {
        Some(BlasImpl::Atlas)
    } else if starts(&["libarmpl"]) {
        Some(BlasImpl::Armpl)
    } else {
        None
    }
}

/// Debian/Ubuntu alternatives directories under the multiarch lib dir.
fn classify_debian_dir(dir: &str) -> Option<BlasImpl> {
    let d = dir.to_ascii_lowercase();
    if d.starts_with("openblas") {
        Some(BlasImpl::Openblas)
    } else if d.starts_with("blis") {
        Some(BlasImpl::Blis)
    } else if d == "atlas" || d.starts_with("atlas-") {
        Some(BlasImpl::Atlas)
    } else if d.starts_with("flexiblas") {
        Some(BlasImpl::Flexiblas)
    } else if d == "blas" || d == "lapack" {
        Some(BlasImpl::Netlib)
    } else if d.starts_with("mkl") || d == "intel64" {
        Some(BlasImpl::Mkl)
    } else {
        None
    }
}

/// The implementation an exported symbol proves (threadpoolctl's check symbols, with their
/// `scipy_` prefixes and `64_` suffixes).
pub fn classify_symbol(name: &str) -> Option<BlasImpl> {
    if name.contains("openblas_get_num_threads") || name.contains("openblas_get_config") {
        Some(BlasImpl::Openblas)
    } else if name.starts_with("MKL_Get_Max_Threads") || name.starts_with("mkl_get_max_threads") {
        Some(BlasImpl::Mkl)
    } else if name.starts_with("bli_thread_get_num_threads") || name.starts_with("bli_info_get_") {
        Some(BlasImpl::Blis)
    } else if name.starts_with("flexiblas_") {
        Some(BlasImpl::Flexiblas)
    } else if name.starts_with("ATL_") || name.starts_with("atl_f77wrap_") {
        Some(BlasImpl::Atlas)
    } else if name == "armplversion" || name == "armplinfo" {
        Some(BlasImpl::Armpl)
    } else if name.starts_with("nvpl_blas_") {
        Some(BlasImpl::Nvpl)
    } else {
        None
    }
}

/// Exported names that tell a build apart (threading, vendor), kept when scanning exports.
fn is_build_marker(name: &str) -> bool {
    name == "exec_blas_async"
        || name == "blas_thread_init"
        || name.starts_with("aocl_")
        || name.starts_with("AOCL_")
}

/// Build details a library's own files tell: threading from its directory (Debian's
/// `openblas-openmp/`), its name (`_gomp`, `_mp`, `libblis-mt`) or what it links (libgomp,
/// libomp, libiomp5) and exports (OpenBLAS's thread server); AMD's AOCL build of BLIS.
pub fn build_detail(
    imp: BlasImpl,
    real: &Path,
    needed: &[String],
    exports: &[String],
) -> Option<String> {
    let base = file_name(real).to_ascii_lowercase();
    let dir = real
        .parent()
        .map(|d| file_name(d).to_ascii_lowercase())
        .unwrap_or_default();
    let omp = needed.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        n.starts_with("libgomp") || n.starts_with("libomp") || n.starts_with("libiomp")
    });
    let dir_variant = dir.split_once('-').map(|(_, v)| v).and_then(|v| match v {
        "pthread" | "pthreads" => Some("pthreads"),
        "openmp" => Some("openmp"),
        "serial" => Some("serial"),
        _ => None,
    });
    match imp {
        BlasImpl::Openblas => {
            let threaded = exports
                .iter()
                .any(|e| e == "exec_blas_async" || e == "blas_thread_init");
            let v = match (dir_variant, omp) {
                (Some(v), _) => v,
                (None, true) => "openmp",
                (None, false) if threaded => "pthreads",
                (None, false) if exports.is_empty() => return None,
                (None, false) => "serial",
            };
            Some(v.to_string())
        }
        BlasImpl::Blis => {
            let aocl = base.contains("aocl")
                || base.starts_with("libblis-mt")
                || exports
                    .iter()
                    .any(|e| e.to_ascii_lowercase().starts_with("aocl_"));
            let threads = dir_variant
                .or(omp.then_some("openmp"))
                .or((base.starts_with("libblis-mt") || base.contains("-mt"))
                    .then_some("multithreaded"));
            match (aocl, threads) {
                (true, Some(t)) => Some(format!("AMD AOCL, {t}")),
                (true, None) => Some("AMD AOCL".into()),
                (false, t) => t.map(str::to_string),
            }
        }
        BlasImpl::Nvpl => {
            if base.contains("_gomp") {
                Some("openmp".into())
            } else if base.contains("_seq") {
                Some("sequential".into())
            } else {
                None
            }
        }
        BlasImpl::Armpl => Some(
            if base.contains("_mp") {
                "openmp"
            } else {
                "sequential"
            }
            .into(),
        ),
        BlasImpl::Atlas => Some(
            if base.starts_with("libtatlas") || base.starts_with("libptf77blas") {
                "threaded"
            } else if base.starts_with("libsatlas") {
                "serial"
            } else {
                return None;
            }
            .into(),
        ),
        _ => None,
    }
}

/// The build details of a library file named `i` (threading: "pthreads", "openmp", "serial",
/// ...): OpenBLAS's own naming where it tells (libopenblasp-r: pthreads, libopenblaso-r: OpenMP,
/// libopenblas-r: serial; the scipy-openblas wheels are pthreads builds), except where Debian
/// names its OpenMP build libopenblasp too (its directory tells there); otherwise what the file
/// links and, only when needed, exports (`build_detail`).
pub fn file_detail(i: BlasImpl, real: &Path, arch: Option<Architecture>) -> Option<String> {
    let base = file_name(real).to_ascii_lowercase();
    let named = base.starts_with("libscipy_openblas")
        || base.starts_with("libopenblasp-r")
        || base.starts_with("libopenblas64_p-r")
        || base.starts_with("libopenblaso-r")
        || base.starts_with("libopenblas-r");
    let wants_exports = matches!(i, BlasImpl::Openblas | BlasImpl::Blis) && !named;
    let needed = read_binary(real, arch)
        .map(|b| b.needed)
        .unwrap_or_default();
    let dir_says = real
        .parent()
        .map(|d| file_name(d).contains('-'))
        .unwrap_or(false);
    let omp = needed
        .iter()
        .any(|n| n.contains("gomp") || n.contains("libomp") || n.contains("iomp"));
    let exports = if wants_exports && !dir_says && !omp {
        read_exports(real).unwrap_or_default()
    } else {
        Vec::new()
    };
    build_detail(i, real, &needed, &exports).or_else(|| {
        (i == BlasImpl::Openblas && named).then(|| {
            if base.starts_with("libopenblaso-r") {
                "openmp"
            } else if base.starts_with("libopenblas-r") {
                "serial"
            } else {
                "pthreads"
            }
            .to_string()
        })
    })
}

// ------------------------------------------------------------------------------------------
// Pure search-path computation

/// Replace `$ORIGIN` and `${ORIGIN}` in an RPATH/RUNPATH entry (other `$` tokens are kept).
pub fn expand_origin(entry: &str, origin: &Path) -> PathBuf {
    let o = origin.to_string_lossy();
    PathBuf::from(entry.replace("${ORIGIN}", &o).replace("$ORIGIN", &o))
}

/// `a:b::c` -> `[a, b, c]` (empty entries dropped).
pub fn split_path_list(s: &str) -> Vec<PathBuf> {
    s.split(':')
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// What decides where glibc's loader looks for one `DT_NEEDED` of one object.
#[derive(Debug, Clone)]
pub struct ElfSearch<'a> {
    /// The loading object's directory (for `$ORIGIN`).
    pub origin: &'a Path,
    /// The loading object's `DT_RPATH` entries, then its loaders' (used only without RUNPATH).
    pub rpath: Vec<(String, PathBuf)>,
    /// The loading object's `DT_RUNPATH` entries (raw).
    pub runpath: Vec<String>,
    pub ld_library_path: &'a [PathBuf],
    /// The environment prefix's `lib/` (conda's python finds libraries there).
    pub prefix_lib: Option<PathBuf>,
    /// `/etc/ld.so.conf` directories, then the default and multiarch directories.
    pub system: &'a [PathBuf],
}

/// The directories searched for a bare `DT_NEEDED` name, in the loader's order:
/// RPATH (only when there is no RUNPATH), `LD_LIBRARY_PATH`, RUNPATH, the prefix's `lib/`, the
/// system directories. `rpath` pairs carry the directory of the object each entry came from.
pub fn elf_search_dirs(s: &ElfSearch<'_>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if s.runpath.is_empty() {
        dirs.extend(s.rpath.iter().map(|(e, origin)| expand_origin(e, origin)));
    }
    dirs.extend(s.ld_library_path.iter().cloned());
    dirs.extend(s.runpath.iter().map(|e| expand_origin(e, s.origin)));
    dirs.extend(s.prefix_lib.iter().cloned());
    dirs.extend(s.system.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// Debian multiarch triplet for an ELF machine.
pub fn multiarch_triplet(machine: elf::Machine) -> Option<&'static str> {
    match machine {
        elf::EM_X86_64 => Some("x86_64-linux-gnu"),
        elf::EM_AARCH64 => Some("aarch64-linux-gnu"),
        elf::EM_PPC64 => Some("powerpc64le-linux-gnu"),
        elf::EM_S390 => Some("s390x-linux-gnu"),
        elf::EM_386 => Some("i386-linux-gnu"),
        _ => None,
    }
}

/// The default directories after `ld.so.conf`: multiarch first, as Debian's loader has them.
pub fn default_system_dirs(triplet: Option<&str>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(t) = triplet {
        v.push(PathBuf::from(format!("/lib/{t}")));
        v.push(PathBuf::from(format!("/usr/lib/{t}")));
    }
    for d in ["/lib64", "/usr/lib64", "/lib", "/usr/lib"] {
        v.push(PathBuf::from(d));
    }
    v
}

/// One `ld.so.conf` file: its directories and its `include` patterns (relative patterns are
/// relative to `base`, the file's directory).
pub fn parse_ld_so_conf(text: &str, base: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut dirs, mut includes) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with("hwcap ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("include")
            && rest.starts_with([' ', '\t'])
        {
            includes.extend(rest.split_whitespace().map(|pat| base.join(pat)));
            continue;
        }
        for d in line.split([' ', '\t', ',', ':']).filter(|d| !d.is_empty()) {
            dirs.push(PathBuf::from(d));
        }
    }
    (dirs, includes)
}

/// How a Mach-O install name resolves: candidate paths in dyld's order, or a system library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachoTarget {
    /// Candidate files, first existing wins.
    Candidates(Vec<PathBuf>),
    /// `/System/...` or `/usr/lib/...`: in the dyld shared cache, not on disk.
    System(PathBuf),
}

/// Expand `@rpath/`, `@loader_path/`, `@executable_path/` in an install name. `rpaths` are the
/// raw `LC_RPATH` entries of the loading image and then of its loaders, each with that image's
/// directory (for `@loader_path` inside an rpath).
pub fn macho_candidates(
    name: &str,
    loader_dir: &Path,
    rpaths: &[(String, PathBuf)],
    executable_dir: &Path,
) -> MachoTarget {
    let expand = |s: &str, loader: &Path| -> PathBuf {
        if let Some(r) = s.strip_prefix("@loader_path") {
            normalize(&loader.join(r.trim_start_matches('/')))
        } else if let Some(r) = s.strip_prefix("@executable_path") {
            normalize(&executable_dir.join(r.trim_start_matches('/')))
        } else {
            normalize(Path::new(s))
        }
    };
    if let Some(rest) = name.strip_prefix("@rpath/") {
        let c = rpaths
            .iter()
            .map(|(rp, dir)| normalize(&expand(rp, dir).join(rest)))
            .collect();
        return MachoTarget::Candidates(c);
    }
    if name.starts_with('@') {
        return MachoTarget::Candidates(vec![expand(name, loader_dir)]);
    }
    if name.starts_with("/System/") || name.starts_with("/usr/lib/") {
        return MachoTarget::System(PathBuf::from(name));
    }
    if name.contains('/') {
        return MachoTarget::Candidates(vec![PathBuf::from(name)]);
    }
    MachoTarget::Candidates(vec![loader_dir.join(name)])
}

/// Directories searched for a DLL imported by a NumPy module, in the order Python on Windows
/// (3.8+, `os.add_dll_directory` as delvewheel patches it) effectively uses.
pub fn pe_search_dirs(module_dir: &Path, site_packages: &Path, prefix: &Path) -> Vec<PathBuf> {
    vec![
        module_dir.to_path_buf(),
        site_packages.join("numpy.libs"),
        site_packages.join("numpy").join(".libs"),
        prefix.join("Library").join("bin"),
        prefix.join("DLLs"),
        prefix.to_path_buf(),
    ]
}

/// `a/b/../c` -> `a/c`, lexically (as dyld and the Windows loader do; no symlink resolution).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The architecture a conda subdir names.
pub fn arch_of_subdir(subdir: &str) -> Option<Architecture> {
    match subdir.rsplit('-').next()? {
        "arm64" | "aarch64" => Some(Architecture::Aarch64),
        "64" | "x86_64" => Some(Architecture::X86_64),
        "32" => Some(Architecture::I386),
        "ppc64le" => Some(Architecture::PowerPc64),
        _ => None,
    }
}

fn host_arch() -> Option<Architecture> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Architecture::X86_64),
        "aarch64" => Some(Architecture::Aarch64),
        _ => None,
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

// ------------------------------------------------------------------------------------------
// Reading binaries (thin I/O)

/// What a binary says about its dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryInfo {
    pub format: Format,
    /// `DT_NEEDED`, `LC_LOAD_DYLIB`-family names, or imported DLL names, in order.
    pub needed: Vec<String>,
    /// ELF `DT_RPATH` or Mach-O `LC_RPATH` entries (raw).
    pub rpath: Vec<String>,
    /// ELF `DT_RUNPATH` entries (raw).
    pub runpath: Vec<String>,
    /// Debian multiarch triplet of an ELF file's machine (`x86_64-linux-gnu`).
    pub triplet: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Elf,
    MachO,
    Pe,
}

/// Read a binary's dependency list (headers, dynamic section, load commands, import table).
pub fn read_binary(path: &Path, arch: Option<Architecture>) -> Result<BinaryInfo, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let cache = ReadCache::new(file);
    let data = &cache;
    let kind = FileKind::parse(data).map_err(|e| format!("not a binary: {e}"))?;
    let r = match kind {
        FileKind::Elf64 => read_elf::<elf::FileHeader64<Endianness>, _>(data),
        FileKind::Elf32 => read_elf::<elf::FileHeader32<Endianness>, _>(data),
        FileKind::MachO64 => read_macho::<macho::MachHeader64<Endianness>, _>(data),
        FileKind::MachO32 => read_macho::<macho::MachHeader32<Endianness>, _>(data),
        FileKind::MachOFat32 => return read_fat::<macho::FatArch32>(&cache, arch),
        FileKind::MachOFat64 => return read_fat::<macho::FatArch64>(&cache, arch),
        FileKind::Pe64 => return read_pe::<pe::ImageNtHeaders64, _>(data),
        FileKind::Pe32 => return read_pe::<pe::ImageNtHeaders32, _>(data),
        other => return Err(format!("unsupported binary format {other:?}")),
    };
    r.map_err(|e| format!("malformed binary: {e}"))
}

fn strings(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

fn read_elf<'d, Elf, R>(data: R) -> object::Result<BinaryInfo>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'d>,
{
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let dynamic = sections.dynamic_table(endian, data)?;
    let mut info = BinaryInfo {
        format: Format::Elf,
        triplet: multiarch_triplet(header.e_machine(endian)),
        ..Default::default()
    };
    for d in dynamic.iter() {
        let list = match d.tag {
            elf::DT_NEEDED => {
                info.needed.push(strings(dynamic.string(d)?));
                continue;
            }
            elf::DT_RPATH => &mut info.rpath,
            elf::DT_RUNPATH => &mut info.runpath,
            _ => continue,
        };
        list.extend(
            strings(dynamic.string(d)?)
                .split(':')
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    Ok(info)
}

fn read_macho<'d, Mach, R>(data: R) -> object::Result<BinaryInfo>
where
    Mach: MachHeader<Endian = Endianness>,
    R: ReadRef<'d>,
{
    let header = Mach::parse(data, 0)?;
    let endian = header.endian()?;
    let mut cmds = header.load_commands(endian, data, 0)?;
    let mut info = BinaryInfo {
        format: Format::MachO,
        ..Default::default()
    };
    while let Some(cmd) = cmds.next()? {
        match cmd.cmd() {
            macho::LC_LOAD_DYLIB
            | macho::LC_LOAD_WEAK_DYLIB
            | macho::LC_REEXPORT_DYLIB
            | macho::LC_LAZY_LOAD_DYLIB
            | macho::LC_LOAD_UPWARD_DYLIB => {
                if let Some(d) = cmd.dylib()? {
                    info.needed.push(strings(cmd.string(endian, d.dylib.name)?));
                }
            }
            macho::LC_RPATH => {
                let rp = cmd.data::<macho::RpathCommand<Endianness>>()?;
                info.rpath.push(strings(cmd.string(endian, rp.path)?));
            }
            _ => {}
        }
    }
    Ok(info)
}

fn read_fat<Fat: FatArch>(
    cache: &ReadCache<File>,
    arch: Option<Architecture>,
) -> Result<BinaryInfo, String> {
    let bad = |e: object::Error| format!("malformed universal binary: {e}");
    let fat = object::read::macho::MachOFatFile::<Fat>::parse(cache).map_err(bad)?;
    let arches = fat.arches();
    let pick = arches
        .iter()
        .find(|a| Some(a.architecture()) == arch)
        .or_else(|| arches.first())
        .ok_or("empty universal binary")?;
    let (offset, size) = pick.file_range();
    let slice = cache.range(offset, size);
    match FileKind::parse(slice).map_err(bad)? {
        FileKind::MachO64 => read_macho::<macho::MachHeader64<Endianness>, _>(slice).map_err(bad),
        FileKind::MachO32 => read_macho::<macho::MachHeader32<Endianness>, _>(slice).map_err(bad),
        _ => Err("universal binary slice is not Mach-O".to_string()),
    }
}

fn read_pe<'d, Pe, R>(data: R) -> Result<BinaryInfo, String>
where
    Pe: ImageNtHeaders,
    R: ReadRef<'d>,
{
    let bad = |e: object::Error| format!("malformed binary: {e}");
    let dos = pe::ImageDosHeader::parse(data).map_err(bad)?;
    let mut offset = dos.nt_headers_offset().into();
    let (nt, dirs) = Pe::parse(data, &mut offset).map_err(bad)?;
    let sections = nt.sections(data, offset).map_err(bad)?;
    // Descriptors and names are read one by one at their file offsets (names may sit in
    // another section, as delvewheel's renamed DLLs do), never whole sections.
    let dll_names = |entry: usize, size: u64, name_field: usize| -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let va = dirs.get(entry).map_or(0, |d| d.virtual_address.get(LE));
        if va == 0 {
            return Ok(out);
        }
        let unreadable = |what: &str| format!("malformed binary: unreadable PE {what}");
        let (offset, len) = sections
            .pe_file_range_at(va)
            .ok_or_else(|| unreadable("imports"))?;
        let (offset, len) = (u64::from(offset), u64::from(len));
        let mut at = 0;
        while at + size <= len && out.len() < 4096 {
            let d = data
                .read_bytes_at(offset + at, size)
                .map_err(|_| unreadable("imports"))?;
            at += size;
            if d.iter().all(|b| *b == 0) {
                break;
            }
            let f = &d[name_field..name_field + 4];
            let rva = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
            let (n_off, n_len) = sections
                .pe_file_range_at(rva)
                .ok_or_else(|| unreadable("import name"))?;
            let range = u64::from(n_off)..u64::from(n_off) + u64::from(n_len);
            let name = data
                .read_bytes_at_until(range, 0)
                .map_err(|_| unreadable("import name"))?;
            out.push(strings(name));
        }
        Ok(out)
    };
    // IMAGE_IMPORT_DESCRIPTOR: 20 bytes, Name at 12; IMAGE_DELAYLOAD_DESCRIPTOR: 32, DllNameRVA at 4.
    let mut needed = dll_names(pe::IMAGE_DIRECTORY_ENTRY_IMPORT, 20, 12)?;
    needed.extend(dll_names(pe::IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT, 32, 4)?);
    Ok(BinaryInfo {
        format: Format::Pe,
        needed,
        ..Default::default()
    })
}

/// The exported names of a library that name an implementation or tell its build apart
/// (ELF `.dynsym`, PE export names). This reads the symbol table: call it only for a file whose
/// name does not tell, or for build details. None when the file cannot be read.
pub fn read_exports(path: &Path) -> Option<Vec<String>> {
    let file = File::open(path).ok()?;
    let cache = ReadCache::new(file);
    let data = &cache;
    match FileKind::parse(data).ok()? {
        FileKind::Elf64 => elf_exports::<elf::FileHeader64<Endianness>, _>(data),
        FileKind::Elf32 => elf_exports::<elf::FileHeader32<Endianness>, _>(data),
        FileKind::Pe64 => pe_exports::<pe::ImageNtHeaders64, _>(data),
        FileKind::Pe32 => pe_exports::<pe::ImageNtHeaders32, _>(data),
        _ => None,
    }
}

/// The implementation a library's exported symbols prove, and the symbol.
pub fn classify_exports(exports: &[String]) -> Option<(BlasImpl, &str)> {
    exports
        .iter()
        .find_map(|n| classify_symbol(n).map(|i| (i, n.as_str())))
}

fn keep_export(name: &[u8]) -> Option<String> {
    let n = String::from_utf8_lossy(name);
    (classify_symbol(&n).is_some() || is_build_marker(&n)).then(|| n.into_owned())
}

fn elf_exports<'d, Elf, R>(data: R) -> Option<Vec<String>>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'d>,
{
    let header = Elf::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, data).ok()?;
    let symbols = sections.symbols(endian, data, elf::SHT_DYNSYM).ok()?;
    let names = symbols.strings();
    Some(
        symbols
            .iter()
            .filter(|s| s.st_shndx(endian) != elf::SHN_UNDEF)
            .filter_map(|s| s.name(endian, names).ok())
            .filter_map(keep_export)
            .collect(),
    )
}

fn pe_exports<'d, Pe, R>(data: R) -> Option<Vec<String>>
where
    Pe: ImageNtHeaders,
    R: ReadRef<'d>,
{
    let dos = pe::ImageDosHeader::parse(data).ok()?;
    let mut offset = dos.nt_headers_offset().into();
    let (nt, dirs) = Pe::parse(data, &mut offset).ok()?;
    let sections = nt.sections(data, offset).ok()?;
    let Some(table) = dirs.export_table(data, &sections).ok()? else {
        return Some(Vec::new());
    };
    Some(
        table
            .name_iter()
            .filter_map(|(ptr, _)| table.name_from_pointer(ptr).ok())
            .filter_map(keep_export)
            .collect(),
    )
}

// ------------------------------------------------------------------------------------------
// Walking the chains

struct Walker<'a> {
    prefix: &'a Path,
    site_packages: &'a Path,
    arch: Option<Architecture>,
    env: &'a LoaderEnv,
    /// `ld.so.conf` + default directories, read on first ELF lookup.
    system_dirs: Option<Vec<PathBuf>>,
    /// Identities already worked out, by real path (several modules reach the same library).
    identified: std::collections::HashMap<PathBuf, Identity>,
    problems: Vec<Problem>,
}

/// Where the walk stands: the object being read, its info, and the RPATHs it inherits.
struct Node<'n> {
    path: &'n Path,
    info: &'n BinaryInfo,
    inherited_rpath: Vec<(String, PathBuf)>,
}

impl Walker<'_> {
    fn module_chains(&mut self, module: &Path) -> Vec<LinkChain> {
        let info = match read_binary(module, self.arch) {
            Ok(i) => i,
            Err(e) => {
                self.problems.push(Problem::at(module, e));
                return Vec::new();
            }
        };
        let node = Node {
            path: module,
            info: &info,
            inherited_rpath: Vec::new(),
        };
        let mut chains = Vec::new();
        for needed in info.needed.iter().filter(|n| looks_blas(n)) {
            let mut hops = Vec::new();
            let mut seen = Vec::new();
            let id = self.follow(&node, needed, &mut hops, &mut seen, 1);
            chains.push(LinkChain {
                module: module.to_path_buf(),
                hops,
                implementation: id.implementation,
                detail: id.detail,
                evidence: id.evidence,
            });
        }
        chains
    }

    /// Resolve `needed` from `node`, push the hop, and go on until the implementation is known.
    fn follow(
        &mut self,
        node: &Node<'_>,
        needed: &str,
        hops: &mut Vec<LinkHop>,
        seen: &mut Vec<PathBuf>,
        depth: usize,
    ) -> Identity {
        let (resolved, system) = self.resolve(node, needed);
        let real = resolved
            .as_ref()
            .filter(|_| !system)
            .and_then(|p| std::fs::canonicalize(p).ok());
        let links = match (&resolved, system) {
            (Some(p), false) => symlink_steps(p),
            _ => Vec::new(),
        };
        hops.push(LinkHop {
            needed: needed.to_string(),
            resolved: resolved.as_deref().map(normalize),
            real: real.clone(),
            links,
        });
        if system {
            return match classify_path(Path::new(needed)) {
                Some(i) => Identity::new(i, "a macOS system framework"),
                None => Identity::unknown(format!("{needed} is a system library of no known BLAS")),
            };
        }
        let Some(real) = real else {
            self.problems.push(Problem::at(
                node.path,
                format!("links {needed}, which the loader would not find"),
            ));
            return match classify_path(Path::new(needed)).filter(|_| !is_generic_blas_name(needed))
            {
                Some(i) => Identity::new(i, format!("the name {needed} (file not found)")),
                None => Identity::unknown(format!("{needed} was not found")),
            };
        };
        let base = file_name(&real);
        if !is_generic_blas_name(&base)
            && let Some(i) = classify_path(&real)
        {
            return self.identified(i, &real, format!("file name {base}"));
        }
        if seen.contains(&real) || depth >= MAX_DEPTH {
            return match classify_path(&real) {
                Some(i) => self.identified(i, &real, format!("directory of {}", real.display())),
                None => Identity::unknown(format!("{} links in a loop", real.display())),
            };
        }
        seen.push(real.clone());
        // A generic libblas/libcblas/liblapack (or an unknown name): what does it link?
        let info = match read_binary(&real, self.arch) {
            Ok(i) => i,
            Err(e) => {
                self.problems.push(Problem::at(&real, e.clone()));
                return Identity::unknown(format!("{} could not be read: {e}", real.display()));
            }
        };
        // The loader's own RPATH (an ELF RUNPATH voids it), then what the loader inherited:
        // glibc walks the RPATHs of the whole chain of loaders; dyld the LC_RPATHs likewise.
        let own_dir = node.path.parent().unwrap_or(Path::new("")).to_path_buf();
        let effective = node.info.runpath.is_empty() || node.info.format == Format::MachO;
        let mut parent_rpath: Vec<(String, PathBuf)> = if effective {
            node.info
                .rpath
                .iter()
                .map(|r| (r.clone(), own_dir.clone()))
                .collect()
        } else {
            Vec::new()
        };
        parent_rpath.extend(node.inherited_rpath.iter().cloned());
        let resolved_path = resolved.unwrap_or_else(|| real.clone());
        let child = Node {
            path: &resolved_path,
            info: &info,
            inherited_rpath: parent_rpath,
        };
        for dep in info.needed.iter().filter(|n| looks_blas(n)) {
            let mut sub = Vec::new();
            let id = self.follow(&child, dep, &mut sub, seen, depth + 1);
            if id.implementation.is_concrete() {
                hops.extend(sub);
                return id;
            }
        }
        let exports = read_exports(&real).unwrap_or_default();
        if let Some((i, sym)) = classify_exports(&exports) {
            let mut id = Identity::new(i, format!("{base} exports {sym}"));
            id.detail = build_detail(i, &real, &info.needed, &exports);
            return self.with_backend(id);
        }
        if let Some(i) = classify_path(&real) {
            let dir = real.parent().map(file_name).unwrap_or_default();
            let mut id = Identity::new(i, format!("directory {dir}/"));
            id.detail = build_detail(i, &real, &info.needed, &exports);
            return self.with_backend(id);
        }
        Identity::unknown(format!(
            "{} exports no function of OpenBLAS, MKL, BLIS, FlexiBLAS, ATLAS, ArmPL or NVPL, and \
             neither its name nor its directory names an implementation (a reference BLAS \
             looks like this, but so does any other plain BLAS build)",
            real.display()
        ))
    }

    /// An implementation named from `real`'s name or directory, with the build details its
    /// dependencies and exports tell.
    fn identified(&mut self, i: BlasImpl, real: &Path, evidence: String) -> Identity {
        if let Some(id) = self.identified.get(real) {
            return id.clone();
        }
        let mut id = Identity::new(i, evidence);
        id.detail = file_detail(i, real, self.arch);
        let id = self.with_backend(id);
        self.identified.insert(real.to_path_buf(), id.clone());
        id
    }

    /// FlexiBLAS stands for the backend it loads, when its configuration names one.
    fn with_backend(&self, mut id: Identity) -> Identity {
        if id.implementation != BlasImpl::Flexiblas {
            return id;
        }
        match &self.env.flexiblas {
            Some((backend, source)) => {
                id.detail = Some(format!("backend {backend} ({source})"));
                if let Some(i) =
                    crate::facts::blas::impl_from_name(backend).filter(|i| i.is_concrete())
                {
                    id.implementation = i;
                    id.evidence = Some(format!(
                        "FlexiBLAS, whose backend {backend} is set in {source}"
                    ));
                }
            }
            None => {
                id.detail = Some(
                    "no FLEXIBLAS variable, ~/.flexiblasrc or /etc/flexiblasrc names a backend"
                        .into(),
                );
            }
        }
        id
    }

    /// The path the loader would open for `needed` from `node` (None: not found), and whether
    /// it is a system library served without a file (macOS shared cache).
    fn resolve(&mut self, node: &Node<'_>, needed: &str) -> (Option<PathBuf>, bool) {
        let dir = node.path.parent().unwrap_or(Path::new("")).to_path_buf();
        match node.info.format {
            Format::Elf => {
                if needed.contains('/') {
                    let p = PathBuf::from(needed);
                    return (p.exists().then_some(p), false);
                }
                let triplet = node.info.triplet;
                let system = self
                    .system_dirs
                    .get_or_insert_with(|| read_system_dirs(triplet));
                let mut rpath: Vec<(String, PathBuf)> = node
                    .info
                    .rpath
                    .iter()
                    .map(|r| (r.clone(), dir.clone()))
                    .collect();
                rpath.extend(node.inherited_rpath.iter().cloned());
                let search = ElfSearch {
                    origin: &dir,
                    rpath,
                    runpath: node.info.runpath.clone(),
                    ld_library_path: &self.env.ld_library_path,
                    prefix_lib: Some(self.prefix.join("lib")),
                    system,
                };
                let found = elf_search_dirs(&search)
                    .into_iter()
                    .map(|d| d.join(needed))
                    .find(|p| p.exists());
                (found, false)
            }
            Format::MachO => {
                let mut rpaths: Vec<(String, PathBuf)> = node
                    .info
                    .rpath
                    .iter()
                    .map(|r| (r.clone(), dir.clone()))
                    .collect();
                rpaths.extend(node.inherited_rpath.iter().cloned());
                match macho_candidates(needed, &dir, &rpaths, &self.prefix.join("bin")) {
                    MachoTarget::System(p) => (Some(p), true),
                    MachoTarget::Candidates(c) => (c.into_iter().find(|p| p.exists()), false),
                }
            }
            Format::Pe => {
                let dirs = pe_search_dirs(&dir, self.site_packages, self.prefix);
                (
                    dirs.iter().find_map(|d| find_case_insensitive(d, needed)),
                    false,
                )
            }
        }
    }
}

/// The targets of the symlinks met resolving `path`'s last component, in order (at most 40).
fn symlink_steps(path: &Path) -> Vec<PathBuf> {
    let mut steps = Vec::new();
    let mut cur = path.to_path_buf();
    while steps.len() < 40 {
        let Ok(target) = std::fs::read_link(&cur) else {
            break;
        };
        cur = normalize(&cur.parent().unwrap_or(Path::new("/")).join(target));
        steps.push(cur.clone());
    }
    steps
}

/// `dir/name`, matching the name without regard to case (Windows file names).
fn find_case_insensitive(dir: &Path, name: &str) -> Option<PathBuf> {
    let exact = dir.join(name);
    if exact.exists() {
        return Some(exact);
    }
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(name))
        .map(|e| e.path())
}

/// `/etc/ld.so.conf` (with `include`s, one level of `*` patterns) then the default dirs.
fn read_system_dirs(triplet: Option<&str>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut pending = vec![PathBuf::from("/etc/ld.so.conf")];
    let mut read = 0;
    while let Some(file) = pending.pop() {
        read += 1;
        if read > 64 {
            break;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let base = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        let (d, includes) = parse_ld_so_conf(&text, &base);
        dirs.extend(d);
        for pat in includes {
            let mut matched = expand_glob(&pat);
            matched.reverse();
            pending.extend(matched);
        }
    }
    dirs.extend(default_system_dirs(triplet));
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// A path whose last component may hold one `*` (`/etc/ld.so.conf.d/*.conf`), sorted.
fn expand_glob(pat: &Path) -> Vec<PathBuf> {
    let name = file_name(pat);
    let Some((pre, post)) = name.split_once('*') else {
        return vec![pat.to_path_buf()];
    };
    let dir = pat.parent().unwrap_or(Path::new("/"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.len() >= pre.len() + post.len() && n.starts_with(pre) && n.ends_with(post)
        })
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(i: BlasImpl) -> LinkChain {
        LinkChain {
            implementation: i,
            ..Default::default()
        }
    }

    #[test]
    fn classify_names() {
        use BlasImpl::*;
        let cases = [
            ("/p/lib/libopenblasp-r0.3.21.so", Some(Openblas)),
            ("/p/lib/libopenblas.so.0", Some(Openblas)),
            (
                "/s/numpy.libs/libscipy_openblas64_-ff651d7f.so",
                Some(Openblas),
            ),
            (
                "/s/numpy/.dylibs/libscipy_openblas64_.dylib",
                Some(Openblas),
            ),
            ("C:/e/Library/bin/openblas.dll", Some(Openblas)),
            ("/p/lib/libmkl_rt.so.2", Some(Mkl)),
            ("C:/e/Library/bin/mkl_rt.2.dll", Some(Mkl)),
            ("/p/lib/libblis.so.4", Some(Blis)),
            ("/p/lib/libvecLibFort-ng.dylib", Some(Accelerate)),
            ("/p/lib/libblas_reexport.dylib", Some(Accelerate)),
            (
                "/System/Library/Frameworks/Accelerate.framework/Versions/A/Accelerate",
                Some(Accelerate),
            ),
            (
                "/System/Library/Frameworks/vecLib.framework/Versions/A/libBLAS.dylib",
                Some(Accelerate),
            ),
            ("/p/lib/libnvpl_blas_lp64_gomp.so.0", Some(Nvpl)),
            (
                "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
                Some(Openblas),
            ),
            (
                "/usr/lib/x86_64-linux-gnu/blis-openmp/libblas.so.3",
                Some(Blis),
            ),
            ("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3", Some(Netlib)),
            (
                "/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3",
                Some(Netlib),
            ),
            ("/usr/lib/x86_64-linux-gnu/atlas/libblas.so.3", Some(Atlas)),
            ("/usr/lib64/atlas/libsatlas.so.3", Some(Atlas)),
            ("/usr/lib64/libflexiblas.so.3", Some(Flexiblas)),
            ("/opt/arm/armpl/lib/libarmpl_lp64_mp.so", Some(Armpl)),
            ("/opt/AMD/aocl/lib/libaocl-blas.so", Some(Blis)),
            ("/p/lib/libblas.so.3", Option::None),
            ("/p/lib/libcblas.so.3", Option::None),
            ("/p/lib/libgfortran.so.5", Option::None),
        ];
        for (p, want) in cases {
            assert_eq!(classify_path(Path::new(p)), want, "{p}");
        }
    }

    #[test]
    fn blas_looking_and_generic_names() {
        for n in [
            "libcblas.so.3",
            "libblas.so.3",
            "liblapack.so.3",
            "@rpath/libopenblas.0.dylib",
            "mkl_rt.2.dll",
            "libscipy_openblas64_-ab.dll",
            "/System/Library/Frameworks/Accelerate.framework/Versions/A/Accelerate",
        ] {
            assert!(looks_blas(n), "{n}");
        }
        for n in [
            "libc.so.6",
            "libm.so.6",
            "KERNEL32.dll",
            "libgfortran.5.dylib",
            "python312.dll",
        ] {
            assert!(!looks_blas(n), "{n}");
        }
        assert!(is_generic_blas_name("libcblas.3.dylib"));
        assert!(is_generic_blas_name("LIBBLAS.DLL"));
        assert!(!is_generic_blas_name("libblas_reexport.dylib"));
        assert!(!is_generic_blas_name("libopenblas.so.0"));
    }

    #[test]
    fn symbols_identify_implementations() {
        assert_eq!(
            classify_symbol("scipy_openblas_get_num_threads64_"),
            Some(BlasImpl::Openblas)
        );
        assert_eq!(
            classify_symbol("openblas_get_num_threads"),
            Some(BlasImpl::Openblas)
        );
        assert_eq!(classify_symbol("MKL_Get_Max_Threads"), Some(BlasImpl::Mkl));
        assert_eq!(
            classify_symbol("bli_thread_get_num_threads"),
            Some(BlasImpl::Blis)
        );
        assert_eq!(classify_symbol("dgemm_"), None);
        assert_eq!(classify_symbol("atl_f77wrap_dgemm_"), Some(BlasImpl::Atlas));
        assert_eq!(classify_symbol("ATL_buildinfo"), Some(BlasImpl::Atlas));
        assert_eq!(
            classify_symbol("flexiblas_current_backend"),
            Some(BlasImpl::Flexiblas)
        );
        assert_eq!(classify_symbol("armplversion"), Some(BlasImpl::Armpl));
        assert_eq!(
            classify_symbol("nvpl_blas_get_version"),
            Some(BlasImpl::Nvpl)
        );
        let ex = vec!["dgemm_".to_string(), "bli_info_get_version_str".to_string()];
        assert_eq!(
            classify_exports(&ex),
            Some((BlasImpl::Blis, "bli_info_get_version_str"))
        );
    }

    #[test]
    fn build_details_from_directory_needed_and_exports() {
        use BlasImpl::*;
        let p = |s: &str| PathBuf::from(s);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let deb = "/usr/lib/x86_64-linux-gnu";
        // Debian names the OpenMP build libopenblasp too: the directory tells.
        assert_eq!(
            build_detail(
                Openblas,
                &p(&format!("{deb}/openblas-openmp/libopenblasp-r0.3.21.so")),
                &[],
                &[]
            )
            .as_deref(),
            Some("openmp")
        );
        let conda = p("/env/lib/libopenblasp-r0.3.28.so");
        assert_eq!(
            build_detail(Openblas, &conda, &s(&["libgomp.so.1", "libc.so.6"]), &[]).as_deref(),
            Some("openmp")
        );
        assert_eq!(
            build_detail(
                Openblas,
                &conda,
                &s(&["libc.so.6"]),
                &s(&["openblas_get_config", "exec_blas_async"])
            )
            .as_deref(),
            Some("pthreads")
        );
        assert_eq!(
            build_detail(
                Openblas,
                &conda,
                &s(&["libc.so.6"]),
                &s(&["openblas_get_config"])
            )
            .as_deref(),
            Some("serial")
        );
        assert_eq!(build_detail(Openblas, &conda, &[], &[]), Option::None);
        assert_eq!(
            build_detail(
                Blis,
                &p(&format!("{deb}/blis-pthread/libblas.so.3")),
                &[],
                &[]
            )
            .as_deref(),
            Some("pthreads")
        );
        assert_eq!(
            build_detail(
                Blis,
                &p("/opt/AMD/aocl/lib/libblis-mt.so"),
                &s(&["libgomp.so.1"]),
                &[]
            )
            .as_deref(),
            Some("AMD AOCL, openmp")
        );
        assert_eq!(
            build_detail(Blis, &p("/x/libblis.so.4"), &[], &s(&["aocl_get_version"])).as_deref(),
            Some("AMD AOCL")
        );
        assert_eq!(
            build_detail(Nvpl, &p("/e/lib/libnvpl_blas_lp64_gomp.so.0"), &[], &[]).as_deref(),
            Some("openmp")
        );
        assert_eq!(
            build_detail(Armpl, &p("/opt/armpl/lib/libarmpl_lp64.so"), &[], &[]).as_deref(),
            Some("sequential")
        );
        assert_eq!(
            build_detail(Atlas, &p("/usr/lib64/atlas/libtatlas.so.3"), &[], &[]).as_deref(),
            Some("threaded")
        );
        assert_eq!(
            build_detail(Mkl, &p("/e/lib/libmkl_rt.so.2"), &[], &[]),
            Option::None
        );
    }

    #[test]
    fn flexiblas_backend_from_variable_user_and_system_files() {
        let home = Path::new("/home/u");
        let files = |user: Option<&'static str>, system: Option<&'static str>| {
            move |p: &Path| -> Option<String> {
                if p == Path::new("/home/u/.flexiblasrc") {
                    user.map(str::to_string)
                } else if p == Path::new("/etc/flexiblasrc") {
                    system.map(str::to_string)
                } else {
                    None
                }
            }
        };
        let read = files(None, Some("[__FLEXIBLAS__]\ndefault = OPENBLAS-OPENMP\n"));
        assert_eq!(
            flexiblas_backend(None, Some(home), &read),
            Some(("OPENBLAS-OPENMP".into(), "/etc/flexiblasrc".into()))
        );
        let read = files(
            Some("default=NETLIB # mine\n"),
            Some("default = OPENBLAS-OPENMP\n"),
        );
        // The user's file is named as joined to the home (a backslash on Windows).
        assert_eq!(
            flexiblas_backend(None, Some(home), &read),
            Some((
                "NETLIB".into(),
                home.join(".flexiblasrc").display().to_string()
            ))
        );
        assert_eq!(
            flexiblas_backend(Some("BLIS-SERIAL"), Some(home), &read),
            Some(("BLIS-SERIAL".into(), "FLEXIBLAS".into()))
        );
        assert_eq!(
            flexiblas_backend(None, Some(home), &files(None, None)),
            None
        );
        assert_eq!(
            crate::facts::blas::impl_from_name("OPENBLAS-OPENMP"),
            Some(BlasImpl::Openblas)
        );
        assert_eq!(
            crate::facts::blas::impl_from_name("ATLAS"),
            Some(BlasImpl::Atlas)
        );
        assert_eq!(
            crate::facts::blas::impl_from_name("NETLIB"),
            Some(BlasImpl::Netlib)
        );
    }

    #[test]
    fn origin_expansion() {
        let o = Path::new("/env/lib/python3.11/site-packages/numpy/_core");
        assert_eq!(
            expand_origin("$ORIGIN/../../numpy.libs", o),
            o.join("../../numpy.libs")
        );
        assert_eq!(expand_origin("${ORIGIN}/../lib", o), o.join("../lib"));
        assert_eq!(expand_origin("/opt/lib", o), PathBuf::from("/opt/lib"));
        assert_eq!(expand_origin("$LIB/x", o), PathBuf::from("$LIB/x"));
    }

    #[test]
    fn elf_order_rpath_without_runpath() {
        let system = vec![PathBuf::from("/usr/lib")];
        let ld = vec![PathBuf::from("/ld")];
        let s = ElfSearch {
            origin: Path::new("/m"),
            rpath: vec![
                ("$ORIGIN/r".into(), PathBuf::from("/m")),
                ("/inherited".into(), PathBuf::from("/x")),
            ],
            runpath: vec![],
            ld_library_path: &ld,
            prefix_lib: Some(PathBuf::from("/env/lib")),
            system: &system,
        };
        let got = elf_search_dirs(&s);
        let want: Vec<PathBuf> = ["/m/r", "/inherited", "/ld", "/env/lib", "/usr/lib"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn elf_order_runpath_disables_rpath() {
        let system = vec![PathBuf::from("/usr/lib"), PathBuf::from("/env/lib")];
        let ld = vec![PathBuf::from("/ld")];
        let s = ElfSearch {
            origin: Path::new("/m"),
            rpath: vec![("/ignored".into(), PathBuf::from("/m"))],
            runpath: vec!["${ORIGIN}/../lib".into()],
            ld_library_path: &ld,
            prefix_lib: Some(PathBuf::from("/env/lib")),
            system: &system,
        };
        let got = elf_search_dirs(&s);
        let want: Vec<PathBuf> = ["/ld", "/m/../lib", "/env/lib", "/usr/lib"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn ld_so_conf_parsing() {
        let text = "# comment\ninclude /etc/ld.so.conf.d/*.conf\n/usr/local/lib\n\
                    /opt/a:/opt/b # trailing\ninclude rel/*.conf\nhwcap 0 x\ninclude_not_a_keyword\n";
        let (dirs, inc) = parse_ld_so_conf(text, Path::new("/etc"));
        assert_eq!(
            dirs,
            [
                "/usr/local/lib",
                "/opt/a",
                "/opt/b",
                "include_not_a_keyword"
            ]
            .iter()
            .map(PathBuf::from)
            .collect::<Vec<_>>()
        );
        assert_eq!(
            inc,
            vec![
                PathBuf::from("/etc/ld.so.conf.d/*.conf"),
                PathBuf::from("/etc/rel/*.conf")
            ]
        );
        assert_eq!(
            default_system_dirs(multiarch_triplet(elf::EM_X86_64))[1],
            PathBuf::from("/usr/lib/x86_64-linux-gnu")
        );
        assert_eq!(
            split_path_list("/a::/b:"),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
    }

    #[test]
    fn macho_rpath_and_loader_path() {
        let loader = Path::new("/s/numpy/_core");
        let rpaths = vec![
            ("@loader_path/../.dylibs".to_string(), loader.to_path_buf()),
            (
                "@executable_path/../lib".to_string(),
                PathBuf::from("/elsewhere"),
            ),
            ("/abs/lib".to_string(), loader.to_path_buf()),
        ];
        let got = macho_candidates(
            "@rpath/libscipy_openblas64_.dylib",
            loader,
            &rpaths,
            Path::new("/env/bin"),
        );
        assert_eq!(
            got,
            MachoTarget::Candidates(vec![
                PathBuf::from("/s/numpy/.dylibs/libscipy_openblas64_.dylib"),
                PathBuf::from("/env/lib/libscipy_openblas64_.dylib"),
                PathBuf::from("/abs/lib/libscipy_openblas64_.dylib"),
            ])
        );
        assert_eq!(
            macho_candidates(
                "@loader_path/../../numpy/.dylibs/libopenblas.0.dylib",
                loader,
                &[],
                Path::new("/b")
            ),
            MachoTarget::Candidates(vec![PathBuf::from("/s/numpy/.dylibs/libopenblas.0.dylib")])
        );
        let acc = "/System/Library/Frameworks/Accelerate.framework/Versions/A/Accelerate";
        assert_eq!(
            macho_candidates(acc, loader, &[], Path::new("/b")),
            MachoTarget::System(PathBuf::from(acc))
        );
        assert_eq!(
            macho_candidates("@rpath/libcblas.3.dylib", loader, &[], Path::new("/b")),
            MachoTarget::Candidates(vec![])
        );
    }

    #[test]
    fn pe_dirs_and_subdirs() {
        let d = pe_search_dirs(
            Path::new("/s/numpy/_core"),
            Path::new("/s"),
            Path::new("/env"),
        );
        assert_eq!(d[1], PathBuf::from("/s/numpy.libs"));
        assert_eq!(d[2], PathBuf::from("/s/numpy/.libs"));
        assert_eq!(d[3], PathBuf::from("/env/Library/bin"));
        assert_eq!(arch_of_subdir("osx-arm64"), Some(Architecture::Aarch64));
        assert_eq!(arch_of_subdir("osx-64"), Some(Architecture::X86_64));
        assert_eq!(arch_of_subdir("linux-aarch64"), Some(Architecture::Aarch64));
        assert_eq!(arch_of_subdir("noarch"), None);
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
    }

    #[test]
    fn aggregation() {
        use BlasImpl::*;
        assert_eq!(aggregate(&[]), Unknown);
        assert_eq!(
            aggregate(&[chain(Openblas), chain(Openblas), chain(Unknown)]),
            Openblas
        );
        assert_eq!(aggregate(&[chain(Openblas), chain(Mkl)]), Ambiguous);
        assert_eq!(aggregate(&[chain(Unknown)]), Unknown);
    }

    #[test]
    fn module_names() {
        assert!(is_extension_module(
            "_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
            "_multiarray_umath"
        ));
        assert!(is_extension_module(
            "_multiarray_umath.cp312-win_amd64.pyd",
            "_multiarray_umath"
        ));
        assert!(is_extension_module(
            "lapack_lite.cpython-312-darwin.so",
            "lapack_lite"
        ));
        assert!(!is_extension_module(
            "_multiarray_umath.pyi",
            "_multiarray_umath"
        ));
        assert!(!is_extension_module(
            "_multiarray_umath_tests.cpython-311.so",
            "_multiarray_umath"
        ));
    }

    #[test]
    fn render_chain() {
        let c = LinkChain {
            module: PathBuf::from(
                "/s/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
            ),
            hops: vec![
                LinkHop {
                    needed: "libcblas.so.3".into(),
                    resolved: Some("/p/lib/libcblas.so.3".into()),
                    real: Some("/p/lib/libcblas.so.3".into()),
                    links: vec![],
                },
                LinkHop {
                    needed: "libopenblas.so.0".into(),
                    resolved: Some("/p/lib/libopenblas.so.0".into()),
                    real: Some("/p/lib/libopenblasp-r0.3.21.so".into()),
                    links: vec![
                        "/p/lib/libopenblas.so.0".into(),
                        "/p/lib/libopenblasp-r0.3.21.so".into(),
                    ],
                },
            ],
            implementation: BlasImpl::Openblas,
            ..Default::default()
        };
        assert_eq!(
            c.render(),
            "_multiarray_umath -> libcblas.so.3 -> libopenblas.so.0 -> libopenblasp-r0.3.21.so"
        );
    }

    #[test]
    fn missing_site_packages_is_a_problem_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let f = inspect(dir.path(), &dir.path().join("nope"), None);
        assert_eq!(f.implementation, BlasImpl::Unknown);
        assert_eq!(f.problems.len(), 1);
        assert!(f.chains.is_empty());
    }

    #[test]
    fn garbage_module_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let core = dir.path().join("numpy/_core");
        std::fs::create_dir_all(&core).unwrap();
        std::fs::write(
            core.join("_multiarray_umath.cpython-311-x86_64-linux-gnu.so"),
            b"not elf",
        )
        .unwrap();
        std::fs::write(
            core.join("_multiarray_umath.cpython-312-x86_64-linux-gnu.so"),
            b"\x7fELF\x02\x01",
        )
        .unwrap();
        let f = inspect(dir.path(), dir.path(), Some("linux-64"));
        assert_eq!(f.problems.len(), 2, "{:?}", f.problems);
        assert!(
            f.problems
                .iter()
                .all(|p| p.path.as_deref().is_some_and(|p| p.starts_with(&core)))
        );
        assert_eq!(f.implementation, BlasImpl::Unknown);
    }
}
