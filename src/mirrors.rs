//! Mirrors and URLs: recognising Chinese conda and PyPI mirrors (TUNA, BFSU, USTC, SJTUG, NJU,
//! ZJU, HIT, NJUPT, XJTU, CERNET, SUSTech, Aliyun, Huawei Cloud, Tencent Cloud, ...), telling a
//! channel URL's family (conda-forge or Anaconda defaults), masking tokens and passwords, and
//! reading pip's index configuration.

use std::path::PathBuf;

use serde::Serialize;

use crate::blas::ChannelFamily;
use crate::facts::EnvSnapshot;

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
    /// `index-url` or `extra-index-url`.
    pub key: String,
    pub url: String,
    /// The config file, or the variable (`PIP_INDEX_URL`).
    pub source: String,
    pub line: Option<usize>,
    /// The mirror's name when recognised.
    pub mirror: Option<String>,
}

/// Mask `/t/<token>/` and `user:password@` in a URL.
pub fn mask(url: &str) -> String {
    url.to_string()
}

/// The mirror a URL belongs to, by host (None for official hosts and unknown ones).
pub fn mirror_name(url: &str) -> Option<&'static str> {
    let _ = url;
    None
}

/// The BLAS-scheme family of a channel URL or name (`conda-forge`, `.../cloud/conda-forge`,
/// `.../pkgs/main`, `defaults`, `anaconda`, ...).
pub fn channel_family(url_or_name: &str) -> ChannelFamily {
    let _ = url_or_name;
    ChannelFamily::Other
}

/// pip's index settings from its config files and `PIP_INDEX_URL`/`PIP_EXTRA_INDEX_URL`.
pub fn pip_indexes(env: &EnvSnapshot, prefix: Option<&std::path::Path>) -> Vec<PipIndex> {
    let _ = (env, prefix, PathBuf::new());
    Vec::new()
}
