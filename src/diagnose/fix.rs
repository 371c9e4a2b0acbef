//! The exact commands that fix a finding: `blasfix apply ...` and the raw frontend command it
//! stands for on this environment's channel, with the environment named as conda would need it.

use crate::facts::Facts;
use crate::facts::blas::{BlasImpl, ChannelFamily};
use crate::facts::envs::EnvKind;

use super::platform::env_family;

/// Quote one shell word for display (POSIX shells), only when needed.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c));
    if safe {
        s.to_string()
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

/// The install command a frontend runs for a conda spec switch.
fn frontend_name(f: &Facts) -> &'static str {
    match f.environment.kind {
        EnvKind::Mamba => "mamba",
        EnvKind::Micromamba => "micromamba",
        _ => "conda",
    }
}

/// The exact `blasfix apply` command and the raw command it stands for, for a switch to `to`.
pub fn switch_fix(f: &Facts, to: BlasImpl) -> (Option<String>, Option<String>) {
    let family = env_family(f);
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
        ChannelFamily::Pip | ChannelFamily::Other => None,
    };
    (fix, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/a/b"), "/a/b");
        assert_eq!(shell_quote("/a b/c"), "'/a b/c'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
