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
    match runner() {
        Some(r) => {
            let mut cmd = std::process::Command::new(&r[0]);
            cmd.args(&r[1..]).arg(env!("CARGO_BIN_EXE_blasfix"));
            cmd
        }
        None => std::process::Command::new(env!("CARGO_BIN_EXE_blasfix")),
    }
}

/// The emulator cargo runs this test binary under, for a cross build that the kernel cannot
/// execute (`qemu-aarch64 -L <sysroot>` from `CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER`,
/// set by .ci/cross): blasfix runs under it too. None for native builds and under Wine, where a
/// Windows process starts Windows programs itself.
pub fn runner() -> Option<Vec<String>> {
    let var = if cfg!(all(target_os = "linux", target_arch = "aarch64")) {
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER"
    } else {
        return None;
    };
    let words: Vec<String> = std::env::var(var)
        .ok()?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    (!words.is_empty()).then_some(words)
}

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

/// `../shared/corpus/<sub>` when the shared corpus is present beside the checkout.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(sub);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("note: {} not present; corpus test skipped", p.display());
        None
    }
}

/// The directory prepared by `tests/heavy/run.sh` (real NumPy venvs, a local conda channel with
/// real OpenBLAS and MKL binaries, prefixes made by py-rattler). Heavy tests return early when
/// `BLASFIX_HEAVY_DIR` is unset (plain `cargo test`) and fail when it is set but incomplete.
///
/// Layout: `tools/` (venv with py-rattler: `tools/bin/python`), `channel/` (local channel,
/// conda-forge BLAS layout, linux-64 + noarch), `prefixes/openblas` and `prefixes/mkl` (created
/// from that channel by py-rattler), `venv-pypi/` (venv with NumPy from PyPI), `mkl-venv/` (venv
/// with the PyPI `mkl` wheel), `wheels/` (NumPy wheels for other platforms, unpacked, for Mach-O
/// and PE linkage tests).
pub fn heavy_dir() -> Option<PathBuf> {
    match std::env::var_os("BLASFIX_HEAVY_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => {
            eprintln!("note: BLASFIX_HEAVY_DIR unset; heavy test skipped (run tests/heavy/run.sh)");
            None
        }
    }
}
