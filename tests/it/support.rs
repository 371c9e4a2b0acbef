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
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus").join(sub);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("note: {} not present; corpus test skipped", p.display());
        None
    }
}
