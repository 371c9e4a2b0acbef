//! `blasfix pin`: resolve the backend and channel family, run the pure editor (`envfile`),
//! show a unified diff, confirm, and write atomically with a backup beside the file
//! (`<file>.bak`, e.g. `environment.yml.bak`).

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::change::envfile::{self, Edited, ManifestKind, PinRequest};
use crate::cli::{FamilyArg, GlobalArgs, PinArgs};
use crate::error::{EXIT_OK, UserError};
use crate::facts::blas::ChannelFamily;
use crate::render::diff;
use crate::render::style::Styles;

pub fn run(args: &PinArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let Some(path) = &args.file else {
        let (req, said) = resolve(args, &[])?;
        say(global, &said);
        print!("{}", envfile::pin_lines(&req));
        return Ok(EXIT_OK);
    };
    let kind = ManifestKind::from_path(path);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return create(args, global, path, kind);
        }
        Err(e) => {
            return Err(UserError::usage(format!("cannot read {}: {e}", path.display())).into());
        }
    };
    let channels = envfile::file_channels(&bytes, kind);
    let (req, said) = resolve(args, &channels)?;
    say(global, &said);
    let result = match kind {
        None => envfile::edit_environment_yml(&bytes, &req),
        Some(k) => envfile::edit_manifest(&bytes, k, &req),
    };
    let edited = result.map_err(|e| {
        let hint = e.hint();
        let err = UserError::usage(format!(
            "{}: not edited (the file is untouched): {e}",
            path.display()
        ));
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    })?;
    report_changes(global, &edited);
    if edited.is_noop() {
        if args.stdout {
            std::io::stdout().write_all(&edited.bytes)?;
        } else if !global.quiet {
            eprintln!(
                "{} already pins {}; nothing to change.",
                path.display(),
                req.backend.display_name()
            );
        }
        return Ok(EXIT_OK);
    }
    if args.stdout {
        std::io::stdout().write_all(&edited.bytes)?;
        return Ok(EXIT_OK);
    }
    print!(
        "{}",
        diff::diff(&edited.before, &edited.after, &path.display().to_string())
    );
    if args.dry_run {
        eprintln!("--dry-run: {} not written.", path.display());
        return Ok(EXIT_OK);
    }
    if !confirm(args, path)? {
        eprintln!("{} left unchanged.", path.display());
        return Ok(EXIT_OK);
    }
    let backup = super::atomic::write_atomic(path, &edited.bytes, true)?;
    if !global.quiet {
        let s = Styles::stderr();
        eprintln!(
            "{} wrote {} (the original is in {})",
            s.ok("done:"),
            path.display(),
            backup.map(|b| b.display().to_string()).unwrap_or_default()
        );
    }
    Ok(EXIT_OK)
}

/// A FILE that does not exist: a new environment.yml from the family's template.
fn create(
    args: &PinArgs,
    global: &GlobalArgs,
    path: &Path,
    kind: Option<ManifestKind>,
) -> anyhow::Result<u8> {
    if kind.is_some() {
        return Err(
            UserError::usage(format!("{} does not exist", path.display()))
                .with_hint(
                    "create the pixi manifest with `pixi init` first, then run `blasfix pin` on it",
                )
                .into(),
        );
    }
    let (req, said) = resolve(args, &[])?;
    say(global, &said);
    let content = envfile::new_environment_yml(
        &req,
        &env_name(path),
        &path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
    .map_err(|e| UserError::usage(e.to_string()))?;
    if args.stdout {
        print!("{content}");
        return Ok(EXIT_OK);
    }
    print!("{}", diff::diff("", &content, &path.display().to_string()));
    if args.dry_run {
        eprintln!("--dry-run: {} not created.", path.display());
        return Ok(EXIT_OK);
    }
    if !confirm(args, path)? {
        eprintln!("{} not created.", path.display());
        return Ok(EXIT_OK);
    }
    super::atomic::write_atomic(path, content.as_bytes(), false)?;
    if !global.quiet {
        eprintln!(
            "{} created {}",
            Styles::stderr().ok("done:"),
            path.display()
        );
    }
    Ok(EXIT_OK)
}

/// The environment name for a new file: its directory's name, else `numpy-env`.
fn env_name(path: &Path) -> String {
    let dir = std::path::absolute(path).ok().and_then(|p| {
        p.parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
    });
    let clean: String = dir
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_matches(['-', '.']).to_string();
    if clean.is_empty() {
        "numpy-env".into()
    } else {
        clean
    }
}

/// Backend and family from the flags, the file's channels, then the diagnosis of the selected
/// environment. Returns the request and what was inferred (for stderr).
fn resolve(args: &PinArgs, channels: &[String]) -> anyhow::Result<(PinRequest, Vec<String>)> {
    let mut said = Vec::new();
    let facts_cache: std::cell::OnceCell<anyhow::Result<crate::facts::Facts>> =
        std::cell::OnceCell::new();
    let facts = || {
        facts_cache.get_or_init(|| {
            super::gather::gather(
                &args.env,
                &crate::facts::snapshot::EnvSnapshot::capture(),
                None,
            )
        })
    };
    let backend = match args.backend.named() {
        Some(b) => b,
        None => {
            let ask = "pass --backend mkl, openblas, blis, accelerate or netlib";
            match facts() {
                Ok(f) => {
                    let rec = crate::diagnose::recommend::recommend(f);
                    if !rec.backend.is_concrete() {
                        return Err(UserError::usage(
                            "could not tell which BLAS to pin for this machine",
                        )
                        .with_hint(ask)
                        .into());
                    }
                    said.push(format!(
                        "backend {} (recommended: {})",
                        rec.backend.as_str(),
                        rec.reason
                    ));
                    rec.backend
                }
                Err(e) => {
                    return Err(
                        UserError::usage(format!("could not tell which BLAS to pin: {e}"))
                            .with_hint(ask)
                            .into(),
                    );
                }
            }
        }
    };
    let family = match args.channel_family {
        FamilyArg::CondaForge => ChannelFamily::CondaForge,
        FamilyArg::Defaults => ChannelFamily::Defaults,
        FamilyArg::Auto => match envfile::family_from_channels(channels) {
            Some(f) => {
                said.push(format!(
                    "channel family {} (from the file's channels)",
                    f.as_str()
                ));
                f
            }
            None => {
                let from_env = facts()
                    .as_ref()
                    .ok()
                    .map(crate::diagnose::platform::env_family)
                    .filter(|x| matches!(x, ChannelFamily::CondaForge | ChannelFamily::Defaults));
                match from_env {
                    Some(f) => {
                        said.push(format!(
                            "channel family {} (from the environment)",
                            f.as_str()
                        ));
                        f
                    }
                    None => {
                        said.push("channel family conda-forge (assumed; pass --channel-family defaults for Anaconda's channels)".into());
                        ChannelFamily::CondaForge
                    }
                }
            }
        },
    };
    let req = PinRequest::new(backend, family);
    req.check().map_err(|e| {
        let err = UserError::usage(e.to_string());
        match e.hint() {
            Some(h) => err.with_hint(h),
            None => err,
        }
    })?;
    Ok((req, said))
}

fn say(global: &GlobalArgs, lines: &[String]) {
    if global.quiet {
        return;
    }
    let s = Styles::stderr();
    for l in lines {
        eprintln!("{} {l}", s.dim("using"));
    }
}

fn report_changes(global: &GlobalArgs, e: &Edited) {
    let s = Styles::stderr();
    if !global.quiet {
        for c in &e.changes {
            eprintln!("{} {c}", s.info("change:"));
        }
    }
    for n in &e.notes {
        eprintln!("{} {n}", s.warn("note:"));
    }
}

/// `--yes`, or a yes on the terminal (default No); without a terminal: refuse, naming `--yes`.
fn confirm(args: &PinArgs, path: &Path) -> anyhow::Result<bool> {
    if args.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(UserError::usage(format!(
            "not writing {}: there is no terminal to confirm on",
            path.display()
        ))
        .with_hint("pass --yes to write without asking, or --dry-run to only see the diff")
        .into());
    }
    dialoguer::Confirm::new()
        .with_prompt(format!("Write {}?", path.display()))
        .default(false)
        .interact()
        .map_err(|e| {
            UserError::usage(format!("no answer to the confirmation: {e}"))
                .with_hint("pass --yes to write without asking")
                .into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert_eq!(
            env_name(Path::new("/tmp/my proj/environment.yml")),
            "my-proj"
        );
        assert_eq!(env_name(Path::new("/environment.yml")), "numpy-env");
    }
}
