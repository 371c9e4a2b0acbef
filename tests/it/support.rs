//! Shared helpers: the built binary, the shared corpus, temporary prefixes.

use std::path::PathBuf;

/// `blasfix` as built for this test run, with a clean, colourless environment.
pub fn blasfix() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_blasfix"));
    cmd.env("NO_COLOR", "1")
        .env_remove("CONDA_PREFIX")
        .env_remove("CONDARC")
        .env_remove("VIRTUAL_ENV")
        .env_remove("PIP_INDEX_URL");
    cmd
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
