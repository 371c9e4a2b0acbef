//! The process environment as readers see it (variables, home, working directory), captured
//! once so that every reader sees the same values and tests can build their own.

use std::collections::BTreeMap;
use std::path::PathBuf;

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
