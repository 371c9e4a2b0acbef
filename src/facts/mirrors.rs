//! Mirrors and URLs: recognising Chinese conda and PyPI mirrors (TUNA, BFSU, USTC, SJTUG, NJU,
//! ZJU, HIT, NJUPT, XJTU, CERNET, SUSTech, Aliyun, Huawei Cloud, Tencent Cloud, ...), telling a
//! channel URL's family (conda-forge or Anaconda defaults), masking tokens and passwords, and
//! reading pip's (and uv's) index configuration.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::facts::blas::ChannelFamily;
use crate::facts::snapshot::EnvSnapshot;

/// A recognised mirror in use.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mirror {
    /// "Tsinghua TUNA", "USTC", ...
    pub name: String,
    /// The URL as configured (masked).
    pub url: String,
    /// "defaults" (pkgs/main...), "conda-forge", another anaconda.org channel, or "pypi".
    pub serves: String,
    pub source_file: Option<String>,
    pub line: Option<usize>,
}

/// A pip index setting.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PipIndex {
    /// `index-url` or `extra-index-url`; uv settings are `uv:index`, `uv:index-url`,
    /// `uv:extra-index-url`.
    pub key: String,
    pub url: String,
    /// The config file, or the variable (`PIP_INDEX_URL`).
    pub source: String,
    pub line: Option<usize>,
    /// The mirror's name when recognised.
    pub mirror: Option<String>,
}

/// Conda subdirs a channel URL may end in.
pub const KNOWN_SUBDIRS: &[&str] = &[
    "noarch",
    "linux-64",
    "linux-32",
    "linux-aarch64",
    "linux-armv6l",
    "linux-armv7l",
    "linux-ppc64",
    "linux-ppc64le",
    "linux-s390x",
    "linux-riscv64",
    "osx-64",
    "osx-arm64",
    "win-32",
    "win-64",
    "win-arm64",
    "freebsd-64",
    "zos-z",
    "emscripten-wasm32",
    "wasi-wasm32",
];

/// Query-string keys whose values are secrets.
const SECRET_QUERY_KEYS: &[&str] = &[
    "token",
    "access_token",
    "auth",
    "password",
    "api_key",
    "apikey",
];

/// Mask `/t/<token>/`, `user:password@` and secret query values (`?token=`) in a URL.
/// A bare `user@` is left alone: it names an account, not a secret.
pub fn mask(url: &str) -> String {
    let (before_query, query) = match url.find('?') {
        Some(i) => (&url[..i], Some(&url[i + 1..])),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    // user:password@ in the authority.
    let (scheme, rest) = match before_query.find("://") {
        Some(i) => (&before_query[..i + 3], &before_query[i + 3..]),
        None => ("", before_query),
    };
    out.push_str(scheme);
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(auth_end);
    match (scheme.is_empty(), authority.rfind('@')) {
        (false, Some(at)) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(c) => {
                    out.push_str(&userinfo[..c]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        _ => out.push_str(authority),
    }
    // /t/<token>/ anywhere in the path.
    let mut segs: Vec<&str> = path.split('/').collect();
    let mut i = 0;
    while i + 1 < segs.len() {
        if segs[i] == "t" && !segs[i + 1].is_empty() && segs[i + 1] != "***" {
            segs[i + 1] = "***";
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push_str(&segs.join("/"));
    if let Some(q) = query {
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if SECRET_QUERY_KEYS.contains(&k.to_ascii_lowercase().as_str()) => {
                    format!("{k}=***")
                }
                _ => kv.to_string(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

/// Known mirror hosts and their display names.
const MIRROR_HOSTS: &[(&str, &str)] = &[
    ("mirrors.tuna.tsinghua.edu.cn", "Tsinghua TUNA"),
    ("pypi.tuna.tsinghua.edu.cn", "Tsinghua TUNA"),
    ("mirror.tuna.tsinghua.edu.cn", "Tsinghua TUNA"),
    ("mirrors.bfsu.edu.cn", "BFSU"),
    ("mirrors.ustc.edu.cn", "USTC"),
    ("pypi.mirrors.ustc.edu.cn", "USTC"),
    ("mirror.sjtu.edu.cn", "SJTUG"),
    ("mirrors.sjtug.sjtu.edu.cn", "SJTUG"),
    ("mirror.nju.edu.cn", "NJU"),
    ("mirrors.nju.edu.cn", "NJU"),
    ("mirrors.zju.edu.cn", "ZJU"),
    ("mirrors.hit.edu.cn", "HIT"),
    ("mirrors.njupt.edu.cn", "NJUPT"),
    ("mirrors.xjtu.edu.cn", "XJTU"),
    ("mirrors.cernet.edu.cn", "CERNET (MirrorZ)"),
    ("mirrors.mirrorz.org", "CERNET (MirrorZ)"),
    ("mirrorz.org", "CERNET (MirrorZ)"),
    ("mirrors.sustech.edu.cn", "SUSTech"),
    ("mirrors.pku.edu.cn", "PKU"),
    ("mirror.lzu.edu.cn", "LZU"),
    ("mirrors.lzu.edu.cn", "LZU"),
    ("mirrors.aliyun.com", "Aliyun"),
    ("mirrors.cloud.aliyuncs.com", "Aliyun"),
    ("mirrors.huaweicloud.com", "Huawei Cloud"),
    ("repo.huaweicloud.com", "Huawei Cloud"),
    ("mirrors.cloud.tencent.com", "Tencent Cloud"),
    ("mirrors.tencent.com", "Tencent Cloud"),
    ("mirrors.tencentyun.com", "Tencent Cloud"),
    ("mirrors.163.com", "NetEase 163"),
    ("pypi.doubanio.com", "Douban"),
    ("pypi.douban.com", "Douban"),
];

/// The lower-cased host of a URL (no userinfo, no port), or None for a scheme-less string.
pub fn host(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    let h = hostport.split(':').next().unwrap_or(hostport);
    (!h.is_empty()).then(|| h.to_ascii_lowercase())
}

/// The mirror a URL belongs to, by host (None for official hosts and unknown ones).
pub fn mirror_name(url: &str) -> Option<&'static str> {
    let h = host(url)?;
    MIRROR_HOSTS
        .iter()
        .find(|(host, _)| *host == h)
        .map(|(_, name)| *name)
}

/// The path components of a URL (or of a bare name), without an empty trailing component.
fn path_parts(url: &str) -> Vec<&str> {
    let path = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
            match rest.find('/') {
                Some(j) => &rest[j..],
                None => "",
            }
        }
        None => url,
    };
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Strip a trailing package file name and a trailing subdir from channel path components.
fn strip_subdir(mut parts: Vec<&str>) -> Vec<&str> {
    if parts
        .last()
        .is_some_and(|p| p.ends_with(".conda") || p.ends_with(".tar.bz2"))
    {
        parts.pop();
    }
    if parts.last().is_some_and(|p| KNOWN_SUBDIRS.contains(p)) {
        parts.pop();
    }
    parts
}

/// A recognised mirror and what it serves there: "defaults" for `/anaconda/pkgs/<main|r|...>`,
/// the channel name for `/anaconda/cloud/<ch>` (and `/anaconda-extra/cloud/<ch>`), "pypi" for
/// `/pypi/(web/)?simple` or `/repository/pypi/simple`, "anaconda" for the bare endpoint (used
/// as `channel_alias`), "channels" for `/anaconda/cloud` (a `custom_channels` parent).
pub fn classify(url: &str) -> Option<(&'static str, String)> {
    let name = mirror_name(url)?;
    let parts = strip_subdir(path_parts(url));
    let serves = if let Some(i) = parts.iter().position(|p| *p == "pkgs") {
        match parts.get(i + 1) {
            Some(_) => "defaults".to_string(),
            None => "defaults (parent)".to_string(),
        }
    } else if let Some(i) = parts.iter().position(|p| *p == "cloud") {
        match parts.get(i + 1) {
            Some(ch) => ch.to_string(),
            None => "channels".to_string(),
        }
    } else if parts.contains(&"pypi") || parts.contains(&"simple") || url.contains("pypi.") {
        "pypi".to_string()
    } else if parts.first().is_some_and(|p| p.starts_with("anaconda")) {
        "anaconda".to_string()
    } else {
        "other".to_string()
    };
    Some((name, serves))
}

const DEFAULTS_PARTS: &[&str] = &["main", "r", "free", "pro", "msys2", "mro"];

/// The BLAS-scheme family of a channel URL or name (`conda-forge`, `.../cloud/conda-forge`,
/// `.../pkgs/main`, `defaults`, `anaconda`, `conda-forge/linux-64`, ...). `pkgs/<main|r|free|
/// pro|msys2>` on any host counts as Anaconda's defaults (official hosts, mirrors, proxies).
pub fn channel_family(url_or_name: &str) -> ChannelFamily {
    let s = url_or_name.trim();
    if s.is_empty() {
        return ChannelFamily::Other;
    }
    let is_url = s.contains("://");
    let parts = strip_subdir(path_parts(s));
    let lower: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
    let last = lower.last().map(String::as_str).unwrap_or("");
    // conda-forge, also with a label (`conda-forge/label/<x>`).
    let cf = lower.iter().position(|p| p == "conda-forge");
    if let Some(i) = cf {
        let tail = &lower[i + 1..];
        if tail.is_empty() || tail.first().is_some_and(|p| p == "label") {
            return ChannelFamily::CondaForge;
        }
    }
    if lower.len() >= 2 && lower[lower.len() - 2] == "pkgs" && DEFAULTS_PARTS.contains(&last) {
        return ChannelFamily::Defaults;
    }
    if !is_url {
        return match lower.first().map(String::as_str) {
            Some("defaults" | "anaconda") if lower.len() == 1 => ChannelFamily::Defaults,
            Some("pypi") => ChannelFamily::Pip,
            _ => ChannelFamily::Other,
        };
    }
    let h = host(s).unwrap_or_default();
    if h == "pypi.org" || h == "files.pythonhosted.org" || h == "pypi.python.org" {
        return ChannelFamily::Pip;
    }
    if lower.iter().any(|p| p == "simple")
        && (lower.iter().any(|p| p == "pypi") || h.starts_with("pypi."))
    {
        return ChannelFamily::Pip;
    }
    if last == "anaconda" && (h == "conda.anaconda.org" || lower.iter().any(|p| p == "cloud")) {
        return ChannelFamily::Defaults;
    }
    ChannelFamily::Other
}

/// pip's index settings from its config files and `PIP_INDEX_URL`/`PIP_EXTRA_INDEX_URL`, and
/// uv's from `uv.toml` and `UV_INDEX_URL`/`UV_DEFAULT_INDEX`/`UV_EXTRA_INDEX_URL`/`UV_INDEX`.
/// Only the settings in effect are returned: pip reads global < user < site < `PIP_CONFIG_FILE`
/// (which also hides the user files) < environment variables, and within that `[install]`
/// beats `[global]`.
pub fn pip_indexes(env: &EnvSnapshot, prefix: Option<&Path>) -> Vec<PipIndex> {
    let mut entries: Vec<IniEntry> = Vec::new();
    let config_file = env.path("PIP_CONFIG_FILE");
    let disabled = config_file
        .as_deref()
        .is_some_and(|p| p == Path::new("/dev/null") || p == Path::new("nul"));
    if !disabled {
        for path in pip_config_files(env, prefix) {
            if let Ok(text) = std::fs::read_to_string(&path) {
                entries.extend(parse_pip_ini(&text, &path.display().to_string()));
            }
        }
    }
    let mut out = effective_pip(&entries);
    if let Some(v) = env.get("PIP_INDEX_URL") {
        out.retain(|e| e.key != "index-url");
        out.insert(0, pip_entry("index-url", v, "PIP_INDEX_URL", None));
    }
    if let Some(v) = env.get("PIP_EXTRA_INDEX_URL") {
        out.retain(|e| e.key != "extra-index-url");
        out.extend(
            v.split_whitespace()
                .map(|u| pip_entry("extra-index-url", u, "PIP_EXTRA_INDEX_URL", None)),
        );
    }
    out.extend(uv_indexes(env));
    out
}

/// pip's config files in pip's override order (later wins): global, user, site, then
/// `PIP_CONFIG_FILE`. User files are skipped when `PIP_CONFIG_FILE` names an existing file.
pub fn pip_config_files(env: &EnvSnapshot, prefix: Option<&Path>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let config_file = env.path("PIP_CONFIG_FILE");
    let name = if cfg!(windows) { "pip.ini" } else { "pip.conf" };
    // global
    if cfg!(windows) {
        files.push(PathBuf::from(r"C:\ProgramData\pip\pip.ini"));
    } else {
        let dirs = env.get("XDG_CONFIG_DIRS").unwrap_or("/etc/xdg");
        for d in dirs.split(':').filter(|d| !d.is_empty()) {
            files.push(Path::new(d).join("pip").join(name));
        }
        if cfg!(target_os = "macos") {
            files.push(PathBuf::from("/Library/Application Support/pip/pip.conf"));
        }
        files.push(PathBuf::from("/etc/pip.conf"));
    }
    // user
    if !config_file.as_deref().is_some_and(Path::exists)
        && let Some(home) = &env.home
    {
        if cfg!(windows) {
            files.push(home.join("pip").join(name));
            if let Some(appdata) = env.path("APPDATA") {
                files.push(appdata.join("pip").join(name));
            }
        } else {
            files.push(home.join(".pip").join(name));
            if cfg!(target_os = "macos") {
                let dir = home.join("Library/Application Support/pip");
                if dir.is_dir() {
                    files.push(dir.join(name));
                } else {
                    files.push(home.join(".config/pip").join(name));
                }
            } else {
                let xdg = env
                    .path("XDG_CONFIG_HOME")
                    .unwrap_or_else(|| home.join(".config"));
                files.push(xdg.join("pip").join(name));
            }
        }
    }
    // site
    if let Some(p) = prefix {
        files.push(p.join(name));
    }
    if let Some(f) = config_file {
        files.push(f);
    }
    files
}

/// One `key = value` of a pip config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    pub section: String,
    /// Normalised: `index-url` or `extra-index-url`.
    pub key: String,
    pub url: String,
    pub source: String,
    pub line: usize,
}

/// Parse pip's INI text: `[global]`/`[install]` (and other sections, kept for completeness)
/// `index-url`/`extra-index-url` (also with `_`), `=` or `:`, `#`/`;` comments, indented
/// continuation lines and whitespace-separated URLs each with their own line.
pub fn parse_pip_ini(text: &str, source: &str) -> Vec<IniEntry> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut current_key: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r').trim_start_matches('\u{feff}');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            if trimmed.is_empty() {
                current_key = None;
            }
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented {
            if let Some(key) = &current_key {
                for url in trimmed.split_whitespace() {
                    out.push(IniEntry {
                        section: section.clone(),
                        key: key.clone(),
                        url: url.to_string(),
                        source: source.to_string(),
                        line: line_no,
                    });
                }
            }
            continue;
        }
        if trimmed.starts_with('[') {
            section = trimmed
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim()
                .to_ascii_lowercase();
            current_key = None;
            continue;
        }
        let Some(pos) = trimmed.find(['=', ':']) else {
            current_key = None;
            continue;
        };
        let key = trimmed[..pos].trim().to_ascii_lowercase().replace('_', "-");
        let value = trimmed[pos + 1..].trim();
        if key == "index-url" || key == "extra-index-url" {
            for url in value.split_whitespace() {
                out.push(IniEntry {
                    section: section.clone(),
                    key: key.clone(),
                    url: url.to_string(),
                    source: source.to_string(),
                    line: line_no,
                });
            }
            current_key = Some(key);
        } else {
            current_key = None;
        }
    }
    out
}

fn pip_entry(key: &str, url: &str, source: &str, line: Option<usize>) -> PipIndex {
    PipIndex {
        key: key.to_string(),
        url: mask(url),
        source: source.to_string(),
        line,
        mirror: mirror_name(url).map(str::to_string),
    }
}

/// The settings pip uses for `pip install`, from entries in file order: per key, the last
/// file's `[install]` value, else the last file's `[global]` value.
pub fn effective_pip(entries: &[IniEntry]) -> Vec<PipIndex> {
    let mut out = Vec::new();
    for key in ["index-url", "extra-index-url"] {
        let pick = |section: &str| -> Vec<&IniEntry> {
            // The last (source, line-of-key) group of this key in this section.
            let matching: Vec<&IniEntry> = entries
                .iter()
                .filter(|e| e.key == key && e.section == section)
                .collect();
            let Some(last_source) = matching.last().map(|e| e.source.clone()) else {
                return Vec::new();
            };
            matching
                .into_iter()
                .filter(|e| e.source == last_source)
                .collect()
        };
        let mut chosen = pick("install");
        if chosen.is_empty() {
            chosen = pick("global");
        }
        out.extend(
            chosen
                .into_iter()
                .map(|e| pip_entry(key, &e.url, &e.source, Some(e.line))),
        );
    }
    out
}

/// uv's index settings: `UV_DEFAULT_INDEX`/`UV_INDEX_URL`/`UV_INDEX`/`UV_EXTRA_INDEX_URL`, and
/// the user (`$XDG_CONFIG_HOME/uv/uv.toml`) and system (`/etc/uv/uv.toml`) files.
fn uv_indexes(env: &EnvSnapshot) -> Vec<PipIndex> {
    let mut out = Vec::new();
    for var in ["UV_DEFAULT_INDEX", "UV_INDEX_URL"] {
        if let Some(v) = env.get(var) {
            out.push(pip_entry("uv:index-url", v, var, None));
        }
    }
    for var in ["UV_INDEX", "UV_EXTRA_INDEX_URL"] {
        if let Some(v) = env.get(var) {
            for u in v.split_whitespace() {
                let url = u
                    .split_once('=')
                    .map(|(_, u)| u)
                    .filter(|u| u.contains("://"))
                    .unwrap_or(u);
                out.push(pip_entry("uv:extra-index-url", url, var, None));
            }
        }
    }
    let mut files = Vec::new();
    if cfg!(windows) {
        if let Some(a) = env.path("APPDATA") {
            files.push(a.join("uv").join("uv.toml"));
        }
    } else if let Some(home) = &env.home {
        let xdg = env
            .path("XDG_CONFIG_HOME")
            .unwrap_or_else(|| home.join(".config"));
        files.push(xdg.join("uv").join("uv.toml"));
    }
    if !cfg!(windows) {
        files.push(PathBuf::from("/etc/uv/uv.toml"));
    }
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            out.extend(parse_uv_toml(&text, &f.display().to_string()));
        }
    }
    out
}

/// `[[index]] url`, `index-url`, `extra-index-url` (top level or under `[pip]`) of a uv.toml,
/// each with the line its URL is written on. Invalid TOML gives nothing.
pub fn parse_uv_toml(text: &str, source: &str) -> Vec<PipIndex> {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let line_of = |url: &str| {
        text.lines()
            .position(|l| !l.trim_start().starts_with('#') && l.contains(url))
            .map(|i| i + 1)
    };
    let mut out = Vec::new();
    let mut push = |key: &str, url: &str| out.push(pip_entry(key, url, source, line_of(url)));
    let tables: Vec<&dyn toml_edit::TableLike> = {
        let mut t: Vec<&dyn toml_edit::TableLike> = vec![doc.as_table()];
        if let Some(pip) = doc.get("pip").and_then(|p| p.as_table_like()) {
            t.push(pip);
        }
        t
    };
    for t in tables {
        if let Some(u) = t.get("index-url").and_then(|v| v.as_str()) {
            push("uv:index-url", u);
        }
        if let Some(arr) = t.get("extra-index-url").and_then(|v| v.as_array()) {
            for u in arr.iter().filter_map(|v| v.as_str()) {
                push("uv:extra-index-url", u);
            }
        }
    }
    if let Some(arr) = doc.get("index").and_then(|v| v.as_array_of_tables()) {
        for t in arr.iter() {
            if let Some(u) = t.get("url").and_then(|v| v.as_str()) {
                push("uv:index", u);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_token_path() {
        assert_eq!(
            mask("https://conda.anaconda.org/t/abc-123_x/private/linux-64"),
            "https://conda.anaconda.org/t/***/private/linux-64"
        );
        assert_eq!(mask("https://h/t/tok"), "https://h/t/***");
    }

    #[test]
    fn mask_password_keeps_user() {
        assert_eq!(
            mask("https://bob:s3cret@repo.example.com/pypi/simple"),
            "https://bob:***@repo.example.com/pypi/simple"
        );
        assert_eq!(
            mask("https://bob@repo.example.com/x"),
            "https://bob@repo.example.com/x"
        );
        assert_eq!(mask("http://u:p@h:8080"), "http://u:***@h:8080");
    }

    #[test]
    fn mask_query_token() {
        assert_eq!(
            mask("https://h/simple?token=abc&x=1"),
            "https://h/simple?token=***&x=1"
        );
        assert_eq!(
            mask("https://h/simple?Access_Token=abc"),
            "https://h/simple?Access_Token=***"
        );
    }

    #[test]
    fn mask_leaves_plain_urls_and_names() {
        for s in [
            "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud",
            "conda-forge",
            "file:///opt/ch",
            "defaults",
        ] {
            assert_eq!(mask(s), s);
        }
    }

    #[test]
    fn mirror_hosts() {
        let cases = [
            (
                "https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main",
                "Tsinghua TUNA",
            ),
            ("https://pypi.tuna.tsinghua.edu.cn/simple", "Tsinghua TUNA"),
            ("https://mirrors.bfsu.edu.cn/anaconda/cloud", "BFSU"),
            (
                "https://mirrors.ustc.edu.cn/anaconda/cloud/conda-forge/",
                "USTC",
            ),
            ("https://pypi.mirrors.ustc.edu.cn/simple", "USTC"),
            ("https://mirror.sjtu.edu.cn/anaconda/cloud", "SJTUG"),
            ("https://mirrors.sjtug.sjtu.edu.cn/anaconda", "SJTUG"),
            ("https://mirror.nju.edu.cn/anaconda/pkgs/r", "NJU"),
            ("https://mirrors.nju.edu.cn/anaconda", "NJU"),
            ("https://mirrors.zju.edu.cn/anaconda/cloud", "ZJU"),
            ("https://mirrors.hit.edu.cn/anaconda", "HIT"),
            ("https://mirrors.njupt.edu.cn/anaconda", "NJUPT"),
            ("https://mirrors.xjtu.edu.cn/anaconda", "XJTU"),
            (
                "https://mirrors.cernet.edu.cn/anaconda-extra/cloud/nvidia",
                "CERNET (MirrorZ)",
            ),
            ("https://mirrors.sustech.edu.cn/anaconda", "SUSTech"),
            ("https://mirrors.pku.edu.cn/anaconda", "PKU"),
            ("https://mirror.lzu.edu.cn/anaconda", "LZU"),
            ("http://mirrors.aliyun.com/anaconda/pkgs/main", "Aliyun"),
            ("https://mirrors.huaweicloud.com/anaconda", "Huawei Cloud"),
            (
                "https://repo.huaweicloud.com/repository/pypi/simple",
                "Huawei Cloud",
            ),
            (
                "https://mirrors.cloud.tencent.com/pypi/simple",
                "Tencent Cloud",
            ),
            ("https://mirrors.tencent.com/anaconda", "Tencent Cloud"),
            ("http://mirrors.163.com/pypi/simple", "NetEase 163"),
            ("https://pypi.doubanio.com/simple", "Douban"),
            (
                "https://user:pw@MIRRORS.TUNA.TSINGHUA.EDU.CN:443/anaconda",
                "Tsinghua TUNA",
            ),
        ];
        for (url, name) in cases {
            assert_eq!(mirror_name(url), Some(name), "{url}");
        }
        for url in [
            "https://conda.anaconda.org/conda-forge",
            "https://repo.anaconda.com/pkgs/main",
            "conda-forge",
            "https://pypi.org/simple",
        ] {
            assert_eq!(mirror_name(url), None, "{url}");
        }
    }

    #[test]
    fn classify_paths() {
        for (url, name, serves) in [
            (
                "https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main",
                "Tsinghua TUNA",
                "defaults",
            ),
            (
                "https://mirrors.ustc.edu.cn/anaconda/pkgs/free/",
                "USTC",
                "defaults",
            ),
            (
                "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge/linux-64/",
                "Tsinghua TUNA",
                "conda-forge",
            ),
            (
                "https://mirrors.cernet.edu.cn/anaconda-extra/cloud/nvidia",
                "CERNET (MirrorZ)",
                "nvidia",
            ),
            (
                "https://mirrors.zju.edu.cn/anaconda/cloud",
                "ZJU",
                "channels",
            ),
            (
                "https://mirrors.bfsu.edu.cn/pypi/web/simple",
                "BFSU",
                "pypi",
            ),
            (
                "https://pypi.tuna.tsinghua.edu.cn/simple",
                "Tsinghua TUNA",
                "pypi",
            ),
            (
                "https://repo.huaweicloud.com/repository/pypi/simple",
                "Huawei Cloud",
                "pypi",
            ),
            (
                "https://mirrors.tuna.tsinghua.edu.cn/anaconda",
                "Tsinghua TUNA",
                "anaconda",
            ),
        ] {
            assert_eq!(classify(url), Some((name, serves.into())), "{url}");
        }
        assert_eq!(classify("https://conda.anaconda.org/conda-forge"), None);
    }

    #[test]
    fn families_of_every_corpus_form() {
        use ChannelFamily::*;
        let cases = [
            ("conda-forge", CondaForge),
            ("conda-forge/linux-64", CondaForge),
            ("conda-forge/win-64", CondaForge),
            ("conda-forge/label/broken", CondaForge),
            ("https://conda.anaconda.org/conda-forge", CondaForge),
            ("https://conda.anaconda.org/conda-forge/", CondaForge),
            (
                "https://conda.anaconda.org/conda-forge/linux-64",
                CondaForge,
            ),
            ("https://conda.anaconda.org/conda-forge/noarch", CondaForge),
            (
                "https://conda.anaconda.org/conda-forge/osx-arm64/numpy-1.22.4-py38he1fcd3f_0.tar.bz2",
                CondaForge,
            ),
            (
                "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge/",
                CondaForge,
            ),
            (
                "https://mirrors.ustc.edu.cn/anaconda/cloud/conda-forge/win-64",
                CondaForge,
            ),
            ("file:///home/me/channels/conda-forge", CondaForge),
            ("defaults", Defaults),
            ("defaults/win-64", Defaults),
            ("defaults/noarch", Defaults),
            ("pkgs/main", Defaults),
            ("pkgs/r", Defaults),
            ("anaconda", Defaults),
            ("https://repo.anaconda.com/pkgs/main", Defaults),
            ("https://repo.anaconda.com/pkgs/main/linux-64", Defaults),
            ("https://repo.anaconda.com/pkgs/main/win-64/", Defaults),
            ("https://repo.anaconda.com/pkgs/msys2/win-64", Defaults),
            ("https://repo.continuum.io/pkgs/free/osx-64", Defaults),
            ("https://repo.anaconda.com/pkgs/r", Defaults),
            (
                "https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main/win-64",
                Defaults,
            ),
            (
                "https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/free/noarch",
                Defaults,
            ),
            ("https://mirrors.ustc.edu.cn/anaconda/pkgs/main/", Defaults),
            ("https://conda.anaconda.org/anaconda/linux-64", Defaults),
            ("https://conda.anaconda.org/anaconda/noarch", Defaults),
            ("pypi", Pip),
            ("https://pypi.org/simple", Pip),
            ("https://pypi.tuna.tsinghua.edu.cn/simple", Pip),
            ("https://conda.anaconda.org/ranaroussi/noarch", Other),
            ("https://conda.anaconda.org/esri/win-64", Other),
            ("https://conda.anaconda.org/pytorch", Other),
            ("file:///opt/local-channel", Other),
            ("file:///C:/Users/me/conda-bld/win-64", Other),
            ("r", Other),
            ("bioconda", Other),
            ("", Other),
        ];
        for (s, fam) in cases {
            assert_eq!(channel_family(s), fam, "{s}");
        }
    }

    #[test]
    fn pip_ini_parsing() {
        let text = "[global]\r\nindex-url = https://pypi.tuna.tsinghua.edu.cn/simple\r\n# comment\r\nextra-index-url =\r\n    https://a.example/simple\r\n    https://b.example/simple https://c.example/simple\r\ntrusted-host = x\r\n[install]\r\nindex_url: https://mirrors.aliyun.com/pypi/simple/\r\n";
        let e = parse_pip_ini(text, "pip.conf");
        assert_eq!(e.len(), 5);
        assert_eq!((e[0].key.as_str(), e[0].line), ("index-url", 2));
        assert_eq!(
            (e[1].url.as_str(), e[1].line),
            ("https://a.example/simple", 5)
        );
        assert_eq!(
            (e[3].url.as_str(), e[3].line),
            ("https://c.example/simple", 6)
        );
        assert_eq!((e[4].section.as_str(), e[4].line), ("install", 9));
        let eff = effective_pip(&e);
        assert_eq!(eff[0].url, "https://mirrors.aliyun.com/pypi/simple/");
        assert_eq!(eff[0].mirror.as_deref(), Some("Aliyun"));
        assert_eq!(eff.iter().filter(|p| p.key == "extra-index-url").count(), 3);
    }

    #[test]
    fn pip_ini_garbage_does_not_panic() {
        for t in [
            "",
            "[",
            "]]]\n=\n:::",
            "index-url",
            "\u{feff}[global]\nindex-url=\n",
            "  indented first",
        ] {
            let _ = effective_pip(&parse_pip_ini(t, "x"));
        }
    }

    #[test]
    fn later_file_wins_and_env_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".config/pip")).unwrap();
        std::fs::write(
            home.join(".config/pip/pip.conf"),
            "[global]\nindex-url = https://mirrors.ustc.edu.cn/pypi/simple\n",
        )
        .unwrap();
        let prefix = dir.path().join("env");
        std::fs::create_dir_all(&prefix).unwrap();
        std::fs::write(
            prefix.join("pip.conf"),
            "[global]\n\nindex-url = https://user:pw@mirrors.bfsu.edu.cn/pypi/web/simple\n",
        )
        .unwrap();
        let env = EnvSnapshot::from_pairs([("XDG_CONFIG_DIRS", "/nonexistent")]).with_home(&home);
        let got = pip_indexes(&env, Some(&prefix));
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].url,
            "https://user:***@mirrors.bfsu.edu.cn/pypi/web/simple"
        );
        assert_eq!(got[0].line, Some(3));
        assert_eq!(got[0].mirror.as_deref(), Some("BFSU"));
        let env2 = EnvSnapshot::from_pairs([
            ("XDG_CONFIG_DIRS", "/nonexistent"),
            ("PIP_INDEX_URL", "https://pypi.doubanio.com/simple"),
        ])
        .with_home(&home);
        let got = pip_indexes(&env2, Some(&prefix));
        assert_eq!(got[0].source, "PIP_INDEX_URL");
        assert_eq!(got[0].mirror.as_deref(), Some("Douban"));
    }

    #[test]
    fn uv_toml() {
        let t = "# uv\n[[index]]\nurl = \"https://mirrors.ustc.edu.cn/pypi/simple\"\ndefault = true\n\n[pip]\nindex-url = \"https://pypi.tuna.tsinghua.edu.cn/simple\"\n";
        let got = parse_uv_toml(t, "uv.toml");
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].key.as_str(), got[0].line),
            ("uv:index-url", Some(7))
        );
        assert_eq!(
            (got[1].key.as_str(), got[1].line, got[1].mirror.as_deref()),
            ("uv:index", Some(3), Some("USTC"))
        );
        assert!(parse_uv_toml("[[index]\nurl=", "x").is_empty());
    }
}
