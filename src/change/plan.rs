//! Plans for `apply`: a pure function from the facts and the requested backend to the exact
//! install command for the environment's channel family, the `pinned` edits, or a refusal with
//! the alternatives that exist.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::facts::Facts;
use crate::facts::blas;
use crate::facts::blas::{BlasImpl, ChannelFamily};
use crate::facts::declared::NumpySource;
use crate::facts::envs::EnvKind;
use crate::facts::prefix::Record;

/// What the user asked `apply` for, beyond the facts.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The backend to switch to (already resolved from `auto`, see [`resolve_target`]).
    pub target: BlasImpl,
    pub replace_pip_numpy: bool,
    /// Do not persist the new BLAS pin after success.
    pub no_pin: bool,
    /// The raw text of `conda-meta/pinned` (None: no such file).
    pub pinned_text: Option<String>,
}

/// Why `apply` will not do it, with what would work instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub message: String,
    /// Backends that do exist for this channel family and subdir.
    pub alternatives: Vec<BlasImpl>,
    pub hint: Option<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One step that changes the environment, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// `<env python> -m pip uninstall -y numpy` (argv after the interpreter).
    PipUninstall { args: Vec<String> },
    /// `<frontend> install -p PREFIX -y SPECS`.
    Install { specs: Vec<String> },
}

/// How `conda-meta/pinned` changes: the BLAS lines that would make libmamba refuse the switch
/// are removed before installing; the new pin is written after success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PinnedEdit {
    pub file: PathBuf,
    /// Lines (as written) that conflict with the target and are taken out before installing.
    pub conflicting: Vec<String>,
    /// The file's content while installing (None: leave the file as it is).
    pub before_install: Option<String>,
    /// The file's content after success (None: leave it as it was while installing).
    pub after_success: Option<String>,
    /// The pin written after success (`libblas=*=*mkl`, `blas=*=mkl`), unless `--no-pin`.
    pub new_pin: Option<String>,
}

/// A switch to perform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub prefix: PathBuf,
    pub family: ChannelFamily,
    pub subdir: String,
    pub current: BlasImpl,
    pub target: BlasImpl,
    /// The MatchSpecs handed to the frontend, unquoted.
    pub specs: Vec<String>,
    pub steps: Vec<Step>,
    pub pinned: PinnedEdit,
    /// Lines for a person: what changes and why.
    pub summary: Vec<String>,
}

/// The verdict of [`plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    Switch(Box<Plan>),
    AlreadyOn { backend: BlasImpl, summary: String },
}

/// The backend asked for (`None`: the recommendation for this machine).
pub fn resolve_target(named: Option<BlasImpl>, facts: &Facts) -> Result<BlasImpl, Refusal> {
    Ok(match named {
        Some(b) => b,
        None => {
            let rec = crate::diagnose::recommend::recommend(facts);
            if !rec.backend.is_concrete() {
                return Err(Refusal {
                    message: "blasfix has no recommendation for this machine and environment"
                        .into(),
                    alternatives: Vec::new(),
                    hint: Some(
                        "name one with --backend (mkl, openblas, blis, accelerate, netlib)".into(),
                    ),
                });
            }
            rec.backend
        }
    })
}

/// The BLAS the environment declares now: the declared verdict, else what the BLAS records'
/// build strings say (conda-forge `libblas`, defaults `blas 1.0`).
pub fn current_backend(facts: &Facts) -> BlasImpl {
    if facts.blas.implementation.is_concrete() {
        return facts.blas.implementation;
    }
    backend_from_records(&facts.prefix.records).unwrap_or(facts.blas.implementation)
}

/// The implementation conda-meta records select, when they name one.
pub fn backend_from_records(records: &[Record]) -> Option<BlasImpl> {
    let find = |n: &str| records.iter().find(|r| r.name == n);
    if let Some(r) = find("libblas") {
        return blas::impl_from_build_suffix(&r.build);
    }
    if let Some(r) = find("blas") {
        return blas::impl_from_build_suffix(&r.build).or(match r.build.as_str() {
            "mkl" => Some(BlasImpl::Mkl),
            "openblas" => Some(BlasImpl::Openblas),
            _ => None,
        });
    }
    None
}

/// The channel family of a channel URL or name (mirrors included: `/cloud/conda-forge`,
/// `/pkgs/main`).
pub fn family_of_channel(channel: &str) -> Option<ChannelFamily> {
    let c = channel.to_ascii_lowercase();
    if c.contains("conda-forge") {
        Some(ChannelFamily::CondaForge)
    } else if c.contains("pkgs/main")
        || c.contains("pkgs/free")
        || c.contains("pkgs/r")
        || c.contains("pkgs/msys2")
        || c.contains("repo.anaconda.com")
        || c == "defaults"
        || c.ends_with("/anaconda")
    {
        Some(ChannelFamily::Defaults)
    } else {
        None
    }
}

/// The family whose BLAS scheme governs the conda side of the environment.
pub fn conda_family(facts: &Facts) -> Option<ChannelFamily> {
    let conda = |f: Option<ChannelFamily>| {
        f.filter(|f| matches!(f, ChannelFamily::CondaForge | ChannelFamily::Defaults))
    };
    if let Some(f) = conda(facts.blas.numpy.family).or(conda(facts.blas.family)) {
        return Some(f);
    }
    let records = &facts.prefix.records;
    let has = |n: &str| records.iter().any(|r| r.name == n);
    if has("libblas") || has("libcblas") || has("liblapack") {
        return Some(ChannelFamily::CondaForge);
    }
    if records
        .iter()
        .any(|r| r.name == "blas" && r.version.starts_with("1."))
        || has("nomkl")
    {
        return Some(ChannelFamily::Defaults);
    }
    let by_channel = |name: &str| {
        records
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.channel.as_deref().or(r.url.as_deref()))
            .and_then(family_of_channel)
    };
    by_channel("numpy")
        .or_else(|| by_channel("python"))
        .or_else(|| {
            records
                .iter()
                .filter_map(|r| r.channel.as_deref().or(r.url.as_deref()))
                .find_map(family_of_channel)
        })
}

/// The environment's subdir: its own, its records', else the machine's.
pub fn subdir_of(facts: &Facts) -> Option<String> {
    facts
        .prefix
        .subdir
        .clone()
        .or_else(|| {
            facts
                .prefix
                .records
                .iter()
                .filter_map(|r| r.subdir.clone())
                .find(|s| s != "noarch")
        })
        .or_else(|| Some(facts.machine.process_subdir.clone()).filter(|s| !s.is_empty()))
}

/// The spec that selects `target` in `family`'s scheme (the pin line is the same text).
pub fn blas_spec(family: ChannelFamily, target: BlasImpl) -> Option<String> {
    match family {
        ChannelFamily::CondaForge => Some(format!("libblas=*=*{}", target.as_str())),
        ChannelFamily::Defaults => Some(format!("blas=*={}", target.as_str())),
        _ => None,
    }
}

fn names(list: &[BlasImpl]) -> String {
    list.iter()
        .map(|b| b.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn family_name(f: ChannelFamily) -> &'static str {
    match f {
        ChannelFamily::CondaForge => "conda-forge",
        ChannelFamily::Defaults => "Anaconda defaults",
        ChannelFamily::Pip => "PyPI",
        ChannelFamily::Other => "an unknown channel",
    }
}

/// Decide what `apply` does (pure).
pub fn plan(facts: &Facts, req: &Request) -> Result<Decision, Refusal> {
    let target = req.target;
    let prefix = facts.environment.prefix.clone();
    if facts.environment.kind == EnvKind::Pixi {
        return Err(Refusal {
            message: format!(
                "{} is a pixi environment: the next `pixi install` would undo a change made by conda",
                prefix.display()
            ),
            alternatives: Vec::new(),
            hint: Some(
                "pin the BLAS in pixi.toml with `blasfix pin pixi.toml`, then run `pixi install`"
                    .into(),
            ),
        });
    }
    if !facts.prefix.has_conda_meta {
        return Err(Refusal {
            message: format!("{} is not a conda environment (no conda-meta/)", prefix.display()),
            alternatives: Vec::new(),
            hint: Some("a venv's NumPy comes from PyPI wheels with their own OpenBLAS; `blasfix explain blas` tells the options".into()),
        });
    }
    let pip_numpy = facts.blas.numpy.source == Some(NumpySource::Pip)
        || facts.blas.family == Some(ChannelFamily::Pip);
    let family = conda_family(facts).ok_or_else(|| Refusal {
        message: "cannot tell which channel family (conda-forge or Anaconda defaults) this environment's packages come from".into(),
        alternatives: Vec::new(),
        hint: Some("`blasfix doctor -v` shows the records it read".into()),
    })?;
    let subdir = subdir_of(facts).ok_or_else(|| Refusal {
        message: "cannot tell the environment's platform (no subdir in its records)".into(),
        alternatives: Vec::new(),
        hint: None,
    })?;
    let available = blas::available(family, &subdir);
    if !available.contains(&target) {
        let why = match (family, target, subdir.as_str()) {
            (ChannelFamily::CondaForge, BlasImpl::Mkl, "osx-64") => {
                " (Intel dropped MKL for macOS; conda-forge removed it in 2024)"
            }
            (ChannelFamily::Defaults, BlasImpl::Mkl, "osx-64") => {
                " (Anaconda stopped building MKL for macOS in 2024)"
            }
            (_, BlasImpl::Mkl, "osx-arm64" | "linux-aarch64" | "linux-ppc64le") => {
                " (MKL is built for x86-64 only)"
            }
            _ => "",
        };
        return Err(Refusal {
            message: format!(
                "{} has no {} build of {} for {}{}",
                family_name(family),
                target.as_str(),
                "the BLAS",
                subdir,
                why
            ),
            hint: Some(if available.is_empty() {
                "no alternative is known for this channel and platform".to_string()
            } else {
                format!(
                    "available here: {} (e.g. --backend {})",
                    names(&available),
                    available[0].as_str()
                )
            }),
            alternatives: available,
        });
    }
    let spec = blas_spec(family, target).ok_or_else(|| Refusal {
        message: format!(
            "blasfix does not know how {} selects a BLAS",
            family_name(family)
        ),
        alternatives: Vec::new(),
        hint: None,
    })?;
    let current = current_backend(facts);
    let mut summary = Vec::new();
    let mut steps = Vec::new();
    let mut specs = Vec::new();
    if pip_numpy {
        if !req.replace_pip_numpy {
            return Err(Refusal {
                message: format!(
                    "NumPy in {} was installed by pip: it carries its own BLAS inside the wheel, and conda's BLAS packages cannot reach it",
                    prefix.display()
                ),
                alternatives: Vec::new(),
                hint: Some(format!(
                    "rerun with --replace-pip-numpy to uninstall the pip NumPy (`python -m pip uninstall -y numpy`) and install conda's numpy with `{spec}`"
                )),
            });
        }
        steps.push(Step::PipUninstall {
            args: ["-m", "pip", "uninstall", "-y", "numpy"]
                .map(String::from)
                .to_vec(),
        });
        specs.push("numpy".to_string());
        specs.push(spec.clone());
        summary
            .push("uninstall the pip-installed NumPy (its wheel bundles its own OpenBLAS)".into());
        summary.push(format!(
            "install conda's numpy with {} from {}",
            target.display_name(),
            family_name(family)
        ));
    } else {
        let runs_target = |b: Option<BlasImpl>| b.is_none_or(|b| !b.is_concrete() || b == target);
        let linked = facts.linkage.as_ref().map(|l| l.implementation);
        let loaded = facts.runtime.as_ref().map(|r| r.implementation);
        if current == target && runs_target(linked) && runs_target(loaded) {
            return Ok(Decision::AlreadyOn {
                backend: target,
                summary: format!(
                    "{} already runs {}: nothing to do",
                    prefix.display(),
                    target.display_name()
                ),
            });
        }
        match family {
            ChannelFamily::CondaForge => {
                specs.push(spec.clone());
                summary.push(format!(
                    "switch libblas/libcblas/liblapack from {} to {} (NumPy itself is not reinstalled)",
                    current.display_name(),
                    target.display_name()
                ));
            }
            _ => {
                specs.push("numpy".into());
                specs.push(spec.clone());
                summary.push(format!(
                    "reinstall numpy built against {} (Anaconda's `blas` mutex selects the variant)",
                    target.display_name()
                ));
                if target == BlasImpl::Openblas {
                    summary.push(
                        "(Anaconda's documented opt-out `conda install nomkl` has the same effect)"
                            .into(),
                    );
                }
                if target == BlasImpl::Mkl && facts.prefix.record("nomkl").is_some() {
                    summary.push("note: `nomkl` is installed and holds defaults on OpenBLAS; run `conda remove nomkl` if the solver refuses".into());
                }
            }
        }
        if current == target {
            summary.push(format!(
                "the records already declare {}, but NumPy {} something else; reinstalling",
                target.display_name(),
                if loaded.is_some() { "loads" } else { "links" }
            ));
        }
    }
    steps.push(Step::Install {
        specs: specs.clone(),
    });
    let pinned = pinned_edit(
        &prefix.join("conda-meta").join("pinned"),
        req.pinned_text.as_deref(),
        family,
        target,
        req.no_pin,
    );
    if !pinned.conflicting.is_empty() {
        summary.push(format!(
            "conda-meta/pinned holds {} which libmamba would refuse to override; it is taken out before installing (and restored if anything fails)",
            pinned.conflicting.join(", ")
        ));
    }
    if let Some(p) = &pinned.new_pin {
        summary.push(format!("after success, pin `{p}` in conda-meta/pinned"));
    }
    Ok(Decision::Switch(Box::new(Plan {
        prefix,
        family,
        subdir,
        current,
        target,
        specs,
        steps,
        pinned,
        summary,
    })))
}

impl Plan {
    /// Frontend arguments for the install step: `install -p PREFIX -y [--json] [--dry-run]
    /// [--no-pin] SPECS`.
    pub fn install_args(&self, dry_run: bool, json: bool, no_pin: bool) -> Vec<OsString> {
        install_args(&self.prefix, &self.specs, dry_run, json, no_pin)
    }
}

/// `install -p PREFIX -y [--json] [--dry-run] [--no-pin] SPECS` as an argv list.
pub fn install_args(
    prefix: &Path,
    specs: &[String],
    dry_run: bool,
    json: bool,
    no_pin: bool,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![
        "install".into(),
        "-p".into(),
        prefix.as_os_str().to_owned(),
        "-y".into(),
    ];
    if json {
        a.push("--json".into());
    }
    if dry_run {
        a.push("--dry-run".into());
    }
    if no_pin {
        a.push("--no-pin".into());
    }
    a.extend(specs.iter().map(OsString::from));
    a
}

/// Packages whose pin decides the BLAS.
const BLAS_PIN_NAMES: &[&str] = &[
    "libblas",
    "libcblas",
    "liblapack",
    "liblapacke",
    "blas",
    "blas-devel",
    "nomkl",
    "mkl-devel",
];

/// The package name and build glob of a MatchSpec line (`libblas=*=*mkl`, `libblas * *mkl`,
/// `conda-forge::libblas[build=*mkl]`, `"blas=*=mkl"`), lowercase.
pub fn spec_name_build(line: &str) -> Option<(String, Option<String>)> {
    let s = line.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if s.is_empty() || s.starts_with('#') {
        return None;
    }
    let s = s.rsplit("::").next().unwrap_or(s);
    let (head, bracket) = match s.find('[') {
        Some(i) => (&s[..i], Some(s[i + 1..].trim_end_matches(']'))),
        None => (s, None),
    };
    let end = head
        .find(|c: char| c.is_whitespace() || matches!(c, '=' | '<' | '>' | '!' | '~'))
        .unwrap_or(head.len());
    let name = head[..end].trim().to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    let rest = head[end..].trim();
    let mut build = None;
    if let Some(b) = bracket {
        for kv in b.split(',') {
            if let Some((k, v)) = kv.split_once('=')
                && k.trim() == "build"
            {
                build = Some(v.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
            }
        }
    }
    if build.is_none() {
        if let Some(r) = rest.strip_prefix('=') {
            // name=version=build
            build = r.split_once('=').map(|(_, b)| b.trim().to_string());
        } else {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            if parts.len() >= 2 {
                build = Some(parts[1].to_string());
            }
        }
    }
    Some((name, build.filter(|b| !b.is_empty())))
}

/// Whether a pinned line keeps the solver from switching to `target` (pure).
pub fn pin_conflicts(line: &str, target: BlasImpl) -> bool {
    let Some((name, build)) = spec_name_build(line) else {
        return false;
    };
    if !BLAS_PIN_NAMES.contains(&name.as_str()) {
        return false;
    }
    if name == "nomkl" {
        return target == BlasImpl::Mkl;
    }
    if name == "mkl-devel" {
        return target != BlasImpl::Mkl;
    }
    match build {
        Some(b) => {
            let b = b.trim_matches('*');
            let imp = blas::impl_from_build_suffix(b).or(match b {
                "mkl" => Some(BlasImpl::Mkl),
                "openblas" => Some(BlasImpl::Openblas),
                "blis" => Some(BlasImpl::Blis),
                "accelerate" | "newaccelerate" => Some(BlasImpl::Accelerate),
                "netlib" => Some(BlasImpl::Netlib),
                _ => None,
            });
            imp.is_some_and(|i| i != target)
        }
        // A bare name locks the installed build under libmamba; a version alone does not.
        None => line
            .trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .trim()
            .eq_ignore_ascii_case(&name),
    }
}

/// Whether a pinned line already selects `target` the way `family` spells it.
fn pin_selects(line: &str, family: ChannelFamily, target: BlasImpl) -> bool {
    let quoted = line.trim().starts_with('"') || line.trim().starts_with('\'');
    let want = if family == ChannelFamily::CondaForge {
        "libblas"
    } else {
        "blas"
    };
    !quoted
        && spec_name_build(line).is_some_and(|(n, b)| {
            n == want && b.is_some_and(|b| b.trim_matches('*') == target.as_str())
        })
}

/// The edit of `conda-meta/pinned` for a switch (pure; other lines kept byte for byte).
pub fn pinned_edit(
    file: &Path,
    text: Option<&str>,
    family: ChannelFamily,
    target: BlasImpl,
    no_pin: bool,
) -> PinnedEdit {
    let original = text.unwrap_or("");
    let lines: Vec<&str> = original.split_inclusive('\n').collect();
    let bare = |l: &str| l.trim_end_matches(['\n', '\r']).to_string();
    let conflicting: Vec<String> = lines
        .iter()
        .filter(|l| pin_conflicts(l, target))
        .map(|l| bare(l))
        .collect();
    let kept: String = lines
        .iter()
        .filter(|l| !pin_conflicts(l, target))
        .copied()
        .collect();
    let before_install = (!conflicting.is_empty()).then(|| kept.clone());
    let already = lines.iter().any(|l| pin_selects(l, family, target));
    let new_pin = (!no_pin && !already)
        .then(|| blas_spec(family, target))
        .flatten();
    let after_success = new_pin.as_ref().map(|pin| {
        let eol = if original.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        let mut out = kept.clone();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(eol);
        }
        out.push_str(pin);
        out.push_str(eol);
        out
    });
    PinnedEdit {
        file: file.to_path_buf(),
        conflicting,
        before_install,
        after_success,
        new_pin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::declared::{DeclaredBlas, NumpyFacts};
    use crate::facts::envs::Located;
    use crate::facts::prefix::PrefixFacts;

    fn rec(name: &str, version: &str, build: &str, channel: &str, subdir: &str) -> Record {
        Record {
            name: name.into(),
            version: version.into(),
            build: build.into(),
            channel: Some(channel.into()),
            subdir: Some(subdir.into()),
            ..Default::default()
        }
    }

    fn facts(
        family: ChannelFamily,
        subdir: &str,
        current: BlasImpl,
        records: Vec<Record>,
    ) -> Facts {
        Facts {
            environment: Located {
                prefix: PathBuf::from("/envs/ml"),
                kind: EnvKind::Conda,
                ..Default::default()
            },
            prefix: PrefixFacts {
                prefix: PathBuf::from("/envs/ml"),
                has_conda_meta: true,
                records,
                subdir: Some(subdir.into()),
                ..Default::default()
            },
            blas: DeclaredBlas {
                implementation: current,
                family: Some(family),
                numpy: NumpyFacts {
                    source: Some(NumpySource::Conda),
                    family: Some(family),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn cf_linux_openblas() -> Facts {
        let ch = "https://conda.anaconda.org/conda-forge/linux-64";
        facts(
            ChannelFamily::CondaForge,
            "linux-64",
            BlasImpl::Openblas,
            vec![
                rec("libblas", "3.9.0", "31_h59b9bed_openblas", ch, "linux-64"),
                rec("numpy", "2.1.0", "py312h58c1407_0", ch, "linux-64"),
            ],
        )
    }

    fn req(target: BlasImpl) -> Request {
        Request {
            target,
            ..Default::default()
        }
    }

    fn switch(d: Decision) -> Plan {
        match d {
            Decision::Switch(p) => *p,
            other => panic!("expected a switch, got {other:?}"),
        }
    }

    #[test]
    fn conda_forge_linux_openblas_to_mkl() {
        let p = switch(plan(&cf_linux_openblas(), &req(BlasImpl::Mkl)).unwrap());
        assert_eq!(p.specs, vec!["libblas=*=*mkl"]);
        assert_eq!(
            p.steps,
            vec![Step::Install {
                specs: vec!["libblas=*=*mkl".into()]
            }]
        );
        assert_eq!(p.current, BlasImpl::Openblas);
        assert_eq!(p.pinned.new_pin.as_deref(), Some("libblas=*=*mkl"));
        assert_eq!(p.pinned.after_success.as_deref(), Some("libblas=*=*mkl\n"));
        assert_eq!(p.pinned.before_install, None);
        let args: Vec<String> = p
            .install_args(true, true, false)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "install",
                "-p",
                "/envs/ml",
                "-y",
                "--json",
                "--dry-run",
                "libblas=*=*mkl"
            ]
        );
    }

    #[test]
    fn defaults_linux_mkl_to_openblas() {
        let ch = "https://repo.anaconda.com/pkgs/main/linux-64";
        let f = facts(
            ChannelFamily::Defaults,
            "linux-64",
            BlasImpl::Mkl,
            vec![
                rec("blas", "1.0", "mkl", ch, "linux-64"),
                rec("numpy", "1.26.4", "py311h08b1b3b_0", ch, "linux-64"),
            ],
        );
        let p = switch(plan(&f, &req(BlasImpl::Openblas)).unwrap());
        assert_eq!(p.specs, vec!["numpy", "blas=*=openblas"]);
        assert_eq!(p.pinned.new_pin.as_deref(), Some("blas=*=openblas"));
        assert!(p.summary.iter().any(|s| s.contains("nomkl")));
    }

    #[test]
    fn osx_arm64_mkl_refused_with_alternatives() {
        let ch = "https://conda.anaconda.org/conda-forge/osx-arm64";
        let f = facts(
            ChannelFamily::CondaForge,
            "osx-arm64",
            BlasImpl::Openblas,
            vec![rec(
                "libblas",
                "3.9.0",
                "20_osxarm64_openblas",
                ch,
                "osx-arm64",
            )],
        );
        let r = plan(&f, &req(BlasImpl::Mkl)).unwrap_err();
        assert_eq!(
            r.alternatives,
            vec![BlasImpl::Openblas, BlasImpl::Accelerate, BlasImpl::Netlib]
        );
        assert!(r.message.contains("osx-arm64"), "{}", r.message);
        assert!(r.hint.unwrap().contains("accelerate"));
    }

    #[test]
    fn conda_forge_osx64_mkl_refused() {
        let ch = "https://conda.anaconda.org/conda-forge/osx-64";
        let f = facts(
            ChannelFamily::CondaForge,
            "osx-64",
            BlasImpl::Openblas,
            vec![rec("libblas", "3.9.0", "20_osx64_openblas", ch, "osx-64")],
        );
        let r = plan(&f, &req(BlasImpl::Mkl)).unwrap_err();
        assert!(r.message.contains("2024"), "{}", r.message);
        assert!(!r.alternatives.contains(&BlasImpl::Mkl));
        assert!(r.alternatives.contains(&BlasImpl::Accelerate));
    }

    fn pip_numpy_facts() -> Facts {
        let mut f = cf_linux_openblas();
        f.prefix.records.retain(|r| r.name != "numpy");
        f.blas.family = Some(ChannelFamily::Pip);
        f.blas.numpy = NumpyFacts {
            source: Some(NumpySource::Pip),
            family: Some(ChannelFamily::Pip),
            ..Default::default()
        };
        f
    }

    #[test]
    fn pip_numpy_refused_without_flag() {
        let r = plan(&pip_numpy_facts(), &req(BlasImpl::Mkl)).unwrap_err();
        assert!(r.message.contains("pip"), "{}", r.message);
        assert!(r.hint.unwrap().contains("--replace-pip-numpy"));
    }

    #[test]
    fn pip_numpy_replaced_with_flag() {
        let mut rq = req(BlasImpl::Mkl);
        rq.replace_pip_numpy = true;
        let p = switch(plan(&pip_numpy_facts(), &rq).unwrap());
        assert_eq!(p.family, ChannelFamily::CondaForge);
        assert_eq!(p.specs, vec!["numpy", "libblas=*=*mkl"]);
        assert_eq!(
            p.steps[0],
            Step::PipUninstall {
                args: vec![
                    "-m".into(),
                    "pip".into(),
                    "uninstall".into(),
                    "-y".into(),
                    "numpy".into()
                ]
            }
        );
        assert!(matches!(p.steps[1], Step::Install { .. }));
    }

    #[test]
    fn already_on_target() {
        let d = plan(&cf_linux_openblas(), &req(BlasImpl::Openblas)).unwrap();
        assert!(matches!(
            d,
            Decision::AlreadyOn {
                backend: BlasImpl::Openblas,
                ..
            }
        ));
    }

    #[test]
    fn declared_target_but_loaded_other_is_not_nothing_to_do() {
        let mut f = cf_linux_openblas();
        f.runtime = Some(crate::facts::probe::RuntimeFacts {
            implementation: BlasImpl::Mkl,
            ..Default::default()
        });
        assert!(matches!(
            plan(&f, &req(BlasImpl::Openblas)).unwrap(),
            Decision::Switch(_)
        ));
    }

    #[test]
    fn current_backend_falls_back_to_records() {
        let mut f = cf_linux_openblas();
        f.blas = DeclaredBlas::default();
        assert_eq!(current_backend(&f), BlasImpl::Openblas);
        assert_eq!(conda_family(&f), Some(ChannelFamily::CondaForge));
        let p = switch(plan(&f, &req(BlasImpl::Mkl)).unwrap());
        assert_eq!(p.specs, vec!["libblas=*=*mkl"]);
    }

    #[test]
    fn pinned_conflict_rewritten_and_restorable() {
        let original = "python 3.11.*\r\nlibblas=*=*openblas\r\n# keep\r\nscipy ==1.11.4\r\n";
        let mut rq = req(BlasImpl::Mkl);
        rq.pinned_text = Some(original.into());
        let p = switch(plan(&cf_linux_openblas(), &rq).unwrap());
        let e = &p.pinned;
        assert_eq!(e.file, PathBuf::from("/envs/ml/conda-meta/pinned"));
        assert_eq!(e.conflicting, vec!["libblas=*=*openblas"]);
        assert_eq!(
            e.before_install.as_deref(),
            Some("python 3.11.*\r\n# keep\r\nscipy ==1.11.4\r\n")
        );
        assert_eq!(
            e.after_success.as_deref(),
            Some("python 3.11.*\r\n# keep\r\nscipy ==1.11.4\r\nlibblas=*=*mkl\r\n")
        );
        assert!(p.summary.iter().any(|s| s.contains("libblas=*=*openblas")));
        // The original text is what the shell restores on failure: the plan never alters it.
        assert_eq!(rq.pinned_text.as_deref(), Some(original));
    }

    #[test]
    fn pinned_no_pin_only_removes_conflict() {
        let e = pinned_edit(
            Path::new("p"),
            Some("blas=*=openblas\nnumpy 1.26.*"),
            ChannelFamily::Defaults,
            BlasImpl::Mkl,
            true,
        );
        assert_eq!(e.before_install.as_deref(), Some("numpy 1.26.*"));
        assert_eq!(e.after_success, None);
        assert_eq!(e.new_pin, None);
    }

    #[test]
    fn pinned_missing_file_gets_new_pin() {
        let e = pinned_edit(
            Path::new("p"),
            None,
            ChannelFamily::CondaForge,
            BlasImpl::Mkl,
            false,
        );
        assert_eq!(e.before_install, None);
        assert_eq!(e.after_success.as_deref(), Some("libblas=*=*mkl\n"));
        let e = pinned_edit(
            Path::new("p"),
            Some("numpy 1.26.*"),
            ChannelFamily::CondaForge,
            BlasImpl::Mkl,
            false,
        );
        assert_eq!(
            e.after_success.as_deref(),
            Some("numpy 1.26.*\nlibblas=*=*mkl\n")
        );
    }

    #[test]
    fn pinned_matching_pin_kept() {
        let e = pinned_edit(
            Path::new("p"),
            Some("libblas=*=*mkl\n"),
            ChannelFamily::CondaForge,
            BlasImpl::Mkl,
            false,
        );
        assert!(e.conflicting.is_empty());
        assert_eq!(e.after_success, None);
    }

    #[test]
    fn pin_conflict_forms() {
        use BlasImpl::*;
        assert!(pin_conflicts("libblas * *openblas", Mkl));
        assert!(pin_conflicts("conda-forge::libblas[build=*openblas]", Mkl));
        assert!(pin_conflicts("\"libblas=*=*openblas\"", Mkl));
        assert!(pin_conflicts("liblapack=3.9.0=20_linux64_openblas", Mkl));
        assert!(pin_conflicts("blas=*=openblas", Mkl));
        assert!(pin_conflicts("nomkl", Mkl));
        assert!(!pin_conflicts("nomkl", Openblas));
        assert!(pin_conflicts("libblas", Mkl));
        assert!(!pin_conflicts("libblas 3.9.*", Mkl));
        assert!(!pin_conflicts("libblas=*=*mkl", Mkl));
        assert!(!pin_conflicts("numpy 1.26.*", Mkl));
        assert!(!pin_conflicts("# libblas=*=*openblas", Mkl));
    }

    #[test]
    fn pixi_and_non_conda_refused() {
        let mut f = cf_linux_openblas();
        f.environment.kind = EnvKind::Pixi;
        assert!(
            plan(&f, &req(BlasImpl::Mkl))
                .unwrap_err()
                .hint
                .unwrap()
                .contains("pixi.toml")
        );
        let mut f = cf_linux_openblas();
        f.prefix.has_conda_meta = false;
        assert!(
            plan(&f, &req(BlasImpl::Mkl))
                .unwrap_err()
                .message
                .contains("conda-meta")
        );
    }

    #[test]
    fn defaults_blis_refused() {
        let ch = "https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main/linux-64";
        let mut f = facts(
            ChannelFamily::Other,
            "linux-64",
            BlasImpl::Unknown,
            vec![rec("blas", "1.0", "mkl", ch, "linux-64")],
        );
        f.blas.family = None;
        f.blas.numpy.family = None;
        assert_eq!(conda_family(&f), Some(ChannelFamily::Defaults));
        let r = plan(&f, &req(BlasImpl::Blis)).unwrap_err();
        assert_eq!(r.alternatives, vec![BlasImpl::Mkl, BlasImpl::Openblas]);
    }
}
