//! Finding the environment to diagnose, the way conda does: `-p PATH`; `-n NAME` exactly as
//! conda's `-n` (only its envs dirs: `envs_dirs` from `.condarc` and `CONDA_ENVS_DIRS`, then
//! `<root>/envs` and `~/.conda/envs`, in the order root writability decides; `base`), so that a
//! printed `conda install -n NAME` finds the same environment; else the active `CONDA_PREFIX`,
//! `VIRTUAL_ENV`, else the `python3` on PATH; and telling what manages it. A name conda's `-n`
//! would not find is an error that says where an environment of that name does exist
//! (`~/.conda/environments.txt`, `$MAMBA_ROOT_PREFIX/envs`, `.pixi/envs`).

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::facts::snapshot::EnvSnapshot;

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
    /// Run as `pixi blasfix`: no `-p` means the pixi workspace's environment (`-n` names it,
    /// else `default`), found from the manifest at or above the working directory.
    pub pixi: bool,
}

/// Errors finding an environment.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("no environment named `{name}` in conda's envs dirs ({searched}){}", elsewhere_text(.elsewhere))]
    NoSuchName {
        name: String,
        searched: String,
        /// Environments of that name that conda's `-n` does not search: (prefix, where listed).
        elsewhere: Vec<(PathBuf, String)>,
    },
    #[error("`{name}` is not an environment name: conda does not allow `/` in one")]
    BadName { name: String },
    #[error("{path}: no such directory")]
    NoSuchPath { path: PathBuf },
    /// An activation variable names a directory that is gone (a stale shell).
    #[error(
        "{var} is {path}, which does not exist: a stale activation? (`conda deactivate` or `deactivate`, or unset {var}, or pass -p PATH)"
    )]
    StaleVariable { var: &'static str, path: PathBuf },
    #[error(
        "{path}: permission denied (cannot look inside it to see whether it is an environment)"
    )]
    PermissionDenied { path: PathBuf },
    #[error("{path}: not an environment (no conda-meta/, no pyvenv.cfg, no Python)")]
    NotAnEnv { path: PathBuf },
    #[error(
        "no pixi workspace at or above {start} (no pixi.toml, no pyproject.toml with [tool.pixi]); run `pixi blasfix` inside a pixi project, or pass -p PATH"
    )]
    NoPixiWorkspace { start: PathBuf },
    #[error(
        "the pixi environment `{name}` of {manifest} is not installed ({prefix} does not exist; installed: {installed}): run `pixi install -e {name}` first"
    )]
    PixiEnvMissing {
        name: String,
        manifest: PathBuf,
        prefix: PathBuf,
        installed: String,
    },
    /// Nothing selected and nothing active: no -p/-n, CONDA_PREFIX, VIRTUAL_ENV or python3.
    #[error(
        "no environment: pass -p PATH or -n NAME (CONDA_PREFIX and VIRTUAL_ENV are unset and there is no python3 on PATH)"
    )]
    NoneFound,
}

fn elsewhere_text(elsewhere: &[(PathBuf, String)]) -> String {
    if elsewhere.is_empty() {
        return String::new();
    }
    let list = elsewhere
        .iter()
        .map(|(p, why)| format!("{} ({why})", p.display()))
        .collect::<Vec<_>>()
        .join(", ");
    format!("; conda's -n does not look where one of that name exists: {list}")
}

impl LocateError {
    /// What to do instead.
    pub fn hint(&self) -> Option<String> {
        match self {
            LocateError::NoSuchName { elsewhere, .. } => Some(match elsewhere.first() {
                Some((p, _)) => format!(
                    "name it by its path: -p {} (conda install -p works there too; -n does not)",
                    p.display()
                ),
                None => "`conda env list` lists the environments conda knows; pass -p PATH for one outside the envs dirs".into(),
            }),
            LocateError::BadName { .. } => Some("pass a path with -p".into()),
            _ => None,
        }
    }
}

/// Choose the environment (reads the file system for envs dirs and `python3` on PATH).
pub fn locate(sel: &Selector, env: &EnvSnapshot) -> Result<Located, LocateError> {
    let mamba_root = env.path("MAMBA_ROOT_PREFIX");
    let (prefix, how, name) = if let Some(p) = &sel.prefix {
        let p = absolute(p, env);
        if !p.exists() {
            return Err(LocateError::NoSuchPath { path: p });
        }
        if let Err(e) = std::fs::read_dir(&p)
            && e.kind() == std::io::ErrorKind::PermissionDenied
        {
            return Err(LocateError::PermissionDenied { path: p });
        }
        if !is_env(&p) {
            return Err(LocateError::NotAnEnv { path: p });
        }
        let name = name_of(&p, env);
        (p, "-p".to_string(), name)
    } else if sel.pixi {
        locate_pixi(sel.name.as_deref(), env)?
    } else if let Some(n) = &sel.name {
        let (p, how) = find_by_name(n, env)?;
        (p, how, Some(n.clone()))
    } else if let Some(p) = env.path("CONDA_PREFIX") {
        if !p.is_dir() {
            return Err(LocateError::StaleVariable {
                var: "CONDA_PREFIX",
                path: p,
            });
        }
        // conda sets CONDA_DEFAULT_ENV to the name of an environment in its envs dirs and to
        // the path of any other: a path is no name.
        let name = env
            .get("CONDA_DEFAULT_ENV")
            .filter(|n| !n.is_empty() && !n.contains(['/', '\\']))
            .map(str::to_string)
            .or_else(|| name_of(&p, env));
        (p, "CONDA_PREFIX".to_string(), name)
    } else if let Some(p) = env.path("VIRTUAL_ENV") {
        if !p.is_dir() {
            return Err(LocateError::StaleVariable {
                var: "VIRTUAL_ENV",
                path: p,
            });
        }
        (p, "VIRTUAL_ENV".to_string(), None)
    } else {
        let exe = python_on_path(env).ok_or(LocateError::NoneFound)?;
        let exe = match pyenv_shim_target(&exe, env) {
            Shim::Plain => exe,
            Shim::Version(real) => real,
            Shim::System(shims) => python_on_path(&without_path_dir(env, &shims)).unwrap_or(exe),
        };
        let p = sys_prefix_guess(&exe);
        (p, format!("python3 on PATH ({})", exe.display()), None)
    };
    let history_cmd =
        crate::facts::prefix::last_history_cmd(&prefix.join("conda-meta").join("history"))
            .ok()
            .flatten();
    let (kind, kind_evidence) = kind_of(&prefix, history_cmd.as_deref(), mamba_root.as_deref());
    let name = name.or_else(|| {
        (kind == EnvKind::Pixi)
            .then(|| pixi_env_name(&prefix))
            .flatten()
    });
    let python = python_of(&prefix);
    Ok(Located {
        prefix,
        kind,
        name,
        how,
        kind_evidence,
        python,
    })
}

/// The pixi workspace's environment: `name`, else the one of an active `pixi shell` of the same
/// workspace (`PIXI_ENVIRONMENT_NAME`), else `default`.
fn locate_pixi(
    name: Option<&str>,
    env: &EnvSnapshot,
) -> Result<(PathBuf, String, Option<String>), LocateError> {
    let start = env.cwd.clone().unwrap_or_else(|| PathBuf::from("."));
    let ws =
        crate::facts::pixi::find_workspace(&start).ok_or(LocateError::NoPixiWorkspace { start })?;
    let shell_env = env
        .path("PIXI_PROJECT_ROOT")
        .filter(|r| same_dir(r, &ws.root))
        .and(env.get("PIXI_ENVIRONMENT_NAME"));
    let name = name.or(shell_env).unwrap_or("default").to_string();
    let prefix = ws.env_prefix(&name);
    if !prefix.join("conda-meta").is_dir() {
        let installed = ws.installed_envs();
        return Err(LocateError::PixiEnvMissing {
            name,
            manifest: ws.manifest,
            prefix,
            installed: if installed.is_empty() {
                "none".into()
            } else {
                installed.join(", ")
            },
        });
    }
    let how = format!("`pixi blasfix` in workspace {}", ws.manifest.display());
    Ok((prefix, how, Some(name)))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || a.canonicalize()
            .ok()
            .is_some_and(|a| b.canonicalize().ok() == Some(a))
}

fn absolute(p: &Path, env: &EnvSnapshot) -> PathBuf {
    match &env.cwd {
        Some(cwd) if p.is_relative() => cwd.join(p),
        _ => p.to_path_buf(),
    }
}

/// A directory conda, a venv or a Python installation would call an environment.
pub fn is_env(p: &Path) -> bool {
    p.join("conda-meta").is_dir() || p.join("pyvenv.cfg").is_file() || python_of(p).is_some()
}

/// The environment's Python: bin/python3, bin/python, python.exe, Scripts/python.exe. A symlink
/// whose target is gone counts (the probe then says so) when no working one exists.
pub fn python_of(prefix: &Path) -> Option<PathBuf> {
    let names = [
        "bin/python3",
        "bin/python",
        "python.exe",
        "Scripts/python.exe",
    ];
    let candidates = || {
        names
            .iter()
            .map(|r| crate::facts::prefix::join_rel(prefix, r))
    };
    candidates().find(|p| p.is_file()).or_else(|| {
        candidates()
            .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()))
    })
}

/// The root (base) prefix: CONDA_ROOT, _CONDA_ROOT, two levels above CONDA_EXE
/// (`<root>/bin/conda`, `<root>\Scripts\conda.exe`, `<root>/condabin/conda`), MAMBA_ROOT_PREFIX.
pub fn root_prefix(env: &EnvSnapshot) -> Option<PathBuf> {
    env.path("CONDA_ROOT")
        .or_else(|| env.path("_CONDA_ROOT"))
        .or_else(|| {
            env.path("CONDA_EXE")
                .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        })
        .or_else(|| env.path("MAMBA_ROOT_PREFIX"))
}

/// The version of the conda package in the root prefix (`conda-meta/conda-24.7.1-*.json`).
pub fn conda_version(env: &EnvSnapshot) -> Option<String> {
    let meta = root_prefix(env)?.join("conda-meta");
    std::fs::read_dir(meta).ok()?.flatten().find_map(|e| {
        let name = e.file_name().into_string().ok()?;
        let rest = name.strip_prefix("conda-")?.strip_suffix(".json")?;
        let version = rest.split('-').next()?;
        version
            .starts_with(|c: char| c.is_ascii_digit())
            .then(|| version.to_string())
    })
}

/// Where conda's `-n NAME` looks, in order (`context.envs_dirs`): `envs_dirs` from the
/// configuration (`.condarc`, `CONDA_ENVS_DIRS`/`CONDA_ENVS_PATH`), then `<root>/envs` and
/// `~/.conda/envs`, the user's first when the root install is not writable. The root is conda's
/// (`CONDA_ROOT`, `CONDA_EXE`), else `MAMBA_ROOT_PREFIX` when only micromamba is there.
pub fn envs_dirs(env: &EnvSnapshot) -> Vec<PathBuf> {
    let configured = crate::facts::condarc::load(env, None).envs_dirs;
    envs_dirs_with(
        env,
        configured.iter().map(|s| s.value.as_str()),
        root_writable(env),
    )
}

/// [`envs_dirs`] from the configured entries and the root's writability (pure).
pub fn envs_dirs_with<'a>(
    env: &EnvSnapshot,
    configured: impl Iterator<Item = &'a str>,
    root_writable: bool,
) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = configured
        .filter(|s| !s.is_empty())
        .map(|s| expand_user(s, env))
        .collect();
    let root = root_prefix(env).map(|r| r.join("envs"));
    let user = env.home.as_ref().map(|h| h.join(".conda").join("envs"));
    let fixed = if root_writable {
        [root, user]
    } else {
        [user, root]
    };
    dirs.extend(fixed.into_iter().flatten());
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let keep = !seen.contains(d);
        seen.push(d.clone());
        keep
    });
    dirs
}

/// conda's `root_writable`: the root's `conda-meta/history` exists and opens for appending
/// (nothing is written).
fn root_writable(env: &EnvSnapshot) -> bool {
    let Some(root) = root_prefix(env) else {
        return false;
    };
    let history = root.join("conda-meta").join("history");
    history.is_file()
        && std::fs::OpenOptions::new()
            .append(true)
            .open(&history)
            .is_ok()
}

/// `~` and relative paths as conda's `expand` (abspath of expanduser) makes them.
fn expand_user(s: &str, env: &EnvSnapshot) -> PathBuf {
    let p = match (
        s.strip_prefix("~/").or_else(|| s.strip_prefix("~\\")),
        &env.home,
    ) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if s == "~" => env.home.clone().unwrap_or_else(|| PathBuf::from(s)),
        _ => PathBuf::from(s),
    };
    absolute(&p, env)
}

/// Entries of `~/.conda/environments.txt` (one prefix per line).
pub fn parse_environments_txt(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(PathBuf::from)
        .collect()
}

fn find_by_name(name: &str, env: &EnvSnapshot) -> Result<(PathBuf, String), LocateError> {
    if name.contains('/') || (cfg!(windows) && name.contains('\\')) {
        return Err(LocateError::BadName { name: name.into() });
    }
    if name == "base" || name == "root" {
        return match root_prefix(env) {
            Some(root) if root.is_dir() => {
                Ok((root.clone(), format!("-n base ({})", root.display())))
            }
            Some(root) => Err(LocateError::NoSuchPath { path: root }),
            None => Err(LocateError::NoSuchName {
                name: name.into(),
                searched:
                    "none: CONDA_ROOT, _CONDA_ROOT, CONDA_EXE and MAMBA_ROOT_PREFIX are unset"
                        .into(),
                elsewhere: Vec::new(),
            }),
        };
    }
    let dirs = envs_dirs(env);
    if let Some((dir, p)) = search_envs_dirs(name, &dirs) {
        return Ok((p, format!("-n {name} in {}", dir.display())));
    }
    Err(LocateError::NoSuchName {
        name: name.into(),
        searched: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        elsewhere: named_elsewhere(name, env, &dirs),
    })
}

/// conda's `locate_prefix_by_name`: the first envs dir that is a directory and holds a
/// directory of that name.
fn search_envs_dirs(name: &str, dirs: &[PathBuf]) -> Option<(PathBuf, PathBuf)> {
    dirs.iter()
        .filter(|d| d.is_dir())
        .map(|d| (d.clone(), d.join(name)))
        .find(|(_, p)| p.is_dir())
}

/// Environments called `name` that conda's `-n` does not search: listed in
/// `~/.conda/environments.txt`, under `$MAMBA_ROOT_PREFIX/envs`, a pixi environment here.
fn named_elsewhere(name: &str, env: &EnvSnapshot, searched: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    let mut add = |p: PathBuf, why: String| {
        if p.is_dir() && !out.iter().any(|(q, _)| *q == p) {
            out.push((p, why));
        }
    };
    if let Some(home) = &env.home {
        let txt = home.join(".conda").join("environments.txt");
        if let Ok(text) = std::fs::read_to_string(&txt) {
            for p in parse_environments_txt(&text) {
                if p.file_name().is_some_and(|b| b == name) {
                    add(p, format!("listed in {}", txt.display()));
                }
            }
        }
    }
    if let Some(m) = env.path("MAMBA_ROOT_PREFIX") {
        let dir = m.join("envs");
        if !searched.contains(&dir) {
            add(
                dir.join(name),
                "micromamba's envs dir, MAMBA_ROOT_PREFIX".into(),
            );
        }
    }
    if let Some(cwd) = &env.cwd {
        add(
            cwd.join(".pixi").join("envs").join(name),
            "a pixi environment of this directory".into(),
        );
    }
    out
}

/// The env name of a prefix as conda's `-n` knows it: `base` for the root prefix, the folder
/// name when `-n` with that name finds this very folder; None otherwise (a path environment).
fn name_of(p: &Path, env: &EnvSnapshot) -> Option<String> {
    if root_prefix(env).is_some_and(|r| r == p) {
        return Some("base".into());
    }
    let name = p.file_name()?.to_string_lossy().into_owned();
    let dirs = envs_dirs(env);
    let by_this_conda =
        search_envs_dirs(&name, &dirs).is_some_and(|(_, found)| same_dir(&found, p));
    // `<root>/envs/NAME` of a conda installation that is not the active one: its own conda's
    // `-n NAME` finds it.
    let by_its_root = p
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "envs"))
        .and_then(Path::parent)
        .is_some_and(is_conda_root);
    (by_this_conda || by_its_root).then_some(name)
}

/// A conda installation's root: conda-meta/ and a conda executable.
fn is_conda_root(p: &Path) -> bool {
    p.join("conda-meta").is_dir()
        && [
            "condabin/conda",
            "bin/conda",
            "Scripts/conda.exe",
            "condabin/conda.bat",
        ]
        .iter()
        .any(|e| p.join(e).is_file())
}

fn pixi_env_name(p: &Path) -> Option<String> {
    let comps: Vec<&std::ffi::OsStr> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect();
    comps
        .windows(3)
        .find(|w| w[0] == ".pixi" && w[1] == "envs")
        .map(|w| w[2].to_string_lossy().into_owned())
}

/// What manages a prefix, and why: `.pixi/envs/` in the path, the tool of the last history
/// `# cmd:`, a MAMBA_ROOT_PREFIX root, conda-meta, pyvenv.cfg, else a system Python.
pub fn kind_of(
    prefix: &Path,
    history_cmd: Option<&str>,
    mamba_root: Option<&Path>,
) -> (EnvKind, Option<String>) {
    if pixi_env_name(prefix).is_some() {
        return (EnvKind::Pixi, Some(".pixi/envs/ in the path".into()));
    }
    if let Some(cmd) = history_cmd {
        let kind = match crate::facts::prefix::tool_from_cmd(cmd) {
            Some("micromamba") => Some(EnvKind::Micromamba),
            Some("mamba") => Some(EnvKind::Mamba),
            Some("conda") => Some(EnvKind::Conda),
            _ => None,
        };
        if let Some(kind) = kind {
            let short: String = cmd.chars().take(120).collect();
            let ell = if short.len() < cmd.len() { "…" } else { "" };
            return (
                kind,
                Some(format!("conda-meta/history: # cmd: {short}{ell}")),
            );
        }
    }
    let has_meta = prefix.join("conda-meta").is_dir();
    if let Some(root) = mamba_root
        && has_meta
        && (prefix == root || prefix.parent().is_some_and(|p| p == root.join("envs")))
    {
        return (
            EnvKind::Micromamba,
            Some(format!("inside MAMBA_ROOT_PREFIX ({})", root.display())),
        );
    }
    if has_meta {
        return (EnvKind::Conda, Some("conda-meta/ present".into()));
    }
    if prefix.join("pyvenv.cfg").is_file() {
        return (EnvKind::Venv, Some("pyvenv.cfg present".into()));
    }
    (EnvKind::System, None)
}

/// What a pyenv shim on PATH stands for.
#[derive(Debug, PartialEq, Eq)]
enum Shim {
    Plain,
    /// The interpreter of the selected pyenv version.
    Version(PathBuf),
    /// pyenv's `system` version: the next python3 on PATH after this shims directory.
    System(PathBuf),
}

/// A pyenv shim (`$PYENV_ROOT/shims/python3`, a shell script) resolved the way pyenv does,
/// without running it: `PYENV_VERSION`, else `.python-version` in the working directory or
/// its parents, else `$PYENV_ROOT/version`.
fn pyenv_shim_target(exe: &Path, env: &EnvSnapshot) -> Shim {
    let Some(shims) = exe
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "shims"))
    else {
        return Shim::Plain;
    };
    let Some(root) = shims.parent().filter(|r| r.join("versions").is_dir()) else {
        return Shim::Plain;
    };
    let first_word = |text: &str| {
        text.split(|c: char| c.is_whitespace() || c == ':')
            .find(|w| !w.is_empty() && !w.starts_with('#'))
            .map(str::to_string)
    };
    let from_file = |p: &Path| std::fs::read_to_string(p).ok().and_then(|t| first_word(&t));
    let version = env
        .get("PYENV_VERSION")
        .and_then(first_word)
        .or_else(|| {
            env.cwd
                .as_deref()
                .into_iter()
                .flat_map(Path::ancestors)
                .find_map(|d| from_file(&d.join(".python-version")))
        })
        .or_else(|| from_file(&root.join("version")));
    match version.as_deref() {
        None | Some("system") => Shim::System(shims.to_path_buf()),
        Some(v) => {
            let bin = root.join("versions").join(v).join("bin");
            let name = exe
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| "python3".into());
            let real = [bin.join(&name), bin.join("python3"), bin.join("python")]
                .into_iter()
                .find(|p| p.exists());
            real.map_or(Shim::Plain, Shim::Version)
        }
    }
}

/// The snapshot with one directory removed from PATH.
fn without_path_dir(env: &EnvSnapshot, dir: &Path) -> EnvSnapshot {
    let mut e = env.clone();
    if let Some(path) = env.get("PATH") {
        let kept: Vec<PathBuf> = std::env::split_paths(path).filter(|p| p != dir).collect();
        if let Ok(joined) = std::env::join_paths(kept) {
            e.vars
                .insert("PATH".into(), joined.to_string_lossy().into_owned());
        }
    }
    e
}

/// `python3` (or `python` on Windows) on the snapshot's PATH.
fn python_on_path(env: &EnvSnapshot) -> Option<PathBuf> {
    let path = env.get("PATH").or_else(|| env.get("Path"))?;
    let cwd = env.cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
    let names: &[&str] = if cfg!(windows) {
        &["python", "python3"]
    } else {
        &["python3", "python"]
    };
    names
        .iter()
        .find_map(|n| which::which_in(n, Some(path), &cwd).ok())
}

/// sys.prefix guessed from a Python executable: the parent of its `bin/` (or its own folder
/// on Windows), following symlinks one step at a time only until that folder looks like a
/// prefix (pyvenv.cfg, conda-meta, lib/pythonX.Y).
pub fn sys_prefix_guess(exe: &Path) -> PathBuf {
    let guess = |exe: &Path| -> Option<PathBuf> {
        let dir = exe.parent()?;
        let is_bin = dir
            .file_name()
            .is_some_and(|n| n == "bin" || n == "Scripts");
        Some(if is_bin {
            dir.parent()?.to_path_buf()
        } else {
            dir.to_path_buf()
        })
    };
    let looks_like_prefix = |p: &Path| {
        p.join("pyvenv.cfg").is_file()
            || p.join("conda-meta").is_dir()
            || p.join("Lib").is_dir()
            || std::fs::read_dir(p.join("lib")).is_ok_and(|mut it| {
                it.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("python")))
            })
    };
    let first = guess(exe).unwrap_or_else(|| PathBuf::from("/usr"));
    let mut current = exe.to_path_buf();
    for _ in 0..16 {
        if let Some(g) = guess(&current)
            && looks_like_prefix(&g)
        {
            return g;
        }
        match std::fs::read_link(&current) {
            Ok(target) => {
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Err(_) => break,
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    fn conda_env(p: &Path, cmd: Option<&str>) {
        fs::create_dir_all(p.join("conda-meta")).expect("mkdir");
        if let Some(cmd) = cmd {
            fs::write(
                p.join("conda-meta/history"),
                format!("==> 2024 <==\n# cmd: {cmd}\n+x\n"),
            )
            .expect("write");
        }
    }

    fn snap(pairs: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn dash_p_must_exist_and_be_an_env() {
        let d = tmp();
        let missing = d.path().join("nope");
        let e = locate(
            &Selector {
                prefix: Some(missing.clone()),
                name: None,
                ..Default::default()
            },
            &snap(&[]),
        )
        .unwrap_err();
        assert!(matches!(e, LocateError::NoSuchPath { .. }));
        assert!(e.to_string().contains(&missing.display().to_string()));
        let plain = d.path().join("plain");
        fs::create_dir_all(&plain).expect("mkdir");
        let e = locate(
            &Selector {
                prefix: Some(plain.clone()),
                name: None,
                ..Default::default()
            },
            &snap(&[]),
        )
        .unwrap_err();
        assert!(matches!(e, LocateError::NotAnEnv { .. }));
        assert!(e.to_string().starts_with(&plain.display().to_string()));
    }

    #[test]
    fn dash_p_accepts_venvs_and_bare_pythons() {
        let d = tmp();
        let venv = d.path().join("venv");
        fs::create_dir_all(venv.join("bin")).expect("mkdir");
        fs::write(venv.join("pyvenv.cfg"), "version = 3.12.1\n").expect("write");
        fs::write(venv.join("bin/python3"), "").expect("write");
        let l = locate(
            &Selector {
                prefix: Some(venv.clone()),
                name: None,
                ..Default::default()
            },
            &snap(&[]),
        )
        .expect("venv");
        assert_eq!((l.kind, l.how.as_str()), (EnvKind::Venv, "-p"));
        assert_eq!(l.python, Some(venv.join("bin/python3")));
        let win = d.path().join("win");
        fs::create_dir_all(&win).expect("mkdir");
        fs::write(win.join("python.exe"), "").expect("write");
        let l = locate(
            &Selector {
                prefix: Some(win.clone()),
                name: None,
                ..Default::default()
            },
            &snap(&[]),
        )
        .expect("win");
        assert_eq!(l.kind, EnvKind::System);
        assert_eq!(l.python, Some(win.join("python.exe")));
    }

    #[test]
    fn dash_n_searches_envs_dirs_in_order() {
        let d = tmp();
        let root = d.path().join("miniforge3");
        let home = d.path().join("home");
        conda_env(&root, Some("/x/miniforge3/bin/conda install numpy"));
        conda_env(
            &root.join("envs/ml"),
            Some("/x/miniforge3/bin/mamba install numpy"),
        );
        conda_env(&home.join(".conda/envs/ml"), None);
        conda_env(&home.join(".conda/envs/solo"), None);
        let exe = root.join("bin/conda");
        let env = snap(&[("CONDA_EXE", exe.to_str().expect("utf8"))]).with_home(&home);
        let l = locate(
            &Selector {
                name: Some("ml".into()),
                prefix: None,
                ..Default::default()
            },
            &env,
        )
        .expect("ml");
        assert_eq!(l.prefix, root.join("envs/ml"));
        assert_eq!(l.kind, EnvKind::Mamba);
        assert!(
            l.kind_evidence
                .as_deref()
                .is_some_and(|e| e.contains("mamba install"))
        );
        assert_eq!(l.name.as_deref(), Some("ml"));
        let l = locate(
            &Selector {
                name: Some("solo".into()),
                prefix: None,
                ..Default::default()
            },
            &env,
        )
        .expect("solo");
        assert_eq!(l.prefix, home.join(".conda/envs/solo"));
        let l = locate(
            &Selector {
                name: Some("base".into()),
                prefix: None,
                ..Default::default()
            },
            &env,
        )
        .expect("base");
        assert_eq!((l.prefix.clone(), l.kind), (root.clone(), EnvKind::Conda));
        let e = locate(
            &Selector {
                name: Some("ghost".into()),
                prefix: None,
                ..Default::default()
            },
            &env,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("ghost") && e.to_string().contains("envs"),
            "{e}"
        );
    }

    fn by_name(name: &str, env: &EnvSnapshot) -> Result<Located, LocateError> {
        locate(
            &Selector {
                name: Some(name.into()),
                prefix: None,
                ..Default::default()
            },
            env,
        )
    }

    /// conda's `-n` searches its envs dirs only: an environment listed in environments.txt, a
    /// micromamba or pixi environment is not found by name, and the error says where it is.
    #[test]
    fn dash_n_is_conda_s_dash_n() {
        let d = tmp();
        let home = d.path().join("home");
        let custom = d.path().join("custom");
        conda_env(&custom.join("a"), None);
        let elsewhere = d.path().join("proj/envs2/b");
        conda_env(&elsewhere, None);
        fs::create_dir_all(home.join(".conda")).expect("mkdir");
        fs::write(
            home.join(".conda/environments.txt"),
            format!("{}\n\n", elsewhere.display()),
        )
        .expect("write");
        let ws = d.path().join("ws");
        conda_env(&ws.join(".pixi/envs/default"), None);
        let mm = d.path().join("mm");
        conda_env(&mm.join("envs/c"), None);
        let root = d.path().join("miniforge3");
        conda_env(&root, Some("conda install x"));
        let exe = root.join("bin/conda");
        let mut env = snap(&[
            ("CONDA_ENVS_PATH", custom.to_str().expect("utf8")),
            ("CONDA_EXE", exe.to_str().expect("utf8")),
            ("MAMBA_ROOT_PREFIX", mm.to_str().expect("utf8")),
        ])
        .with_home(&home);
        env.cwd = Some(ws.clone());
        let a = by_name("a", &env).expect("a");
        assert_eq!(a.prefix, custom.join("a"));
        assert_eq!(a.name.as_deref(), Some("a"));
        // Where each is, as blasfix names it: the line of environments.txt as written, the
        // others joined one component at a time (backslashes on Windows).
        for (name, at, why) in [
            ("b", elsewhere.clone(), "environments.txt"),
            ("c", mm.join("envs").join("c"), "MAMBA_ROOT_PREFIX"),
            (
                "default",
                ws.join(".pixi").join("envs").join("default"),
                "pixi",
            ),
        ] {
            let e = by_name(name, &env).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains(&at.display().to_string()) && text.contains(why),
                "{text}"
            );
            assert!(
                text.contains(&root.join("envs").display().to_string()),
                "{text}"
            );
            let hint = e.hint().unwrap();
            assert!(hint.contains(&format!("-p {}", at.display())), "{hint}");
        }
        assert!(matches!(
            by_name("x/y", &env),
            Err(LocateError::BadName { .. })
        ));
        // The same folder by -p has no conda name: fixes then name it by path.
        let l = locate(
            &Selector {
                name: None,
                prefix: Some(elsewhere.clone()),
                ..Default::default()
            },
            &env,
        )
        .expect("-p");
        assert_eq!(l.name, None);
        // Without CONDA_EXE, micromamba's root is the root: -n finds its envs.
        let env = snap(&[("MAMBA_ROOT_PREFIX", mm.to_str().expect("utf8"))]).with_home(&home);
        assert_eq!(by_name("c", &env).expect("c").prefix, mm.join("envs/c"));
    }

    #[test]
    fn envs_dirs_order_follows_root_writability() {
        let home = PathBuf::from("/home/u");
        let env = snap(&[("CONDA_ROOT", "/opt/conda")]).with_home(&home);
        let cfg = ["~/my-envs", "/data/envs"];
        assert_eq!(
            envs_dirs_with(&env, cfg.iter().copied(), true),
            [
                home.join("my-envs"),
                PathBuf::from("/data/envs"),
                PathBuf::from("/opt/conda/envs"),
                home.join(".conda/envs")
            ]
        );
        assert_eq!(
            envs_dirs_with(&env, std::iter::empty(), false),
            [home.join(".conda/envs"), PathBuf::from("/opt/conda/envs")]
        );
    }

    /// `conda activate /some/path` sets CONDA_DEFAULT_ENV to the path: no name.
    #[test]
    fn an_activated_path_environment_has_no_name() {
        let d = tmp();
        let act = d.path().join("proj/env");
        conda_env(&act, None);
        let env = snap(&[
            ("CONDA_PREFIX", act.to_str().expect("utf8")),
            ("CONDA_DEFAULT_ENV", act.to_str().expect("utf8")),
        ]);
        let l = locate(&Selector::default(), &env).expect("active");
        assert_eq!(l.name, None);
        let env = snap(&[
            ("CONDA_PREFIX", act.to_str().expect("utf8")),
            ("CONDA_DEFAULT_ENV", "env"),
        ]);
        assert_eq!(
            locate(&Selector::default(), &env)
                .expect("active")
                .name
                .as_deref(),
            Some("env")
        );
    }

    #[test]
    fn active_env_then_virtual_env() {
        let d = tmp();
        let act = d.path().join("act");
        conda_env(&act, Some("micromamba create -n act"));
        let venv = d.path().join("venv");
        fs::create_dir_all(&venv).expect("mkdir");
        fs::write(venv.join("pyvenv.cfg"), "").expect("write");
        let env = snap(&[
            ("CONDA_PREFIX", act.to_str().expect("utf8")),
            ("VIRTUAL_ENV", venv.to_str().expect("utf8")),
        ]);
        let l = locate(&Selector::default(), &env).expect("active");
        assert_eq!(
            (l.how.as_str(), l.kind),
            ("CONDA_PREFIX", EnvKind::Micromamba)
        );
        let env = snap(&[("VIRTUAL_ENV", venv.to_str().expect("utf8"))]);
        let l = locate(&Selector::default(), &env).expect("venv");
        assert_eq!((l.how.as_str(), l.kind), ("VIRTUAL_ENV", EnvKind::Venv));
    }

    #[test]
    fn stale_activation_variables_are_named() {
        let d = tmp();
        let gone = d.path().join("gone");
        for var in ["CONDA_PREFIX", "VIRTUAL_ENV"] {
            let env = snap(&[(var, gone.to_str().expect("utf8"))]);
            let e = locate(&Selector::default(), &env).unwrap_err();
            assert!(matches!(e, LocateError::StaleVariable { .. }), "{e:?}");
            let msg = e.to_string();
            assert!(msg.starts_with(var) && msg.contains("stale"), "{msg}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_interpreter_link_is_still_the_environments_python() {
        let d = tmp();
        let venv = d.path().join("venv");
        fs::create_dir_all(venv.join("bin")).expect("mkdir");
        fs::write(venv.join("pyvenv.cfg"), "home = /nowhere/bin\n").expect("write");
        std::os::unix::fs::symlink("/nowhere/bin/python3.11", venv.join("bin/python3"))
            .expect("symlink");
        assert_eq!(python_of(&venv), Some(venv.join("bin/python3")));
    }

    #[test]
    fn pyenv_shims_resolve_to_the_selected_version() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join(".pyenv");
        let shims = root.join("shims");
        std::fs::create_dir_all(&shims).unwrap();
        std::fs::write(
            shims.join("python3"),
            "#!/usr/bin/env bash\nexec pyenv exec python3\n",
        )
        .unwrap();
        let real = root.join("versions/3.11.7/bin/python3");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "").unwrap();
        std::fs::write(root.join("version"), "3.11.7\n").unwrap();
        let shim = shims.join("python3");
        let env = EnvSnapshot::default();
        assert_eq!(pyenv_shim_target(&shim, &env), Shim::Version(real.clone()));
        assert_eq!(sys_prefix_guess(&real), root.join("versions/3.11.7"));
        let env = EnvSnapshot::from_pairs([("PYENV_VERSION", "system")]);
        assert_eq!(pyenv_shim_target(&shim, &env), Shim::System(shims.clone()));
        let proj = t.path().join("proj/sub");
        std::fs::create_dir_all(&proj).unwrap();
        std::fs::write(t.path().join("proj/.python-version"), "3.11.7\n").unwrap();
        std::fs::write(root.join("version"), "system\n").unwrap();
        let env = EnvSnapshot {
            cwd: Some(proj),
            ..Default::default()
        };
        assert_eq!(pyenv_shim_target(&shim, &env), Shim::Version(real));
        assert_eq!(
            pyenv_shim_target(Path::new("/usr/bin/python3"), &env),
            Shim::Plain
        );
    }

    #[test]
    fn python3_on_path_and_its_prefix() {
        let d = tmp();
        let venv = d.path().join("venv");
        fs::create_dir_all(venv.join("bin")).expect("mkdir");
        fs::write(venv.join("pyvenv.cfg"), "").expect("write");
        let real = d.path().join("usr/bin/python3.12");
        fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
        fs::write(&real, "").expect("write");
        fs::create_dir_all(d.path().join("usr/lib/python3.12")).expect("mkdir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&real, fs::Permissions::from_mode(0o755)).expect("chmod");
            std::os::unix::fs::symlink(&real, venv.join("bin/python3")).expect("symlink");
            let bin = venv.join("bin");
            let env = snap(&[("PATH", bin.to_str().expect("utf8"))]);
            let l = locate(&Selector::default(), &env).expect("path");
            assert_eq!(l.prefix, venv);
            assert!(l.how.starts_with("python3 on PATH"));
            // A symlink from a bare bin/ is followed to the real installation.
            let other = d.path().join("other/bin");
            fs::create_dir_all(&other).expect("mkdir");
            std::os::unix::fs::symlink(&real, other.join("python3")).expect("symlink");
            assert_eq!(
                sys_prefix_guess(&other.join("python3")),
                d.path().join("usr")
            );
        }
        assert!(matches!(
            locate(&Selector::default(), &snap(&[("PATH", "/nonexistent")])),
            Err(LocateError::NoneFound)
        ));
    }

    #[test]
    fn kinds() {
        let d = tmp();
        let root = d.path().join("mm");
        conda_env(&root.join("envs/x"), None);
        assert_eq!(
            kind_of(&root.join("envs/x"), None, Some(&root)).0,
            EnvKind::Micromamba
        );
        assert_eq!(kind_of(&root.join("envs/x"), None, None).0, EnvKind::Conda);
        assert_eq!(
            kind_of(
                &root.join("envs/x"),
                Some("C:\\m\\Scripts\\conda-script.py install x"),
                Some(&root)
            )
            .0,
            EnvKind::Conda
        );
        assert_eq!(
            kind_of(Path::new("/w/.pixi/envs/default"), None, None).0,
            EnvKind::Pixi
        );
        assert_eq!(kind_of(d.path(), None, None).0, EnvKind::System);
        assert_eq!(
            parse_environments_txt("/a\n\n  /b \n"),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
    }
}
