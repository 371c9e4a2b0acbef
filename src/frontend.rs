//! The user's own conda, mamba or micromamba: finding it like a shell would, running it as an
//! argv list (never through a shell) with progress, a timeout and Ctrl-C forwarded, and reading
//! its `--dry-run --json` transaction preview.
