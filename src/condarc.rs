//! conda configuration: every `.condarc` conda would read, in conda's search order, merged by
//! conda's rules (lists merge, maps merge, scalars clobber, `#!final` stops later files), plus
//! `CONDA_*` variables; and the effective channel list with `defaults` expanded
//! (`default_channels`, `custom_multichannels`), names resolved (`custom_channels`,
//! `channel_alias`), each entry with the file and line it came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::facts::{EnvSnapshot, Problem};

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
    pub status: FileStatus,
}

/// The merged configuration (only the keys blasfix uses).
#[derive(Debug, Clone, Serialize, Default)]
pub struct CondaConfig {
    /// Files that exist on the search path, in the order conda reads them.
    pub files: Vec<ConfigFile>,
    pub channels: Vec<Sourced<String>>,
    pub default_channels: Vec<Sourced<String>>,
    pub channel_alias: Sourced<String>,
    pub custom_channels: BTreeMap<String, Sourced<String>>,
    pub custom_multichannels: BTreeMap<String, Vec<Sourced<String>>>,
    pub channel_priority: Option<Sourced<String>>,
    pub pinned_packages: Vec<Sourced<String>>,
    /// Keys that look like misspellings of known keys ("chanels" -> "channels").
    pub unknown_keys: Vec<Sourced<String>>,
    pub problems: Vec<Problem>,
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
    pub mirrors: Vec<crate::mirrors::Mirror>,
    /// Where `conda-forge` and `defaults` resolve under this configuration.
    pub conda_forge_url: String,
    pub defaults_urls: Vec<String>,
}

/// The `.condarc` search path, in conda's order, for this environment (existing or not).
pub fn search_path(env: &EnvSnapshot, prefix: Option<&Path>) -> Vec<PathBuf> {
    let _ = (env, prefix);
    Vec::new()
}

/// Read and merge the configuration conda would use.
pub fn load(env: &EnvSnapshot, prefix: Option<&Path>) -> CondaConfig {
    let _ = search_path(env, prefix);
    CondaConfig::default()
}

/// The effective channel list and mirrors (pure).
pub fn channel_facts(cfg: &CondaConfig, subdir: &str) -> ChannelFacts {
    let _ = subdir;
    ChannelFacts {
        config: cfg.clone(),
        ..Default::default()
    }
}
