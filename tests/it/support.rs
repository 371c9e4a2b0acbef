//! Shared helpers: the built binary, the shared corpus, temporary prefixes.

use std::path::PathBuf;

/// Variables that change what blasfix sees (besides `threads::THREAD_VARS`); tests start
/// without them.
const HOST_VARS: &[&str] = &[
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "CONDA_EXE",
    "_CONDA_EXE",
    "_CONDA_ROOT",
    "CONDA_ROOT",
    "CONDA_SHLVL",
    "CONDA_PYTHON_EXE",
    "CONDARC",
    "CONDA_CHANNELS",
    "CONDA_ENVS_PATH",
    "CONDA_ENVS_DIRS",
    "MAMBA_EXE",
    "MAMBA_ROOT_PREFIX",
    "MAMBARC",
    "VIRTUAL_ENV",
    "PIXI_PROJECT_ROOT",
    "PIXI_ENVIRONMENT_NAME",
    "BLASFIX_INVOKED_AS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONFIG_FILE",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_CACHE_HOME",
    "FORCE_COLOR",
    "CLICOLOR_FORCE",
    "PYENV_VERSION",
];

/// `blasfix` as built for this test run, colourless, without the host's conda, pip and thread
/// variables, with HOME pointing at an empty directory (so no real ~/.condarc is read).
pub fn blasfix() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::from_std(blasfix_command());
    clean_env(&mut cmd);
    cmd
}

/// A plain `std::process::Command` for the built blasfix (through [`runner`] when there is
/// one), for tests that need one (pseudo-terminals), with nothing else set.
pub fn blasfix_command() -> std::process::Command {
    program_command(std::path::Path::new(env!("CARGO_BIN_EXE_blasfix")))
}

/// `program` (one the tests built), started through [`runner`] when there is one.
pub fn program_command(program: &std::path::Path) -> std::process::Command {
    match runner() {
        Some(r) => {
            let mut cmd = std::process::Command::new(&r[0]);
            cmd.args(&r[1..]).arg(program);
            cmd
        }
        None => std::process::Command::new(program),
    }
}

pub use blasfix::testing::cross_runner as runner;

/// Start `cmd` without the host's conda, pip, pixi and thread variables, colourless, with an
/// empty HOME.
pub fn clean_env(cmd: &mut assert_cmd::Command) {
    cmd.env("NO_COLOR", "1")
        .env("HOME", empty_home())
        .env("USERPROFILE", empty_home());
    for v in HOST_VARS.iter().chain(blasfix::facts::threads::THREAD_VARS) {
        cmd.env_remove(v);
    }
}

/// [`blasfix`] as a `std::process::Command`, for tests that start it and act while it runs
/// (signals, closed pipes).
#[cfg_attr(not(unix), allow(dead_code))]
pub fn blasfix_process() -> std::process::Command {
    let mut cmd = blasfix_command();
    cmd.env("NO_COLOR", "1")
        .env("HOME", empty_home())
        .env("USERPROFILE", empty_home());
    for v in HOST_VARS.iter().chain(blasfix::facts::threads::THREAD_VARS) {
        cmd.env_remove(v);
    }
    cmd
}

/// `blasfix` run as an unprivileged user, so that permission bits apply (tests run as root in
/// CI): through `setpriv` as nobody when this process is root, else as this user. None when
/// root and `setpriv` is missing. Files the command must read need to be world-readable.
#[cfg(unix)]
pub fn blasfix_unprivileged() -> Option<assert_cmd::Command> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(blasfix());
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let mut cmd = assert_cmd::Command::new(setpriv);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(runner().unwrap_or_default())
        .arg(env!("CARGO_BIN_EXE_blasfix"));
    clean_env(&mut cmd);
    Some(cmd)
}

/// Make a directory tree readable (and directories searchable) by every user.
#[cfg(unix)]
pub fn world_readable(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&d) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        let want = if meta.is_dir() {
            mode | 0o755
        } else {
            mode | 0o644
        };
        let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(want));
        if meta.is_dir()
            && let Ok(rd) = std::fs::read_dir(&d)
        {
            stack.extend(rd.flatten().map(|e| e.path()));
        }
    }
}

/// An empty directory shared by tests as HOME.
pub fn empty_home() -> PathBuf {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("temp dir for HOME"))
        .path()
        .to_path_buf()
}

// Skips: visible, with their reason, and failures under CI when CI is meant to provide the
// thing (see `blasfix::testing::skip` for the two mechanisms).

pub use blasfix::testing::skip::{Need, skip};

/// `program` on PATH, or a skip (`Need::Ci` for what `.ci/run` installs).
pub fn program(name: &str, need: Need) -> Option<PathBuf> {
    which::which(name)
        .ok()
        .or_else(|| skip(need, &format!("`{name}` is not on PATH")))
}

/// The `python3` on PATH (the one prerequisite of plain `cargo test` besides Rust).
pub fn python3() -> Option<PathBuf> {
    program("python3", Need::Ci)
}

/// A Python 3 that has no NumPy, made on purpose: a venv (`python3 -m venv --without-pip`,
/// created once per test run) sees neither the system's nor the user's site-packages, whatever
/// the machine's `python3` has installed. Returns the venv's prefix; its interpreter is
/// `bin/python`. Shared by the tests of one run: read it, do not write into it. ([`blasfix`]
/// does not clear `PYTHONPATH`; tests that need "no NumPy" remove it, tests that put a fake
/// NumPy there may use this venv too.)
pub fn python_without_numpy() -> Option<PathBuf> {
    static VENV: std::sync::OnceLock<Result<tempfile::TempDir, String>> =
        std::sync::OnceLock::new();
    let py = python3()?;
    let made = VENV.get_or_init(|| {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let prefix = dir.path().join("venv");
        let out = std::process::Command::new(&py)
            .args(["-m", "venv", "--without-pip"])
            .arg(&prefix)
            .env_remove("PYTHONPATH")
            .output()
            .map_err(|e| format!("{}: {e}", py.display()))?;
        if !out.status.success() {
            return Err(format!(
                "`{} -m venv --without-pip` failed: {}",
                py.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let check = std::process::Command::new(prefix.join("bin/python"))
            .args(["-c", "import numpy"])
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .output()
            .map_err(|e| format!("the venv's python: {e}"))?;
        if check.status.success() {
            return Err("a fresh venv still imports numpy (PYTHONHOME or a .pth?)".into());
        }
        Ok(dir)
    });
    match made {
        Ok(dir) => Some(dir.path().join("venv")),
        Err(why) => skip(Need::Ci, &format!("no Python 3 without NumPy: {why}")),
    }
}

/// A Python 2 interpreter that runs: `python2` on PATH, else one installed by pyenv
/// (`$PYENV_ROOT/versions/2.*/bin/python2`). Optional: Debian 12 ships no Python 2 and `.ci/run`
/// installs none (its registries have none to offer; pyenv would build it from python.org).
pub fn python2() -> Option<PathBuf> {
    let runs = |p: &std::path::Path| {
        std::process::Command::new(p)
            .args(["-c", "import sys; sys.exit(sys.version_info[0] != 2)"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let on_path = which::which("python2").ok().filter(|p| runs(p));
    let pyenv = || {
        let root = std::env::var_os("PYENV_ROOT")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
        let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("2."))
            .map(|e| e.path().join("bin/python2"))
            .filter(|p| runs(p))
            .collect();
        found.sort();
        found.pop()
    };
    on_path.or_else(pyenv).or_else(|| {
        skip(
            Need::Optional,
            "no Python 2 runs here (python2 on PATH or pyenv's versions/2.*); Debian 12 ships \
             none and .ci/run installs none",
        )
    })
}

/// `<shared>/corpus/<sub>`: real files from public projects (`../shared/corpus` beside the
/// checkout, or under `$BLASFIX_SHARED`), or a skip (a failure under `CI=true`).
pub fn corpus(sub: &str) -> Option<PathBuf> {
    blasfix::testing::skip::shared(&format!("corpus/{sub}"))
}

/// The directory prepared by `tests/heavy/run.sh` (real NumPy venvs, a local conda channel with
/// real OpenBLAS and MKL binaries, prefixes made by py-rattler). Heavy tests are
/// `#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]` and run by that
/// script with `--ignored`; run
/// without `BLASFIX_HEAVY_DIR` they are recorded as skipped (a failure under `CI=true`), and
/// with it set but incomplete they fail.
///
/// Layout: `tools/` (venv with py-rattler: `tools/bin/python`), `channel/` (local channel,
/// conda-forge BLAS layout, linux-64 + noarch), `prefixes/openblas` and `prefixes/mkl` (created
/// from that channel by py-rattler), `venv-pypi/` (venv with NumPy from PyPI), `mkl-venv/` (venv
/// with the PyPI `mkl` wheel), `wheels/` (NumPy wheels for other platforms, unpacked, for Mach-O
/// and PE linkage tests).
pub fn heavy_dir() -> Option<PathBuf> {
    let Some(d) = std::env::var_os("BLASFIX_HEAVY_DIR").filter(|d| !d.is_empty()) else {
        return skip(
            Need::Ci,
            "BLASFIX_HEAVY_DIR is unset (tests/heavy/run.sh prepares it and runs the heavy tests)",
        );
    };
    let d = PathBuf::from(d);
    assert!(
        d.join("READY").is_file(),
        "{}/READY missing: the heavy directory is incomplete; run tests/heavy/run.sh --setup-only",
        d.display()
    );
    Some(d)
}
