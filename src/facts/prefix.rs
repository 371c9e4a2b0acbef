//! Reading an environment prefix: the conda-meta records that matter for BLAS (found by file
//! name, so a prefix of thousands of records costs a directory listing), `conda-meta/pinned`,
//! `conda-meta/history`, site-packages (NumPy's dist-info, the version written in its files,
//! bundled BLAS libraries) and the BLAS symlinks in `lib/` or `Library/bin`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

use serde::Serialize;

use crate::facts::problem::Problem;

/// Names of records read in full; every other record is only counted.
pub const RELEVANT: &[&str] = &[
    "numpy",
    "numpy-base",
    "scipy",
    "python",
    "blas",
    "blas-devel",
    "libblas",
    "libcblas",
    "liblapack",
    "liblapacke",
    "mkl",
    "mkl-service",
    "mkl_fft",
    "mkl_random",
    "mkl-devel",
    "intel-openmp",
    "llvm-openmp",
    "_openmp_mutex",
    "libgomp",
    "nomkl",
    "openblas",
    "libopenblas",
    "openblas-devel",
    "blis",
    "libnvpl-blas0",
    "threadpoolctl",
    "numexpr",
];

/// One conda-meta record, reduced to what BLAS diagnosis needs.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Record {
    pub name: String,
    pub version: String,
    pub build: String,
    pub build_number: Option<u64>,
    /// As written: a URL with subdir, without, or absent (installer-made records).
    pub channel: Option<String>,
    pub url: Option<String>,
    pub subdir: Option<String>,
    pub depends: Vec<String>,
    pub constrains: Vec<String>,
    pub track_features: Vec<String>,
    /// The record file, relative to the prefix (`conda-meta/numpy-1.26.4-py311h..json`).
    pub file: PathBuf,
    /// Paths under site-packages/numpy this record installs, with sha256 when recorded
    /// (only kept for numpy and numpy-base).
    #[serde(skip)]
    pub numpy_files: Vec<(String, Option<String>)>,
}

/// One line of `conda-meta/pinned`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PinnedLine {
    pub line: usize,
    pub text: String,
    /// Why conda would ignore or reject it (quoted, not a MatchSpec), if so.
    pub problem: Option<String>,
}

/// A `*.dist-info` or `*.egg-info` folder in site-packages.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct DistInfo {
    pub dir: String,
    pub name: String,
    pub version: String,
    /// Contents of INSTALLER (`pip`, `conda`, `uv`, ...).
    pub installer: Option<String>,
    /// `Tag:` lines of WHEEL.
    pub wheel_tags: Vec<String>,
}

/// What site-packages says about NumPy.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SitePackages {
    pub path: PathBuf,
    /// numpy, numpy-base and scipy dist-info/egg-info folders.
    pub dists: Vec<DistInfo>,
    pub numpy_dir: bool,
    /// The version written in NumPy's own files (numpy/version.py or _version.py).
    pub numpy_version_in_files: Option<String>,
    pub numpy_version_file: Option<String>,
    /// Libraries under numpy.libs/, numpy/.libs/, numpy/.dylibs/ (relative to site-packages).
    pub numpy_bundled_libs: Vec<String>,
    pub scipy_bundled_libs: Vec<String>,
    /// NumPy's core extension module (`numpy/_core/_multiarray_umath*` or `numpy/core/...`).
    pub numpy_core_extension: Option<PathBuf>,
    /// Which installer's hashes match NumPy's files on disk: "conda", "pip" or none known.
    pub numpy_files_owner: Option<String>,
}

/// A BLAS-related file in `lib/` (or `Library/bin`) and where its symlink points.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LibLink {
    pub name: String,
    pub target: Option<String>,
}

/// Everything read from one prefix.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PrefixFacts {
    pub prefix: PathBuf,
    pub has_conda_meta: bool,
    /// Number of `conda-meta/*.json` records.
    pub record_count: usize,
    /// The records whose names are in `RELEVANT`, sorted by name.
    pub records: Vec<Record>,
    pub pinned: Vec<PinnedLine>,
    /// The tool named by the last `# cmd:` line of conda-meta/history (conda, mamba, micromamba).
    pub history_tool: Option<String>,
    pub history_last_cmd: Option<String>,
    /// Python's version (from its record, pyvenv.cfg or lib/pythonX.Y).
    pub python_version: Option<String>,
    pub site: Option<SitePackages>,
    pub blas_links: Vec<LibLink>,
    /// The environment's subdir, from its records (`linux-64`, `osx-64`, ...).
    pub subdir: Option<String>,
    pub problems: Vec<Problem>,
}

impl PrefixFacts {
    pub fn record(&self, name: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.name == name)
    }
}

/// Read a prefix. Never fails: what cannot be read becomes a `Problem`.
pub fn read(prefix: &Path) -> PrefixFacts {
    let mut facts = PrefixFacts {
        prefix: prefix.to_path_buf(),
        ..Default::default()
    };
    read_conda_meta(prefix, &mut facts);
    facts.python_version = python_version(prefix, &facts.records, &mut facts.problems);
    facts.subdir = env_subdir(&facts.records);
    facts.site = find_site_packages(prefix, facts.python_version.as_deref())
        .map(|sp| read_site_packages(&sp, &facts.records, &mut facts.problems));
    facts.blas_links = read_blas_links(prefix);
    facts
}

// ---------------------------------------------------------------------------------------------
// conda-meta

fn read_conda_meta(prefix: &Path, facts: &mut PrefixFacts) {
    let dir = prefix.join("conda-meta");
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            facts.has_conda_meta = dir.is_dir();
            facts
                .problems
                .push(Problem::at(&dir, format!("cannot list the directory: {e}")));
            return;
        }
    };
    facts.has_conda_meta = true;
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                facts
                    .problems
                    .push(Problem::at(&dir, format!("cannot list the directory: {e}")));
                break;
            }
        };
        let os_name = entry.file_name();
        let Some(file_name) = os_name.to_str() else {
            if os_name.as_encoded_bytes().ends_with(b".json") {
                facts.record_count += 1;
                facts.problems.push(Problem::at(
                    &entry.path(),
                    "record file name is not UTF-8; skipped",
                ));
            }
            continue;
        };
        let Some(stem) = file_name.strip_suffix(".json") else {
            continue;
        };
        facts.record_count += 1;
        let from_name = split_record_file_name(stem);
        if let Some((name, _, _)) = from_name
            && !RELEVANT.contains(&name)
        {
            continue;
        }
        let path = entry.path();
        let rel = Path::new("conda-meta").join(file_name);
        let keep_paths = from_name.is_none_or(|(n, _, _)| n == "numpy" || n == "numpy-base");
        match read_record_file(&path, &rel, keep_paths) {
            Ok(record) => {
                if RELEVANT.contains(&record.name.as_str()) {
                    facts.records.push(record);
                }
            }
            Err(message) => match from_name {
                Some((name, version, build)) => {
                    facts.problems.push(Problem::at(
                        &path,
                        format!("{message}; using name, version and build from the file name"),
                    ));
                    facts.records.push(Record {
                        name: name.to_string(),
                        version: version.to_string(),
                        build: build.to_string(),
                        file: rel,
                        ..Default::default()
                    });
                }
                None => facts.problems.push(Problem::at(&path, message)),
            },
        }
    }
    facts
        .records
        .sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.file.cmp(&b.file)));

    let pinned = dir.join("pinned");
    match fs::read(&pinned) {
        Ok(bytes) => {
            let text = match std::str::from_utf8(&bytes) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(e) => {
                    facts.problems.push(Problem::at(
                        &pinned,
                        format!("not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
                    ));
                    String::from_utf8_lossy(&bytes)
                }
            };
            facts.pinned = parse_pinned(&text);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => facts
            .problems
            .push(Problem::at(&pinned, format!("cannot read: {e}"))),
    }

    let history = dir.join("history");
    match last_history_cmd(&history) {
        Ok(Some(cmd)) => {
            facts.history_tool = tool_from_cmd(&cmd).map(str::to_string);
            facts.history_last_cmd = Some(cmd);
        }
        Ok(None) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => facts
            .problems
            .push(Problem::at(&history, format!("cannot read: {e}"))),
    }
}

/// Split a record file stem `{name}-{version}-{build}` (the name may contain dashes; version
/// and build do not).
pub fn split_record_file_name(stem: &str) -> Option<(&str, &str, &str)> {
    let (rest, build) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || build.is_empty() {
        return None;
    }
    Some((name, version, build))
}

/// `track_features`/`features`: conda writes a space-joined string, others a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Features {
    Joined(String),
    List(Vec<String>),
}

#[derive(Deserialize, Default)]
struct PathsData {
    #[serde(default)]
    paths: Vec<PathEntry>,
}

#[derive(Deserialize)]
struct PathEntry {
    #[serde(rename = "_path")]
    path: String,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    sha256_in_prefix: Option<String>,
}

/// The keys of a record BLAS diagnosis needs; `F`/`P` are `IgnoredAny` unless NumPy's paths
/// are kept, so that big `files`/`paths_data` arrays are skipped without allocating.
#[derive(Deserialize)]
struct RawRecord<F, P> {
    name: Option<String>,
    version: Option<String>,
    build: Option<String>,
    build_number: Option<u64>,
    channel: Option<String>,
    url: Option<String>,
    subdir: Option<String>,
    depends: Option<Vec<String>>,
    constrains: Option<Vec<String>>,
    track_features: Option<Features>,
    #[serde(default)]
    files: Option<F>,
    #[serde(default)]
    paths_data: Option<P>,
}

fn read_record_file(path: &Path, rel: &Path, keep_paths: bool) -> Result<Record, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| format!("not UTF-8 (invalid byte at offset {})", e.valid_up_to()))?;
    parse_record(text, rel, keep_paths)
}

/// Parse one conda-meta record (conda- or rattler-written). `keep_paths` keeps the
/// `site-packages/numpy/` entries of `paths_data`/`files`.
pub fn parse_record(text: &str, rel: &Path, keep_paths: bool) -> Result<Record, String> {
    let (raw, numpy_files) = if keep_paths {
        let raw: RawRecord<Vec<String>, PathsData> =
            serde_json::from_str(text).map_err(|e| describe_json_error(&e))?;
        let mut numpy_files: Vec<(String, Option<String>)> = Vec::new();
        if let Some(pd) = &raw.paths_data {
            for p in &pd.paths {
                if is_numpy_path(&p.path) {
                    let hash = p.sha256_in_prefix.clone().or_else(|| p.sha256.clone());
                    numpy_files.push((p.path.clone(), hash));
                }
            }
        }
        if numpy_files.is_empty()
            && let Some(files) = &raw.files
        {
            numpy_files = files
                .iter()
                .filter(|f| is_numpy_path(f))
                .map(|f| (f.clone(), None))
                .collect();
        }
        let raw = RawRecord::<IgnoredAny, IgnoredAny> {
            name: raw.name,
            version: raw.version,
            build: raw.build,
            build_number: raw.build_number,
            channel: raw.channel,
            url: raw.url,
            subdir: raw.subdir,
            depends: raw.depends,
            constrains: raw.constrains,
            track_features: raw.track_features,
            files: None,
            paths_data: None,
        };
        (raw, numpy_files)
    } else {
        let raw: RawRecord<IgnoredAny, IgnoredAny> =
            serde_json::from_str(text).map_err(|e| describe_json_error(&e))?;
        (raw, Vec::new())
    };
    let from_name = rel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".json"))
        .and_then(split_record_file_name);
    let name = raw
        .name
        .filter(|n| !n.is_empty())
        .or_else(|| from_name.map(|(n, _, _)| n.to_string()))
        .ok_or_else(|| {
            "record has no `name` and its file name is not name-version-build.json".to_string()
        })?;
    let version = raw
        .version
        .or_else(|| from_name.map(|(_, v, _)| v.to_string()))
        .unwrap_or_default();
    let build = raw
        .build
        .or_else(|| from_name.map(|(_, _, b)| b.to_string()))
        .unwrap_or_default();
    let subdir = raw
        .subdir
        .filter(|s| !s.is_empty())
        .or_else(|| raw.channel.as_deref().and_then(subdir_of_channel))
        .or_else(|| raw.url.as_deref().and_then(subdir_of_url));
    let track_features = match raw.track_features {
        Some(Features::Joined(s)) => s
            .split([' ', ','])
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Features::List(l)) => l.into_iter().filter(|f| !f.is_empty()).collect(),
        None => Vec::new(),
    };
    Ok(Record {
        name,
        version,
        build,
        build_number: raw.build_number,
        channel: raw.channel.filter(|c| !c.is_empty()),
        url: raw.url.filter(|u| !u.is_empty()),
        subdir,
        depends: raw.depends.unwrap_or_default(),
        constrains: raw.constrains.unwrap_or_default(),
        track_features,
        file: rel.to_path_buf(),
        numpy_files,
    })
}

fn is_numpy_path(p: &str) -> bool {
    p.contains("site-packages/numpy/") || p.contains("site-packages\\numpy\\")
}

fn describe_json_error(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Eof => format!("truncated JSON at line {}", e.line()),
        serde_json::error::Category::Syntax => {
            format!("invalid JSON at line {}, column {}", e.line(), e.column())
        }
        serde_json::error::Category::Data => format!("unexpected record contents: {e}"),
        serde_json::error::Category::Io => format!("cannot read: {e}"),
    }
}

const SUBDIRS: &[&str] = &[
    "noarch",
    "linux-64",
    "linux-aarch64",
    "linux-ppc64le",
    "linux-s390x",
    "linux-32",
    "linux-armv7l",
    "linux-armv6l",
    "osx-64",
    "osx-arm64",
    "win-64",
    "win-32",
    "win-arm64",
    "emscripten-wasm32",
    "wasi-wasm32",
    "zos-z",
];

/// The subdir a channel URL ends with (`.../conda-forge/linux-64`), if any.
fn subdir_of_channel(channel: &str) -> Option<String> {
    let last = channel.trim_end_matches('/').rsplit('/').next()?;
    SUBDIRS.contains(&last).then(|| last.to_string())
}

/// The subdir of a package URL (`.../linux-64/numpy-1.26.4-....conda`).
fn subdir_of_url(url: &str) -> Option<String> {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    parts.next()?;
    let dir = parts.next()?;
    SUBDIRS.contains(&dir).then(|| dir.to_string())
}

/// The environment's subdir: python's or numpy's record, else the most common non-noarch one.
fn env_subdir(records: &[Record]) -> Option<String> {
    for name in ["python", "numpy", "numpy-base"] {
        if let Some(s) = records
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.subdir.clone())
            && s != "noarch"
        {
            return Some(s);
        }
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for s in records
        .iter()
        .filter_map(|r| r.subdir.as_deref())
        .filter(|s| *s != "noarch")
    {
        match counts.iter_mut().find(|(k, _)| *k == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((s, 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(s, _)| s.to_string())
}

/// Parse `conda-meta/pinned`: blank lines and `#` comments are skipped (as conda does);
/// quoted lines (silently ignored by conda) and lines that are not MatchSpecs are flagged.
pub fn parse_pinned(text: &str) -> Vec<PinnedLine> {
    use rattler_conda_types::{MatchSpec, ParseStrictness};
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let quoted = t.starts_with(['"', '\'']) || t.ends_with(['"', '\'']);
        let problem = if quoted {
            Some(
                "quoted: conda ignores quoted lines in pinned silently; remove the quotes"
                    .to_string(),
            )
        } else {
            MatchSpec::from_str(t, ParseStrictness::Lenient)
                .err()
                .map(|e| format!("not a valid MatchSpec: {e}"))
        };
        out.push(PinnedLine {
            line: i + 1,
            text: t.to_string(),
            problem,
        });
    }
    out
}

/// The text after the last `# cmd:` line of conda-meta/history, reading only the file's tail
/// (growing the window backwards until a `# cmd:` line or the start is reached).
pub fn last_history_cmd(path: &Path) -> io::Result<Option<String>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut window: u64 = 16 * 1024;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        file.by_ref().take(len - start).read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        let mut lines: &str = &text;
        if start > 0 {
            // The first line may be cut; it is looked at again with a bigger window.
            lines = lines.split_once('\n').map_or("", |(_, rest)| rest);
        }
        if let Some(cmd) = lines
            .lines()
            .rev()
            .find_map(|l| l.trim_end_matches('\r').strip_prefix("# cmd:"))
        {
            return Ok(Some(cmd.trim().to_string()));
        }
        if start == 0 {
            return Ok(None);
        }
        window = window.saturating_mul(4);
    }
}

/// Which tool a history `# cmd:` line names: "conda" (`conda`, `conda-env`,
/// `conda-script.py`, `.../conda/__main__.py`), "mamba" or "micromamba".
pub fn tool_from_cmd(cmd: &str) -> Option<&'static str> {
    let first = cmd.split_whitespace().next()?;
    let mut parts = first.rsplit(['/', '\\']).filter(|p| !p.is_empty());
    let mut base = parts.next()?;
    if base.starts_with("__main__") {
        base = parts.next()?;
    }
    let base = base.to_ascii_lowercase();
    let stem = base.split('.').next().unwrap_or("");
    if stem.starts_with("micromamba") {
        Some("micromamba")
    } else if stem.starts_with("mamba") {
        Some("mamba")
    } else if stem.starts_with("conda") {
        Some("conda")
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Python and site-packages

fn python_version(
    prefix: &Path,
    records: &[Record],
    problems: &mut Vec<Problem>,
) -> Option<String> {
    if let Some(r) = records.iter().find(|r| r.name == "python")
        && !r.version.is_empty()
    {
        return Some(r.version.clone());
    }
    let cfg = prefix.join("pyvenv.cfg");
    match fs::read(&cfg) {
        Ok(bytes) => {
            if let Some(v) = version_from_pyvenv_cfg(&String::from_utf8_lossy(&bytes)) {
                return Some(v);
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => problems.push(Problem::at(&cfg, format!("cannot read: {e}"))),
    }
    lib_python_dirs(prefix)
        .into_iter()
        .map(|(v, _)| v)
        .max_by(|a, b| version_key(a).cmp(&version_key(b)))
}

/// `version = 3.11.4` (venv) or `version_info = 3.12.1.final.0` (uv) in pyvenv.cfg.
pub fn version_from_pyvenv_cfg(text: &str) -> Option<String> {
    for key in ["version", "version_info"] {
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if k.trim() == key {
                let v: Vec<&str> = v.trim().split('.').take(3).collect();
                if !v.is_empty()
                    && v.iter()
                        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                {
                    return Some(v.join("."));
                }
            }
        }
    }
    None
}

fn version_key(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| {
            p.trim_end_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .unwrap_or(0)
        })
        .collect()
}

/// `lib/pythonX.Y` (also `pythonX.Yt`) directories holding a site-packages: (X.Y, path).
fn lib_python_dirs(prefix: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(prefix.join("lib")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let v = name.strip_prefix("python")?.trim_end_matches('t');
            let (maj, min) = v.split_once('.')?;
            if maj.is_empty()
                || min.is_empty()
                || !(maj.chars().chain(min.chars()).all(|c| c.is_ascii_digit()))
            {
                return None;
            }
            let sp = e.path().join("site-packages");
            sp.is_dir().then(|| (v.to_string(), sp))
        })
        .collect()
}

/// The site-packages of the prefix: unix `lib/pythonX.Y/site-packages` (the one matching
/// Python's version, else one holding numpy, else the newest) or Windows `Lib/site-packages`.
fn find_site_packages(prefix: &Path, python_version: Option<&str>) -> Option<PathBuf> {
    let mut candidates = lib_python_dirs(prefix);
    candidates.sort_by_key(|c| std::cmp::Reverse(version_key(&c.0)));
    if let Some(pv) = python_version {
        let xy: String = pv.split('.').take(2).collect::<Vec<_>>().join(".");
        if let Some((_, p)) = candidates.iter().find(|(v, _)| *v == xy) {
            return Some(p.clone());
        }
    }
    let win = prefix.join("Lib").join("site-packages");
    if win.is_dir() && !candidates.iter().any(|(_, p)| same_dir(p, &win)) {
        candidates.push((String::new(), win));
    }
    if candidates.len() > 1
        && let Some((_, p)) = candidates.iter().find(|(_, p)| p.join("numpy").is_dir())
    {
        return Some(p.clone());
    }
    candidates.into_iter().next().map(|(_, p)| p)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

const DIST_NAMES: &[&str] = &["numpy", "numpy-base", "scipy"];

/// The distribution name and version of a `*.dist-info`/`*.egg-info` entry name, normalised
/// (`numpy_base-1.0.dist-info` -> `numpy-base`, `numpy-1.16.6-py3.9.egg-info` -> 1.16.6).
pub fn split_dist_dir(entry: &str) -> Option<(String, String)> {
    let stem = entry
        .strip_suffix(".dist-info")
        .or_else(|| entry.strip_suffix(".egg-info"))?;
    let (name, rest) = stem.split_once('-').unwrap_or((stem, ""));
    let version = rest.split('-').next().unwrap_or("");
    Some((
        name.to_ascii_lowercase().replace(['_', '.'], "-"),
        version.to_string(),
    ))
}

fn read_site_packages(sp: &Path, records: &[Record], problems: &mut Vec<Problem>) -> SitePackages {
    let mut site = SitePackages {
        path: sp.to_path_buf(),
        ..Default::default()
    };
    match fs::read_dir(sp) {
        Ok(entries) => {
            for entry in entries.filter_map(Result::ok) {
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let Some((dist, version)) = split_dist_dir(&name) else {
                    continue;
                };
                if !DIST_NAMES.contains(&dist.as_str()) {
                    continue;
                }
                site.dists
                    .push(read_dist(&entry.path(), &name, dist, version, problems));
            }
        }
        Err(e) => problems.push(Problem::at(sp, format!("cannot list the directory: {e}"))),
    }
    site.dists.sort_by(|a, b| a.dir.cmp(&b.dir));

    let numpy = sp.join("numpy");
    site.numpy_dir = numpy.is_dir();
    if site.numpy_dir {
        for rel in ["numpy/version.py", "numpy/_version.py"] {
            let path = sp.join(rel);
            match fs::read(&path) {
                Ok(bytes) => {
                    if let Some(v) = version_from_version_file(&String::from_utf8_lossy(&bytes)) {
                        site.numpy_version_in_files = Some(v);
                        site.numpy_version_file = Some(rel.to_string());
                        site.numpy_files_owner = files_owner(sp, rel, &bytes, records, &site.dists);
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => problems.push(Problem::at(&path, format!("cannot read: {e}"))),
            }
        }
        site.numpy_core_extension = core_extension(sp);
    }
    site.numpy_bundled_libs = bundled_libs(sp, &["numpy.libs", "numpy/.libs", "numpy/.dylibs"]);
    site.scipy_bundled_libs = bundled_libs(sp, &["scipy.libs", "scipy/.libs", "scipy/.dylibs"]);
    site
}

fn read_dist(
    path: &Path,
    dir: &str,
    name: String,
    version: String,
    problems: &mut Vec<Problem>,
) -> DistInfo {
    let mut d = DistInfo {
        dir: dir.to_string(),
        name,
        version,
        ..Default::default()
    };
    let is_dir = path.is_dir();
    let metadata = if is_dir {
        if dir.ends_with(".egg-info") {
            path.join("PKG-INFO")
        } else {
            path.join("METADATA")
        }
    } else {
        path.to_path_buf()
    };
    match fs::read(&metadata) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            for line in text.lines() {
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.strip_prefix("Name:") {
                    d.name = v.trim().to_ascii_lowercase().replace(['_', '.'], "-");
                } else if let Some(v) = line.strip_prefix("Version:") {
                    d.version = v.trim().to_string();
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => problems.push(Problem::at(&metadata, format!("cannot read: {e}"))),
    }
    if is_dir {
        if let Ok(bytes) = fs::read(path.join("INSTALLER")) {
            let s = String::from_utf8_lossy(&bytes).trim().to_string();
            d.installer = (!s.is_empty()).then_some(s);
        }
        if let Ok(bytes) = fs::read(path.join("WHEEL")) {
            d.wheel_tags = String::from_utf8_lossy(&bytes)
                .lines()
                .filter_map(|l| l.strip_prefix("Tag:"))
                .map(|t| t.trim().to_string())
                .collect();
        }
    }
    d
}

/// The version written in numpy/version.py or numpy/_version.py: `version = '…'`,
/// `version: str = "…"`, `full_version`, `__version__`, `short_version`, or versioneer's
/// `"version": "…"` JSON.
pub fn version_from_version_file(text: &str) -> Option<String> {
    let mut found: Option<(usize, String)> = None;
    for line in text.lines() {
        let t = line.trim();
        let (key, rest) = if let Some(rest) = t.strip_prefix("\"version\":") {
            ("json", rest)
        } else {
            let Some((lhs, rhs)) = t.split_once('=') else {
                continue;
            };
            let key = lhs.split(':').next().unwrap_or("").trim();
            (key, rhs)
        };
        let rank = match key {
            "version" | "json" => 0,
            "__version__" => 1,
            "full_version" => 2,
            "short_version" => 3,
            _ => continue,
        };
        let Some(v) = quoted_literal(rest.trim()) else {
            continue;
        };
        if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        if found.as_ref().is_none_or(|(r, _)| rank < *r) {
            found = Some((rank, v.to_string()));
        }
    }
    found.map(|(_, v)| v)
}

fn quoted_literal(s: &str) -> Option<&str> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = &s[1..];
    inner.find(q).map(|end| &inner[..end])
}

fn core_extension(sp: &Path) -> Option<PathBuf> {
    for dir in ["numpy/_core", "numpy/core"] {
        let Ok(entries) = fs::read_dir(sp.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        let is_ext = |n: &str| n.ends_with(".so") || n.ends_with(".pyd") || n.contains(".so.");
        if let Some(n) = names
            .iter()
            .find(|n| n.starts_with("_multiarray_umath") && is_ext(n))
        {
            return Some(Path::new(dir).join(n));
        }
        if let Some(n) = names
            .iter()
            .find(|n| n.starts_with("multiarray.") && is_ext(n))
        {
            return Some(Path::new(dir).join(n));
        }
    }
    None
}

fn bundled_libs(sp: &Path, dirs: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(sp.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .map(|n| format!("{dir}/{n}"))
            .collect();
        names.sort();
        out.extend(names);
    }
    out
}

/// Who installed NumPy's version file as it is on disk: "conda" when its sha256 matches a
/// numpy/numpy-base record's `paths_data`, "pip" when it matches the RECORD of a NumPy
/// dist-info not installed by conda; None when neither or both match.
fn files_owner(
    sp: &Path,
    rel: &str,
    bytes: &[u8],
    records: &[Record],
    dists: &[DistInfo],
) -> Option<String> {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    let conda = records
        .iter()
        .filter(|r| r.name == "numpy" || r.name == "numpy-base")
        .flat_map(|r| r.numpy_files.iter())
        .any(|(p, h)| {
            let p = p.replace('\\', "/");
            p.ends_with(&format!("site-packages/{rel}"))
                && h.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(&hex))
        });
    let pip = dists
        .iter()
        .filter(|d| {
            d.name == "numpy"
                && d.installer.as_deref() != Some("conda")
                && d.dir.ends_with(".dist-info")
        })
        .any(|d| {
            let Ok(record) = fs::read(sp.join(&d.dir).join("RECORD")) else {
                return false;
            };
            let record = String::from_utf8_lossy(&record);
            record.lines().any(|l| {
                let mut cols = l.split(',');
                cols.next() == Some(rel)
                    && cols
                        .next()
                        .and_then(|h| h.strip_prefix("sha256="))
                        .is_some_and(|h| h.trim_end_matches('=') == b64)
            })
        });
    match (conda, pip) {
        (true, false) => Some("conda".into()),
        (false, true) => Some("pip".into()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// BLAS files in lib/ and Library/bin

fn is_blas_lib_name(name: &str) -> bool {
    const FIXED: &[&str] = &[
        "libblas.so.3",
        "libcblas.so.3",
        "liblapack.so.3",
        "libblas.so",
        "libcblas.so",
        "liblapack.so",
        "libblas.3.dylib",
        "libblas.dylib",
        "libcblas.3.dylib",
        "libcblas.dylib",
        "liblapack.3.dylib",
        "liblapack.dylib",
    ];
    FIXED.contains(&name) || name.starts_with("libopenblas") || name.starts_with("libmkl_rt")
}

fn is_blas_dll_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "libblas.dll" | "libcblas.dll" | "liblapack.dll" | "openblas.dll"
    ) || (lower.starts_with("mkl_rt") && lower.ends_with(".dll"))
        || lower.starts_with("libopenblas")
}

fn read_blas_links(prefix: &Path) -> Vec<LibLink> {
    let mut out = Vec::new();
    for (dir, label, pred) in [
        ("lib", "lib/", is_blas_lib_name as fn(&str) -> bool),
        (
            "Library/bin",
            "Library/bin/",
            is_blas_dll_name as fn(&str) -> bool,
        ),
    ] {
        let Ok(entries) = fs::read_dir(prefix.join(dir)) else {
            continue;
        };
        let mut found: Vec<LibLink> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                if !pred(&name) {
                    return None;
                }
                let target = fs::read_link(e.path())
                    .ok()
                    .map(|t| t.to_string_lossy().into_owned());
                Some(LibLink {
                    name: format!("{label}{name}"),
                    target,
                })
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(found);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{PKGS_MAIN, PrefixBuilder, RecordSpec};

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn record_file_names_split_at_the_last_two_dashes() {
        assert_eq!(
            split_record_file_name("numpy-base-1.21.2-py39h79a1101_0"),
            Some(("numpy-base", "1.21.2", "py39h79a1101_0"))
        );
        assert_eq!(
            split_record_file_name("libblas-3.9.0-31_h59b9bed_openblas"),
            Some(("libblas", "3.9.0", "31_h59b9bed_openblas"))
        );
        assert_eq!(
            split_record_file_name("_openmp_mutex-4.5-2_gnu"),
            Some(("_openmp_mutex", "4.5", "2_gnu"))
        );
        assert_eq!(split_record_file_name("weird"), None);
        assert_eq!(split_record_file_name("a-b"), None);
        assert_eq!(split_record_file_name("-1.0-0"), None);
    }

    #[test]
    fn big_prefix_reads_only_relevant_records() {
        let d = tmp();
        crate::testing::generate_big_prefix(d.path(), 120, 3_000_000).expect("generate");
        let f = read(d.path());
        assert_eq!(f.record_count, 120, "{:?}", f.problems);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        let names: Vec<&str> = f.records.iter().map(|r| r.name.as_str()).collect();
        assert!(
            names.contains(&"libblas") && names.contains(&"numpy") && names.contains(&"python")
        );
        assert!(names.iter().all(|n| RELEVANT.contains(n)));
        let np = f.record("numpy").expect("numpy");
        assert!(
            np.numpy_files
                .iter()
                .any(|(p, h)| p.ends_with("numpy/version.py") && h.is_some())
        );
        assert!(
            np.numpy_files
                .iter()
                .all(|(p, _)| p.contains("site-packages/numpy/"))
        );
        assert_eq!(f.python_version.as_deref(), Some("3.11.9"));
        assert_eq!(f.subdir.as_deref(), Some("linux-64"));
        assert_eq!(f.history_tool.as_deref(), Some("conda"));
        let site = f.site.as_ref().expect("site");
        assert_eq!(site.numpy_version_in_files.as_deref(), Some("1.26.4"));
        assert_eq!(site.numpy_files_owner.as_deref(), Some("conda"));
        assert!(site.numpy_core_extension.is_some());
        assert!(f.blas_links.iter().any(|l| l.name == "lib/libblas.so.3"
            && l.target.as_deref() == Some("libopenblasp-r0.3.25.so")));
    }

    #[test]
    fn conda_and_rattler_records_read_alike() {
        for rattler in [false, true] {
            let d = tmp();
            let mut b = PrefixBuilder::new(d.path()).record(
                RecordSpec::new("libblas", "3.9.0", "20_linux64_mkl")
                    .depends(&["mkl >=2023.2.0,<2024.0a0"])
                    .constrains(&["libcblas 3.9.0 20_linux64_mkl", "blas * mkl"])
                    .track_features("blas_mkl blas_mkl_2")
                    .files(&["lib/libblas.so", "lib/libblas.so.3"]),
            );
            if rattler {
                b = b.rattler_style();
            }
            b.build().expect("build");
            let f = read(d.path());
            let r = f.record("libblas").expect("libblas");
            assert_eq!(r.build, "20_linux64_mkl");
            assert_eq!(r.subdir.as_deref(), Some("linux-64"));
            assert_eq!(r.track_features, vec!["blas_mkl", "blas_mkl_2"]);
            assert_eq!(r.depends, vec!["mkl >=2023.2.0,<2024.0a0"]);
            let ch = r.channel.as_deref().expect("channel");
            assert!(
                if rattler {
                    ch.ends_with("conda-forge/")
                } else {
                    ch.ends_with("conda-forge/linux-64")
                },
                "{ch}"
            );
            assert!(f.problems.is_empty(), "{:?}", f.problems);
        }
    }

    #[test]
    fn track_features_as_list_and_requested_spec_none() {
        let text = r#"{"name":"blas","version":"1.0","build":"openblas","track_features":["nomkl"],"requested_spec":"None","depends":null,"url":"https://repo.anaconda.com/pkgs/main/osx-64/blas-1.0-openblas.conda"}"#;
        let r = parse_record(text, Path::new("conda-meta/blas-1.0-openblas.json"), false)
            .expect("parse");
        assert_eq!(r.track_features, vec!["nomkl"]);
        assert!(r.depends.is_empty());
        assert_eq!(r.channel, None);
        assert_eq!(r.subdir.as_deref(), Some("osx-64"));
    }

    #[test]
    fn record_without_channel_keeps_url() {
        let d = tmp();
        PrefixBuilder::new(d.path())
            .record(RecordSpec::new("blas", "1.0", "mkl").no_channel())
            .build()
            .expect("build");
        let f = read(d.path());
        let r = f.record("blas").expect("blas");
        assert_eq!(r.channel, None);
        assert!(r.url.as_deref().is_some_and(|u| u.starts_with(PKGS_MAIN)));
        assert_eq!(r.subdir.as_deref(), Some("linux-64"));
    }

    #[test]
    fn truncated_record_is_a_problem_naming_the_file_and_line() {
        let d = tmp();
        PrefixBuilder::new(d.path())
            .record(RecordSpec::new("libblas", "3.9.0", "8_openblas").files(&["lib/libblas.so.3"]))
            .build()
            .expect("build");
        let p = d.path().join("conda-meta/libblas-3.9.0-8_openblas.json");
        let text = fs::read_to_string(&p).expect("read");
        fs::write(&p, &text[..text.len() / 2]).expect("write");
        let f = read(d.path());
        assert_eq!(f.problems.len(), 1);
        let pr = &f.problems[0];
        assert_eq!(pr.path.as_deref(), Some(p.as_path()));
        assert!(
            pr.message.starts_with("truncated JSON at line "),
            "{}",
            pr.message
        );
        // The build string still comes from the file name.
        assert_eq!(
            f.record("libblas").map(|r| r.build.as_str()),
            Some("8_openblas")
        );
    }

    #[test]
    fn non_utf8_record_is_a_problem() {
        let d = tmp();
        let cm = d.path().join("conda-meta");
        fs::create_dir_all(&cm).expect("mkdir");
        fs::write(
            cm.join("mkl-2023.1.0-h6b88ed4_46358.json"),
            b"{\"name\": \"mkl\xff\xfe\"}",
        )
        .expect("write");
        let f = read(d.path());
        assert_eq!(f.record_count, 1);
        assert!(
            f.problems[0].message.contains("not UTF-8"),
            "{:?}",
            f.problems
        );
        assert!(
            f.problems[0]
                .path
                .as_ref()
                .is_some_and(|p| p.ends_with("mkl-2023.1.0-h6b88ed4_46358.json"))
        );
    }

    #[test]
    fn unparseable_file_name_is_read_to_learn_the_name() {
        let d = tmp();
        let cm = d.path().join("conda-meta");
        fs::create_dir_all(&cm).expect("mkdir");
        fs::write(
            cm.join("strange.json"),
            r#"{"name":"nomkl","version":"3.0","build":"0"}"#,
        )
        .expect("write");
        fs::write(
            cm.join("other.json"),
            r#"{"name":"zlib","version":"1","build":"0"}"#,
        )
        .expect("write");
        let f = read(d.path());
        assert_eq!(f.record_count, 2);
        assert_eq!(f.records.len(), 1);
        assert_eq!(f.records[0].name, "nomkl");
    }

    #[test]
    fn empty_and_missing_conda_meta() {
        let d = tmp();
        let f = read(d.path());
        assert!(!f.has_conda_meta);
        assert!(f.problems.is_empty());
        fs::create_dir_all(d.path().join("conda-meta")).expect("mkdir");
        let f = read(d.path());
        assert!(f.has_conda_meta);
        assert_eq!(f.record_count, 0);
        assert!(f.records.is_empty() && f.problems.is_empty());
    }

    #[test]
    fn pinned_lines_flag_quotes_and_bad_specs() {
        let p = parse_pinned(
            "# comment\n\nlibblas=*=*mkl\n\"blas=*=mkl\"\nlibblas * *openblas\nnumpy >=>=1\n",
        );
        assert_eq!(p.len(), 4);
        assert_eq!((p[0].line, p[0].problem.is_none()), (3, true));
        assert!(
            p[1].problem
                .as_deref()
                .is_some_and(|m| m.contains("quoted"))
        );
        assert!(p[2].problem.is_none(), "{:?}", p[2]);
        assert!(
            p[3].problem
                .as_deref()
                .is_some_and(|m| m.contains("MatchSpec")),
            "{:?}",
            p[3]
        );
    }

    #[test]
    fn history_tail_finds_the_last_cmd_and_tool() {
        let d = tmp();
        let mut text = String::from("==> 2020 <==\n# cmd: /opt/conda/bin/conda create -n x\n");
        for i in 0..5000 {
            text.push_str(&format!("+conda-forge/linux-64::pkg{i}-1.0-0\n"));
        }
        text.push_str("==> 2021 <==\n# cmd: micromamba install -n x numpy\n");
        for i in 0..20000 {
            text.push_str(&format!("+conda-forge/linux-64::other{i}-1.0-0\n"));
        }
        let p = d.path().join("history");
        fs::write(&p, &text).expect("write");
        assert_eq!(
            last_history_cmd(&p).expect("read").as_deref(),
            Some("micromamba install -n x numpy")
        );
        fs::write(&p, "+a\n").expect("write");
        assert_eq!(last_history_cmd(&p).expect("read"), None);
        assert_eq!(
            tool_from_cmd("C:\\Users\\a\\miniconda3\\Scripts\\conda-script.py install x"),
            Some("conda")
        );
        assert_eq!(
            tool_from_cmd(
                "/home/u/miniforge3/lib/python3.11/site-packages/conda/__main__.py install"
            ),
            Some("conda")
        );
        assert_eq!(
            tool_from_cmd("/usr/local/bin/conda-env create -f e.yml"),
            Some("conda")
        );
        assert_eq!(tool_from_cmd("/opt/bin/mamba install numpy"), Some("mamba"));
        assert_eq!(tool_from_cmd("micromamba.exe create"), Some("micromamba"));
        assert_eq!(tool_from_cmd("pip install x"), None);
    }

    #[test]
    fn version_file_shapes() {
        assert_eq!(
            version_from_version_file("version = '1.16.6'\nfull_version = '1.16.6'\n").as_deref(),
            Some("1.16.6")
        );
        assert_eq!(
            version_from_version_file("version: str = \"2.0.2\"\n__version__ = version\n")
                .as_deref(),
            Some("2.0.2")
        );
        assert_eq!(
            version_from_version_file(
                "version_json = '''\n{\n \"date\": \"x\",\n \"version\": \"1.21.2\"\n}\n'''"
            )
            .as_deref(),
            Some("1.21.2")
        );
        assert_eq!(
            version_from_version_file("__version__ = '1.9.0'").as_deref(),
            Some("1.9.0")
        );
        assert_eq!(
            version_from_version_file(
                "from ._version import get_versions\nversion = vinfo['version']\n"
            ),
            None
        );
        assert_eq!(
            version_from_pyvenv_cfg("home = /usr/bin\nversion_info = 3.12.1.final.0\n").as_deref(),
            Some("3.12.1")
        );
        assert_eq!(
            version_from_pyvenv_cfg("version = 3.11.4\n").as_deref(),
            Some("3.11.4")
        );
    }

    #[test]
    fn site_packages_of_the_python_version_wins() {
        let d = tmp();
        PrefixBuilder::new(d.path())
            .python("3.8.10")
            .numpy_files("1.19.2", "_multiarray_umath.so")
            .build()
            .expect("build");
        PrefixBuilder::new(d.path())
            .python("3.11.9")
            .build()
            .expect("build");
        fs::create_dir_all(d.path().join("lib/python3.11/site-packages")).expect("mkdir");
        let f = read(d.path());
        assert_eq!(f.python_version.as_deref(), Some("3.11.9"));
        assert!(
            f.site
                .as_ref()
                .is_some_and(|s| s.path.ends_with("lib/python3.11/site-packages") && !s.numpy_dir)
        );
    }

    #[test]
    fn windows_layout_and_egg_info() {
        let d = tmp();
        PrefixBuilder::new(d.path())
            .windows_layout()
            .numpy_files("1.16.6", "_multiarray_umath.cp39-win_amd64.pyd")
            .build()
            .expect("build");
        let sp = d.path().join("Lib/site-packages");
        fs::write(
            sp.join("numpy-1.16.6-py3.9.egg-info"),
            "Metadata-Version: 1.2\nName: numpy\nVersion: 1.16.6\n",
        )
        .expect("egg");
        let f = read(d.path());
        let site = f.site.as_ref().expect("site");
        assert_eq!(site.dists.len(), 1);
        assert_eq!(
            (site.dists[0].name.as_str(), site.dists[0].version.as_str()),
            ("numpy", "1.16.6")
        );
        assert_eq!(site.dists[0].installer, None);
        assert_eq!(site.numpy_version_in_files.as_deref(), Some("1.16.6"));
        assert_eq!(
            site.numpy_core_extension.as_deref(),
            Some(Path::new("numpy/core/_multiarray_umath.cp39-win_amd64.pyd"))
        );
    }

    #[test]
    fn pip_dist_info_and_bundled_libs() {
        let d = tmp();
        PrefixBuilder::new(d.path())
            .venv("3.12.3")
            .pypi_numpy("2.0.2", "312")
            .bundled_lib("scipy.libs/libscipy_openblas-1.so")
            .build()
            .expect("build");
        let f = read(d.path());
        assert_eq!(f.python_version.as_deref(), Some("3.12.3"));
        let site = f.site.as_ref().expect("site");
        assert_eq!(site.dists[0].installer.as_deref(), Some("pip"));
        assert_eq!(
            site.dists[0].wheel_tags,
            vec!["cp312-cp312-manylinux_2_17_x86_64"]
        );
        assert_eq!(
            site.numpy_bundled_libs,
            vec!["numpy.libs/libscipy_openblas64_-99b71e71.so"]
        );
        assert_eq!(
            site.scipy_bundled_libs,
            vec!["scipy.libs/libscipy_openblas-1.so"]
        );
        assert_eq!(site.numpy_files_owner.as_deref(), Some("pip"));
    }
}
