//! `blasfix apply`: plan -> preview -> confirm -> switch -> verify -> pin, each a step below.
//!
//! Safety rules: nothing changes before the exact command and the preview were shown and the
//! user said yes (or passed `--yes`); without a terminal and without `--yes` it refuses;
//! `conda-meta/pinned` is backed up before its conflicting BLAS line is taken out and restored
//! byte for byte if anything fails (frontend error, timeout, Ctrl-C, verification).

mod offer_pin;
mod pinned;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::change::frontend::{self, Ending, Frontend, JsonAnswer, Preview, RunOutput, Show};
use crate::change::plan::{self, Decision, Plan, Refusal, Request, Step};
use crate::change::verify::Observed;
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::error::{EXIT_FAILED, EXIT_OK, UserError};
use crate::facts::Facts;
use crate::facts::blas::BlasImpl;
use crate::facts::snapshot::EnvSnapshot;
use crate::render::apply::{self as out, JsonDoc, Outcome};
use crate::render::style::Styles;

pub use pinned::PINNED_BACKUP;
use pinned::PinnedGuard;

pub fn run(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let env = EnvSnapshot::capture();
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let apply = Apply {
        args,
        global,
        env: &env,
        interactive,
    };
    match apply.steps() {
        Ok(code) | Err(Stop::Exit(code)) => Ok(code),
        Err(Stop::Error(e)) => Err(e),
    }
}

/// Why the steps ended early: an exit code already reported, or an error to report.
enum Stop {
    Exit(u8),
    Error(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Stop {
    fn from(e: E) -> Self {
        Stop::Error(e.into())
    }
}

/// A step's result: go on with `T`, or stop.
type Flow<T> = Result<T, Stop>;

struct Apply<'a> {
    args: &'a ApplyArgs,
    global: &'a GlobalArgs,
    env: &'a EnvSnapshot,
    interactive: bool,
}

/// Everything known about a planned switch, carried from one step to the next.
struct Switch<'f> {
    facts: &'f Facts,
    prefix: PathBuf,
    target: BlasImpl,
    before: Observed,
    plan: Plan,
    pinned_path: PathBuf,
    pinned_bytes: Option<Vec<u8>>,
    frontend: Frontend,
    python: PathBuf,
    commands: Vec<String>,
}

impl Apply<'_> {
    /// The steps the user sees, in order.
    fn steps(&self) -> Flow<u8> {
        self.refuse_without_a_terminal()?;
        let facts = super::gather::gather(&self.args.env, self.env, None)?;
        let sw = self.plan(&facts)?;
        self.show_plan(&sw);
        let preview = self.preview(&sw)?;
        self.confirm(&sw, &preview)?;
        let bench_before = self.args.bench.then(|| quick_bench(&sw));
        let guard = self.switch(&sw, &preview)?;
        let after = self.verify(&sw, &preview, guard)?;
        self.finish(&sw, &preview, after, bench_before)
    }

    /// No terminal and no `--yes`: refuse before anything runs.
    fn refuse_without_a_terminal(&self) -> Flow<()> {
        if !self.args.dry_run && !self.args.yes && !self.interactive {
            return Err(UserError::usage(
                "blasfix apply changes the environment and needs a confirmation, but there is no terminal to ask on",
            )
            .with_hint("rerun with --yes to apply without asking, or with --dry-run to only preview")
            .into());
        }
        Ok(())
    }

    /// Plan: the target, the pinned edits and the frontend; "already on target" ends here.
    fn plan<'f>(&self, facts: &'f Facts) -> Flow<Switch<'f>> {
        let args = self.args;
        let prefix = facts.environment.prefix.clone();
        let before = Observed::from_facts(facts);
        let target = plan::resolve_target(args.backend.named(), facts).map_err(refusal)?;
        let pinned_path = prefix.join("conda-meta").join("pinned");
        let pinned_bytes = pinned::read_optional(&pinned_path)?;
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
        let plan = match plan::plan(facts, &request).map_err(refusal)? {
            Decision::Switch(plan) => *plan,
            decision @ Decision::AlreadyOn { .. } => {
                return Err(self.already(&prefix, target, before, &decision));
            }
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
        let mut sw = Switch {
            facts,
            prefix,
            target,
            before,
            plan,
            pinned_path,
            pinned_bytes,
            frontend: fe,
            python,
            commands: vec![],
        };
        sw.commands = commands(&sw.plan, &sw.frontend, &sw.python);
        Ok(sw)
    }

    /// The environment already runs the target: say so, change nothing.
    fn already(
        &self,
        prefix: &Path,
        target: BlasImpl,
        before: Observed,
        decision: &Decision,
    ) -> Stop {
        let Decision::AlreadyOn { summary, .. } = decision else {
            return Stop::Exit(EXIT_OK);
        };
        self.say(Styles::stdout().ok(summary));
        let doc = JsonDoc {
            schema_version: 1,
            prefix,
            target: Some(target),
            frontend: None,
            decision: Some(decision),
            commands: vec![],
            preview: None,
            outcome: Outcome {
                status: "already".into(),
                message: summary.clone(),
                before: Some(before),
                ..Default::default()
            },
        };
        match self.emit_json(doc) {
            Ok(()) => Stop::Exit(EXIT_OK),
            Err(e) => e.into(),
        }
    }

    /// Show the plan and the exact commands.
    fn show_plan(&self, sw: &Switch) {
        for line in out::plan_lines(&sw.plan, &sw.commands) {
            self.say(line);
        }
    }

    /// Preview: the frontend's own dry run, ignoring conda-meta/pinned only when its BLAS line
    /// would make libmamba refuse (the real run takes that line out first).
    fn preview(&self, sw: &Switch) -> Flow<Preview> {
        let plan = &sw.plan;
        let preview_no_pin = !plan.pinned.conflicting.is_empty();
        let preview_args = plan.install_args(true, true, preview_no_pin);
        let run = frontend::run(
            &sw.frontend.exe,
            &preview_args,
            self.timeout(),
            &Show {
                echo: false,
                ..self.show("Previewing")
            },
        )
        .map_err(|e| UserError::usage(format!("cannot run {}: {e}", sw.frontend.exe.display())))?;
        let preview = match self.preview_of(&sw.frontend, &run, &preview_args) {
            Ok(p) => p,
            Err(outcome) => return Err(self.fail(sw, None, outcome)),
        };
        for line in out::preview_lines(&preview, preview_no_pin) {
            self.say(line);
        }
        if preview.is_empty() && plan.steps.len() == 1 {
            // The frontend sees nothing to install, yet the plan says the env does not run the
            // target (e.g. declared right, loaded wrong): conda cannot fix that.
            return Err(self.fail(
                sw,
                Some(&preview),
                Outcome {
                    status: "failed".into(),
                    message: format!(
                        "{} has nothing to install, yet the environment runs {}; `blasfix explain blas` tells why",
                        sw.frontend.kind.as_str(),
                        sw.before.describe()
                    ),
                    before: Some(sw.before.clone()),
                    ..Default::default()
                },
            ));
        }
        Ok(preview)
    }

    /// Confirm: `--dry-run` and a "no" end here with nothing changed.
    fn confirm(&self, sw: &Switch, preview: &Preview) -> Flow<()> {
        let args = self.args;
        let declined = !args.dry_run && !args.yes && !self.ask(&sw.plan);
        if !(args.dry_run || declined) {
            return Ok(());
        }
        let (status, said) = if args.dry_run {
            ("dry-run", "Dry run: nothing changed.")
        } else {
            ("declined", "Nothing changed.")
        };
        self.say(said);
        self.emit(
            sw,
            Some(preview),
            Outcome {
                status: status.into(),
                message: "nothing changed".into(),
                before: Some(sw.before.clone()),
                ..Default::default()
            },
        )?;
        Err(Stop::Exit(EXIT_OK))
    }

    /// Switch: take the conflicting pin out (restorable), run each step of the plan. On any
    /// failure, pinned is restored and the failure reported.
    fn switch(&self, sw: &Switch, preview: &Preview) -> Flow<PinnedGuard> {
        let plan = &sw.plan;
        let _sigint = frontend::interrupt::install();
        let mut guard = PinnedGuard::begin(
            &sw.pinned_path,
            sw.pinned_bytes.clone(),
            plan.pinned.before_install.as_deref(),
        )?;
        for step in &plan.steps {
            let (exe, step_args, label): (PathBuf, Vec<OsString>, &str) = match step {
                Step::PipUninstall { args } => (
                    sw.python.clone(),
                    args.iter().map(OsString::from).collect(),
                    "Uninstalling pip NumPy",
                ),
                Step::Install { .. } => (
                    sw.frontend.exe.clone(),
                    plan.install_args(false, false, false),
                    "Installing",
                ),
            };
            let run = frontend::run(&exe, &step_args, self.timeout(), &self.show(label));
            let failure = match run {
                Err(e) => Some((
                    "failed".to_string(),
                    format!("cannot run {}: {e}", exe.display()),
                )),
                Ok(o) if o.success() => None,
                Ok(o) => Some(out::describe_failure(&exe, &o, self.args.timeout)),
            };
            if let Some((status, mut message)) = failure {
                if matches!(step, Step::Install { .. }) && plan.steps.len() > 1 {
                    message.push_str("\nnote: the pip NumPy was already uninstalled; `python -m pip install numpy` brings it back");
                }
                message.push_str(&guard.restore_note());
                return Err(self.abort(sw, preview, status, message, None));
            }
        }
        if frontend::interrupt::happened() {
            let message = format!("interrupted{}", guard.restore_note());
            return Err(self.abort(sw, preview, "interrupted".into(), message, None));
        }
        Ok(guard)
    }

    /// Verify: re-read the environment from scratch; declared, linked and loaded must all name
    /// the target, or pinned is restored and the switch reported as not verified.
    fn verify(
        &self,
        sw: &Switch,
        preview: &Preview,
        mut guard: PinnedGuard,
    ) -> Flow<(Observed, PinnedGuard)> {
        let after = match observe_backend(
            &self.args.env,
            self.env,
            self.args.no_runtime,
            self.timeout(),
        ) {
            Ok(a) => a,
            Err(e) => {
                let message = format!(
                    "cannot re-read the environment: {e}{}",
                    guard.restore_note()
                );
                return Err(self.abort(sw, preview, "not-verified".into(), message, None));
            }
        };
        if !after.runs(sw.target) {
            let message = format!(
                "the frontend succeeded but the switch did not take effect: before {}, after {}{}",
                sw.before.describe(),
                after.describe(),
                guard.restore_note()
            );
            return Err(self.abort(sw, preview, "not-verified".into(), message, Some(after)));
        }
        Ok((after, guard))
    }

    /// Pin and report: write the new pin into conda-meta/pinned, say what changed, offer to pin
    /// the environment file that names this environment.
    fn finish(
        &self,
        sw: &Switch,
        preview: &Preview,
        (after, guard): (Observed, PinnedGuard),
        bench_before: Option<String>,
    ) -> Flow<u8> {
        let plan = &sw.plan;
        let pinned_written = guard.commit(plan.pinned.after_success.as_deref())?;
        let bench = bench_before.map(|b| format!("before: {b}; after: {}", quick_bench(sw)));
        let s = Styles::stdout();
        self.say(format!("Before: {}", sw.before.describe()));
        self.say(format!("After:  {}", after.describe()));
        let mut done = format!(
            "Switched {} to {}.",
            sw.prefix.display(),
            sw.target.display_name()
        );
        if pinned_written && let Some(pin) = &plan.pinned.new_pin {
            done.push_str(&format!(" Pinned `{pin}` in conda-meta/pinned."));
        }
        self.say(s.ok(&done));
        if let Some(b) = &bench {
            self.say(format!("Benchmark: {b}"));
        }
        if !self.args.json && self.interactive {
            offer_pin::offer_envfile_pin(sw.facts, plan);
        }
        self.emit(
            sw,
            Some(preview),
            Outcome {
                status: "applied".into(),
                message: done,
                before: Some(sw.before.clone()),
                after: Some(after),
                pinned_written: pinned_written
                    .then(|| plan.pinned.new_pin.clone())
                    .flatten(),
                bench,
            },
        )?;
        Ok(EXIT_OK)
    }

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

    /// The preview, or the failure to report.
    fn preview_of(
        &self,
        fe: &Frontend,
        run: &RunOutput,
        preview_args: &[OsString],
    ) -> Result<Preview, Outcome> {
        let cmd = frontend::display_command(&fe.exe, preview_args);
        if run.ending != Ending::Exited {
            let (status, message) = out::describe_failure(&fe.exe, run, self.args.timeout);
            return Err(Outcome {
                status,
                message: format!("{message}\n  while previewing: {cmd}"),
                ..Default::default()
            });
        }
        match frontend::parse_preview(&run.stdout) {
            Ok(JsonAnswer::Transaction(p)) if run.success() => Ok(p),
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
                let (status, message) = out::describe_failure(&fe.exe, run, self.args.timeout);
                Err(Outcome {
                    status,
                    message: format!("{message}\n  command: {cmd}"),
                    ..Default::default()
                })
            }
        }
    }

    fn ask(&self, plan: &Plan) -> bool {
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

    /// A failure after the switch began: pinned was restored (the message says so); report.
    fn abort(
        &self,
        sw: &Switch,
        preview: &Preview,
        status: String,
        message: String,
        after: Option<Observed>,
    ) -> Stop {
        self.fail(
            sw,
            Some(preview),
            Outcome {
                status,
                message,
                before: Some(sw.before.clone()),
                after,
                ..Default::default()
            },
        )
    }

    /// Report a failure: the JSON document and the message on stderr with `--json` (exit 3),
    /// else an error for the edge to report.
    fn fail(&self, sw: &Switch, preview: Option<&Preview>, outcome: Outcome) -> Stop {
        let message = outcome.message.clone();
        if self.args.json {
            if let Err(e) = self.emit(sw, preview, outcome) {
                return e.into();
            }
            let s = Styles::stderr();
            eprintln!("{} {}", s.error("error:"), message);
            return Stop::Exit(EXIT_FAILED);
        }
        UserError::failed(message).into()
    }

    /// Print the `--json` document of a planned switch.
    fn emit(&self, sw: &Switch, preview: Option<&Preview>, outcome: Outcome) -> anyhow::Result<()> {
        let decision = Decision::Switch(Box::new(sw.plan.clone()));
        self.emit_json(JsonDoc {
            schema_version: 1,
            prefix: &sw.prefix,
            target: Some(sw.target),
            frontend: Some(&sw.frontend),
            decision: Some(&decision),
            commands: sw.commands.clone(),
            preview,
            outcome,
        })
    }

    fn emit_json(&self, doc: JsonDoc) -> anyhow::Result<()> {
        if self.args.json {
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Ok(())
    }
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

/// The commands the switch will run, for people (quoted for a POSIX shell).
fn commands(plan: &Plan, fe: &Frontend, python: &Path) -> Vec<String> {
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

/// What the environment runs now, re-read from scratch after a change: declared, linked and,
/// unless `no_runtime`, loaded by a real `import numpy`.
fn observe_backend(
    sel: &crate::cli::EnvSelector,
    env: &EnvSnapshot,
    no_runtime: bool,
    timeout: Duration,
) -> anyhow::Result<Observed> {
    let facts = super::gather::gather(sel, env, (!no_runtime).then_some(timeout))?;
    Ok(Observed::from_facts(&facts))
}

/// `blasfix bench --quick` in the environment, summarised on one line.
fn quick_bench(sw: &Switch) -> String {
    let Some(python) = super::bench::python_of(None, &sw.prefix) else {
        return "no Python in the environment".into();
    };
    match super::bench::measure(
        &python,
        &sw.facts.machine,
        true,
        Duration::from_secs(600),
        true,
        false,
    ) {
        Ok(r) => super::bench::summary(&r),
        Err(e) => format!("benchmark failed: {e}"),
    }
}
