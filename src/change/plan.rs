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
use crate::facts::pinspec;
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
    /// Take `pinned_packages` entries that block the switch out of their `.condarc`
    /// (`--edit-condarc`); without it such an entry is a refusal that says where it is.
    pub edit_condarc: bool,
    /// The solver that will see the pins (for the words of the plan).
    pub solver: Solver,
}

/// Which solver will see the pins: they treat a CLI spec that contradicts a pin differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Solver {
    /// conda's default since 23.10: refuses a CLI spec that contradicts a pin.
    #[default]
    CondaLibmamba,
    /// conda's classic solver: overrides the pin for this install, with a warning, and keeps it.
    CondaClassic,
    /// mamba 2 / micromamba: refuses like libmamba.
    Mamba,
    Micromamba,
}

impl Solver {
    /// The solver a frontend uses: mamba and micromamba their own; conda the `solver` setting,
    /// else libmamba from conda 23.10 on (classic before, when the version is known).
    pub fn of(
        frontend: super::frontend::FrontendKind,
        setting: Option<&str>,
        conda_version: Option<&str>,
    ) -> Solver {
        use super::frontend::FrontendKind;
        match frontend {
            FrontendKind::Mamba => Solver::Mamba,
            FrontendKind::Micromamba => Solver::Micromamba,
            FrontendKind::Conda => match setting.map(str::trim) {
                Some("classic") => Solver::CondaClassic,
                Some(_) => Solver::CondaLibmamba,
                None => {
                    let old = conda_version.is_some_and(|v| {
                        let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
                        let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
                        (a, b) < (23, 10)
                    });
                    if old {
                        Solver::CondaClassic
                    } else {
                        Solver::CondaLibmamba
                    }
                }
            },
        }
    }

    /// What this solver does with a pin that contradicts the requested spec, for the plan.
    pub fn refuses(self) -> &'static str {
        match self {
            Solver::CondaLibmamba => "conda's libmamba solver refuses to override",
            Solver::CondaClassic => {
                "conda's classic solver would override for this install only and keep, so a later install would switch back"
            }
            Solver::Mamba => "mamba refuses to override",
            Solver::Micromamba => "micromamba refuses to override",
        }
    }
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

/// A `pinned_packages` entry of a `.condarc` (or `CONDA_PINNED_PACKAGES`) that blocks the
/// switch: conda applies it to every environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigPin {
    pub spec: String,
    /// The file that sets it (None: an environment variable, named in `origin`).
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub origin: Option<String>,
}

impl ConfigPin {
    /// "~/.condarc, line 4" / "CONDA_PINNED_PACKAGES".
    pub fn location(&self) -> String {
        match (&self.file, self.line, &self.origin) {
            (Some(f), Some(l), _) => format!("{}, line {l}", f.display()),
            (Some(f), None, _) => f.display().to_string(),
            (None, _, Some(o)) => o.clone(),
            _ => "the configuration".into(),
        }
    }
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
    /// What changes the environment, in order (empty: only pins change, NumPy already runs the
    /// target).
    pub steps: Vec<Step>,
    pub pinned: PinnedEdit,
    /// `pinned_packages` entries taken out of their `.condarc` before installing (with
    /// `--edit-condarc`), restored if anything fails.
    pub config_pins: Vec<ConfigPin>,
    /// Lines for a person: what changes and why.
    pub summary: Vec<String>,
    /// What the user should weigh before saying yes (MKL on an AMD CPU, ...).
    pub warnings: Vec<String>,
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

/// The spec that selects `target` in `family`'s scheme (the pin line is the same text). On
/// conda-forge, Accelerate is `newaccelerate` from macOS 15.5 on ([`blas::accelerate_variant`]).
pub fn blas_spec(
    family: ChannelFamily,
    target: BlasImpl,
    macos_version: Option<&str>,
) -> Option<String> {
    match family {
        ChannelFamily::CondaForge if target == BlasImpl::Accelerate => Some(format!(
            "libblas=*=*{}",
            blas::accelerate_variant(macos_version)
        )),
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
        ChannelFamily::Debian => "Debian's packages",
        ChannelFamily::Fedora => "Fedora's packages",
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
    if let Some(fam @ (ChannelFamily::Debian | ChannelFamily::Fedora)) = facts.blas.family {
        let (who, how) = if fam == ChannelFamily::Debian {
            ("Debian/Ubuntu", "update-alternatives")
        } else {
            ("Fedora", "FlexiBLAS")
        };
        let route = crate::diagnose::fix::distro_switch(facts, target);
        return Err(Refusal {
            message: format!(
                "{} holds {who}'s own NumPy: its BLAS is chosen system-wide with {how}, which blasfix does not change for you",
                prefix.display()
            ),
            alternatives: blas::available(fam, &facts.machine.subdir),
            hint: Some(match route {
                Some(cmd) => format!("to switch it to {}, run: {cmd}", target.display_name()),
                None => format!(
                    "{} is not a backend {who} offers through {how}; `blasfix explain blas` tells the options",
                    target.display_name()
                ),
            }),
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
    let macos = facts.machine.macos_version.as_deref();
    let spec = blas_spec(family, target, macos).ok_or_else(|| Refusal {
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
            // Already there; only a pin that asks for another backend is left to change.
            return pins_only(facts, req, family, subdir, current);
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
        &|l| pinspec::conflicts(l, target),
    );
    let config_pins = config_pins(facts, req, &|l| pinspec::conflicts(l, target))?;
    if !pinned.conflicting.is_empty() {
        summary.push(format!(
            "conda-meta/pinned holds {}, which {}; it is taken out before installing (and put back if anything fails)",
            quoted_list(&pinned.conflicting),
            req.solver.refuses()
        ));
    }
    summary.extend(config_pin_lines(&config_pins, req.solver));
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
        config_pins,
        summary,
        warnings: warnings(facts, target),
    })))
}

/// NumPy already runs `target`: nothing to do, unless a pin asks for another backend (then the
/// plan only rewrites the pins, so that the next install does not switch back).
fn pins_only(
    facts: &Facts,
    req: &Request,
    family: ChannelFamily,
    subdir: String,
    current: BlasImpl,
) -> Result<Decision, Refusal> {
    let target = req.target;
    let prefix = facts.environment.prefix.clone();
    let contradicts = |l: &str| pinspec::contradicts(l, target, false);
    let pinned = pinned_edit(
        &prefix.join("conda-meta").join("pinned"),
        req.pinned_text.as_deref(),
        family,
        target,
        req.no_pin,
        &contradicts,
    );
    let config_pins = config_pins(facts, req, &contradicts)?;
    if pinned.conflicting.is_empty() && config_pins.is_empty() {
        return Ok(Decision::AlreadyOn {
            backend: target,
            summary: format!(
                "{} already runs {}: nothing to do",
                prefix.display(),
                target.display_name()
            ),
        });
    }
    let mut summary = vec![format!(
        "NumPy already runs {}; nothing is installed, only the pins that ask for another BLAS change (the next install or update would switch to what they ask for)",
        target.display_name()
    )];
    if !pinned.conflicting.is_empty() {
        summary.push(format!(
            "take {} out of conda-meta/pinned",
            quoted_list(&pinned.conflicting)
        ));
    }
    summary.extend(config_pin_lines(&config_pins, req.solver));
    if let Some(p) = &pinned.new_pin {
        summary.push(format!("pin `{p}` in conda-meta/pinned"));
    }
    // Nothing runs between taking the old line out and writing the new one.
    let mut pinned = pinned;
    if pinned.after_success.is_none() {
        pinned.after_success = pinned.before_install.clone();
    }
    pinned.before_install = None;
    Ok(Decision::Switch(Box::new(Plan {
        prefix,
        family,
        subdir,
        current,
        target,
        specs: Vec::new(),
        steps: Vec::new(),
        pinned,
        config_pins,
        summary,
        warnings: warnings(facts, target),
    })))
}

/// `a`, `b` for a sentence.
fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `pinned_packages` entries that `blocks`; a refusal that says where each is and how to
/// change it unless `--edit-condarc` was given (or one comes from a variable, which blasfix
/// cannot change).
fn config_pins(
    facts: &Facts,
    req: &Request,
    blocks: &dyn Fn(&str) -> bool,
) -> Result<Vec<ConfigPin>, Refusal> {
    let pins: Vec<ConfigPin> = facts
        .channels
        .config
        .pinned_packages
        .iter()
        .filter(|p| blocks(&p.value))
        .map(|p| ConfigPin {
            spec: p.value.clone(),
            file: p.file.clone(),
            line: p.line,
            origin: p.origin.clone(),
        })
        .collect();
    if pins.is_empty() {
        return Ok(pins);
    }
    let listed = pins
        .iter()
        .map(|p| format!("`{}` ({})", p.spec, p.location()))
        .collect::<Vec<_>>()
        .join(", ");
    let from_var: Vec<&ConfigPin> = pins.iter().filter(|p| p.file.is_none()).collect();
    if !from_var.is_empty() {
        let var = from_var[0]
            .origin
            .clone()
            .unwrap_or_else(|| "CONDA_PINNED_PACKAGES".into());
        return Err(Refusal {
            message: format!(
                "pinned_packages holds {listed}, which {} for every environment; blasfix cannot change an environment variable",
                req.solver.refuses()
            ),
            alternatives: Vec::new(),
            hint: Some(format!(
                "remove `{}` from {var} (and from the shell profile that sets it), then rerun",
                from_var[0].spec
            )),
        });
    }
    if !req.edit_condarc {
        let commands = pins
            .iter()
            .map(condarc_remove_command)
            .collect::<Vec<_>>()
            .join(" && ");
        return Err(Refusal {
            message: format!(
                "pinned_packages holds {listed}, which {}; conda applies it to every environment, so it must be changed where it is set",
                req.solver.refuses()
            ),
            alternatives: Vec::new(),
            hint: Some(format!(
                "remove it ({commands}), or rerun with --edit-condarc to let blasfix take it out (put back if anything fails)"
            )),
        });
    }
    Ok(pins)
}

/// The command that takes a `pinned_packages` entry out of its file.
pub fn condarc_remove_command(p: &ConfigPin) -> String {
    let file = p
        .file
        .as_ref()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::diagnose::fix::condarc_remove_command(&file, &p.spec)
}

fn config_pin_lines(pins: &[ConfigPin], solver: Solver) -> Vec<String> {
    pins.iter()
        .map(|p| {
            format!(
                "pinned_packages in {} holds `{}`, which {}; it is taken out of that file before installing (put back if anything fails) and stays out: it applied to every environment",
                p.location(),
                p.spec,
                solver.refuses()
            )
        })
        .collect()
}

/// What to weigh before switching to `target` on this machine.
fn warnings(facts: &Facts, target: BlasImpl) -> Vec<String> {
    crate::diagnose::rules::backend::mkl_slow_here(facts, target)
        .into_iter()
        .collect()
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

/// The edit of `conda-meta/pinned` for a switch: the lines that `blocks` taken out, the new pin
/// added (pure; other lines kept byte for byte).
pub fn pinned_edit(
    file: &Path,
    text: Option<&str>,
    family: ChannelFamily,
    target: BlasImpl,
    no_pin: bool,
    blocks: &dyn Fn(&str) -> bool,
) -> PinnedEdit {
    let original = text.unwrap_or("");
    let lines: Vec<&str> = original.split_inclusive('\n').collect();
    let bare = |l: &str| l.trim_end_matches(['\n', '\r']).to_string();
    let conflicting: Vec<String> = lines
        .iter()
        .filter(|l| blocks(l))
        .map(|l| bare(l))
        .collect();
    let kept: String = lines.iter().filter(|l| !blocks(l)).copied().collect();
    let before_install = (!conflicting.is_empty()).then(|| kept.clone());
    let already = lines.iter().any(|l| pinspec::selects(l, family, target));
    let new_pin = (!no_pin && !already)
        .then(|| blas_spec(family, target, None))
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

    #[test]
    fn accelerate_spec_follows_the_macos_version() {
        use BlasImpl::{Accelerate, Mkl};
        let cf = ChannelFamily::CondaForge;
        let spec = |imp, v| blas_spec(cf, imp, v);
        assert_eq!(
            spec(Accelerate, Some("15.5")).as_deref(),
            Some("libblas=*=*newaccelerate")
        );
        assert_eq!(
            spec(Accelerate, Some("14.7.1")).as_deref(),
            Some("libblas=*=*_accelerate")
        );
        assert_eq!(
            spec(Accelerate, None).as_deref(),
            Some("libblas=*=*accelerate")
        );
        assert_eq!(spec(Mkl, Some("15.5")).as_deref(), Some("libblas=*=*mkl"));
    }

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
            &|l| pinspec::conflicts(l, BlasImpl::Mkl),
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
            &|l| pinspec::conflicts(l, BlasImpl::Mkl),
        );
        assert_eq!(e.before_install, None);
        assert_eq!(e.after_success.as_deref(), Some("libblas=*=*mkl\n"));
        let e = pinned_edit(
            Path::new("p"),
            Some("numpy 1.26.*"),
            ChannelFamily::CondaForge,
            BlasImpl::Mkl,
            false,
            &|l| pinspec::conflicts(l, BlasImpl::Mkl),
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
            &|l| pinspec::conflicts(l, BlasImpl::Mkl),
        );
        assert!(e.conflicting.is_empty());
        assert_eq!(e.after_success, None);
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

    fn condarc_pin(spec: &str, line: usize) -> crate::facts::condarc::Sourced<String> {
        crate::facts::condarc::Sourced {
            value: spec.into(),
            file: Some(PathBuf::from("/home/u/.condarc")),
            line: Some(line),
            origin: None,
        }
    }

    /// Case 1 of issue 13: the BLAS runs OpenBLAS but pinned still says MKL: not "nothing to
    /// do", but a plan that only rewrites the pin.
    #[test]
    fn already_on_target_with_a_contradicting_pin_rewrites_only_the_pin() {
        let mut rq = req(BlasImpl::Openblas);
        rq.pinned_text = Some("python 3.12.*\nlibblas=*=*mkl\n".into());
        let p = switch(plan(&cf_linux_openblas(), &rq).unwrap());
        assert!(p.steps.is_empty());
        assert_eq!(p.pinned.conflicting, vec!["libblas=*=*mkl"]);
        assert_eq!(p.pinned.before_install, None);
        assert_eq!(
            p.pinned.after_success.as_deref(),
            Some("python 3.12.*\nlibblas=*=*openblas\n")
        );
        assert!(
            p.summary[0].contains("nothing is installed"),
            "{:?}",
            p.summary
        );
        // --no-pin: the contradicting line still goes, nothing new is written.
        rq.no_pin = true;
        let p = switch(plan(&cf_linux_openblas(), &rq).unwrap());
        assert_eq!(p.pinned.after_success.as_deref(), Some("python 3.12.*\n"));
        // A bare name locks what runs: nothing to do.
        rq.pinned_text = Some("libblas\n".into());
        assert!(matches!(
            plan(&cf_linux_openblas(), &rq).unwrap(),
            Decision::AlreadyOn { .. }
        ));
    }

    #[test]
    fn the_plan_names_the_solver_in_use() {
        let mut rq = req(BlasImpl::Mkl);
        rq.pinned_text = Some("libblas=*=*openblas\n".into());
        for (solver, words) in [
            (Solver::CondaLibmamba, "conda's libmamba solver refuses"),
            (Solver::CondaClassic, "classic solver would override"),
            (Solver::Micromamba, "micromamba refuses"),
        ] {
            rq.solver = solver;
            let p = switch(plan(&cf_linux_openblas(), &rq).unwrap());
            assert!(
                p.summary.iter().any(|l| l.contains(words)),
                "{words}: {:?}",
                p.summary
            );
            assert!(!p.summary.iter().any(|l| l.contains("libmamba would")));
        }
        use super::super::frontend::FrontendKind::*;
        assert_eq!(Solver::of(Conda, None, None), Solver::CondaLibmamba);
        assert_eq!(
            Solver::of(Conda, Some("classic"), None),
            Solver::CondaClassic
        );
        assert_eq!(
            Solver::of(Conda, None, Some("23.7.4")),
            Solver::CondaClassic
        );
        assert_eq!(
            Solver::of(Conda, None, Some("26.7.1")),
            Solver::CondaLibmamba
        );
        assert_eq!(
            Solver::of(Conda, Some("libmamba"), Some("22.11.1")),
            Solver::CondaLibmamba
        );
        assert_eq!(
            Solver::of(Micromamba, Some("classic"), None),
            Solver::Micromamba
        );
        assert_eq!(Solver::of(Mamba, None, None), Solver::Mamba);
    }

    /// Case 6: `pinned_packages` in a .condarc is planned around: refused with where it is and
    /// the command that removes it, or taken out with --edit-condarc.
    #[test]
    fn condarc_pins_are_refused_with_their_place_or_taken_out_when_asked() {
        let mut f = cf_linux_openblas();
        f.channels.config.pinned_packages = vec![
            condarc_pin("python 3.12.*", 3),
            condarc_pin("libblas=*=*openblas", 4),
        ];
        let r = plan(&f, &req(BlasImpl::Mkl)).unwrap_err();
        assert!(
            r.message.contains("/home/u/.condarc, line 4"),
            "{}",
            r.message
        );
        let hint = r.hint.unwrap();
        // The spec quoted for the shell blasfix runs in: POSIX single quotes, double quotes
        // (cmd.exe, PowerShell) on Windows.
        let spec = if cfg!(windows) {
            "\"libblas=*=*openblas\""
        } else {
            "'libblas=*=*openblas'"
        };
        assert!(
            hint.contains(&format!(
                "conda config --file /home/u/.condarc --remove pinned_packages {spec}"
            )),
            "{hint}"
        );
        assert!(hint.contains("--edit-condarc"), "{hint}");
        let mut rq = req(BlasImpl::Mkl);
        rq.edit_condarc = true;
        let p = switch(plan(&f, &rq).unwrap());
        assert_eq!(p.config_pins.len(), 1);
        assert_eq!(p.config_pins[0].line, Some(4));
        assert!(p.summary.iter().any(|l| l.contains("every environment")));
        // From a variable: blasfix cannot change it.
        f.channels.config.pinned_packages = vec![crate::facts::condarc::Sourced {
            value: "libblas=*=*openblas".into(),
            file: None,
            line: None,
            origin: Some("CONDA_PINNED_PACKAGES".into()),
        }];
        let r = plan(&f, &rq).unwrap_err();
        assert!(r.hint.unwrap().contains("CONDA_PINNED_PACKAGES"));
        // Already on target with a contradicting condarc pin: a pin-only plan.
        f.channels.config.pinned_packages = vec![condarc_pin("libblas=*=*mkl", 2)];
        let mut rq = req(BlasImpl::Openblas);
        rq.edit_condarc = true;
        let p = switch(plan(&f, &rq).unwrap());
        assert!(p.steps.is_empty());
        assert_eq!(p.config_pins[0].spec, "libblas=*=*mkl");
        assert_eq!(
            p.pinned.after_success.as_deref(),
            Some("libblas=*=*openblas\n")
        );
    }

    #[test]
    fn mkl_on_an_amd_cpu_is_a_warning_in_the_plan_and_the_question() {
        let mut f = cf_linux_openblas();
        f.machine.vendor = "AuthenticAMD".into();
        f.machine.vendor_family = crate::facts::cpu::VendorFamily::Amd;
        let p = switch(plan(&f, &req(BlasImpl::Mkl)).unwrap());
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("GenuineIntel"), "{:?}", p.warnings);
        let q = crate::render::apply::question(&p);
        assert!(
            q.ends_with("to Intel MKL despite the warning above?"),
            "{q}"
        );
        let lines = crate::render::apply::plan_lines(&p, &[]).join("\n");
        assert!(
            lines.contains("warning: MKL picks its fast code paths"),
            "{lines}"
        );
        // Intel: no warning, the plain question.
        let p = switch(plan(&cf_linux_openblas(), &req(BlasImpl::Mkl)).unwrap());
        assert!(p.warnings.is_empty());
        assert!(crate::render::apply::question(&p).ends_with("to Intel MKL?"));
    }
}
