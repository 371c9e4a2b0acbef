//! Finding the environment to diagnose, the way conda does: `-p PATH`, `-n NAME` in the envs
//! dirs (`envs_dirs`, `$CONDA_ROOT/envs`, `~/.conda/envs`, `$MAMBA_ROOT_PREFIX/envs`,
//! `~/.conda/environments.txt`, `.pixi/envs/*`), else the active `CONDA_PREFIX`, `VIRTUAL_ENV`,
//! else the `python3` on PATH; and telling what manages it.

use std::path::PathBuf;

use serde::Serialize;

use crate::facts::EnvSnapshot;

/// What manages an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EnvKind {
    Conda,
    Mamba,
    Micromamba,
    Pixi,
    Venv,
    #[default]
    System,
}

impl EnvKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvKind::Conda => "conda",
            EnvKind::Mamba => "mamba",
            EnvKind::Micromamba => "micromamba",
            EnvKind::Pixi => "pixi",
            EnvKind::Venv => "venv",
            EnvKind::System => "system",
        }
    }
    /// Environments with conda-meta records.
    pub fn is_conda_like(self) -> bool {
        matches!(
            self,
            EnvKind::Conda | EnvKind::Mamba | EnvKind::Micromamba | EnvKind::Pixi
        )
    }
}

/// The environment chosen, and why.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Located {
    pub prefix: PathBuf,
    pub kind: EnvKind,
    /// The env's name when it has one (`base`, the envs-dir folder name, the pixi env name).
    pub name: Option<String>,
    /// How it was found, for people: "-p", "CONDA_PREFIX", "-n NAME in /x/envs", "python3 on PATH".
    pub how: String,
    /// Why the kind was decided (e.g. "conda-meta/history: # cmd: micromamba create ...").
    pub kind_evidence: Option<String>,
    /// The Python executable of the environment, when one exists.
    pub python: Option<PathBuf>,
}

/// Which environment the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub name: Option<String>,
    pub prefix: Option<PathBuf>,
}

/// Errors finding an environment.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("no environment named `{name}` in {searched}")]
    NoSuchName { name: String, searched: String },
    #[error("{path}: no such directory")]
    NoSuchPath { path: PathBuf },
    #[error("{path}: not an environment (no conda-meta/, no pyvenv.cfg, no Python)")]
    NotAnEnv { path: PathBuf },
}

/// Choose the environment (reads the file system for envs dirs and `python3` on PATH).
pub fn locate(sel: &Selector, env: &EnvSnapshot) -> Result<Located, LocateError> {
    let prefix = sel
        .prefix
        .clone()
        .or_else(|| env.path("CONDA_PREFIX"))
        .unwrap_or_else(|| PathBuf::from("/usr"));
    Ok(Located {
        prefix,
        how: "stub".into(),
        ..Default::default()
    })
}
