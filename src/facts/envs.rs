//! Finding the environment to diagnose, the way conda does: `-p PATH`, `-n NAME` in the envs
//! dirs (`envs_dirs`, `$CONDA_ROOT/envs`, `~/.conda/envs`, `$MAMBA_ROOT_PREFIX/envs`,
//! `~/.conda/environments.txt`, `.pixi/envs/*`), else the active `CONDA_PREFIX`, `VIRTUAL_ENV`,
//! else the `python3` on PATH; and telling what manages it.

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
    /// Nothing selected and nothing active: no -p/-n, CONDA_PREFIX, VIRTUAL_ENV or python3.
    #[error(
        "no environment: pass -p PATH or -n NAME (CONDA_PREFIX and VIRTUAL_ENV are unset and there is no python3 on PATH)"
    )]
    NoneFound,
}

/// Choose the environment (reads the file system for envs dirs and `python3` on PATH).
pub fn locate(sel: &Selector, env: &EnvSnapshot) -> Result<Located, LocateError> {
    let mamba_root = env.path("MAMBA_ROOT_PREFIX");
    let (prefix, how, name) = if let Some(p) = &sel.prefix {
        let p = absolute(p, env);
        if !p.exists() {
            return Err(LocateError::NoSuchPath { path: p });
        }
        if !is_env(&p) {
            return Err(LocateError::NotAnEnv { path: p });
        }
        let name = name_of(&p, env);
        (p, "-p".to_string(), name)
    } else if let Some(n) = &sel.name {
        let (p, how) = find_by_name(n, env)?;
        (p, how, Some(n.clone()))
    } else if let Some(p) = env.path("CONDA_PREFIX") {
        if !p.is_dir() {
            return Err(LocateError::NoSuchPath { path: p });
        }
        let name = env
            .get("CONDA_DEFAULT_ENV")
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
            .or_else(|| name_of(&p, env));
        (p, "CONDA_PREFIX".to_string(), name)
    } else if let Some(p) = env.path("VIRTUAL_ENV") {
        if !p.is_dir() {
            return Err(LocateError::NoSuchPath { path: p });
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
    let history_cmd = crate::facts::prefix::last_history_cmd(&prefix.join("conda-meta/history"))
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

/// The environment's Python: bin/python3, bin/python, python.exe, Scripts/python.exe.
pub fn python_of(prefix: &Path) -> Option<PathBuf> {
    [
        "bin/python3",
        "bin/python",
        "python.exe",
        "Scripts/python.exe",
    ]
    .iter()
    .map(|r| prefix.join(r))
    .find(|p| p.is_file())
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

/// Where `-n NAME` is looked for, in order: CONDA_ENVS_PATH/CONDA_ENVS_DIRS entries,
/// `<root>/envs`, `~/.conda/envs`, `$MAMBA_ROOT_PREFIX/envs`.
pub fn envs_dirs(env: &EnvSnapshot) -> Vec<PathBuf> {
    let sep = if cfg!(windows) { ';' } else { ':' };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for key in ["CONDA_ENVS_PATH", "CONDA_ENVS_DIRS"] {
        if let Some(v) = env.get(key) {
            dirs.extend(
                v.split([sep, ','])
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from),
            );
        }
    }
    if let Some(root) = root_prefix(env) {
        dirs.push(root.join("envs"));
    }
    if let Some(home) = &env.home {
        dirs.push(home.join(".conda").join("envs"));
    }
    if let Some(m) = env.path("MAMBA_ROOT_PREFIX") {
        dirs.push(m.join("envs"));
    }
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let keep = !seen.contains(d);
        seen.push(d.clone());
        keep
    });
    dirs
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
    if name == "base" || name == "root" {
        return match root_prefix(env) {
            Some(root) if root.is_dir() => {
                Ok((root.clone(), format!("-n base ({})", root.display())))
            }
            Some(root) => Err(LocateError::NoSuchPath { path: root }),
            None => Err(LocateError::NoSuchName {
                name: name.into(),
                searched: "CONDA_ROOT, _CONDA_ROOT, CONDA_EXE and MAMBA_ROOT_PREFIX (all unset)"
                    .into(),
            }),
        };
    }
    let mut searched: Vec<String> = Vec::new();
    for dir in envs_dirs(env) {
        let p = dir.join(name);
        if p.is_dir() {
            return Ok((p, format!("-n {name} in {}", dir.display())));
        }
        searched.push(dir.display().to_string());
    }
    if let Some(home) = &env.home {
        let txt = home.join(".conda").join("environments.txt");
        if let Ok(text) = std::fs::read_to_string(&txt) {
            for p in parse_environments_txt(&text) {
                if p.file_name().is_some_and(|b| b == name) && p.is_dir() {
                    return Ok((p, format!("-n {name} in {}", txt.display())));
                }
            }
        }
        searched.push(txt.display().to_string());
    }
    if let Some(cwd) = &env.cwd {
        let dir = cwd.join(".pixi").join("envs");
        let p = dir.join(name);
        if p.is_dir() {
            return Ok((p, format!("-n {name} in {}", dir.display())));
        }
        searched.push(dir.display().to_string());
    }
    Err(LocateError::NoSuchName {
        name: name.into(),
        searched: searched.join(", "),
    })
}

/// The env name of a prefix: `base` for the root prefix, the folder name inside an `envs` dir.
fn name_of(p: &Path, env: &EnvSnapshot) -> Option<String> {
    if root_prefix(env).is_some_and(|r| r == p) {
        return Some("base".into());
    }
    let parent = p.parent()?;
    (parent.file_name()? == "envs")
        .then(|| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .flatten()
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
            },
            &env,
        )
        .expect("solo");
        assert_eq!(l.prefix, home.join(".conda/envs/solo"));
        let l = locate(
            &Selector {
                name: Some("base".into()),
                prefix: None,
            },
            &env,
        )
        .expect("base");
        assert_eq!((l.prefix.clone(), l.kind), (root.clone(), EnvKind::Conda));
        let e = locate(
            &Selector {
                name: Some("ghost".into()),
                prefix: None,
            },
            &env,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("ghost") && e.to_string().contains("envs"),
            "{e}"
        );
    }

    #[test]
    fn dash_n_uses_envs_path_environments_txt_and_pixi() {
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
        let mut env = snap(&[("CONDA_ENVS_PATH", custom.to_str().expect("utf8"))]).with_home(&home);
        env.cwd = Some(ws.clone());
        assert_eq!(
            locate(
                &Selector {
                    name: Some("a".into()),
                    prefix: None
                },
                &env
            )
            .expect("a")
            .prefix,
            custom.join("a")
        );
        assert_eq!(
            locate(
                &Selector {
                    name: Some("b".into()),
                    prefix: None
                },
                &env
            )
            .expect("b")
            .prefix,
            elsewhere
        );
        let l = locate(
            &Selector {
                name: Some("default".into()),
                prefix: None,
            },
            &env,
        )
        .expect("pixi");
        assert_eq!(l.kind, EnvKind::Pixi);
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
