//! The exact commands that fix a finding: `blasfix apply ...` and the raw frontend command it
//! stands for on this environment's channel, with the environment named as conda would need it
//! (`-n` only for an environment conda's `-n` finds, else `-p`). A pin that would block the
//! switch or switch it back (`conda-meta/pinned`, `pinned_packages`) is handled in both: the
//! raw command edits it first, `blasfix apply` does it itself (with `--edit-condarc` for a
//! `.condarc`).

use crate::facts::Facts;
use crate::facts::blas::{BlasImpl, ChannelFamily};
use crate::facts::envs::EnvKind;
use crate::facts::pinspec;

use super::platform::env_family;

/// Quote one shell word for display, only when needed: POSIX single quotes; on Windows double
/// quotes, which cmd.exe and PowerShell both read (`C:\Users\Ann Lee\envs\ml` needs them,
/// `C:\Users\u\envs\ml` does not).
pub fn shell_quote(s: &str) -> String {
    shell_quote_for(s, cfg!(windows))
}

fn shell_quote_for(s: &str, windows: bool) -> String {
    let extra = if windows { "\\" } else { "" };
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c) || extra.contains(c));
    if safe {
        s.to_string()
    } else if windows {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The spec quoted as the conda docs write it (`"libblas=*=*mkl"`).
fn quoted_spec(spec: &str) -> String {
    if spec.contains('*') || spec.contains('[') || spec.contains(' ') {
        format!("\"{spec}\"")
    } else {
        spec.to_string()
    }
}

/// `-n NAME` or `-p PREFIX` for commands, empty (for blasfix) when the env is the active one.
/// `-n` only when the env was found by that name: a folder's name is no conda env name unless
/// it sits in one of conda's envs dirs.
fn env_args(f: &Facts, for_blasfix: bool) -> String {
    let active = f.environment.how == "CONDA_PREFIX" || f.environment.how == "VIRTUAL_ENV";
    if for_blasfix && active {
        return String::new();
    }
    match &f.environment.name {
        Some(n) if f.environment.how.starts_with("-n ") && f.environment.kind != EnvKind::Pixi => {
            format!(" -n {}", shell_quote(n))
        }
        _ => format!(
            " -p {}",
            shell_quote(&f.environment.prefix.to_string_lossy())
        ),
    }
}

/// ` -n NAME` / ` -p PREFIX` for a `blasfix` command (empty for the active environment).
pub fn env_selector(f: &Facts) -> String {
    env_args(f, true)
}

/// The install command a frontend runs for a conda spec switch.
fn frontend_name(f: &Facts) -> &'static str {
    match f.environment.kind {
        EnvKind::Mamba => "mamba",
        EnvKind::Micromamba => "micromamba",
        _ => "conda",
    }
}

/// The pins that `blocks` (`conda-meta/pinned` lines, `pinned_packages` entries from files and
/// from variables).
pub struct BlockingPins {
    pub pinned: Vec<String>,
    /// (file, spec) of `pinned_packages` entries set in a `.condarc`.
    pub condarc: Vec<(String, String)>,
    /// (variable, spec) of entries set by `CONDA_PINNED_PACKAGES`.
    pub vars: Vec<(String, String)>,
}

impl BlockingPins {
    pub fn of(f: &Facts, blocks: &dyn Fn(&str, bool) -> bool) -> Self {
        let mut out = BlockingPins {
            pinned: Vec::new(),
            condarc: Vec::new(),
            vars: Vec::new(),
        };
        for l in &f.prefix.pinned {
            if blocks(&l.text, true) {
                out.pinned.push(l.text.clone());
            }
        }
        for p in &f.channels.config.pinned_packages {
            if !blocks(&p.value, false) {
                continue;
            }
            match (&p.file, &p.origin) {
                (Some(file), _) => out
                    .condarc
                    .push((file.to_string_lossy().into_owned(), p.value.clone())),
                (None, origin) => out.vars.push((
                    origin
                        .clone()
                        .unwrap_or_else(|| "CONDA_PINNED_PACKAGES".into()),
                    p.value.clone(),
                )),
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.pinned.is_empty() && self.condarc.is_empty() && self.vars.is_empty()
    }
}

/// `conda config --file FILE --remove pinned_packages 'SPEC'`.
pub fn condarc_remove_command(file: &str, spec: &str) -> String {
    format!(
        "conda config --file {} --remove pinned_packages {}",
        shell_quote(file),
        shell_quote(spec)
    )
}

/// A POSIX basic regular expression matching `s` literally, for sed with `/` delimiters.
fn bre_literal(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.[]*^$/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Commands that take the blocking pins out (and, for `conda-meta/pinned`, pin `to` instead),
/// run before the install; None when there is nothing to edit. On Windows they are said in
/// words (no sed there).
fn pin_edit_commands(f: &Facts, pins: &BlockingPins, to: BlasImpl) -> Vec<String> {
    let mut cmds = Vec::new();
    let pinned_file = f.environment.prefix.join("conda-meta").join("pinned");
    let file = shell_quote(&pinned_file.to_string_lossy());
    let windows = super::platform::env_subdir(f).starts_with("win-");
    let new_pin =
        crate::facts::blas::switch_spec(super::platform::env_family(f), to).filter(|_| {
            !f.prefix
                .pinned
                .iter()
                .any(|l| pinspec::selects(&l.text, super::platform::env_family(f), to))
        });
    if !pins.pinned.is_empty() {
        if windows {
            let mut said = format!(
                "edit {}: remove {}",
                pinned_file.display(),
                pins.pinned
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(p) = &new_pin {
                said.push_str(&format!(", add `{p}`"));
            }
            cmds.push(said);
        } else {
            let exprs: Vec<String> = pins
                .pinned
                .iter()
                .map(|p| {
                    shell_quote(&format!(
                        "/^[[:space:]]*{}[[:space:]]*$/d",
                        bre_literal(p.trim())
                    ))
                })
                .map(|e| format!("-e {e}"))
                .collect();
            cmds.push(format!("sed -i.bak {} {file}", exprs.join(" ")));
            if let Some(p) = &new_pin {
                cmds.push(format!("echo {} >> {file}", shell_quote(p)));
            }
        }
    }
    for (file, spec) in &pins.condarc {
        cmds.push(condarc_remove_command(file, spec));
    }
    for (var, spec) in &pins.vars {
        cmds.push(format!(
            "unset {var}  # it holds `{spec}`; remove it from your shell profile too"
        ));
    }
    cmds
}

/// The exact `blasfix apply` command and the raw command it stands for, for a switch to `to`.
/// Pins that would block it are part of both.
pub fn switch_fix(f: &Facts, to: BlasImpl) -> (Option<String>, Option<String>) {
    let pins = BlockingPins::of(f, &|l, quoted_ignored| {
        pinspec::conflicts(l, to) && !(quoted_ignored && is_quoted(l))
    });
    let (fix, raw) = install_fix(f, to);
    let edit_condarc = if pins.condarc.is_empty() {
        ""
    } else {
        " --edit-condarc"
    };
    let fix = fix.map(|x| format!("{x}{edit_condarc}"));
    let edits = pin_edit_commands(f, &pins, to);
    let raw = raw.map(|r| {
        if edits.is_empty() {
            r
        } else {
            format!("{} && {r}", edits.join(" && "))
        }
    });
    (fix, raw)
}

/// The fix for pins that ask for another backend than `running`, which runs: `blasfix apply
/// --backend RUNNING` (it only rewrites the pins) and the edits it stands for.
pub fn pin_fix(
    f: &Facts,
    running: BlasImpl,
    pins: &BlockingPins,
) -> (Option<String>, Option<String>) {
    let edit_condarc = if pins.condarc.is_empty() {
        ""
    } else {
        " --edit-condarc"
    };
    let fix = format!(
        "blasfix apply --backend {}{}{edit_condarc}",
        running.as_str(),
        env_args(f, true)
    );
    let edits = pin_edit_commands(f, pins, running);
    (Some(fix), (!edits.is_empty()).then(|| edits.join(" && ")))
}

fn is_quoted(l: &str) -> bool {
    let t = l.trim();
    t.starts_with(['"', '\'']) || t.ends_with(['"', '\''])
}

/// `blasfix apply` and the bare install command for a switch to `to`. A pixi environment is
/// switched through its manifest (`blasfix apply` refuses it): `pixi add` is the fix itself.
fn install_fix(f: &Facts, to: BlasImpl) -> (Option<String>, Option<String>) {
    let family = env_family(f);
    if f.environment.kind == EnvKind::Pixi && family == ChannelFamily::CondaForge {
        let add = format!("pixi add \"libblas=*=*{}\"", to.as_str());
        return (Some(add.clone()), Some(add));
    }
    let fix = Some(format!(
        "blasfix apply --backend {}{}",
        to.as_str(),
        env_args(f, true)
    ));
    let raw = match family {
        ChannelFamily::CondaForge if f.environment.kind == EnvKind::Pixi => {
            Some(format!("pixi add \"libblas=*=*{}\"", to.as_str()))
        }
        ChannelFamily::CondaForge => Some(format!(
            "{} install{} {}",
            frontend_name(f),
            env_args(f, false),
            quoted_spec(&format!("libblas=*=*{}", to.as_str()))
        )),
        ChannelFamily::Defaults => {
            let spec = match to {
                BlasImpl::Mkl => "blas=*=mkl",
                BlasImpl::Openblas => "blas=*=openblas",
                _ => return (fix, None),
            };
            Some(format!(
                "{} install{} numpy {}",
                frontend_name(f),
                env_args(f, false),
                quoted_spec(spec)
            ))
        }
        ChannelFamily::Debian | ChannelFamily::Fedora => distro_switch(f, to),
        ChannelFamily::Pip | ChannelFamily::Other => None,
    };
    if matches!(family, ChannelFamily::Debian | ChannelFamily::Fedora) {
        // blasfix does not switch a system: the distribution's own command is the fix.
        return (raw.clone(), raw);
    }
    (fix, raw)
}

/// The distribution's own switch to `to`: Debian/Ubuntu `update-alternatives --set` for
/// libblas.so.3 and liblapack.so.3 (and libopenblas.so.0 between OpenBLAS builds), after
/// `apt install` of the package when it is missing; Fedora `flexiblas default NAME`.
pub fn distro_switch(f: &Facts, to: BlasImpl) -> Option<String> {
    match env_family(f) {
        ChannelFamily::Fedora => {
            let name = match to {
                BlasImpl::Openblas => "OPENBLAS-OPENMP",
                BlasImpl::Blis => "BLIS-OPENMP",
                BlasImpl::Atlas => "ATLAS",
                BlasImpl::Netlib => "NETLIB",
                _ => return None,
            };
            Some(format!("flexiblas default {name}"))
        }
        ChannelFamily::Debian => {
            let distro = f.prefix.distro.as_ref()?;
            let triplet = distro.triplet.as_deref()?;
            let (pkg, dir) = match to {
                BlasImpl::Openblas => ("libopenblas0-pthread", "openblas-pthread"),
                BlasImpl::Blis => ("libblis4-pthread", "blis-pthread"),
                BlasImpl::Atlas => ("libatlas3-base", "atlas"),
                BlasImpl::Mkl => ("libmkl-rt", ""),
                BlasImpl::Netlib => ("libblas3 liblapack3", "blas"),
                _ => return None,
            };
            let installed = |p: &str| {
                p.split(' ')
                    .all(|p| distro.blas_packages.iter().any(|x| x.name == p))
            };
            let alt = distro.alternative("libblas.so.3");
            let blas_target = alt
                .and_then(|a| {
                    a.candidates
                        .iter()
                        .map(|(p, _)| p)
                        .find(|p| {
                            crate::facts::linkage::classify_path(p) == Some(to)
                                && (dir.is_empty()
                                    || p.to_string_lossy().contains(&format!("/{dir}/")))
                        })
                        .or_else(|| {
                            a.candidates
                                .iter()
                                .map(|(p, _)| p)
                                .find(|p| crate::facts::linkage::classify_path(p) == Some(to))
                        })
                })
                .cloned()
                .or_else(|| {
                    (!dir.is_empty()).then(|| {
                        std::path::PathBuf::from(format!("/usr/lib/{triplet}/{dir}/libblas.so.3"))
                    })
                })?;
            let target_dir = blas_target.parent()?.to_path_buf();
            let lapack_dir = if to == BlasImpl::Netlib {
                target_dir.with_file_name("lapack")
            } else {
                target_dir.clone()
            };
            let mut cmds = Vec::new();
            if !installed(pkg) {
                cmds.push(format!("sudo apt install {pkg}"));
            }
            cmds.push(format!(
                "sudo update-alternatives --set libblas.so.3-{triplet} {}",
                blas_target.display()
            ));
            let has_lapack = to != BlasImpl::Blis;
            if has_lapack {
                cmds.push(format!(
                    "sudo update-alternatives --set liblapack.so.3-{triplet} {}",
                    lapack_dir.join("liblapack.so.3").display()
                ));
            }
            if to == BlasImpl::Openblas && distro.alternative("libopenblas.so.0").is_some() {
                cmds.push(format!(
                    "sudo update-alternatives --set libopenblas.so.0-{triplet} {}",
                    target_dir.join("libopenblas.so.0").display()
                ));
            }
            Some(cmds.join(" && "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `blasfix apply` refuses pixi environments, so their fix is the manifest's own command.
    #[test]
    fn a_pixi_environment_is_switched_with_pixi_add() {
        let mut f = crate::diagnose::fixture::intel_linux();
        f.environment.kind = EnvKind::Pixi;
        f.environment.prefix = "/home/u/proj/.pixi/envs/default".into();
        let (fix, raw) = switch_fix(&f, BlasImpl::Mkl);
        assert_eq!(fix.as_deref(), Some("pixi add \"libblas=*=*mkl\""));
        assert_eq!(raw, fix);
        f.environment.kind = EnvKind::Conda;
        let (fix, _) = switch_fix(&f, BlasImpl::Mkl);
        assert_eq!(fix.as_deref(), Some("blasfix apply --backend mkl"));
    }

    #[test]
    fn shell_quoting() {
        let posix = |s| shell_quote_for(s, false);
        assert_eq!(posix("/a/b"), "/a/b");
        assert_eq!(posix("/a b/c"), "'/a b/c'");
        assert_eq!(posix("it's"), "'it'\\''s'");
        let windows = |s| shell_quote_for(s, true);
        assert_eq!(windows(r"C:\Users\u\envs\ml"), r"C:\Users\u\envs\ml");
        assert_eq!(
            windows(r"D:\Ann Lee\anaconda3\envs\ml"),
            r#""D:\Ann Lee\anaconda3\envs\ml""#
        );
        assert_eq!(windows(""), "\"\"");
        assert_eq!(posix(r"C:\Users\u"), r"'C:\Users\u'");
        // shell_quote follows the platform blasfix runs on.
        assert_eq!(
            shell_quote("/a b/c"),
            shell_quote_for("/a b/c", cfg!(windows))
        );
    }
}
