//! conda configuration: every `.condarc` conda would read, in conda's search order, merged by
//! conda's rules (lists merge, maps merge, scalars clobber, `#!final` stops later files), plus
//! `CONDA_*` variables; and the effective channel list with `defaults` expanded
//! (`default_channels`, `custom_multichannels`), names resolved (`custom_channels`,
//! `channel_alias`), each entry with the file and line it came from.
//!
//! Rules follow conda's own code (`conda/common/configuration.py`, `conda/base/context.py`,
//! `conda/models/channel.py`): sequence merge with `#!top`/`#!bottom` and de-duplication,
//! per-key `#!final` in maps, `custom_multichannels.defaults` over `default_channels`, and
//! bare names in `default_channels` resolved against `channel_alias` (not `custom_channels`:
//! that is what mamba does, and the difference is reported as a note).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_yaml::Value;

use crate::facts::mirrors::{self, KNOWN_SUBDIRS, Mirror};
use crate::facts::problem::Problem;
use crate::facts::snapshot::EnvSnapshot;

/// A value and where it was set.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Sourced<T> {
    pub value: T,
    /// The file that set it; None for conda's built-in default or an environment variable.
    pub file: Option<PathBuf>,
    /// 1-based line in that file.
    pub line: Option<usize>,
    /// "built-in default", "CONDA_CHANNELS", ... when `file` is None.
    pub origin: Option<String>,
}

impl<T> Sourced<T> {
    fn builtin(value: T) -> Self {
        Sourced {
            value,
            file: None,
            line: None,
            origin: Some(BUILTIN.to_string()),
        }
    }
    /// "path:line", the variable's name, or "built-in default".
    pub fn location(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{}:{l}", f.display()),
            (Some(f), None) => f.display().to_string(),
            _ => self.origin.clone().unwrap_or_default(),
        }
    }
}

const BUILTIN: &str = "built-in default";

/// How one file of the search path fared.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase", tag = "status", content = "message")]
pub enum FileStatus {
    Loaded,
    Unreadable(String),
    Invalid(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// Serialised inline: `{"path": .., "status": "loaded"|"unreadable"|"invalid", "message": ..}`.
    #[serde(flatten)]
    pub status: FileStatus,
}

/// The merged configuration (only the keys blasfix uses).
#[derive(Debug, Clone, Serialize, Default)]
pub struct CondaConfig {
    /// Files that exist on the search path, in the order conda reads them.
    pub files: Vec<ConfigFile>,
    pub channels: Vec<Sourced<String>>,
    /// As configured; empty both when unset and when set to `[]` (see
    /// `default_channels_configured`). `channel_facts` supplies the built-in list when unset.
    pub default_channels: Vec<Sourced<String>>,
    pub channel_alias: Sourced<String>,
    pub custom_channels: BTreeMap<String, Sourced<String>>,
    pub custom_multichannels: BTreeMap<String, Vec<Sourced<String>>>,
    pub channel_priority: Option<Sourced<String>>,
    pub pinned_packages: Vec<Sourced<String>>,
    /// Keys that look like misspellings of known keys ("chanels" -> "channels").
    pub unknown_keys: Vec<Sourced<String>>,
    pub problems: Vec<Problem>,
    /// Some file or variable sets `channels` (even to `[]`). When false, conda >= 25.9 has no
    /// channel at all and older conda used `defaults`.
    pub channels_configured: bool,
    /// Some file or variable sets `default_channels` (even to `[]`).
    pub default_channels_configured: bool,
    /// `allowlist_channels` (alias `whitelist_channels`): when non-empty conda refuses others.
    pub allowlist_channels: Vec<Sourced<String>>,
    pub denylist_channels: Vec<Sourced<String>>,
    /// Legacy `allow_other_channels` (conda 4.3); current conda ignores it.
    pub allow_other_channels: Option<Sourced<String>>,
    /// `.mambarc` files (and `$MAMBARC`) that exist: read by mamba/micromamba only, not merged.
    pub mamba_only_files: Vec<PathBuf>,
}

/// One entry of the effective channel list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EffectiveChannel {
    /// As written in the config (`conda-forge`, `defaults`, a URL).
    pub name: String,
    /// The resolved base URL, token- and password-masked, without subdir.
    pub url: String,
    /// Where the entry (or, for `defaults` expansions, the `default_channels` item) was written.
    pub source_file: Option<String>,
    pub line: Option<usize>,
    /// "defaults" when it comes from expanding `defaults`.
    pub via: Option<String>,
}

/// Channel facts for the report: the config, the effective list, recognised mirrors.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ChannelFacts {
    pub config: CondaConfig,
    pub effective: Vec<EffectiveChannel>,
    pub mirrors: Vec<crate::facts::mirrors::Mirror>,
    /// Where `conda-forge` and `defaults` resolve under this configuration.
    pub conda_forge_url: String,
    pub defaults_urls: Vec<String>,
    /// False when `allowlist_channels`/`denylist_channels` keep conda away from conda-forge.
    pub conda_forge_allowed: bool,
    /// Facts a reader should know: no channels configured, `nodefaults`, allowlists, where
    /// mamba would resolve differently.
    pub notes: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Search path

/// The `.condarc` search path, in conda's order, for this environment (existing or not).
/// Directories (`condarc.d/`) are listed as such; `load` expands them to their sorted
/// `*.yml`/`*.yaml` files. Entries whose variable is unset are left out (conda leaves `$VAR`
/// unexpanded, which never names an existing file).
pub fn search_path(env: &EnvSnapshot, prefix: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let trio = |dir: &Path, out: &mut Vec<PathBuf>| {
        out.push(dir.join(".condarc"));
        out.push(dir.join("condarc"));
        out.push(dir.join("condarc.d"));
    };
    if cfg!(windows) {
        trio(Path::new("C:/ProgramData/conda"), &mut out);
    } else {
        trio(Path::new("/etc/conda"), &mut out);
        trio(Path::new("/var/lib/conda"), &mut out);
    }
    if let Some(root) = conda_root(env) {
        trio(&root, &mut out);
    }
    if let Some(xdg) = env.path("XDG_CONFIG_HOME") {
        trio(&xdg.join("conda"), &mut out);
    }
    if let Some(home) = &env.home {
        trio(&home.join(".config").join("conda"), &mut out);
        trio(&home.join(".conda"), &mut out);
        out.push(home.join(".condarc"));
    }
    if let Some(p) = prefix
        .map(Path::to_path_buf)
        .or_else(|| env.path("CONDA_PREFIX"))
    {
        trio(&p, &mut out);
    }
    if let Some(rc) = env.get("CONDARC") {
        out.push(expand_home(rc, env));
    }
    out
}

/// mamba/micromamba's extra rc files: `.mambarc` beside conda's locations, the mamba config
/// dirs, `~/.mambarc`, `$MAMBARC`. conda never reads them; blasfix lists the ones that exist.
pub fn mamba_rc_paths(env: &EnvSnapshot, prefix: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if cfg!(windows) {
        out.push(PathBuf::from("C:/ProgramData/conda/.mambarc"));
    } else {
        out.push(PathBuf::from("/etc/conda/.mambarc"));
        out.push(PathBuf::from("/var/lib/conda/.mambarc"));
    }
    if let Some(root) = env.path("MAMBA_ROOT_PREFIX").or_else(|| conda_root(env)) {
        out.push(root.join(".mambarc"));
    }
    if let Some(xdg) = env.path("XDG_CONFIG_HOME") {
        out.push(xdg.join("mamba").join(".mambarc"));
    }
    if let Some(home) = &env.home {
        out.push(home.join(".config").join("mamba").join(".mambarc"));
        out.push(home.join(".mambarc"));
    }
    if let Some(p) = prefix
        .map(Path::to_path_buf)
        .or_else(|| env.path("CONDA_PREFIX"))
    {
        out.push(p.join(".mambarc"));
    }
    if let Some(rc) = env.get("MAMBARC") {
        out.push(expand_home(rc, env));
    }
    out
}

/// conda's base install: `$CONDA_ROOT`, else derived from `$CONDA_EXE` (`<root>/bin/conda`,
/// `<root>/condabin/conda`, `<root>\Scripts\conda.exe`), else `$_CONDA_ROOT`.
pub fn conda_root(env: &EnvSnapshot) -> Option<PathBuf> {
    if let Some(r) = env.path("CONDA_ROOT") {
        return Some(r);
    }
    if let Some(exe) = env.get("CONDA_EXE") {
        let exe = exe.replace('\\', "/");
        let p = Path::new(&exe);
        let dir = p.parent()?;
        let dname = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if ["bin", "condabin", "Scripts", "scripts"].contains(&dname)
            && let Some(root) = dir.parent()
        {
            return Some(root.to_path_buf());
        }
    }
    env.path("_CONDA_ROOT")
}

fn expand_home(p: &str, env: &EnvSnapshot) -> PathBuf {
    match (
        p.strip_prefix("~/").or_else(|| p.strip_prefix("~\\")),
        &env.home,
    ) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if p == "~" => env.home.clone().unwrap_or_else(|| PathBuf::from(p)),
        _ => PathBuf::from(p),
    }
}

fn is_yaml_ext(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

fn is_condarc_name(p: &Path) -> bool {
    matches!(
        p.file_name().and_then(|n| n.to_str()),
        Some(".condarc" | "condarc")
    ) || is_yaml_ext(p)
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Read and merge the configuration conda would use.
pub fn load(env: &EnvSnapshot, prefix: Option<&Path>) -> CondaConfig {
    let mut problems = Vec::new();
    let mut files: Vec<ConfigFile> = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let rc_var = env.get("CONDARC").map(|rc| expand_home(rc, env));
    for entry in search_path(env, prefix) {
        let Ok(meta) = std::fs::metadata(&entry) else {
            continue;
        };
        let is_condarc_d = entry.file_name().is_some_and(|n| n == "condarc.d");
        if meta.is_dir() {
            if !is_condarc_d {
                let msg =
                    "is a directory, not a file; conda reads only the *.yml/*.yaml files inside it";
                problems.push(Problem::at(&entry, msg));
                files.push(ConfigFile {
                    path: entry.clone(),
                    status: FileStatus::Unreadable(msg.into()),
                });
            }
            for f in dir_yaml_files(&entry, &mut problems) {
                if !seen.contains(&f) {
                    seen.push(f.clone());
                    read_one(&f, env, &mut files, &mut sources, &mut problems);
                }
            }
        } else if meta.is_file() {
            if !is_condarc_name(&entry) {
                if rc_var.as_deref() == Some(entry.as_path()) {
                    problems.push(Problem::at(
                        &entry,
                        "CONDARC names this file, but conda ignores it: the file must be called .condarc or condarc, or end in .yml/.yaml",
                    ));
                }
                continue;
            }
            if !seen.contains(&entry) {
                seen.push(entry.clone());
                read_one(&entry, env, &mut files, &mut sources, &mut problems);
            }
        }
    }
    let mut cfg = merge_sources(sources, env, problems);
    cfg.files = files;
    cfg.mamba_only_files = mamba_rc_paths(env, prefix)
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    cfg
}

/// Load exactly these files, in this order (later wins), plus `CONDA_*` variables: for tests
/// and for `--condarc`-style use. No name check is made.
pub fn load_paths(paths: &[PathBuf], env: &EnvSnapshot) -> CondaConfig {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    let mut sources = Vec::new();
    for p in paths {
        if p.is_dir() {
            for f in dir_yaml_files(p, &mut problems) {
                read_one(&f, env, &mut files, &mut sources, &mut problems);
            }
        } else {
            read_one(p, env, &mut files, &mut sources, &mut problems);
        }
    }
    let mut cfg = merge_sources(sources, env, problems);
    cfg.files = files;
    cfg
}

/// Parse configuration text as if it came from `path` (pure; for tests and other readers).
pub fn load_text(text: &str, path: &Path, env: &EnvSnapshot) -> CondaConfig {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    let mut sources = Vec::new();
    match parse_file(text, path, env, &mut problems) {
        Ok(src) => {
            files.push(ConfigFile {
                path: path.to_path_buf(),
                status: FileStatus::Loaded,
            });
            sources.push(src);
        }
        Err(msg) => {
            problems.push(Problem::at(path, format!("invalid YAML, ignored: {msg}")));
            files.push(ConfigFile {
                path: path.to_path_buf(),
                status: FileStatus::Invalid(msg),
            });
        }
    }
    let mut cfg = merge_sources(sources, env, problems);
    cfg.files = files;
    cfg
}

/// The `*.yml`/`*.yaml` files of a directory, sorted by name; other files are reported.
fn dir_yaml_files(dir: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            problems.push(Problem::at(
                dir,
                format!("cannot list this configuration directory: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for entry in rd.flatten() {
        let p = entry.path();
        if !p.is_file() {
            continue;
        }
        if is_yaml_ext(&p) {
            out.push(p);
        } else {
            problems.push(Problem::at(
                &p,
                "conda ignores this file: files in a condarc.d directory must end in .yml or .yaml",
            ));
        }
    }
    out.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    out
}

fn read_one(
    path: &Path,
    env: &EnvSnapshot,
    files: &mut Vec<ConfigFile>,
    sources: &mut Vec<Source>,
    problems: &mut Vec<Problem>,
) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("cannot read: {e}");
            problems.push(Problem::at(path, format!("{msg}; conda skips it too")));
            files.push(ConfigFile {
                path: path.to_path_buf(),
                status: FileStatus::Unreadable(msg),
            });
            return;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
            let msg = format!("not valid UTF-8 (line {line}, byte {at}); save it as UTF-8");
            problems.push(Problem::at(
                path,
                format!("{msg}; conda cannot read it either and ignores it"),
            ));
            files.push(ConfigFile {
                path: path.to_path_buf(),
                status: FileStatus::Unreadable(msg),
            });
            return;
        }
    };
    match parse_file(&text, path, env, problems) {
        Ok(src) => {
            files.push(ConfigFile {
                path: path.to_path_buf(),
                status: FileStatus::Loaded,
            });
            sources.push(src);
        }
        Err(msg) => {
            problems.push(Problem::at(
                path,
                format!("invalid YAML, conda ignores this file: {msg}"),
            ));
            files.push(ConfigFile {
                path: path.to_path_buf(),
                status: FileStatus::Invalid(msg),
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw parameters of one source

/// A `#!` marker conda reads from an end-of-line comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Final,
    Top,
    Bottom,
}

fn flag_of(comment: Option<&str>) -> Option<Flag> {
    match comment.map(|c| c.trim())? {
        "#!final" => Some(Flag::Final),
        "#!top" => Some(Flag::Top),
        "#!bottom" => Some(Flag::Bottom),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct Item {
    value: Sourced<String>,
    flag: Option<Flag>,
}

#[derive(Debug, Clone)]
enum RawValue {
    Seq(Vec<Item>),
    Scalar(Item),
    MapScalar(Vec<(String, Item)>),
    MapSeq(Vec<(String, Option<Flag>, Vec<Item>)>),
}

#[derive(Debug, Clone)]
struct RawParam {
    value: RawValue,
    key_final: bool,
}

/// One file or the environment.
#[derive(Debug, Clone, Default)]
struct Source {
    params: BTreeMap<&'static str, RawParam>,
    unknown: Vec<Sourced<String>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Seq,
    Scalar,
    MapScalar,
    MapSeq,
}

/// The keys blasfix merges: (canonical name, aliases, shape).
const TRACKED: &[(&str, &[&str], Shape)] = &[
    ("channels", &["channels", "channel"], Shape::Seq),
    ("default_channels", &["default_channels"], Shape::Seq),
    ("channel_alias", &["channel_alias"], Shape::Scalar),
    ("custom_channels", &["custom_channels"], Shape::MapScalar),
    (
        "custom_multichannels",
        &["custom_multichannels"],
        Shape::MapSeq,
    ),
    ("channel_priority", &["channel_priority"], Shape::Scalar),
    ("pinned_packages", &["pinned_packages"], Shape::Seq),
    (
        "allowlist_channels",
        &["allowlist_channels", "whitelist_channels"],
        Shape::Seq,
    ),
    ("denylist_channels", &["denylist_channels"], Shape::Seq),
    (
        "allow_other_channels",
        &["allow_other_channels"],
        Shape::Scalar,
    ),
];

/// Keys that take `${VAR}` expansion in conda.
const EXPANDED: &[&str] = &[
    "channels",
    "default_channels",
    "channel_alias",
    "custom_channels",
    "custom_multichannels",
    "allowlist_channels",
    "denylist_channels",
];

/// Parse one file's text into raw parameters with lines and markers.
fn parse_file(
    text: &str,
    path: &Path,
    env: &EnvSnapshot,
    problems: &mut Vec<Problem>,
) -> Result<Source, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc: Value = serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(loc) => format!("line {}, column {}: {e}", loc.line(), loc.column()),
        None => e.to_string(),
    })?;
    let map = match doc {
        Value::Null => return Ok(Source::default()),
        Value::Mapping(m) => m,
        other => {
            return Err(format!(
                "the top level is {}, not a mapping of settings",
                type_name(&other)
            ));
        }
    };
    let loc = Locator::new(text);
    let mut src = Source::default();
    let sourced = |value: String, line: Option<usize>| Sourced {
        value,
        file: Some(path.to_path_buf()),
        line,
        origin: None,
    };
    for (k, v) in map.iter() {
        let Some(key) = k.as_str() else { continue };
        let Some(&(canon, _, shape)) = TRACKED
            .iter()
            .find(|(_, aliases, _)| aliases.contains(&key))
        else {
            if let Some(suggest) = near_miss(key) {
                let line = loc.key_line(key).map(|i| i + 1);
                problems.push(Problem::at(
                    path,
                    format!("line {}: unknown key `{key}`; did you mean `{suggest}`? conda ignores `{key}`", line.unwrap_or(0)),
                ));
                src.unknown
                    .push(sourced(format!("{key} -> {suggest}"), line));
            }
            continue;
        };
        if v.is_null() {
            continue; // conda drops `key: ~` / `key:` matches
        }
        if src.params.contains_key(canon) {
            problems.push(Problem::at(path, format!("`{key}` repeats `{canon}` under another name; conda refuses such a file, blasfix keeps the first")));
            continue;
        }
        let key_idx = loc.key_line(key);
        let key_line = key_idx.map(|i| i + 1);
        let key_final = key_idx
            .and_then(|i| loc.comment(i))
            .map(|c| flag_of(Some(c)) == Some(Flag::Final))
            .unwrap_or(false);
        let expand = |s: String| {
            if EXPANDED.contains(&canon) {
                expand_vars(&s, env)
            } else {
                s
            }
        };
        let bad_type = |problems: &mut Vec<Problem>, want: &str| {
            problems.push(Problem::at(
                path,
                format!(
                    "line {}: `{key}` is {}, but conda wants {want}; conda refuses this value",
                    key_line.unwrap_or(0),
                    type_name(v)
                ),
            ));
        };
        let mut cursor = key_idx.map(|i| (i, loc.after_colon(i)));
        let value = match shape {
            Shape::Seq => {
                let Some(seq) = v.as_sequence() else {
                    bad_type(problems, "a list");
                    continue;
                };
                let mut items = Vec::new();
                for el in seq {
                    let Some(s) = scalar_string(el) else {
                        problems.push(Problem::at(
                            path,
                            format!(
                                "line {}: an item of `{key}` is {}, not a string; skipped",
                                key_line.unwrap_or(0),
                                type_name(el)
                            ),
                        ));
                        continue;
                    };
                    let found = cursor.and_then(|c| loc.find_value(&s, c, key_idx));
                    if let Some((li, col)) = found {
                        cursor = Some((li, col));
                    }
                    let line_idx = found.map(|(li, _)| li);
                    items.push(Item {
                        value: sourced(expand(s), line_idx.map(|i| i + 1)),
                        flag: line_idx.and_then(|i| flag_of(loc.comment(i))),
                    });
                }
                RawValue::Seq(items)
            }
            Shape::Scalar => {
                let Some(s) = scalar_string(v) else {
                    bad_type(problems, "a single value");
                    continue;
                };
                let found = cursor
                    .and_then(|c| loc.find_value(&s, c, key_idx))
                    .map(|(li, _)| li + 1);
                RawValue::Scalar(Item {
                    value: sourced(expand(s), found.or(key_line)),
                    flag: None,
                })
            }
            Shape::MapScalar | Shape::MapSeq => {
                let Some(m) = v.as_mapping() else {
                    bad_type(problems, "a mapping");
                    continue;
                };
                let mut scalars = Vec::new();
                let mut seqs = Vec::new();
                for (mk, mv) in m.iter() {
                    let Some(name) = scalar_string(mk) else {
                        continue;
                    };
                    let found = cursor.and_then(|c| loc.find_key(&name, c, key_idx));
                    if let Some(f) = found {
                        cursor = Some(f);
                    }
                    let entry_idx = found.map(|(li, _)| li);
                    let flag = entry_idx.and_then(|i| flag_of(loc.comment(i)));
                    let mut skipped = |wanted: &str| {
                        problems.push(Problem::at(
                            path,
                            format!(
                                "line {}: `{key}.{name}` is {}, not {wanted}; skipped",
                                entry_idx.map(|i| i + 1).unwrap_or(0),
                                type_name(mv)
                            ),
                        ))
                    };
                    if shape == Shape::MapScalar {
                        if mv.is_null() {
                            continue;
                        }
                        let Some(s) = scalar_string(mv) else {
                            skipped("a string");
                            continue;
                        };
                        scalars.push((
                            name,
                            Item {
                                value: sourced(expand(s), entry_idx.map(|i| i + 1)),
                                flag,
                            },
                        ));
                    } else {
                        let Some(seq) = mv.as_sequence() else {
                            skipped("a list");
                            continue;
                        };
                        let mut items = Vec::new();
                        for el in seq {
                            let Some(s) = scalar_string(el) else { continue };
                            let f = cursor.and_then(|c| loc.find_value(&s, c, key_idx));
                            if let Some(f) = f {
                                cursor = Some(f);
                            }
                            let li = f.map(|(li, _)| li);
                            items.push(Item {
                                value: sourced(expand(s), li.map(|i| i + 1)),
                                flag: li.and_then(|i| flag_of(loc.comment(i))),
                            });
                        }
                        seqs.push((name, flag, items));
                    }
                }
                if shape == Shape::MapScalar {
                    RawValue::MapScalar(scalars)
                } else {
                    RawValue::MapSeq(seqs)
                }
            }
        };
        src.params.insert(canon, RawParam { value, key_final });
    }
    Ok(src)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// conda's `custom_expandvars`: `$VAR`, `${VAR}`, `%VAR%`; unknown variables stay as written.
fn expand_vars(s: &str, env: &EnvSnapshot) -> String {
    if !s.contains('$') && !s.contains('%') {
        return s.to_string();
    }
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        let c = b[i] as char;
        let try_var = |name: &str| env.vars.get(name).cloned();
        if c == '$' && s[i + 1..].starts_with('{') {
            if let Some(end) = s[i + 2..].find('}') {
                let name = &s[i + 2..i + 2 + end];
                if !name.is_empty()
                    && name.chars().all(ident)
                    && let Some(v) = try_var(name)
                {
                    out.push_str(&v);
                    i += end + 3;
                    continue;
                }
            }
        } else if c == '$' {
            let len = s[i + 1..]
                .find(|ch: char| !ident(ch))
                .unwrap_or(s.len() - i - 1);
            let name = &s[i + 1..i + 1 + len];
            if !name.is_empty()
                && !name.starts_with(|ch: char| ch.is_ascii_digit())
                && let Some(v) = try_var(name)
            {
                out.push_str(&v);
                i += len + 1;
                continue;
            }
        } else if c == '%'
            && let Some(end) = s[i + 1..].find('%')
        {
            let name = &s[i + 1..i + 1 + end];
            if !name.is_empty()
                && name.chars().all(ident)
                && let Some(v) = try_var(name)
            {
                out.push_str(&v);
                i += end + 2;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Line locator

/// Finds the 1-based line of keys and values in YAML text without a second parser: block lists
/// (indented or not), flow lists, CRLF, comments between items, markers in end-of-line comments.
struct Locator<'a> {
    /// (code part, comment part) of each line, CR stripped.
    lines: Vec<(&'a str, Option<&'a str>)>,
    /// Indexes of lines that start a top-level key, with the key.
    top_keys: Vec<(usize, String)>,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        let lines: Vec<(&str, Option<&str>)> = text
            .split('\n')
            .map(|l| split_comment(l.strip_suffix('\r').unwrap_or(l)))
            .collect();
        let mut top_keys = Vec::new();
        for (i, (code, _)) in lines.iter().enumerate() {
            if code.is_empty()
                || code.starts_with([' ', '\t', '-', '#', '%'])
                || code.starts_with("---")
                || code.starts_with("...")
            {
                continue;
            }
            if let Some(k) = key_at(code) {
                top_keys.push((i, k));
            }
        }
        Locator { lines, top_keys }
    }

    fn key_line(&self, key: &str) -> Option<usize> {
        self.top_keys
            .iter()
            .find(|(_, k)| k == key)
            .map(|(i, _)| *i)
    }

    /// The line index where the region of the top-level key at `idx` ends (exclusive).
    fn region_end(&self, idx: usize) -> usize {
        self.top_keys
            .iter()
            .map(|(i, _)| *i)
            .find(|i| *i > idx)
            .unwrap_or(self.lines.len())
    }

    fn comment(&self, idx: usize) -> Option<&'a str> {
        self.lines.get(idx).and_then(|(_, c)| *c)
    }

    /// The column just past the key's colon on line `idx`.
    fn after_colon(&self, idx: usize) -> usize {
        let code = self.lines[idx].0;
        colon_pos(code).map(|p| p + 1).unwrap_or(0)
    }

    /// The first occurrence of `value` as a whole token at or after `cursor` within the region
    /// of the key at `key_idx`; returns (line, column past the value).
    fn find_value(
        &self,
        value: &str,
        cursor: (usize, usize),
        key_idx: Option<usize>,
    ) -> Option<(usize, usize)> {
        let end = key_idx
            .map(|k| self.region_end(k))
            .unwrap_or(self.lines.len());
        let needle = value.trim();
        if needle.is_empty() {
            return None;
        }
        for li in cursor.0..end {
            let code = self.lines[li].0;
            let start = if li == cursor.0 {
                cursor.1.min(code.len())
            } else {
                0
            };
            let mut from = start;
            while let Some(p) = code.get(from..).and_then(|s| s.find(needle)) {
                let at = from + p;
                let before = code[..at].chars().next_back();
                let after = code[at + needle.len()..].chars().next();
                let ok_before = before.is_none_or(|c| c.is_whitespace() || "-[,\"'{:".contains(c));
                let ok_after = after.is_none_or(|c| c.is_whitespace() || ",]}\"'".contains(c));
                if ok_before && ok_after {
                    return Some((li, at + needle.len()));
                }
                from = at + needle.len().max(1);
            }
        }
        None
    }

    /// The line of a nested mapping key (`  name: value`, possibly quoted) after `cursor`.
    fn find_key(
        &self,
        name: &str,
        cursor: (usize, usize),
        key_idx: Option<usize>,
    ) -> Option<(usize, usize)> {
        let end = key_idx
            .map(|k| self.region_end(k))
            .unwrap_or(self.lines.len());
        for li in cursor.0..end {
            let code = self.lines[li].0;
            let start = if li == cursor.0 {
                cursor.1.min(code.len())
            } else {
                0
            };
            let rest = &code[start..];
            let trimmed = rest.trim_start().trim_start_matches(['{', ',', ' ']);
            for cand in [name.to_string(), format!("\"{name}\""), format!("'{name}'")] {
                if let Some(after) = trimmed.strip_prefix(cand.as_str())
                    && after.trim_start().starts_with(':')
                {
                    let col = code.len() - after.len() + after.find(':').unwrap_or(0) + 1;
                    return Some((li, col));
                }
            }
            // flow mapping on one line: `{a: x, b: y}`
            if let Some(p) = rest.find(&format!("{name}:")) {
                return Some((li, start + p + name.len() + 1));
            }
        }
        None
    }
}

/// Split a line into its code part (right-trimmed) and an end-of-line comment.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut prev_ws = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '#' && prev_ws => return (line[..i].trim_end(), Some(&line[i..])),
            None if (c == '"' || c == '\'') && prev_ws_or_flow(line, i) => quote = Some(c),
            None => {}
        }
        prev_ws = c.is_whitespace();
    }
    (line.trim_end(), None)
}

fn prev_ws_or_flow(line: &str, i: usize) -> bool {
    line[..i]
        .chars()
        .next_back()
        .is_none_or(|c| c.is_whitespace() || "[{,:-".contains(c))
}

/// Position of the `:` ending a mapping key on a code line.
fn colon_pos(code: &str) -> Option<usize> {
    let t = code.trim_start();
    let off = code.len() - t.len();
    if let Some(q) = t.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let close = t[1..].find(q)? + 1;
        let after = &t[close + 1..];
        return after.find(':').map(|p| off + close + 1 + p);
    }
    let b = t.as_bytes();
    (0..b.len())
        .find(|&i| b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ' || b[i + 1] == b'\t'))
        .map(|i| off + i)
}

fn key_at(code: &str) -> Option<String> {
    let p = colon_pos(code)?;
    let k = code[..p].trim();
    let k = k.trim_matches(|c| c == '"' || c == '\'');
    (!k.is_empty()).then(|| k.to_string())
}

// ---------------------------------------------------------------------------------------------
// Unknown keys

/// conda's parameter names and aliases, plus keys other tools put in `.condarc` (conda-build,
/// mamba) and legacy ones; a key close to one of these but not equal is a likely misspelling.
#[rustfmt::skip]
const KNOWN_KEYS: &[&str] = &[
    "add_anaconda_token", "add_binstar_token", "add_pip_as_python_dependency",
    "aggressive_update_packages", "allow_conda_downgrades", "allow_cycles",
    "allow_non_channel_urls", "allow_softlinks", "allowlist_channels", "always_copy",
    "always_softlink", "always_yes", "anaconda_upload", "auto_activate", "auto_activate_base",
    "auto_stack", "auto_update_conda", "binstar_upload", "bld_path", "changeps1", "channel",
    "channel_alias", "channel_priority", "channel_settings", "channels", "client_cert",
    "client_cert_key", "client_ssl_cert", "client_ssl_cert_key", "clobber", "conda_build",
    "console", "cooldown", "cooldown_exclude", "copy", "create_default_packages", "croot",
    "custom_channels", "custom_multichannels", "debug", "default_activation_env",
    "default_channels", "default_python", "default_threads", "denylist_channels", "deps_modifier",
    "dev", "disallow", "disallowed_packages", "download_only", "dry_run", "enable_private_envs",
    "env_prompt", "env_spec", "environment_specifier", "envs_dirs", "envs_path",
    "envvars_force_uppercase", "error_upload_url", "exclude_newer", "exclude_newer_package",
    "execute_threads", "experimental", "experimental_solver", "export_platforms", "extra_platforms",
    "extra_safety_checks", "fetch_threads", "force", "force_32bit", "force_reinstall",
    "force_remove", "ignore_pinned", "json", "list_fields", "local_repodata_ttl",
    "migrated_channel_aliases", "migrated_custom_channels", "no_lock", "no_plugins",
    "non_admin_enabled", "notify_outdated_conda", "number_channel_notices", "offline",
    "override_channels_enabled", "override_virtual_packages", "path_conflict", "pinned_packages",
    "pip_interop_enabled", "pkgs_dirs", "prefix_data_interoperability", "preview",
    "protect_frozen_envs", "proxy_servers", "quiet", "register_envs", "remote_backoff_factor",
    "remote_connect_timeout_secs", "remote_max_retries", "remote_read_timeout_secs", "repodata_fns",
    "repodata_threads", "repodata_use_shards", "repodata_use_zst", "report_errors",
    "rollback_enabled", "root_dir", "root_prefix", "safety_checks", "sat_solver", "self_update",
    "separate_format_cache", "shortcuts", "shortcuts_only", "show_channel_urls",
    "signing_metadata_url_base", "softlink", "solver", "solver_ignore_timestamps", "ssl_verify",
    "subdir", "subdirs", "target_prefix_override", "trace", "track_features", "unsatisfiable_hints",
    "unsatisfiable_hints_check_depth", "update_modifier", "use_index_cache", "use_local",
    "use_only_tar_bz2", "verbose", "verbosity", "verify_ssl", "verify_threads", "virtual_packages",
    "whitelist_channels", "yes", "conda-build", "restore_free_channel", "allow_other_channels",
    "update_dependencies", "use_pip", "mirrored_channels", "extract_threads", "download_threads",
    "use_lockfiles", "compile_pyc", "verify_artifacts", "experimental_sat_error_message", "use_uv",
    "channel_settings", "default_channels", "proxy_servers", "show_channel_urls",
    "max_parallel_downloads", "create_default_packages",
];

/// The known key `key` is probably a misspelling of, if any.
fn near_miss(key: &str) -> Option<&'static str> {
    let norm = key.to_ascii_lowercase().replace('-', "_");
    if KNOWN_KEYS.contains(&key) || KNOWN_KEYS.contains(&norm.as_str()) {
        return None;
    }
    let limit = if norm.len() >= 6 { 2 } else { 1 };
    KNOWN_KEYS
        .iter()
        .map(|k| (osa_distance(&norm, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn osa_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

// ---------------------------------------------------------------------------------------------
// Merging

/// `CONDA_*` variables conda reads for the tracked keys: (variable, key, list delimiter).
const ENV_KEYS: &[(&str, &str, Option<&str>)] = &[
    ("CONDA_CHANNELS", "channels", Some(",")),
    ("CONDA_CHANNEL", "channels", Some(",")),
    ("CONDA_DEFAULT_CHANNELS", "default_channels", Some(",")),
    ("CONDA_CHANNEL_ALIAS", "channel_alias", None),
    ("CONDA_CHANNEL_PRIORITY", "channel_priority", None),
    ("CONDA_PINNED_PACKAGES", "pinned_packages", Some("&")),
    ("CONDA_ALLOWLIST_CHANNELS", "allowlist_channels", Some(",")),
    ("CONDA_WHITELIST_CHANNELS", "allowlist_channels", Some(",")),
    ("CONDA_DENYLIST_CHANNELS", "denylist_channels", Some(",")),
];

/// The environment as conda's highest-precedence source (after all files).
fn env_source(env: &EnvSnapshot, problems: &mut Vec<Problem>) -> Source {
    let mut src = Source::default();
    for &(var, key, delim) in ENV_KEYS {
        let Some(raw) = env.get(var) else { continue };
        if src.params.contains_key(key) {
            continue;
        }
        let key_final = raw.contains("!important");
        let raw = raw.replace("!important", "");
        let sourced = |v: &str| Sourced {
            value: v.trim().to_string(),
            file: None,
            line: None,
            origin: Some(var.to_string()),
        };
        let value = match delim {
            Some(d) => RawValue::Seq(
                raw.split(d)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Item {
                        value: sourced(&expand_vars(s, env)),
                        flag: None,
                    })
                    .collect(),
            ),
            None => RawValue::Scalar(Item {
                value: sourced(&expand_vars(&raw, env)),
                flag: None,
            }),
        };
        src.params.insert(key, RawParam { value, key_final });
    }
    for var in ["CONDA_CUSTOM_CHANNELS", "CONDA_CUSTOM_MULTICHANNELS"] {
        if env.get(var).is_some() {
            problems.push(Problem::general(format!(
                "{var} is set, but conda cannot read a mapping from an environment variable (it stops with an invalid-type error); put it in a .condarc instead"
            )));
        }
    }
    src
}

/// The matches of one key, in source order.
fn matches<'s>(sources: &'s [Source], key: &str) -> Vec<&'s RawParam> {
    sources.iter().filter_map(|s| s.params.get(key)).collect()
}

/// Matches up to and including the first one whose key is `#!final`.
fn relevant<'a, 's>(m: &'a [&'s RawParam]) -> &'a [&'s RawParam] {
    match m.iter().position(|p| p.key_final) {
        Some(i) => &m[..=i],
        None => m,
    }
}

fn unique(items: impl IntoIterator<Item = Item>) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for it in items {
        if !out.iter().any(|o| o.value.value == it.value.value) {
            out.push(it);
        }
    }
    out
}

/// conda's `SequenceLoadedParameter.merge`: later sources' items first, de-duplicated,
/// `#!top` items first and `#!bottom` items last.
fn merge_seq(lists: &[(Vec<Item>, bool)]) -> Vec<Sourced<String>> {
    let cut = lists
        .iter()
        .position(|(_, f)| *f)
        .map(|i| i + 1)
        .unwrap_or(lists.len());
    let rel = &lists[..cut];
    let marked = |l: &Vec<Item>, f: Flag| {
        l.iter()
            .filter(move |i| i.flag == Some(f))
            .cloned()
            .collect::<Vec<_>>()
    };
    let top: Vec<Item> = rel.iter().flat_map(|(l, _)| marked(l, Flag::Top)).collect();
    let bottom: Vec<Item> = rel
        .iter()
        .rev()
        .flat_map(|(l, _)| marked(l, Flag::Bottom))
        .collect();
    let all: Vec<Item> = rel
        .iter()
        .rev()
        .flat_map(|(l, _)| l.iter().cloned())
        .collect();
    let top_deduped = unique(top.into_iter().chain(all));
    let mut bottom_deduped = unique(
        bottom
            .into_iter()
            .rev()
            .chain(top_deduped.into_iter().rev()),
    );
    bottom_deduped.reverse();
    bottom_deduped.into_iter().map(|i| i.value).collect()
}

fn seq_of(sources: &[Source], key: &str) -> (Vec<Sourced<String>>, bool) {
    let m = matches(sources, key);
    let lists: Vec<(Vec<Item>, bool)> = m
        .iter()
        .filter_map(|p| match &p.value {
            RawValue::Seq(items) => Some((items.clone(), p.key_final)),
            _ => None,
        })
        .collect();
    (merge_seq(&lists), !lists.is_empty())
}

/// conda's primitive merge: the first `#!final` match, else the last.
fn scalar_of(sources: &[Source], key: &str) -> Option<Sourced<String>> {
    let m = matches(sources, key);
    let pick = m.iter().find(|p| p.key_final).or(m.last())?;
    match &pick.value {
        RawValue::Scalar(i) => Some(i.value.clone()),
        _ => None,
    }
}

/// conda's `MapLoadedParameter.merge` for string values: per key the last value, unless an
/// entry is marked `#!final` (the earliest such wins); a `#!final` key stops later sources.
fn map_scalar_of(sources: &[Source], key: &str) -> Option<BTreeMap<String, Sourced<String>>> {
    let m = matches(sources, key);
    if m.is_empty() {
        return None;
    }
    let mut out: BTreeMap<String, Sourced<String>> = BTreeMap::new();
    let mut finals: BTreeMap<String, Sourced<String>> = BTreeMap::new();
    for p in relevant(&m) {
        if let RawValue::MapScalar(entries) = &p.value {
            for (k, item) in entries {
                out.insert(k.clone(), item.value.clone());
                if item.flag == Some(Flag::Final) && !finals.contains_key(k) {
                    finals.insert(k.clone(), item.value.clone());
                }
            }
        }
    }
    out.extend(finals);
    Some(out)
}

fn map_seq_of(sources: &[Source], key: &str) -> BTreeMap<String, Vec<Sourced<String>>> {
    let m = matches(sources, key);
    let mut grouped: BTreeMap<String, Vec<(Vec<Item>, bool)>> = BTreeMap::new();
    for p in relevant(&m) {
        if let RawValue::MapSeq(entries) = &p.value {
            for (k, flag, items) in entries {
                grouped
                    .entry(k.clone())
                    .or_default()
                    .push((items.clone(), *flag == Some(Flag::Final)));
            }
        }
    }
    grouped
        .into_iter()
        .map(|(k, lists)| (k, merge_seq(&lists)))
        .collect()
}

fn merge_sources(
    mut sources: Vec<Source>,
    env: &EnvSnapshot,
    mut problems: Vec<Problem>,
) -> CondaConfig {
    sources.push(env_source(env, &mut problems));
    let (channels, channels_configured) = seq_of(&sources, "channels");
    let (default_channels, default_channels_configured) = seq_of(&sources, "default_channels");
    let channel_alias = scalar_of(&sources, "channel_alias")
        .map(|s| Sourced {
            value: mirrors::mask(&s.value),
            ..s
        })
        .unwrap_or_else(|| Sourced::builtin(DEFAULT_CHANNEL_ALIAS.to_string()));
    let custom_channels = map_scalar_of(&sources, "custom_channels").unwrap_or_else(|| {
        BTreeMap::from([(
            "pkgs/pro".to_string(),
            Sourced::builtin("https://repo.anaconda.com".to_string()),
        )])
    });
    let channel_priority = scalar_of(&sources, "channel_priority").map(|s| {
        let v = match s.value.to_ascii_lowercase().as_str() {
            "true" => "flexible".to_string(),
            "false" => "disabled".to_string(),
            other => other.to_string(),
        };
        Sourced { value: v, ..s }
    });
    let unknown_keys = sources
        .iter()
        .flat_map(|s| s.unknown.iter().cloned())
        .collect();
    CondaConfig {
        files: Vec::new(),
        channels,
        default_channels,
        channel_alias,
        custom_channels,
        custom_multichannels: map_seq_of(&sources, "custom_multichannels"),
        channel_priority,
        pinned_packages: seq_of(&sources, "pinned_packages").0,
        unknown_keys,
        problems,
        channels_configured,
        default_channels_configured,
        allowlist_channels: seq_of(&sources, "allowlist_channels").0,
        denylist_channels: seq_of(&sources, "denylist_channels").0,
        allow_other_channels: scalar_of(&sources, "allow_other_channels"),
        mamba_only_files: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Channel resolution (pure)

pub const DEFAULT_CHANNEL_ALIAS: &str = "https://conda.anaconda.org";

fn has_scheme(s: &str) -> bool {
    s.find("://").is_some_and(|i| {
        i > 0
            && s[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    })
}

fn is_path(s: &str) -> bool {
    s.starts_with('/')
        || s.starts_with("./")
        || s.starts_with("../")
        || s.starts_with('~')
        || s.starts_with('\\')
        || (s.len() > 2
            && s.as_bytes()[1] == b':'
            && (s.as_bytes()[2] == b'\\' || s.as_bytes()[2] == b'/'))
}

/// Strip a trailing slash and a trailing `/<subdir>`.
fn strip_subdir(s: &str) -> &str {
    let s = s.trim_end_matches('/');
    match s.rsplit_once('/') {
        Some((head, last)) if KNOWN_SUBDIRS.contains(&last) => head.trim_end_matches('/'),
        _ => s,
    }
}

fn path_to_url(p: &str) -> String {
    let p = p.replace('\\', "/");
    if p.starts_with('/') {
        format!("file://{p}")
    } else {
        format!("file:///{p}")
    }
}

/// The base URL of a URL-or-path channel entry (subdir stripped, masked).
fn url_channel(s: &str) -> String {
    let s = s.trim();
    let u = if has_scheme(s) {
        s.to_string()
    } else {
        path_to_url(s)
    };
    mirrors::mask(strip_subdir(&u))
}

/// (location, name) of a multichannel member, as conda's `make_simple_channel` sees it:
/// relative to `channel_alias` when it starts with it, else host and path.
fn member_location(alias: &str, url: &str) -> (String, String) {
    let strip = |u: &str| {
        u.split_once("://")
            .map(|(_, r)| r.to_string())
            .unwrap_or_else(|| u.to_string())
    };
    let (a, u) = (
        strip(alias.trim_end_matches('/')),
        strip(url.trim_end_matches('/')),
    );
    if !a.is_empty()
        && let Some(rest) = u.strip_prefix(&a)
    {
        return (
            alias.trim_end_matches('/').to_string(),
            rest.trim_matches('/').to_string(),
        );
    }
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("https");
    match u.split_once('/') {
        Some((host, path)) => (
            format!("{scheme}://{host}"),
            path.trim_matches('/').to_string(),
        ),
        None => (format!("{scheme}://{u}"), String::new()),
    }
}

/// The members of the multichannel `name` (`defaults` or a `custom_multichannels` key), as
/// configured (raw strings with their source); None when `name` is not a multichannel.
fn multichannel_members(
    cfg: &CondaConfig,
    name: &str,
    subdir: &str,
) -> Option<Vec<Sourced<String>>> {
    if let Some(m) = cfg.custom_multichannels.get(name)
        && name != "local"
    {
        return Some(m.clone());
    }
    if name != "defaults" {
        return None;
    }
    if cfg.default_channels_configured {
        return Some(cfg.default_channels.clone());
    }
    let mut v = vec![
        "https://repo.anaconda.com/pkgs/main",
        "https://repo.anaconda.com/pkgs/r",
    ];
    if subdir.starts_with("win-") {
        v.push("https://repo.anaconda.com/pkgs/msys2");
    }
    Some(
        v.into_iter()
            .map(|s| Sourced::builtin(s.to_string()))
            .collect(),
    )
}

/// A multichannel member's URL: a URL stays, a bare name goes under `channel_alias` (conda's
/// `make_simple_channel`; it does not consult `custom_channels` here).
fn member_url(cfg: &CondaConfig, member: &str) -> String {
    let m = member.trim();
    if has_scheme(m) || is_path(m) {
        url_channel(m)
    } else {
        mirrors::mask(&format!(
            "{}/{}",
            cfg.channel_alias.value.trim_end_matches('/'),
            strip_subdir(m).trim_matches('/')
        ))
    }
}

/// Where a single channel name resolves: `custom_channels` (longest prefix of the name, then
/// names of multichannel members such as `pkgs/main`), else `channel_alias`.
fn resolve_single(cfg: &CondaConfig, name: &str, subdir: &str) -> String {
    let n = strip_subdir(name.trim()).trim_matches('/');
    let mut test = n;
    loop {
        if let Some(loc) = cfg.custom_channels.get(test) {
            return mirrors::mask(&format!("{}/{}", loc.value.trim().trim_end_matches('/'), n));
        }
        match test.rsplit_once('/') {
            Some((head, _)) => test = head,
            None => break,
        }
    }
    // Members of multichannels are custom channels under their own names (`pkgs/main`).
    let mut names: Vec<String> = cfg.custom_multichannels.keys().cloned().collect();
    names.push("defaults".into());
    for mc in names {
        for m in multichannel_members(cfg, &mc, subdir).unwrap_or_default() {
            if !has_scheme(&m.value) {
                continue;
            }
            let (loc, mname) = member_location(&cfg.channel_alias.value, strip_subdir(&m.value));
            if !mname.is_empty() && (n == mname || n.starts_with(&format!("{mname}/"))) {
                return mirrors::mask(&format!("{loc}/{n}"));
            }
        }
    }
    mirrors::mask(&format!(
        "{}/{}",
        cfg.channel_alias.value.trim_end_matches('/'),
        n
    ))
}

/// Where a channel name or URL resolves under `cfg`, masked, without subdir. A URL or path stays
/// (trailing `/<subdir>` stripped); a multichannel (`defaults`, a `custom_multichannels` key)
/// gives its members' URLs joined with ", "; `nodefaults` gives "".
pub fn resolve_name(cfg: &CondaConfig, name_or_url: &str, subdir: &str) -> String {
    resolve_all(cfg, name_or_url, subdir).join(", ")
}

/// Like `resolve_name`, one URL per member for multichannels.
pub fn resolve_all(cfg: &CondaConfig, name_or_url: &str, subdir: &str) -> Vec<String> {
    let s = name_or_url.trim();
    if s.is_empty() || s == "nodefaults" {
        return Vec::new();
    }
    if has_scheme(s) || is_path(s) {
        return vec![url_channel(s)];
    }
    let stripped = strip_subdir(s);
    if let Some(members) = multichannel_members(cfg, stripped, subdir) {
        return members.iter().map(|m| member_url(cfg, &m.value)).collect();
    }
    vec![resolve_single(cfg, s, subdir)]
}

fn file_str(s: &Sourced<String>) -> Option<String> {
    s.file
        .as_ref()
        .map(|f| f.display().to_string())
        .or_else(|| s.origin.clone())
}

/// The effective channel list and mirrors (pure).
pub fn channel_facts(cfg: &CondaConfig, subdir: &str) -> ChannelFacts {
    let mut effective: Vec<EffectiveChannel> = Vec::new();
    let mut notes = Vec::new();
    let push = |e: EffectiveChannel, effective: &mut Vec<EffectiveChannel>| {
        if !effective.iter().any(|x| x.url == e.url) {
            effective.push(e);
        }
    };
    for ch in &cfg.channels {
        let name = ch.value.trim();
        if name == "nodefaults" {
            notes.push(format!(
                "`nodefaults` at {} keeps `defaults` out only because `defaults` is not listed; conda itself treats it as the (empty) anaconda.org channel `nodefaults`, and only `conda env create` strips it",
                ch.location()
            ));
            continue;
        }
        let stripped = strip_subdir(name);
        let multi = if has_scheme(name) || is_path(name) {
            None
        } else {
            multichannel_members(cfg, stripped, subdir)
        };
        match multi {
            Some(members) => {
                if members.is_empty() {
                    notes.push(format!(
                        "`{stripped}` (at {}) expands to nothing: its list is empty",
                        ch.location()
                    ));
                }
                for m in members {
                    let e = EffectiveChannel {
                        name: m.value.clone(),
                        url: member_url(cfg, &m.value),
                        source_file: file_str(&m),
                        line: m.line,
                        via: Some(stripped.to_string()),
                    };
                    push(e, &mut effective);
                }
            }
            None => {
                let e = EffectiveChannel {
                    name: name.to_string(),
                    url: resolve_single_or_url(cfg, name, subdir),
                    source_file: file_str(ch),
                    line: ch.line,
                    via: None,
                };
                push(e, &mut effective);
            }
        }
    }
    if cfg.channels.is_empty() {
        if cfg.channels_configured {
            notes.push("`channels` is set to an empty list: conda has no channel unless one is given with -c".into());
        } else {
            notes.push("no file or variable sets `channels`: conda 25.9 and later then use no channel at all (pass -c or set channels), older conda used `defaults`".into());
        }
    }
    let defaults_urls = resolve_all(cfg, "defaults", subdir);
    let conda_forge_url = resolve_name(cfg, "conda-forge", subdir);

    // Bare names in default_channels: conda and mamba disagree.
    if cfg.default_channels_configured {
        for m in &cfg.default_channels {
            let v = m.value.trim();
            if !has_scheme(v) && !is_path(v) {
                let conda_url = member_url(cfg, v);
                let mamba_url = resolve_single(cfg, v, subdir);
                if conda_url != mamba_url {
                    notes.push(format!(
                        "default_channels item `{v}` ({}) is a bare name: conda puts it under channel_alias ({conda_url}); mamba/micromamba look it up in custom_channels ({mamba_url})",
                        m.location()
                    ));
                }
            }
        }
    }

    // Allow/deny lists.
    let allow: Vec<String> = cfg
        .allowlist_channels
        .iter()
        .flat_map(|a| resolve_all(cfg, &a.value, subdir))
        .collect();
    let deny: Vec<String> = cfg
        .denylist_channels
        .iter()
        .flat_map(|a| resolve_all(cfg, &a.value, subdir))
        .collect();
    let allowed = |u: &str| {
        (allow.is_empty() || allow.iter().any(|a| a == u)) && !deny.iter().any(|d| d == u)
    };
    let conda_forge_allowed = allowed(&conda_forge_url);
    if !allow.is_empty() {
        let at = cfg
            .allowlist_channels
            .first()
            .map(|s| s.location())
            .unwrap_or_default();
        notes.push(format!(
            "allowlist_channels ({at}) restricts conda to: {}",
            allow.join(", ")
        ));
    }
    if !conda_forge_allowed {
        notes.push(format!("conda-forge ({conda_forge_url}) is not available: allowlist_channels/denylist_channels exclude it"));
    }
    for e in &effective {
        if !allowed(&e.url) {
            notes.push(format!(
                "channel {} is listed but conda refuses it (allowlist/denylist)",
                e.url
            ));
        }
    }
    if let Some(a) = &cfg.allow_other_channels {
        notes.push(format!(
            "allow_other_channels: {} ({}) is a conda 4.3 setting that current conda ignores; allowlist_channels is what restricts channels",
            a.value,
            a.location()
        ));
    }

    let mirrors = find_mirrors(cfg, &effective);
    ChannelFacts {
        config: cfg.clone(),
        effective,
        mirrors,
        conda_forge_url,
        defaults_urls,
        conda_forge_allowed,
        notes,
    }
}

fn resolve_single_or_url(cfg: &CondaConfig, name: &str, subdir: &str) -> String {
    if has_scheme(name) || is_path(name) {
        url_channel(name)
    } else {
        resolve_single(cfg, name, subdir)
    }
}

/// Recognised mirrors among the effective channels and the configured locations.
fn find_mirrors(cfg: &CondaConfig, effective: &[EffectiveChannel]) -> Vec<Mirror> {
    let mut out: Vec<Mirror> = Vec::new();
    let mut add = |url: &str, classify_url: &str, file: Option<String>, line: Option<usize>| {
        if let Some((name, serves)) = mirrors::classify(classify_url) {
            let m = Mirror {
                name: name.to_string(),
                url: mirrors::mask(url),
                serves,
                source_file: file,
                line,
            };
            if !out.contains(&m) {
                out.push(m);
            }
        }
    };
    // Entries written as URLs; names resolved through custom_channels or channel_alias are
    // reported where their location is configured (below).
    for e in effective.iter().filter(|e| has_scheme(&e.name)) {
        add(&e.url, &e.url, e.source_file.clone(), e.line);
    }
    for (k, v) in &cfg.custom_channels {
        let full = format!("{}/{}", v.value.trim_end_matches('/'), k);
        add(&v.value, &full, file_str(v), v.line);
    }
    for d in &cfg.default_channels {
        add(&d.value, &d.value, file_str(d), d.line);
    }
    for list in cfg.custom_multichannels.values() {
        for d in list {
            add(&d.value, &d.value, file_str(d), d.line);
        }
    }
    let a = &cfg.channel_alias;
    add(&a.value, &a.value, file_str(a), a.line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env0() -> EnvSnapshot {
        EnvSnapshot::default()
    }

    fn cfg_of(text: &str) -> CondaConfig {
        load_text(text, Path::new("/x/.condarc"), &env0())
    }

    fn vals(v: &[Sourced<String>]) -> Vec<&str> {
        v.iter().map(|s| s.value.as_str()).collect()
    }

    fn lines(v: &[Sourced<String>]) -> Vec<Option<usize>> {
        v.iter().map(|s| s.line).collect()
    }

    #[test]
    fn block_list_lines_with_comments_between() {
        let c = cfg_of(
            "channels:\n  # first\n  - conda-forge  # cf\n\n  # - bioconda\n  - defaults\nshow_channel_urls: true\n",
        );
        assert_eq!(vals(&c.channels), ["conda-forge", "defaults"]);
        assert_eq!(lines(&c.channels), [Some(3), Some(6)]);
    }

    #[test]
    fn unindented_list_crlf_no_final_newline() {
        let c = cfg_of(
            "always_yes: true\r\nchannels:\r\n- lightsource2\r\n- conda-forge\r\n- defaults",
        );
        assert_eq!(
            vals(&c.channels),
            ["lightsource2", "conda-forge", "defaults"]
        );
        assert_eq!(lines(&c.channels), [Some(3), Some(4), Some(5)]);
    }

    #[test]
    fn flow_lists_single_and_multi_line() {
        let c = cfg_of(
            "channels: [conda-forge, 'bioconda', \"defaults\"]\ndefault_channels: [\n  https://a/pkgs/main,\n  https://a/pkgs/r ]\n",
        );
        assert_eq!(vals(&c.channels), ["conda-forge", "bioconda", "defaults"]);
        assert_eq!(lines(&c.channels), [Some(1), Some(1), Some(1)]);
        assert_eq!(lines(&c.default_channels), [Some(3), Some(4)]);
    }

    #[test]
    fn short_names_do_not_match_inside_longer_ones() {
        let c = cfg_of("default_channels:\n  - https://m/anaconda/pkgs/r\n  - r\n");
        assert_eq!(lines(&c.default_channels), [Some(2), Some(3)]);
    }

    #[test]
    fn custom_channels_lines_and_normalisation() {
        let c = cfg_of(
            "custom_channels:\n  conda-forge: https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/\n  # intel: x\n  \"pytorch\": https://h/cloud\n",
        );
        assert_eq!(c.custom_channels["conda-forge"].line, Some(2));
        assert_eq!(c.custom_channels["pytorch"].line, Some(4));
        let f = channel_facts(&c, "linux-64");
        assert_eq!(
            f.conda_forge_url,
            "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge"
        );
        assert_eq!(
            resolve_name(&c, "pytorch/label/nightly", "linux-64"),
            "https://h/cloud/pytorch/label/nightly"
        );
    }

    #[test]
    fn defaults_builtin_depends_on_subdir() {
        let c = cfg_of("channels: [defaults]\n");
        let l = channel_facts(&c, "linux-64");
        assert_eq!(
            l.defaults_urls,
            [
                "https://repo.anaconda.com/pkgs/main",
                "https://repo.anaconda.com/pkgs/r"
            ]
        );
        let w = channel_facts(&c, "win-64");
        assert_eq!(w.defaults_urls.len(), 3);
        assert!(
            w.effective
                .iter()
                .all(|e| e.via.as_deref() == Some("defaults")
                    && e.source_file.as_deref() == Some(BUILTIN))
        );
    }

    #[test]
    fn custom_multichannels_defaults_overrides_default_channels() {
        let c = cfg_of(
            "channels: [defaults]\ndefault_channels: [https://a/pkgs/main]\ncustom_multichannels:\n  defaults:\n    - https://b/pkgs/main\n    - https://b/pkgs/r\n",
        );
        let f = channel_facts(&c, "linux-64");
        assert_eq!(f.defaults_urls, ["https://b/pkgs/main", "https://b/pkgs/r"]);
        assert_eq!(f.effective[1].line, Some(6));
    }

    #[test]
    fn urls_strip_subdir_and_slash_and_dedupe() {
        let c = cfg_of(
            "channels:\n  - https://m/anaconda/cloud/pytorch/linux-64/\n  - https://m/anaconda/cloud/pytorch/\n  - conda-forge/linux-64\n",
        );
        let f = channel_facts(&c, "linux-64");
        let urls: Vec<&str> = f.effective.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://m/anaconda/cloud/pytorch",
                "https://conda.anaconda.org/conda-forge"
            ]
        );
    }

    #[test]
    fn tokens_are_masked() {
        let c = cfg_of(
            "channel_alias: https://conda.example.com/t/SECRET\nchannels: [private, 'https://u:pw@h/ch']\n",
        );
        let f = channel_facts(&c, "linux-64");
        assert_eq!(
            f.effective[0].url,
            "https://conda.example.com/t/***/private"
        );
        assert_eq!(f.effective[1].url, "https://u:***@h/ch");
        assert!(!format!("{f:?}").contains("SECRET"));
    }

    #[test]
    fn misspelled_key_is_reported() {
        let c = cfg_of(
            "chanels:\n  - conda-forge\nchannel_alais: https://x\nconda-build:\n  root-dir: /x\nmy_own_tool_key: 1\n",
        );
        let u = vals(&c.unknown_keys);
        assert_eq!(u, ["chanels -> channels", "channel_alais -> channel_alias"]);
        assert_eq!(c.unknown_keys[0].line, Some(1));
        assert!(
            c.problems
                .iter()
                .any(|p| p.message.contains("did you mean `channels`"))
        );
        assert!(c.channels.is_empty() && !c.channels_configured);
    }

    #[test]
    fn wrong_types_are_problems_not_panics() {
        let c = cfg_of(
            "channels: conda-forge\ncustom_channels: [a]\ndefault_channels:\n  - {a: b}\n  - https://x/pkgs/main\nchannel_priority: true\n",
        );
        assert!(c.channels.is_empty());
        assert_eq!(vals(&c.default_channels), ["https://x/pkgs/main"]);
        assert_eq!(
            c.channel_priority.as_ref().map(|s| s.value.as_str()),
            Some("flexible")
        );
        assert!(c.problems.len() >= 3, "{:?}", c.problems);
    }

    #[test]
    fn broken_yaml_is_invalid_with_position() {
        for bad in [
            "channels: [conda-forge, defaults\nshow_channel_urls: true\n",
            "channels:\n\t- conda-forge\n",
            "- just\n- a list\n",
        ] {
            let c = cfg_of(bad);
            match &c.files[0].status {
                FileStatus::Invalid(m) => assert!(!m.is_empty()),
                s => panic!("{bad:?} -> {s:?}"),
            }
            assert!(
                c.problems
                    .iter()
                    .any(|p| p.path.as_deref() == Some(Path::new("/x/.condarc")))
            );
        }
        let c = cfg_of("channels: [conda-forge, defaults\n");
        let FileStatus::Invalid(m) = &c.files[0].status else {
            panic!()
        };
        assert!(m.starts_with("line "), "{m}");
    }

    #[test]
    fn empty_and_comment_only_files() {
        for t in ["", "# nothing\n", "---\n", "\u{feff}channels: [a]\n"] {
            let c = cfg_of(t);
            assert_eq!(c.files[0].status, FileStatus::Loaded, "{t:?}");
        }
    }

    #[test]
    fn merge_top_bottom_final() {
        let a = "channels:  #!final\n  - sys-top  #!top\n  - sys\n  - sys-bottom  #!bottom\n";
        let b = "channels:\n  - user\n";
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a.yml"), dir.path().join("b.yml"));
        std::fs::write(&pa, a).unwrap();
        std::fs::write(&pb, b).unwrap();
        let env = EnvSnapshot::from_pairs([("CONDA_CHANNELS", "envch")]);
        let c = load_paths(&[pa.clone(), pb.clone()], &env);
        // #!final in the first file stops the second file and the variable.
        assert_eq!(vals(&c.channels), ["sys-top", "sys", "sys-bottom"]);
        // Without #!final: later sources first, markers respected.
        std::fs::write(&pa, a.replace("  #!final", "")).unwrap();
        let c = load_paths(&[pa, pb], &env);
        assert_eq!(
            vals(&c.channels),
            ["sys-top", "envch", "user", "sys", "sys-bottom"]
        );
        assert_eq!(c.channels[1].origin.as_deref(), Some("CONDA_CHANNELS"));
        assert_eq!(
            c.channels[2].file.as_deref(),
            Some(dir.path().join("b.yml").as_path())
        );
    }

    #[test]
    fn merge_maps_and_scalars() {
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a.yml"), dir.path().join("b.yml"));
        std::fs::write(&pa, "channel_alias: https://a\ncustom_channels:\n  x: https://a1  #!final\n  y: https://a2\n").unwrap();
        std::fs::write(&pb, "channel_alias: https://b\ncustom_channels:\n  x: https://b1\n  y: https://b2\n  z: https://b3\n").unwrap();
        let c = load_paths(&[pa.clone(), pb.clone()], &env0());
        assert_eq!(c.channel_alias.value, "https://b");
        assert_eq!(c.custom_channels["x"].value, "https://a1");
        assert_eq!(c.custom_channels["y"].value, "https://b2");
        assert_eq!(c.custom_channels["z"].line, Some(5));
        let env = EnvSnapshot::from_pairs([
            ("CONDA_CHANNEL_ALIAS", "https://env"),
            ("CONDA_PINNED_PACKAGES", "libblas=*=*mkl&numpy<2"),
            ("CONDA_CUSTOM_CHANNELS", "x"),
        ]);
        let c = load_paths(&[pa, pb], &env);
        assert_eq!(
            c.channel_alias.origin.as_deref(),
            Some("CONDA_CHANNEL_ALIAS")
        );
        assert_eq!(vals(&c.pinned_packages), ["libblas=*=*mkl", "numpy<2"]);
        assert!(
            c.problems
                .iter()
                .any(|p| p.message.contains("CONDA_CUSTOM_CHANNELS"))
        );
    }

    #[test]
    fn empty_default_channels_is_not_builtin() {
        let c = cfg_of("channels: [defaults, conda-forge]\ndefault_channels: []\n");
        let f = channel_facts(&c, "win-64");
        assert!(f.defaults_urls.is_empty());
        assert_eq!(f.effective.len(), 1);
        assert!(f.notes.iter().any(|n| n.contains("expands to nothing")));
    }

    #[test]
    fn no_channels_is_reported() {
        let f = channel_facts(&cfg_of("show_channel_urls: true\n"), "linux-64");
        assert!(f.effective.is_empty());
        assert!(f.notes.iter().any(|n| n.contains("25.9")));
        let f = channel_facts(&cfg_of("channels: []\n"), "linux-64");
        assert!(f.config.channels_configured && f.notes.iter().any(|n| n.contains("empty list")));
    }

    #[test]
    fn env_var_expansion() {
        let env = EnvSnapshot::from_pairs([("MIRROR", "https://m.example")]);
        let c = load_text(
            "channels:\n  - ${MIRROR}/conda-forge\n  - $UNSET/x\n",
            Path::new("/x/.condarc"),
            &env,
        );
        assert_eq!(
            vals(&c.channels),
            ["https://m.example/conda-forge", "$UNSET/x"]
        );
        assert_eq!(
            expand_vars("%MIRROR%/a $MIRROR", &env),
            "https://m.example/a https://m.example"
        );
    }

    #[test]
    fn search_path_order_unix() {
        if cfg!(windows) {
            return;
        }
        let env = EnvSnapshot::from_pairs([
            ("CONDA_EXE", "/opt/mc/condabin/conda"),
            ("XDG_CONFIG_HOME", "/h/xdg"),
            ("CONDARC", "~/my.yml"),
            ("CONDA_PREFIX", "/ignored"),
        ])
        .with_home("/h");
        let p = search_path(&env, Some(Path::new("/envs/e")));
        let s: Vec<String> = p.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            s,
            [
                "/etc/conda/.condarc",
                "/etc/conda/condarc",
                "/etc/conda/condarc.d",
                "/var/lib/conda/.condarc",
                "/var/lib/conda/condarc",
                "/var/lib/conda/condarc.d",
                "/opt/mc/.condarc",
                "/opt/mc/condarc",
                "/opt/mc/condarc.d",
                "/h/xdg/conda/.condarc",
                "/h/xdg/conda/condarc",
                "/h/xdg/conda/condarc.d",
                "/h/.config/conda/.condarc",
                "/h/.config/conda/condarc",
                "/h/.config/conda/condarc.d",
                "/h/.conda/.condarc",
                "/h/.conda/condarc",
                "/h/.conda/condarc.d",
                "/h/.condarc",
                "/envs/e/.condarc",
                "/envs/e/condarc",
                "/envs/e/condarc.d",
                "/h/my.yml",
            ]
        );
        assert_eq!(
            conda_root(&EnvSnapshot::from_pairs([("CONDA_EXE", "/r/bin/conda")])),
            Some(PathBuf::from("/r"))
        );
        assert_eq!(
            conda_root(&EnvSnapshot::from_pairs([(
                "CONDA_EXE",
                r"C:\mc\Scripts\conda.exe"
            )])),
            Some(PathBuf::from("C:/mc"))
        );
        assert_eq!(
            conda_root(&EnvSnapshot::from_pairs([("_CONDA_ROOT", "/q")])),
            Some(PathBuf::from("/q"))
        );
    }

    #[test]
    fn osa() {
        assert_eq!(osa_distance("chanels", "channels"), 1);
        assert_eq!(osa_distance("channel_alais", "channel_alias"), 1);
        assert_eq!(near_miss("show_channel_url"), Some("show_channel_urls"));
        assert_eq!(near_miss("ssl_verify"), None);
        assert_eq!(near_miss("conda-build"), None);
    }
}
