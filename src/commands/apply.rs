//! `blasfix apply`: plan, preview with the user's own frontend, ask, switch, verify.
//!
//! Safety rules: nothing changes before the exact command and the preview were shown and the
//! user said yes (or passed `--yes`); without a terminal and without `--yes` it refuses;
//! `conda-meta/pinned` is backed up before its conflicting BLAS line is taken out and restored
//! byte for byte if anything fails (frontend error, timeout, Ctrl-C, verification).

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::change::frontend::{self, Ending, Frontend, JsonAnswer, Preview, RunOutput, Show};
use crate::change::plan::{self, Decision, Plan, Refusal, Request, Step};
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::error::{EXIT_FAILED, EXIT_OK, UserError};
use crate::facts::Facts;
use crate::facts::blas::BlasImpl;
use crate::facts::snapshot::EnvSnapshot;
use crate::render::style::Styles;

/// Where the pinned backup lives while a switch runs (removed after success or restore).
pub const PINNED_BACKUP: &str = "pinned.blasfix-backup";

/// The BLAS an environment runs, as far as blasfix can see after a change.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Observed {
    /// What conda-meta declares.
    pub declared: BlasImpl,
    /// What NumPy's extension modules link (None: not looked at).
    pub linked: Option<BlasImpl>,
    /// What `import numpy` loads (None: not run).
    pub loaded: Option<BlasImpl>,
}

impl Observed {
    pub fn from_facts(facts: &Facts) -> Self {
        Observed {
            declared: plan::current_backend(facts),
            linked: facts.linkage.as_ref().map(|l| l.implementation),
            loaded: facts
                .runtime
                .as_ref()
                .filter(|r| r.error.is_none())
                .map(|r| r.implementation),
        }
    }
    /// Every concrete observation names `target`, and the declaration does.
    pub fn runs(&self, target: BlasImpl) -> bool {
        let fits = |b: Option<BlasImpl>| b.is_none_or(|b| !b.is_concrete() || b == target);
        self.declared == target && fits(self.linked) && fits(self.loaded)
    }
    fn describe(&self) -> String {
        let mut s = format!("{} (declared)", self.declared.display_name());
        if let Some(l) = self.linked.filter(|l| l.is_concrete()) {
            s.push_str(&format!(", {} (linked)", l.display_name()));
        }
        if let Some(l) = self.loaded.filter(|l| l.is_concrete()) {
            s.push_str(&format!(", {} (loaded)", l.display_name()));
        }
        s
    }
}

/// The `--json` document.
#[derive(Debug, Serialize)]
struct JsonDoc<'a> {
    schema_version: u32,
    prefix: &'a Path,
    target: Option<BlasImpl>,
    frontend: Option<&'a Frontend>,
    decision: Option<&'a Decision>,
    commands: Vec<String>,
    preview: Option<&'a Preview>,
    outcome: Outcome,
}

#[derive(Debug, Serialize, Default)]
struct Outcome {
    /// already, dry-run, applied, declined, failed, timed-out, interrupted, not-verified
    status: String,
    message: String,
    before: Option<Observed>,
    after: Option<Observed>,
    pinned_written: Option<String>,
    bench: Option<String>,
}

pub fn run(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let env = EnvSnapshot::capture();
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    Apply {
        args,
        global,
        env: &env,
        interactive,
    }
    .run()
}

struct Apply<'a> {
    args: &'a ApplyArgs,
    global: &'a GlobalArgs,
    env: &'a EnvSnapshot,
    interactive: bool,
}

fn refusal(r: Refusal) -> anyhow::Error {
    let mut message = r.message;
    if !r.alternatives.is_empty() && r.hint.is_none() {
        message.push_str(&format!(
            "; available: {}",
            r.alternatives
                .iter()
                .map(|b| b.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let e = UserError::usage(message);
    match r.hint {
        Some(h) => e.with_hint(h).into(),
        None => e.into(),
    }
}

impl Apply<'_> {
    fn say(&self, line: impl AsRef<str>) {
        if !self.args.json {
            println!("{}", line.as_ref());
        }
    }

    fn show(&self, label: &str) -> Show {
        Show {
            label: label.into(),
            progress: !self.global.quiet,
            echo: self.global.verbose > 0,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.args.timeout.max(1))
    }

    fn run(&self) -> anyhow::Result<u8> {
        let args = self.args;
        if !args.dry_run && !args.yes && !self.interactive {
            return Err(UserError::usage(
                "blasfix apply changes the environment and needs a confirmation, but there is no terminal to ask on",
            )
            .with_hint("rerun with --yes to apply without asking, or with --dry-run to only preview")
            .into());
        }
        let facts = gather(&args.env, self.env)?;
        let prefix = facts.environment.prefix.clone();
        let before = Observed::from_facts(&facts);
        let target = plan::resolve_target(args.backend.named(), &facts).map_err(refusal)?;
        let pinned_path = prefix.join("conda-meta").join("pinned");
        let pinned_bytes = read_optional(&pinned_path)?;
        let pinned_text = match &pinned_bytes {
            Some(b) => Some(String::from_utf8(b.clone()).map_err(|_| {
                UserError::usage(format!(
                    "{}: not UTF-8 text; conda cannot read it either",
                    pinned_path.display()
                ))
            })?),
            None => None,
        };
        let request = Request {
            target,
            replace_pip_numpy: args.replace_pip_numpy,
            no_pin: args.no_pin,
            pinned_text,
        };
        let decision = plan::plan(&facts, &request).map_err(refusal)?;
        let plan = match &decision {
            Decision::AlreadyOn { summary, .. } => {
                self.say(Styles::stdout().ok(summary));
                self.emit_json(
                    &prefix,
                    Some(target),
                    None,
                    Some(&decision),
                    vec![],
                    None,
                    Outcome {
                        status: "already".into(),
                        message: summary.clone(),
                        before: Some(before),
                        ..Default::default()
                    },
                )?;
                return Ok(EXIT_OK);
            }
            Decision::Switch(p) => p,
        };
        if !args.dry_run {
            check_writable(&prefix)?;
        }
        let fe = frontend::resolve_here(args.frontend.map(Into::into), facts.environment.kind, self.env)
            .map_err(|e| {
                UserError::usage(e.to_string()).with_hint(
                    "name it with --frontend conda|mamba|micromamba, or set CONDA_EXE to the conda executable",
                )
            })?;
        let python = facts
            .environment
            .python
            .clone()
            .unwrap_or_else(|| env_python(&prefix));
        let commands = self.commands(plan, &fe, &python);

        // Preview: a dry run, ignoring conda-meta/pinned only when its BLAS line would make
        // libmamba refuse (the real run takes that line out first).
        let preview_no_pin = !plan.pinned.conflicting.is_empty();
        let preview_args = plan.install_args(true, true, preview_no_pin);
        let s = Styles::stdout();
        self.say(format!(
            "{} {} ({}, {}): {} -> {}",
            s.bold("Plan for"),
            prefix.display(),
            plan.family.as_str(),
            plan.subdir,
            plan.current.display_name(),
            plan.target.display_name()
        ));
        for line in &plan.summary {
            self.say(format!("  - {line}"));
        }
        self.say(s.bold("Commands:"));
        for c in &commands {
            self.say(format!("  {}", s.code(c)));
        }
        let out = frontend::run(
            &fe.exe,
            &preview_args,
            self.timeout(),
            &Show {
                echo: false,
                ..self.show("Previewing")
            },
        )
        .map_err(|e| UserError::usage(format!("cannot run {}: {e}", fe.exe.display())))?;
        let preview = match self.preview_of(&fe, &out, &preview_args) {
            Ok(p) => p,
            Err(outcome) => {
                return self.fail(&prefix, target, &fe, &decision, commands, None, outcome);
            }
        };
        self.say(format!(
            "{}{}",
            s.bold("Preview"),
            if preview_no_pin {
                " (conda-meta/pinned ignored: its BLAS line is taken out first):"
            } else {
                ":"
            }
        ));
        for l in preview.lines() {
            self.say(format!("  {l}"));
        }
        if preview.is_empty() && plan.steps.len() == 1 {
            // The frontend sees nothing to install, yet the plan says the env does not run the
            // target (e.g. declared right, loaded wrong): conda cannot fix that.
            return self.fail(
                &prefix,
                target,
                &fe,
                &decision,
                commands,
                Some(&preview),
                Outcome {
                    status: "failed".into(),
                    message: format!(
                        "{} has nothing to install, yet the environment runs {}; `blasfix explain blas` tells why",
                        fe.kind.as_str(),
                        before.describe()
                    ),
                    before: Some(before),
                    ..Default::default()
                },
            );
        }
        let declined = !args.dry_run && !args.yes && !self.confirm(plan);
        if args.dry_run || declined {
            let (status, said) = if args.dry_run {
                ("dry-run", "Dry run: nothing changed.")
            } else {
                ("declined", "Nothing changed.")
            };
            self.say(said);
            self.emit_json(
                &prefix,
                Some(target),
                Some(&fe),
                Some(&decision),
                commands,
                Some(&preview),
                Outcome {
                    status: status.into(),
                    message: "nothing changed".into(),
                    before: Some(before),
                    ..Default::default()
                },
            )?;
            return Ok(EXIT_OK);
        }
        let bench_before = if args.bench {
            Some(quick_bench(&prefix, &facts.machine))
        } else {
            None
        };

        // From here on, conda-meta/pinned is restored unless everything succeeds.
        let _sigint = frontend::interrupt::install();
        let mut guard = PinnedGuard::begin(
            &pinned_path,
            pinned_bytes,
            plan.pinned.before_install.as_deref(),
        )?;
        // Every failure from here on: restore pinned (the caller adds the note), report, exit 3.
        let abort = |status: String, message: String, after: Option<Observed>| {
            self.fail(
                &prefix,
                target,
                &fe,
                &decision,
                commands.clone(),
                Some(&preview),
                Outcome {
                    status,
                    message,
                    before: Some(before.clone()),
                    after,
                    ..Default::default()
                },
            )
        };
        for step in &plan.steps {
            let (exe, step_args, label): (PathBuf, Vec<OsString>, &str) = match step {
                Step::PipUninstall { args } => (
                    python.clone(),
                    args.iter().map(OsString::from).collect(),
                    "Uninstalling pip NumPy",
                ),
                Step::Install { .. } => (
                    fe.exe.clone(),
                    plan.install_args(false, false, false),
                    "Installing",
                ),
            };
            let out = frontend::run(&exe, &step_args, self.timeout(), &self.show(label));
            let failure = match out {
                Err(e) => Some((
                    "failed".to_string(),
                    format!("cannot run {}: {e}", exe.display()),
                )),
                Ok(o) if o.success() => None,
                Ok(o) => Some(describe_failure(&exe, &o, self.args.timeout)),
            };
            if let Some((status, mut message)) = failure {
                if matches!(step, Step::Install { .. }) && plan.steps.len() > 1 {
                    message.push_str("\nnote: the pip NumPy was already uninstalled; `python -m pip install numpy` brings it back");
                }
                message.push_str(&guard.restore_note());
                return abort(status, message, None);
            }
        }
        if frontend::interrupt::happened() {
            return abort(
                "interrupted".into(),
                format!("interrupted{}", guard.restore_note()),
                None,
            );
        }

        let after = match observe_backend(&args.env, self.env, args.no_runtime, self.timeout()) {
            Ok(a) => a,
            Err(e) => {
                let message = format!(
                    "cannot re-read the environment: {e}{}",
                    guard.restore_note()
                );
                return abort("not-verified".into(), message, None);
            }
        };
        if !after.runs(target) {
            let message = format!(
                "the frontend succeeded but the switch did not take effect: before {}, after {}{}",
                before.describe(),
                after.describe(),
                guard.restore_note()
            );
            return abort("not-verified".into(), message, Some(after));
        }
        let pinned_written = guard.commit(plan.pinned.after_success.as_deref())?;
        let bench = bench_before.map(|b| {
            format!(
                "before: {b}; after: {}",
                quick_bench(&prefix, &facts.machine)
            )
        });
        let s = Styles::stdout();
        self.say(format!("Before: {}", before.describe()));
        self.say(format!("After:  {}", after.describe()));
        let mut done = format!(
            "Switched {} to {}.",
            prefix.display(),
            target.display_name()
        );
        if pinned_written && let Some(pin) = &plan.pinned.new_pin {
            done.push_str(&format!(" Pinned `{pin}` in conda-meta/pinned."));
        }
        self.say(s.ok(&done));
        if let Some(b) = &bench {
            self.say(format!("Benchmark: {b}"));
        }
        if !self.args.json && self.interactive {
            offer_envfile_pin(&facts, plan);
        }
        self.emit_json(
            &prefix,
            Some(target),
            Some(&fe),
            Some(&decision),
            commands,
            Some(&preview),
            Outcome {
                status: "applied".into(),
                message: done,
                before: Some(before),
                after: Some(after),
                pinned_written: pinned_written
                    .then(|| plan.pinned.new_pin.clone())
                    .flatten(),
                bench,
            },
        )?;
        Ok(EXIT_OK)
    }

    /// The commands the switch will run, for people (quoted for a POSIX shell).
    fn commands(&self, plan: &Plan, fe: &Frontend, python: &Path) -> Vec<String> {
        plan.steps
            .iter()
            .map(|s| match s {
                Step::PipUninstall { args } => {
                    let a: Vec<OsString> = args.iter().map(OsString::from).collect();
                    frontend::display_command(python, &a)
                }
                Step::Install { .. } => {
                    frontend::display_command(&fe.exe, &plan.install_args(false, false, false))
                }
            })
            .collect()
    }

    /// The preview, or the failure to report.
    fn preview_of(
        &self,
        fe: &Frontend,
        out: &RunOutput,
        preview_args: &[OsString],
    ) -> Result<Preview, Outcome> {
        let cmd = frontend::display_command(&fe.exe, preview_args);
        if out.ending != Ending::Exited {
            let (status, message) = describe_failure(&fe.exe, out, self.args.timeout);
            return Err(Outcome {
                status,
                message: format!("{message}\n  while previewing: {cmd}"),
                ..Default::default()
            });
        }
        match frontend::parse_preview(&out.stdout) {
            Ok(JsonAnswer::Transaction(p)) if out.success() => Ok(p),
            Ok(JsonAnswer::Error { name, message }) => Err(Outcome {
                status: "failed".into(),
                message: format!(
                    "{} refused the switch{}: {}\n  command: {cmd}",
                    fe.kind.as_str(),
                    name.map(|n| format!(" ({n})")).unwrap_or_default(),
                    message.trim_end()
                ),
                ..Default::default()
            }),
            _ => {
                let (status, message) = describe_failure(&fe.exe, out, self.args.timeout);
                Err(Outcome {
                    status,
                    message: format!("{message}\n  command: {cmd}"),
                    ..Default::default()
                })
            }
        }
    }

    fn confirm(&self, plan: &Plan) -> bool {
        dialoguer::Confirm::new()
            .with_prompt(format!(
                "Switch {} to {}?",
                plan.prefix.display(),
                plan.target.display_name()
            ))
            .default(false)
            .interact()
            .unwrap_or(false)
    }

    #[allow(clippy::too_many_arguments)]
    fn fail(
        &self,
        prefix: &Path,
        target: BlasImpl,
        fe: &Frontend,
        decision: &Decision,
        commands: Vec<String>,
        preview: Option<&Preview>,
        outcome: Outcome,
    ) -> anyhow::Result<u8> {
        let message = outcome.message.clone();
        if self.args.json {
            self.emit_json(
                prefix,
                Some(target),
                Some(fe),
                Some(decision),
                commands,
                preview,
                outcome,
            )?;
            let s = Styles::stderr();
            eprintln!("{} {}", s.error("error:"), message);
            return Ok(EXIT_FAILED);
        }
        Err(UserError::failed(message).into())
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_json(
        &self,
        prefix: &Path,
        target: Option<BlasImpl>,
        frontend: Option<&Frontend>,
        decision: Option<&Decision>,
        commands: Vec<String>,
        preview: Option<&Preview>,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        if self.args.json {
            let doc = JsonDoc {
                schema_version: 1,
                prefix,
                target,
                frontend,
                decision,
                commands,
                preview,
                outcome,
            };
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Ok(())
    }
}

/// Status and message for a run that did not succeed.
fn describe_failure(exe: &Path, out: &RunOutput, timeout_secs: u64) -> (String, String) {
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match out.ending {
        Ending::TimedOut => (
            "timed-out".into(),
            format!(
                "{name} timed out after {timeout_secs} s and was stopped (raise --timeout if it is just slow)"
            ),
        ),
        Ending::Interrupted => (
            "interrupted".into(),
            format!("interrupted; {name} was stopped"),
        ),
        Ending::Exited => {
            let status = match out.code {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".into(),
            };
            let tail = out.tail(12);
            let detail = frontend::parse_preview(&out.stdout)
                .ok()
                .and_then(|a| match a {
                    JsonAnswer::Error { message, .. } => Some(message),
                    _ => None,
                })
                .unwrap_or(tail);
            (
                "failed".into(),
                format!("{name} failed ({status}):\n{}", indent(detail.trim_end())),
            )
        }
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn restored_note(r: &std::io::Result<bool>, pinned: &Path) -> String {
    match r {
        Ok(true) => format!(
            "\nconda-meta/pinned restored as it was ({})",
            pinned.display()
        ),
        Ok(false) => String::new(),
        Err(e) => format!(
            "\nwarning: could not restore {}: {e}; the original is in {}",
            pinned.display(),
            pinned.with_file_name(PINNED_BACKUP).display()
        ),
    }
}

fn read_optional(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UserError::usage(format!("cannot read {}: {e}", path.display())).into()),
    }
}

/// The environment's Python when the locator named none.
fn env_python(prefix: &Path) -> PathBuf {
    if cfg!(windows) {
        prefix.join("python.exe")
    } else {
        prefix.join("bin").join("python")
    }
}

/// Refuse early, with the path, when the prefix cannot be written (read-only mount, another
/// user's install): probing with a real file catches what permission bits do not.
fn check_writable(prefix: &Path) -> anyhow::Result<()> {
    let meta = prefix.join("conda-meta");
    match tempfile::Builder::new()
        .prefix(".blasfix-probe")
        .tempfile_in(&meta)
    {
        Ok(_) => Ok(()),
        Err(e) => Err(UserError::usage(format!(
            "{} is not writable ({e}); nothing was changed",
            meta.display()
        ))
        .with_hint(
            "run as the environment's owner, or clone it first: conda create -p NEW --clone OLD",
        )
        .into()),
    }
}

/// Keeps `conda-meta/pinned` restorable: a backup beside it while the switch runs, the original
/// bytes written back on `restore` or drop, the final content on `commit`.
struct PinnedGuard {
    path: PathBuf,
    original: Option<Vec<u8>>,
    backup: Option<PathBuf>,
    changed: bool,
}

impl PinnedGuard {
    fn begin(path: &Path, original: Option<Vec<u8>>, during: Option<&str>) -> anyhow::Result<Self> {
        let mut g = PinnedGuard {
            path: path.to_path_buf(),
            original,
            backup: None,
            changed: false,
        };
        if let Some(text) = during {
            if let Some(bytes) = &g.original {
                let backup = path.with_file_name(PINNED_BACKUP);
                std::fs::write(&backup, bytes).map_err(|e| {
                    UserError::usage(format!(
                        "cannot back up {} to {}: {e}",
                        path.display(),
                        backup.display()
                    ))
                })?;
                g.backup = Some(backup);
            }
            g.changed = true;
            std::fs::write(path, text)
                .map_err(|e| UserError::usage(format!("cannot rewrite {}: {e}", path.display())))?;
        }
        Ok(g)
    }

    /// Put the original back and say so, for an error message.
    fn restore_note(&mut self) -> String {
        let restored = self.restore();
        restored_note(&restored, &self.path)
    }

    /// Put the original back (Ok(true) when something was restored).
    fn restore(&mut self) -> std::io::Result<bool> {
        if !self.changed {
            return Ok(false);
        }
        match &self.original {
            Some(bytes) => std::fs::write(&self.path, bytes)?,
            None => match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
        self.changed = false;
        if let Some(b) = self.backup.take() {
            let _ = std::fs::remove_file(b);
        }
        Ok(true)
    }

    /// Write the final content (Ok(true) when it was written).
    fn commit(mut self, after: Option<&str>) -> anyhow::Result<bool> {
        let written = match after {
            Some(text) => {
                std::fs::write(&self.path, text).map_err(|e| {
                    UserError::failed(format!(
                        "switched, but cannot write {}: {e}",
                        self.path.display()
                    ))
                })?;
                true
            }
            None => false,
        };
        self.changed = false;
        if let Some(b) = self.backup.take() {
            let _ = std::fs::remove_file(b);
        }
        Ok(written)
    }
}

impl Drop for PinnedGuard {
    fn drop(&mut self) {
        let _ = self.restore();
    }
}

/// Facts for planning (static: no Python is run).
pub fn gather(sel: &crate::cli::EnvSelector, env: &EnvSnapshot) -> anyhow::Result<Facts> {
    super::gather(sel, env, None)
}

/// What the environment runs now, re-read from scratch after a change: declared, linked and,
/// unless `no_runtime`, loaded by a real `import numpy`.
pub fn observe_backend(
    sel: &crate::cli::EnvSelector,
    env: &EnvSnapshot,
    no_runtime: bool,
    timeout: Duration,
) -> anyhow::Result<Observed> {
    let facts = super::gather(sel, env, (!no_runtime).then_some(timeout))?;
    Ok(Observed::from_facts(&facts))
}

/// `blasfix bench --quick` in the environment, summarised on one line.
fn quick_bench(prefix: &Path, machine: &crate::facts::cpu::CpuFacts) -> String {
    let Some(python) = super::bench::python_of(None, prefix) else {
        return "no Python in the environment".into();
    };
    match super::bench::measure(
        &python,
        machine,
        true,
        Duration::from_secs(600),
        true,
        false,
    ) {
        Ok(r) => super::bench::summary(&r),
        Err(e) => format!("benchmark failed: {e}"),
    }
}

/// When `environment.yml` (or `.yaml`) in the current directory names this environment, show
/// the pin edit and offer to write it (default No), as `blasfix pin` would.
fn offer_envfile_pin(facts: &Facts, plan: &Plan) {
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    let Some((file, bytes)) = ["environment.yml", "environment.yaml"]
        .iter()
        .map(|n| cwd.join(n))
        .find_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
    else {
        return;
    };
    let env_name = facts.environment.name.clone().or_else(|| {
        facts
            .environment
            .prefix
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    });
    if env_name.is_none() || crate::change::envfile::file_name_key(&bytes) != env_name {
        return;
    }
    if !matches!(
        plan.family,
        crate::facts::blas::ChannelFamily::CondaForge | crate::facts::blas::ChannelFamily::Defaults
    ) {
        return;
    }
    let req = crate::change::envfile::PinRequest {
        backend: plan.target,
        family: plan.family,
    };
    let edited = match crate::change::envfile::edit_environment_yml(&bytes, &req) {
        Ok(e) if !e.is_noop() => e,
        Ok(_) => return,
        Err(e) => {
            eprintln!(
                "{} {} names this environment but cannot be pinned: {e}",
                Styles::stderr().hint("note:"),
                file.display()
            );
            return;
        }
    };
    eprint!(
        "{}",
        super::pin::diff(&edited.before, &edited.after, &file.display().to_string())
    );
    let yes = dialoguer::Confirm::new()
        .with_prompt(format!(
            "{} names this environment. Pin {} there too?",
            file.display(),
            plan.target.display_name()
        ))
        .default(false)
        .interact()
        .unwrap_or(false);
    if !yes {
        eprintln!("{} left unchanged.", file.display());
        return;
    }
    match super::pin::write_atomic(&file, &edited.bytes, true) {
        Ok(bak) => eprintln!(
            "{} wrote {}{}",
            Styles::stderr().ok("done:"),
            file.display(),
            bak.map(|b| format!(" (the original is in {})", b.display()))
                .unwrap_or_default()
        ),
        Err(e) => eprintln!("{} {e:#}", Styles::stderr().error("error:")),
    }
}
