//! The plain data every reader fills and every rule reads: a snapshot of the process
//! environment, problems met while reading, and the aggregate `Facts` of one diagnosis.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub mod process;

/// The process environment as readers see it, captured once so that tests can build their own.
#[derive(Debug, Clone, Default)]
pub struct EnvSnapshot {
    pub vars: BTreeMap<String, String>,
    pub home: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
}

impl EnvSnapshot {
    /// Capture the real process environment.
    pub fn capture() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map(PathBuf::from)
            .filter(|p| !p.as_os_str().is_empty());
        EnvSnapshot {
            vars,
            home,
            cwd: std::env::current_dir().ok(),
        }
    }

    /// A snapshot with only these variables (for tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        EnvSnapshot {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: None,
            cwd: None,
        }
    }

    pub fn with_home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    /// A variable's value, treating an empty value as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn path(&self, key: &str) -> Option<PathBuf> {
        self.get(key).map(PathBuf::from)
    }
}

/// Something that could not be read or understood; the diagnosis goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file or directory concerned, when there is one.
    pub path: Option<PathBuf>,
    pub message: String,
}

impl Problem {
    pub fn at(path: &Path, message: impl Into<String>) -> Self {
        Problem {
            path: Some(path.to_path_buf()),
            message: message.into(),
        }
    }
    pub fn general(message: impl Into<String>) -> Self {
        Problem {
            path: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {}", p.display(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Everything one diagnosis knows. Readers fill it; `findings` and the renderers read it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    pub machine: crate::cpu::CpuFacts,
    pub environment: crate::envs::Located,
    pub prefix: crate::prefix::PrefixFacts,
    pub blas: crate::blas::DeclaredBlas,
    pub channels: crate::condarc::ChannelFacts,
    pub pip_indexes: Vec<crate::mirrors::PipIndex>,
    pub threads: crate::threads::ThreadFacts,
    /// What NumPy's extension modules link (None: not looked at).
    pub linkage: Option<crate::linkage::LinkageFacts>,
    /// What a real `import numpy` loaded (None: `--no-runtime`).
    pub runtime: Option<crate::probe::RuntimeFacts>,
    /// Problems that belong to no single reader.
    pub problems: Vec<Problem>,
}
