//! Fixture prefixes for tests and benchmarks: conda-meta records written the way conda
//! (sorted keys) or rattler/pixi (rattler's key order) write them, pip dist-infos, NumPy's
//! files, bundled wheel libraries, BLAS symlinks, `pinned` and `history`; and a generator for
//! big realistic prefixes. Not part of the CLI.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub mod skip;

/// The emulator cargo runs this test binary under, for a cross build that the kernel cannot
/// execute (`qemu-aarch64 -L <sysroot>` from `CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER`,
/// set by .ci/cross): programs the tests build run under it too. None for native builds and
/// under Wine, where a Windows process starts Windows programs itself.
pub fn cross_runner() -> Option<Vec<String>> {
    let var = if cfg!(all(target_os = "linux", target_arch = "aarch64")) {
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER"
    } else {
        return None;
    };
    let words: Vec<String> = std::env::var(var)
        .ok()?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    (!words.is_empty()).then_some(words)
}

use serde_json::{Value, json};

/// One conda-meta record to write.
#[derive(Debug, Clone)]
pub struct RecordSpec {
    pub name: String,
    pub version: String,
    pub build: String,
    /// Channel base URL without subdir (`https://conda.anaconda.org/conda-forge`). None: an
    /// installer-made record with only `url` (its URL then uses repo.anaconda.com/pkgs/main).
    pub channel: Option<String>,
    pub subdir: String,
    pub depends: Vec<String>,
    pub constrains: Vec<String>,
    /// Space-joined, as conda writes it ("" for none).
    pub track_features: String,
    /// Paths relative to the prefix. Empty for numpy (conda-forge style) and numpy-base: NumPy's
    /// version file and `__init__.py` are listed automatically.
    pub files: Vec<String>,
}

impl Default for RecordSpec {
    fn default() -> Self {
        RecordSpec {
            name: String::new(),
            version: String::new(),
            build: String::new(),
            channel: Some(CONDA_FORGE.to_string()),
            subdir: "linux-64".to_string(),
            depends: Vec::new(),
            constrains: Vec::new(),
            track_features: String::new(),
            files: Vec::new(),
        }
    }
}

pub const CONDA_FORGE: &str = "https://conda.anaconda.org/conda-forge";
pub const PKGS_MAIN: &str = "https://repo.anaconda.com/pkgs/main";

impl RecordSpec {
    pub fn new(name: &str, version: &str, build: &str) -> Self {
        RecordSpec {
            name: name.into(),
            version: version.into(),
            build: build.into(),
            ..Default::default()
        }
    }
    pub fn channel(mut self, base: &str) -> Self {
        self.channel = Some(base.into());
        self
    }
    pub fn no_channel(mut self) -> Self {
        self.channel = None;
        self
    }
    pub fn subdir(mut self, subdir: &str) -> Self {
        self.subdir = subdir.into();
        self
    }
    pub fn depends(mut self, deps: &[&str]) -> Self {
        self.depends = deps.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn constrains(mut self, c: &[&str]) -> Self {
        self.constrains = c.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn track_features(mut self, tf: &str) -> Self {
        self.track_features = tf.into();
        self
    }
    pub fn files(mut self, files: &[&str]) -> Self {
        self.files = files.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn file_name(&self) -> String {
        format!("{}-{}-{}.json", self.name, self.version, self.build)
    }
    fn carries_numpy_files(&self) -> bool {
        self.name == "numpy-base"
            || (self.name == "numpy" && !self.depends.iter().any(|d| d.starts_with("numpy-base")))
    }
}

/// The text NumPy's `version.py` has for a version (so conda/pip hashes can be computed).
pub fn numpy_version_text(version: &str) -> String {
    format!(
        "# THIS FILE IS GENERATED DURING THE NUMPY BUILD\nversion = '{version}'\n__version__ = version\nfull_version = version\n"
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sha256_b64(bytes: &[u8]) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// Builds a prefix on disk. Nothing is written until `build`.
#[derive(Debug, Clone)]
pub struct PrefixBuilder {
    dir: PathBuf,
    rattler: bool,
    windows: bool,
    python: String,
    python_record: bool,
    venv: bool,
    records: Vec<RecordSpec>,
    dists: Vec<(String, String, String, Vec<String>)>,
    numpy: Option<(String, String)>,
    libs: Vec<String>,
    links: Vec<(String, String)>,
    pinned: Option<String>,
    history: Option<String>,
    conda_meta: bool,
}

impl PrefixBuilder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PrefixBuilder {
            dir: dir.into(),
            rattler: false,
            windows: false,
            python: "3.11.9".into(),
            python_record: false,
            venv: false,
            records: Vec::new(),
            dists: Vec::new(),
            numpy: None,
            libs: Vec::new(),
            links: Vec::new(),
            pinned: None,
            history: None,
            conda_meta: false,
        }
    }
    /// Write records the way rattler (pixi, micromamba 2) does.
    pub fn rattler_style(mut self) -> Self {
        self.rattler = true;
        self
    }
    /// Windows layout: `Lib/site-packages`, `Library/bin`.
    pub fn windows_layout(mut self) -> Self {
        self.windows = true;
        self
    }
    pub fn record(mut self, spec: RecordSpec) -> Self {
        self.conda_meta = true;
        self.records.push(spec);
        self
    }
    /// An empty `conda-meta/` even without records.
    pub fn conda_meta(mut self) -> Self {
        self.conda_meta = true;
        self
    }
    /// A `*.dist-info` in site-packages (installer "" writes no INSTALLER file).
    pub fn pip_dist(mut self, name: &str, version: &str, installer: &str, tags: &[&str]) -> Self {
        self.dists.push((
            name.into(),
            version.into(),
            installer.into(),
            tags.iter().map(|s| s.to_string()).collect(),
        ));
        self
    }
    /// numpy/version.py for `version` and an empty core extension `ext_name` (placed in
    /// `numpy/_core` for NumPy ≥ 2, else `numpy/core`, unless it contains a `/`; none when
    /// `ext_name` is empty).
    pub fn numpy_files(mut self, version: &str, ext_name: &str) -> Self {
        self.numpy = Some((version.into(), ext_name.into()));
        self
    }
    /// NumPy `version` as a pip-installed PyPI wheel for CPython `py` ("311"): dist-info with
    /// INSTALLER `pip` and a manylinux tag, NumPy's files, the bundled `libscipy_openblas64_`.
    pub fn pypi_numpy(self, version: &str, py: &str) -> Self {
        let tag = format!("cp{py}-cp{py}-manylinux_2_17_x86_64");
        let ext = format!("_multiarray_umath.cpython-{py}-x86_64-linux-gnu.so");
        self.pip_dist("numpy", version, "pip", &[tag.as_str()])
            .numpy_files(version, &ext)
            .bundled_lib("numpy.libs/libscipy_openblas64_-99b71e71.so")
    }
    /// An empty library at a path relative to site-packages (`numpy.libs/libscipy_openblas64_-x.so`).
    pub fn bundled_lib(mut self, rel: &str) -> Self {
        self.libs.push(rel.into());
        self
    }
    /// A symlink `lib/<name>` (or `Library/bin/<name>` with the Windows layout) to `target`.
    pub fn lib_link(mut self, name: &str, target: &str) -> Self {
        self.links.push((name.into(), target.into()));
        self
    }
    pub fn pinned(mut self, text: &str) -> Self {
        self.conda_meta = true;
        self.pinned = Some(text.into());
        self
    }
    pub fn history(mut self, text: &str) -> Self {
        self.conda_meta = true;
        self.history = Some(text.into());
        self
    }
    /// Python's version; also writes a conda-forge python record.
    pub fn python(mut self, version: &str) -> Self {
        self.python = version.into();
        self.python_record = true;
        self.conda_meta = true;
        self
    }
    /// A venv: pyvenv.cfg with this version, no conda-meta.
    pub fn venv(mut self, version: &str) -> Self {
        self.python = version.into();
        self.venv = true;
        self
    }

    /// `lib/pythonX.Y/site-packages` or `Lib/site-packages`, relative to the prefix.
    pub fn site_rel(&self) -> String {
        if self.windows {
            "Lib/site-packages".into()
        } else {
            let xy: Vec<&str> = self.python.split('.').take(2).collect();
            format!("lib/python{}/site-packages", xy.join("."))
        }
    }

    pub fn build(self) -> io::Result<PathBuf> {
        let root = &self.dir;
        fs::create_dir_all(root)?;
        let sp_rel = self.site_rel();
        let sp = root.join(&sp_rel);
        if let Some((version, ext)) = &self.numpy {
            let numpy = sp.join("numpy");
            fs::create_dir_all(&numpy)?;
            fs::write(numpy.join("__init__.py"), "")?;
            fs::write(numpy.join("version.py"), numpy_version_text(version))?;
            let ext_rel = if ext.contains('/') {
                ext.clone()
            } else if version
                .split('.')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
                .unwrap_or(0)
                >= 2
            {
                format!("_core/{ext}")
            } else {
                format!("core/{ext}")
            };
            // An empty stand-in is a corrupt module to linkage (a warning); "" writes none.
            if !ext.is_empty() {
                let ext_path = numpy.join(ext_rel);
                if let Some(parent) = ext_path.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::write(ext_path, "")?;
            }
        }
        for lib in &self.libs {
            let p = sp.join(lib);
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(p, "")?;
        }
        let lib_dir = root.join(if self.windows { "Library/bin" } else { "lib" });
        for (name, target) in &self.links {
            fs::create_dir_all(&lib_dir)?;
            make_link(target, &lib_dir.join(name))?;
        }
        for (name, version, installer, tags) in &self.dists {
            write_dist(&sp, name, version, installer, tags)?;
        }
        if self.venv {
            fs::create_dir_all(&sp)?;
            fs::write(
                root.join("pyvenv.cfg"),
                format!(
                    "home = /usr/bin\ninclude-system-site-packages = false\nversion = {}\n",
                    self.python
                ),
            )?;
        }
        if self.conda_meta {
            let cm = root.join("conda-meta");
            fs::create_dir_all(&cm)?;
            let mut records = self.records.clone();
            if self.python_record {
                let xy: Vec<&str> = self.python.split('.').take(2).collect();
                records.push(
                    RecordSpec::new("python", &self.python, "h955ad1f_0_cpython")
                        .subdir(
                            records
                                .first()
                                .map(|r| r.subdir.as_str())
                                .unwrap_or("linux-64"),
                        )
                        .files(&[&format!("bin/python{}", xy.join("."))]),
                );
            }
            for spec in &records {
                let text = record_json(spec, &sp_rel, root, self.rattler);
                fs::write(cm.join(spec.file_name()), text)?;
            }
            if let Some(p) = &self.pinned {
                fs::write(cm.join("pinned"), p)?;
            }
            if let Some(h) = &self.history {
                fs::write(cm.join("history"), h)?;
            }
        }
        Ok(root.clone())
    }
}

#[cfg(unix)]
fn make_link(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn make_link(target: &str, link: &Path) -> io::Result<()> {
    fs::write(link, target)
}

fn write_dist(
    sp: &Path,
    name: &str,
    version: &str,
    installer: &str,
    tags: &[String],
) -> io::Result<()> {
    let dir_name = format!("{}-{version}.dist-info", name.replace('-', "_"));
    let d = sp.join(&dir_name);
    fs::create_dir_all(&d)?;
    fs::write(
        d.join("METADATA"),
        format!(
            "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: fixture\n\nBody\n"
        ),
    )?;
    if !installer.is_empty() {
        fs::write(d.join("INSTALLER"), format!("{installer}\n"))?;
    }
    let mut wheel =
        String::from("Wheel-Version: 1.0\nGenerator: fixture\nRoot-Is-Purelib: false\n");
    for t in tags {
        wheel.push_str(&format!("Tag: {t}\n"));
    }
    fs::write(d.join("WHEEL"), wheel)?;
    let mut record = String::new();
    if name == "numpy" {
        let text = numpy_version_text(version);
        record.push_str(&format!("numpy/__init__.py,sha256={},0\n", sha256_b64(b"")));
        record.push_str(&format!(
            "numpy/version.py,sha256={},{}\n",
            sha256_b64(text.as_bytes()),
            text.len()
        ));
    }
    record.push_str(&format!("{dir_name}/METADATA,,\n{dir_name}/RECORD,,\n"));
    fs::write(d.join("RECORD"), record)
}

/// The files a spec installs, with the sha256 of their content (NumPy's version file as this
/// record's version would have written it; others hashed by path).
fn spec_files(spec: &RecordSpec, sp_rel: &str, root: &Path) -> Vec<(String, String, u64)> {
    let mut files = spec.files.clone();
    if files.is_empty() && spec.carries_numpy_files() {
        files.push(format!("{sp_rel}/numpy/__init__.py"));
        files.push(format!("{sp_rel}/numpy/version.py"));
    }
    files
        .into_iter()
        .map(|f| {
            let (hash, size) = if f.ends_with("numpy/version.py") {
                let t = numpy_version_text(&spec.version);
                (sha256_hex(t.as_bytes()), t.len() as u64)
            } else if f.ends_with("numpy/__init__.py") {
                (sha256_hex(b""), 0)
            } else {
                match fs::read(root.join(&f)) {
                    Ok(b) => (sha256_hex(&b), b.len() as u64),
                    Err(_) => (sha256_hex(f.as_bytes()), 1024),
                }
            };
            (f, hash, size)
        })
        .collect()
}

/// JSON text of a record, conda style (sorted keys) or rattler style.
fn record_json(spec: &RecordSpec, sp_rel: &str, root: &Path, rattler: bool) -> String {
    let files = spec_files(spec, sp_rel, root);
    record_json_with(spec, &files, rattler)
}

fn record_json_with(spec: &RecordSpec, files: &[(String, String, u64)], rattler: bool) -> String {
    let fn_ = format!("{}-{}-{}.conda", spec.name, spec.version, spec.build);
    let base = spec
        .channel
        .clone()
        .unwrap_or_else(|| PKGS_MAIN.to_string());
    let url = format!("{base}/{}/{fn_}", spec.subdir);
    let pkgs = format!(
        "/home/user/miniforge3/pkgs/{}-{}-{}",
        spec.name, spec.version, spec.build
    );
    let md5 = &sha256_hex(fn_.as_bytes())[..32];
    let sha = sha256_hex(url.as_bytes());
    let paths: Vec<Value> = files
        .iter()
        .map(|(p, h, size)| {
            if rattler {
                json!({"_path": p, "path_type": "hardlink", "sha256": h, "size_in_bytes": size})
            } else {
                json!({"_path": p, "path_type": "hardlink", "sha256": h, "sha256_in_prefix": h, "size_in_bytes": size})
            }
        })
        .collect();
    let file_list: Vec<&str> = files.iter().map(|(p, _, _)| p.as_str()).collect();
    let paths_data = json!({"paths": paths, "paths_version": 1});
    let mut pairs: Vec<(&str, Value)> = Vec::new();
    if rattler {
        let (arch, platform) = arch_platform(&spec.subdir);
        pairs.push(("arch", json!(arch)));
        pairs.push(("build", json!(spec.build)));
        pairs.push(("build_number", json!(build_number(&spec.build))));
        pairs.push(("constrains", json!(spec.constrains)));
        pairs.push(("depends", json!(spec.depends)));
        pairs.push(("license", json!("BSD-3-Clause")));
        pairs.push(("md5", json!(md5)));
        pairs.push(("name", json!(spec.name)));
        pairs.push(("platform", json!(platform)));
        pairs.push(("sha256", json!(sha)));
        pairs.push(("size", json!(4096)));
        pairs.push(("subdir", json!(spec.subdir)));
        pairs.push(("timestamp", json!(1_700_000_000_000u64)));
        if !spec.track_features.is_empty() {
            pairs.push(("track_features", json!(spec.track_features)));
        }
        pairs.push(("version", json!(spec.version)));
        pairs.push(("fn", json!(fn_)));
        pairs.push(("url", json!(url)));
        if let Some(c) = &spec.channel {
            pairs.push(("channel", json!(format!("{c}/"))));
        }
        pairs.push(("extracted_package_dir", json!(pkgs)));
        pairs.push(("requested_specs", json!([])));
        pairs.push(("files", json!(file_list)));
        pairs.push(("paths_data", paths_data));
        pairs.push(("link", json!({"source": pkgs, "type": 1})));
    } else {
        pairs.push(("build", json!(spec.build)));
        pairs.push(("build_number", json!(build_number(&spec.build))));
        if let Some(c) = &spec.channel {
            pairs.push(("channel", json!(format!("{c}/{}", spec.subdir))));
        }
        pairs.push(("constrains", json!(spec.constrains)));
        pairs.push(("depends", json!(spec.depends)));
        pairs.push(("extracted_package_dir", json!(pkgs)));
        pairs.push(("features", json!("")));
        pairs.push(("files", json!(file_list)));
        pairs.push(("fn", json!(fn_)));
        pairs.push(("license", json!("BSD-3-Clause")));
        pairs.push(("link", json!({"source": pkgs, "type": 1})));
        pairs.push(("md5", json!(md5)));
        pairs.push(("name", json!(spec.name)));
        pairs.push(("package_tarball_full_path", json!(format!("{pkgs}.conda"))));
        pairs.push(("paths_data", paths_data));
        pairs.push(("requested_spec", json!("None")));
        pairs.push(("sha256", json!(sha)));
        pairs.push(("size", json!(4096)));
        pairs.push(("subdir", json!(spec.subdir)));
        pairs.push(("timestamp", json!(1_700_000_000_000u64)));
        pairs.push(("track_features", json!(spec.track_features)));
        pairs.push(("url", json!(url)));
        pairs.push(("version", json!(spec.version)));
    }
    ordered_object(&pairs)
}

/// An object with keys in the given order, pretty-printed with indent 2 like conda.
fn ordered_object(pairs: &[(&str, Value)]) -> String {
    let mut out = String::from("{\n");
    for (i, (k, v)) in pairs.iter().enumerate() {
        let value = serde_json::to_string_pretty(v)
            .unwrap_or_else(|_| "null".into())
            .replace('\n', "\n  ");
        out.push_str(&format!("  {}: {value}", Value::from(*k)));
        out.push_str(if i + 1 < pairs.len() { ",\n" } else { "\n" });
    }
    out.push('}');
    out
}

fn build_number(build: &str) -> u64 {
    build
        .rsplit('_')
        .find_map(|p| p.parse().ok())
        .or_else(|| build.split('_').next()?.parse().ok())
        .unwrap_or(0)
}

fn arch_platform(subdir: &str) -> (&'static str, &'static str) {
    match subdir {
        "linux-64" => ("x86_64", "linux"),
        "linux-aarch64" => ("aarch64", "linux"),
        "osx-64" => ("x86_64", "osx"),
        "osx-arm64" => ("arm64", "osx"),
        "win-64" => ("x86_64", "win"),
        _ => ("", ""),
    }
}

/// A deterministic xorshift generator for fixture sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const WORDS: &[&str] = &[
    "arrow",
    "boost",
    "cairo",
    "dask",
    "expat",
    "fonttools",
    "gdal",
    "harfbuzz",
    "icu",
    "jinja2",
    "krb5",
    "lz4-c",
    "matplotlib-base",
    "ncurses",
    "openssl",
    "pandas",
    "qt-main",
    "r-base",
    "sqlite",
    "tornado",
    "libuv",
    "vtk",
    "xorg-libx11",
    "yaml-cpp",
    "zstd",
    "pytorch",
    "tensorflow-base",
    "jupyterlab",
    "scikit-learn",
    "statsmodels",
];

/// Write a realistic big conda prefix into `dir`: `records` conda-style records (the BLAS-
/// relevant ones of a conda-forge OpenBLAS NumPy env among them) totalling about `target_bytes`
/// of conda-meta with long `files`/`paths_data`, plus NumPy's files and the libblas symlinks.
pub fn generate_big_prefix(dir: &Path, records: usize, target_bytes: u64) -> io::Result<()> {
    let cf = |name: &str, version: &str, build: &str| RecordSpec::new(name, version, build);
    let sp_rel = "lib/python3.11/site-packages";
    let mut relevant = vec![
        cf("numpy", "1.26.4", "py311h64a7726_0")
            .depends(&[
                "libblas >=3.9.0,<4.0a0",
                "libcblas >=3.9.0,<4.0a0",
                "liblapack >=3.9.0,<4.0a0",
                "python >=3.11,<3.12.0a0",
            ])
            .constrains(&["numpy-base <0a0"]),
        cf("libblas", "3.9.0", "20_linux64_openblas").depends(&["libopenblas >=0.3.25,<1.0a0"]),
        cf("libcblas", "3.9.0", "20_linux64_openblas")
            .depends(&["libblas 3.9.0 20_linux64_openblas"]),
        cf("liblapack", "3.9.0", "20_linux64_openblas")
            .depends(&["libblas 3.9.0 20_linux64_openblas"]),
        cf("libopenblas", "0.3.25", "pthreads_h413a1c8_0"),
        cf("scipy", "1.12.0", "py311h64a7726_2"),
        cf("python", "3.11.9", "hb806964_0_cpython"),
        cf("_openmp_mutex", "4.5", "2_gnu"),
        cf("libgomp", "13.2.0", "h807b86a_5"),
        cf("threadpoolctl", "3.4.0", "pyhc1e730c_0").subdir("noarch"),
        cf("numexpr", "2.9.0", "py311h039bad6_100"),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let n_fill = records.saturating_sub(relevant.len());
    // Heavy-tailed file counts: most packages are small, a few (qt, pytorch) are huge.
    let weights: Vec<u64> = (0..records)
        .map(|_| {
            let r = rng.next() % 1000;
            match r {
                0..=599 => 1 + r % 8,
                600..=899 => 10 + r % 40,
                900..=979 => 80 + r % 200,
                _ => 600 + r * 2,
            }
        })
        .collect();
    let per_file = 385u64;
    let per_record = 1400u64;
    let budget = target_bytes.saturating_sub(records as u64 * per_record) / per_file;
    let total_w: u64 = weights.iter().sum::<u64>().max(1);
    let counts: Vec<usize> = weights
        .iter()
        .map(|w| (w * budget / total_w) as usize)
        .collect();
    let mut specs: Vec<RecordSpec> = Vec::with_capacity(records);
    for (i, spec) in relevant.iter_mut().enumerate() {
        let n = if spec.name == "python" {
            counts[i].max(4000)
        } else {
            counts[i]
        };
        spec.files = (0..n).map(|k| fake_path(&spec.name, k, sp_rel)).collect();
        if spec.name == "numpy" {
            spec.files.push(format!("{sp_rel}/numpy/version.py"));
            spec.files.push(format!("{sp_rel}/numpy/__init__.py"));
        }
        specs.push(spec.clone());
    }
    for i in 0..n_fill {
        let word = WORDS[i % WORDS.len()];
        let name = format!("{word}-{i}");
        let mut spec = cf(
            &name,
            &format!("{}.{}.{}", 1 + i % 9, i % 23, i % 7),
            &format!("h{:07x}_{}", rng.next() % 0xfff_ffff, i % 3),
        );
        spec.depends = (0..(i % 9))
            .map(|k| format!("{} >=1.{k}", WORDS[(i + k) % WORDS.len()]))
            .collect();
        let n = counts[relevant.len() + i];
        spec.files = (0..n).map(|k| fake_path(&name, k, sp_rel)).collect();
        specs.push(spec);
    }
    let cm = dir.join("conda-meta");
    fs::create_dir_all(&cm)?;
    for spec in &specs {
        let files: Vec<(String, String, u64)> = spec
            .files
            .iter()
            .map(|f| {
                if f.ends_with("numpy/version.py") {
                    let t = numpy_version_text(&spec.version);
                    (f.clone(), sha256_hex(t.as_bytes()), t.len() as u64)
                } else {
                    (
                        f.clone(),
                        sha256_hex(f.as_bytes()),
                        1000 + f.len() as u64 * 37,
                    )
                }
            })
            .collect();
        fs::write(
            cm.join(spec.file_name()),
            record_json_with(spec, &files, false),
        )?;
    }
    fs::write(
        cm.join("history"),
        "==> 2024-03-01 10:00:00 <==\n# cmd: /opt/conda/bin/conda create -n big numpy scipy\n# conda version: 24.1.2\n+conda-forge/linux-64::numpy-1.26.4-py311h64a7726_0\n",
    )?;
    PrefixBuilder::new(dir)
        .numpy_files(
            "1.26.4",
            "_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
        )
        .lib_link("libblas.so.3", "libopenblasp-r0.3.25.so")
        .lib_link("libcblas.so.3", "libopenblasp-r0.3.25.so")
        .lib_link("liblapack.so.3", "libopenblasp-r0.3.25.so")
        .build()?;
    Ok(())
}

fn fake_path(pkg: &str, k: usize, sp_rel: &str) -> String {
    match k % 4 {
        0 => format!(
            "{sp_rel}/{}/sub{}/module_{k}.py",
            pkg.replace('-', "_"),
            k % 17
        ),
        1 => format!("lib/lib{}.so.{}", pkg.replace('-', "_"), k),
        2 => format!("share/{pkg}/data/resource-{k:05}.dat"),
        _ => format!("include/{pkg}/detail/header_{k}.hpp"),
    }
}
