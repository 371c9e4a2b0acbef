//! Stamps `--version` with the git commit when built from a checkout of blasfix itself.
//!
//! Outside a checkout (a crates.io or sdist tarball, `cargo install` from a copy, a conda-forge
//! build) the version is the crate version alone; `BLASFIX_GIT_COMMIT` lets a packager who
//! knows the commit supply it. A checkout of some other project that happens to contain the
//! sources (an sdist unpacked inside another repository) is not taken for ours.
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The short commit of HEAD when `manifest_dir` is the top of a git work tree; also asks
/// cargo to rerun when HEAD or the branch it points at moves.
fn checkout_commit(manifest_dir: &Path) -> Option<String> {
    let top = git(manifest_dir, &["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&top), manifest_dir) {
        return None;
    }
    // Watch only files that exist: cargo reruns the script every build for a missing one.
    let watch = |git_path: &str| {
        if let Some(p) = git(manifest_dir, &["rev-parse", "--git-path", git_path]) {
            let p = manifest_dir.join(p);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    };
    watch("HEAD");
    watch("packed-refs");
    if let Some(branch) = git(manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch(&branch);
    }
    git(manifest_dir, &["rev-parse", "--short=9", "HEAD"])
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BLASFIX_GIT_COMMIT");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var("BLASFIX_GIT_COMMIT")
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .or_else(|| checkout_commit(&manifest_dir));
    let long = match commit {
        Some(c) => format!("{version} ({c})"),
        None => version,
    };
    println!("cargo:rustc-env=BLASFIX_LONG_VERSION={long}");
}
