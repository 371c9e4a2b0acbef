//! `blasfix apply`: plan -> preview -> confirm -> switch -> verify -> finish, each a step below.
//!
//! Safety rules: nothing changes before the exact command and the preview were shown and the
//! user said yes (or passed `--yes`); without a terminal and without `--yes` it refuses. Files
//! changed before the frontend runs (`conda-meta/pinned`, a `.condarc` with `--edit-condarc`)
//! are journaled (`journal.rs`). From the first step on, signals are caught
//! (`change::signals`): the frontend's whole process tree is stopped and waited for, then the
//! switch is settled and blasfix ends by the same signal. Settling follows one rule: the pins
//! follow the records. When the records declare the target (the frontend got that far), the
//! switch is completed (the new pins written); otherwise everything is put back byte for byte.
//! A journal left by a killed run is offered for restoring before anything else.

mod journal;
mod offer_pin;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::change::frontend::{
    self, Ending, Frontend, FrontendKind, JsonAnswer, Preview, RunOutput, Show,
};
use crate::change::plan::{self, Decision, Plan, Refusal, Request, Solver, Step};
use crate::change::signals;
use crate::change::verify::Observed;
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::error::{EXIT_FAILED, EXIT_OK, UserError};
use crate::facts::Facts;
use crate::facts::blas::BlasImpl;
use crate::facts::snapshot::EnvSnapshot;
use crate::render::apply::{self as out, JsonDoc, Outcome};
use crate::render::out::{errln, outln};
use crate::render::style::Styles;

pub use journal::PINNED_BACKUP;
use journal::{Journaled, Leftover};

pub fn run(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    // Before anything else: from here on a signal is noted, acted on at the next step, and
    // ends blasfix only after the environment is settled.
    let trap = signals::install();
    let env = EnvSnapshot::capture();
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let apply = Apply {
        args,
        global,
        env: &env,
        interactive,
    };
    let result = match apply.steps() {
        Ok(code) | Err(Stop::Exit(code)) => Ok(code),
        Err(Stop::Error(e)) => Err(e),
    };
    if let Some(sig) = signals::caught() {
        if let Err(e) = &result {
            crate::error::report(e);
        }
        drop(trap);
        signals::die_of(sig);
    }
    result
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

/// A `.condarc` that loses `pinned_packages` entries during the switch.
struct CondarcEdit {
    file: PathBuf,
    original: Vec<u8>,
    during: String,
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
    condarc_edits: Vec<CondarcEdit>,
    /// None when nothing is installed (only pins change).
    frontend: Option<Frontend>,
    python: PathBuf,
    commands: Vec<String>,
}

/// The files a switch changes before installing, restorable until the switch is settled.
struct Journal {
    pinned: Journaled,
    condarc: Vec<Journaled>,
}

impl Journal {
    fn begin(sw: &Switch) -> anyhow::Result<Self> {
        let pinned = Journaled::begin(
            &sw.pinned_path,
            sw.pinned_bytes.clone(),
            sw.plan.pinned.before_install.as_deref().map(str::as_bytes),
        )?;
        let mut condarc = Vec::new();
        for e in &sw.condarc_edits {
            // A failure here drops what was begun, which restores it.
            condarc.push(Journaled::begin(
                &e.file,
                Some(e.original.clone()),
                Some(e.during.as_bytes()),
            )?);
        }
        Ok(Journal { pinned, condarc })
    }

    /// Put every file back; what was put back, for a message.
    fn restore_note(&mut self) -> String {
        let mut note = self.pinned.restore_note();
        for c in &mut self.condarc {
            note.push_str(&c.restore_note());
        }
        note
    }

    /// Keep the changes: `pinned_after` into pinned (None: as written before installing), the
    /// `.condarc` edits as they are. Whether a new pinned content was written.
    fn commit(&mut self, pinned_after: Option<&str>) -> anyhow::Result<bool> {
        let written = self.pinned.commit(pinned_after.map(str::as_bytes))?;
        for c in &mut self.condarc {
            c.commit(None)?;
        }
        Ok(written)
    }
}

impl Apply<'_> {
    /// The steps the user sees, in order.
    fn steps(&self) -> Flow<u8> {
        self.refuse_without_a_terminal()?;
        let mut facts = self.gather()?;
        if self.recover_journals(&facts)? {
            facts = self.gather()?;
        }
        self.stop_if_signalled(&facts.environment.prefix, None, None)?;
        let sw = self.plan(&facts)?;
        self.show_plan(&sw);
        let preview = self.preview(&sw)?;
        self.stop_if_signalled(&sw.prefix, Some(&sw), preview.as_ref())?;
        self.confirm(&sw, preview.as_ref())?;
        let bench_before = self.args.bench.then(|| quick_bench(&sw));
        self.stop_if_signalled(&sw.prefix, Some(&sw), preview.as_ref())?;
        let journal = self.switch(&sw, preview.as_ref())?;
        let (after, journal) = self.verify(&sw, preview.as_ref(), journal)?;
        self.finish(&sw, preview.as_ref(), after, journal, bench_before)
    }

    fn gather(&self) -> anyhow::Result<Facts> {
        super::gather::gather(&self.args.env, self.env, None)
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

    /// Journals left by a switch that was killed: show what each holds, then restore them
    /// (asked, or with `--yes`) before anything else; never overwritten or deleted silently.
    /// Ok(true) when something was restored.
    fn recover_journals(&self, facts: &Facts) -> Flow<bool> {
        let mut files = vec![facts.environment.prefix.join("conda-meta").join("pinned")];
        for j in &facts.channels.config.leftover_journals {
            let name = j.file_name().unwrap_or_default().to_string_lossy();
            files.push(j.with_file_name(name.trim_end_matches(".blasfix-backup")));
        }
        let mut left = Vec::new();
        for f in &files {
            if let Some(l) = Leftover::find(f)? {
                left.push(l);
            }
        }
        if left.is_empty() {
            return Ok(false);
        }
        let s = Styles::stderr();
        for l in &left {
            errln!(
                "{} a previous `blasfix apply` was interrupted: {} holds {} as it was before that switch",
                s.warn("warning:"),
                l.journal.display(),
                l.file.display()
            );
            let now = String::from_utf8_lossy(l.now.as_deref().unwrap_or_default()).into_owned();
            let then = String::from_utf8_lossy(&l.original).into_owned();
            if now == then {
                errln!("  it holds exactly what {} holds now", l.file.display());
            } else {
                crate::render::out::err!(
                    "{}",
                    crate::render::diff::diff(&now, &then, &l.file.display().to_string())
                );
            }
        }
        if self.args.dry_run {
            errln!(
                "--dry-run: left as it is; a real run restores it first (asking, or with --yes)"
            );
            return Ok(false);
        }
        let restore = self.args.yes
            || dialoguer::Confirm::new()
                .with_prompt("Restore it before going on?")
                .default(true)
                .interact()
                .unwrap_or(false);
        if !restore || signals::caught().is_some() {
            let moves = left
                .iter()
                .map(|l| {
                    format!(
                        "mv {} {}",
                        crate::diagnose::fix::shell_quote(&l.journal.to_string_lossy()),
                        crate::diagnose::fix::shell_quote(&l.file.to_string_lossy())
                    )
                })
                .collect::<Vec<_>>()
                .join(" && ");
            return Err(UserError::usage(
                "a journal of an interrupted switch is left, and blasfix starts no switch while it is there; nothing was changed",
            )
            .with_hint(format!(
                "rerun and answer yes (or pass --yes) to restore it, or restore it by hand: {moves}"
            ))
            .into());
        }
        for l in &left {
            l.restore()?;
            errln!(
                "{} restored {} from {}",
                s.ok("done:"),
                l.file.display(),
                l.journal.display()
            );
        }
        Ok(true)
    }

    /// A signal before anything changed: report it and stop (the caller then ends by it).
    fn stop_if_signalled(
        &self,
        prefix: &Path,
        sw: Option<&Switch>,
        preview: Option<&Preview>,
    ) -> Flow<()> {
        let Some(sig) = signals::caught() else {
            return Ok(());
        };
        let outcome = Outcome {
            status: "interrupted".into(),
            message: format!("interrupted by {}; nothing was changed", sig.describe()),
            ..Default::default()
        };
        Err(match sw {
            Some(sw) => self.fail(sw, preview, outcome),
            None => {
                if self.args.json
                    && let Err(e) = self.emit_json(JsonDoc {
                        schema_version: 1,
                        prefix,
                        target: None,
                        frontend: None,
                        decision: None,
                        commands: vec![],
                        preview: None,
                        outcome: Outcome {
                            status: outcome.status.clone(),
                            message: outcome.message.clone(),
                            ..Default::default()
                        },
                    })
                {
                    return Err(e.into());
                }
                UserError::failed(outcome.message).into()
            }
        })
    }

    /// Plan: the target, the pin edits and the frontend; "already on target" ends here.
    fn plan<'f>(&self, facts: &'f Facts) -> Flow<Switch<'f>> {
        let args = self.args;
        let prefix = facts.environment.prefix.clone();
        let before = Observed::from_facts(facts);
        let target = plan::resolve_target(args.backend.named(), facts).map_err(refusal)?;
        let pinned_path = prefix.join("conda-meta").join("pinned");
        let pinned_bytes = journal::read_optional(&pinned_path)?;
        let pinned_text = match &pinned_bytes {
            Some(b) => Some(String::from_utf8(b.clone()).map_err(|_| {
                UserError::usage(format!(
                    "{}: not UTF-8 text; conda cannot read it either",
                    pinned_path.display()
                ))
            })?),
            None => None,
        };
        let found = frontend::resolve_here(
            args.frontend.map(Into::into),
            facts.environment.kind,
            self.env,
        );
        let solver = Solver::of(
            found
                .as_ref()
                .map(|f| f.kind)
                .unwrap_or(FrontendKind::Conda),
            facts
                .channels
                .config
                .solver
                .as_ref()
                .map(|s| s.value.as_str()),
            crate::facts::envs::conda_version(self.env).as_deref(),
        );
        let request = Request {
            target,
            replace_pip_numpy: args.replace_pip_numpy,
            no_pin: args.no_pin,
            pinned_text,
            edit_condarc: args.edit_condarc,
            solver,
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
        let frontend = if plan.steps.is_empty() {
            None
        } else {
            Some(found.map_err(|e| {
                let hint = if args.frontend.is_some() {
                    "put it on PATH, or set CONDA_EXE (conda) or MAMBA_EXE (mamba, micromamba) to its path"
                } else {
                    "name it with --frontend conda|mamba|micromamba, or set CONDA_EXE to the conda executable"
                };
                UserError::usage(e.to_string()).with_hint(hint)
            })?)
        };
        let condarc_edits = condarc_edits(&plan)?;
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
            condarc_edits,
            frontend,
            python,
            commands: vec![],
        };
        sw.commands = commands(&sw.plan, sw.frontend.as_ref(), &sw.python);
        Ok(sw)
    }

    /// The environment already runs the target and no pin asks for another: say so, change
    /// nothing.
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
        self.result(Styles::stdout().ok(summary));
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

    /// Show the plan, its warnings and the exact commands.
    fn show_plan(&self, sw: &Switch) {
        for line in out::plan_lines(&sw.plan, &sw.commands) {
            self.say(line);
        }
        if self.global.quiet && !self.args.json {
            // The plan is not shown: its warnings still are.
            let s = Styles::stderr();
            for w in &sw.plan.warnings {
                errln!("{} {w}", s.warn("warning:"));
            }
        }
    }

    /// Preview: the frontend's own dry run, ignoring the pins when one of them would make the
    /// solver refuse (the real run takes it out first). None when nothing is installed.
    fn preview(&self, sw: &Switch) -> Flow<Option<Preview>> {
        let plan = &sw.plan;
        let Some(fe) = &sw.frontend else {
            self.say(format!(
                "{} nothing to install; only the pins change",
                Styles::stdout().bold("Preview:")
            ));
            return Ok(None);
        };
        let preview_no_pin = !plan.pinned.conflicting.is_empty() || !plan.config_pins.is_empty();
        let preview_args = plan.install_args(true, true, preview_no_pin);
        let run = frontend::run(
            &fe.exe,
            &preview_args,
            self.timeout(),
            &Show {
                echo: false,
                ..self.show("Previewing")
            },
        )
        .map_err(|e| UserError::usage(format!("cannot run {}: {e}", fe.exe.display())))?;
        self.note_leftovers(&run);
        if run.ending == Ending::Interrupted {
            let (status, message) = out::describe_failure(&fe.exe, &run, self.args.timeout);
            return Err(self.fail(
                sw,
                None,
                Outcome {
                    status,
                    message: format!("{message} while previewing; nothing was changed"),
                    before: Some(sw.before.clone()),
                    ..Default::default()
                },
            ));
        }
        let preview = match self.preview_of(fe, &run, &preview_args) {
            Ok(p) => p,
            Err(outcome) => return Err(self.fail(sw, None, outcome)),
        };
        for line in out::preview_lines(&preview, preview_no_pin) {
            self.say(line);
        }
        let installs = plan
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Install { .. }))
            .count();
        if preview.is_empty() && installs == plan.steps.len() {
            // The frontend sees nothing to install, yet the plan says the env does not run the
            // target (e.g. declared right, loaded wrong): conda cannot fix that.
            return Err(self.fail(
                sw,
                Some(&preview),
                Outcome {
                    status: "failed".into(),
                    message: format!(
                        "{} has nothing to install, yet the environment runs {}; `blasfix explain blas` tells why",
                        fe.kind.as_str(),
                        sw.before.describe()
                    ),
                    before: Some(sw.before.clone()),
                    ..Default::default()
                },
            ));
        }
        Ok(Some(preview))
    }

    /// Confirm: `--dry-run` and a "no" end here with nothing changed.
    fn confirm(&self, sw: &Switch, preview: Option<&Preview>) -> Flow<()> {
        let args = self.args;
        let declined = !args.dry_run && !args.yes && !self.ask(&sw.plan);
        self.stop_if_signalled(&sw.prefix, Some(sw), preview)?;
        if !(args.dry_run || declined) {
            return Ok(());
        }
        let (status, said) = if args.dry_run {
            ("dry-run", "Dry run: nothing changed.")
        } else {
            ("declined", "Nothing changed.")
        };
        self.result(said);
        self.emit(
            sw,
            preview,
            Outcome {
                status: status.into(),
                message: "nothing changed".into(),
                before: Some(sw.before.clone()),
                ..Default::default()
            },
        )?;
        Err(Stop::Exit(EXIT_OK))
    }

    /// Switch: journal and rewrite the pins that would block it, run each step of the plan. On
    /// any failure or signal the switch is settled (see the module doc) and reported.
    fn switch(&self, sw: &Switch, preview: Option<&Preview>) -> Flow<Journal> {
        let plan = &sw.plan;
        let mut journal = Journal::begin(sw)?;
        if let Some(sig) = signals::caught() {
            let message = format!(
                "interrupted by {} before the install began{}",
                sig.describe(),
                journal.restore_note()
            );
            return Err(self.abort(sw, preview, "interrupted".into(), message, None));
        }
        for step in &plan.steps {
            let (exe, step_args, label): (PathBuf, Vec<OsString>, &str) = match step {
                Step::PipUninstall { args } => (
                    sw.python.clone(),
                    args.iter().map(OsString::from).collect(),
                    "Uninstalling pip NumPy",
                ),
                Step::Install { .. } => (
                    sw.frontend
                        .as_ref()
                        .map(|f| f.exe.clone())
                        .unwrap_or_default(),
                    plan.install_args(false, false, false),
                    "Installing",
                ),
            };
            let run = frontend::run(&exe, &step_args, self.timeout(), &self.show(label));
            if let Ok(r) = &run {
                self.note_leftovers(r);
            }
            let failure = match run {
                Err(e) => Some((
                    "failed".to_string(),
                    format!("cannot run {}: {e}", exe.display()),
                )),
                Ok(o) if o.success() && signals::caught().is_none() => None,
                Ok(o) if o.success() => {
                    // It finished just as the signal came: settled below like any other stop.
                    let sig = signals::caught().map(|s| s.describe()).unwrap_or_default();
                    Some((
                        "interrupted".to_string(),
                        format!("interrupted by {sig} as {label} finished"),
                    ))
                }
                Ok(o) => Some(out::describe_failure(&exe, &o, self.args.timeout)),
            };
            if let Some((status, mut message)) = failure {
                if matches!(step, Step::Install { .. }) && plan.steps.len() > 1 {
                    message.push_str("\nnote: the pip NumPy was already uninstalled; `python -m pip install numpy` brings it back");
                }
                message.push_str(&self.settle(sw, &mut journal));
                return Err(self.abort(sw, preview, status, message, None));
            }
        }
        Ok(journal)
    }

    /// After the frontend stopped without success: the pins follow the records. When they
    /// already declare the target, the switch is completed (new pins written); otherwise every
    /// journaled file is put back. What was done, for the message.
    fn settle(&self, sw: &Switch, journal: &mut Journal) -> String {
        let declared = self
            .gather()
            .ok()
            .map(|f| Observed::from_facts(&f).declared);
        let switched = declared == Some(sw.target)
            && sw.before.declared != sw.target
            && !sw.plan.steps.is_empty();
        if !switched {
            return journal.restore_note();
        }
        match journal.commit(sw.plan.pinned.after_success.as_deref()) {
            Ok(written) => format!(
                "\nthe records already declare {} (the frontend got that far): the switch is kept and the pins follow it{}; run `blasfix doctor` to check it",
                sw.target.display_name(),
                match (&sw.plan.pinned.new_pin, written) {
                    (Some(p), true) => format!(" (`{p}` pinned in conda-meta/pinned)"),
                    _ => String::new(),
                }
            ),
            Err(e) => format!("\n{e:#}"),
        }
    }

    /// Verify: re-read the environment from scratch; declared, linked and loaded must all name
    /// the target, or the switch is settled and reported as not verified.
    fn verify(
        &self,
        sw: &Switch,
        preview: Option<&Preview>,
        mut journal: Journal,
    ) -> Flow<(Observed, Journal)> {
        let after = match self.observe() {
            Ok(Some(a)) => a,
            Ok(None) => {
                let sig = signals::caught().map(|s| s.describe()).unwrap_or_default();
                let message = format!(
                    "interrupted by {sig} while verifying{}",
                    self.settle(sw, &mut journal)
                );
                return Err(self.abort(sw, preview, "interrupted".into(), message, None));
            }
            Err(e) => {
                let message = format!(
                    "cannot re-read the environment: {e}{}",
                    self.settle(sw, &mut journal)
                );
                return Err(self.abort(sw, preview, "not-verified".into(), message, None));
            }
        };
        if !after.runs(sw.target) {
            let message = format!(
                "the frontend succeeded but the switch did not take effect: before {}, after {}{}",
                sw.before.describe(),
                after.describe(),
                self.settle(sw, &mut journal)
            );
            return Err(self.abort(sw, preview, "not-verified".into(), message, Some(after)));
        }
        Ok((after, journal))
    }

    /// What the environment runs now, re-read from scratch: declared, linked and, unless
    /// `--no-runtime`, loaded by a real `import numpy`. None when a signal came meanwhile (the
    /// probe is left to die with blasfix).
    fn observe(&self) -> anyhow::Result<Option<Observed>> {
        let mut facts = self.gather()?;
        if !self.args.no_runtime
            && let Some(python) = facts.environment.python.clone()
        {
            let timeout = self.timeout().min(Duration::from_secs(600));
            let probe = crate::facts::probe::spawn(&python, timeout, &[]);
            while !probe.finished_within(Duration::from_millis(20)) {
                if signals::caught().is_some() {
                    return Ok(None);
                }
            }
            facts.runtime = Some(probe.wait());
        }
        if signals::caught().is_some() {
            return Ok(None);
        }
        Ok(Some(Observed::from_facts(&facts)))
    }

    /// Pin and report: write the new pins, say what changed, offer to pin the environment
    /// file that names this environment.
    fn finish(
        &self,
        sw: &Switch,
        preview: Option<&Preview>,
        after: Observed,
        mut journal: Journal,
        bench_before: Option<String>,
    ) -> Flow<u8> {
        let plan = &sw.plan;
        let pinned_written = journal.commit(plan.pinned.after_success.as_deref())?;
        let bench = bench_before.map(|b| format!("before: {b}; after: {}", quick_bench(sw)));
        let s = Styles::stdout();
        self.say(format!("Before: {}", sw.before.describe()));
        self.say(format!("After:  {}", after.describe()));
        let mut done = out::done_line(plan);
        if pinned_written && let Some(pin) = &plan.pinned.new_pin {
            done.push_str(&format!(" Pinned `{pin}` in conda-meta/pinned."));
        }
        for p in &plan.config_pins {
            done.push_str(&format!(
                " Took `{}` out of pinned_packages in {}.",
                p.spec,
                p.location()
            ));
        }
        self.result(s.ok(&done));
        if let Some(b) = &bench {
            self.say(format!("Benchmark: {b}"));
        }
        if !self.args.json && self.interactive && signals::caught().is_none() {
            offer_pin::offer_envfile_pin(sw.facts, plan);
        }
        self.emit(
            sw,
            preview,
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

    /// A line of the plan or the preview (not with `-q` or `--json`).
    fn say(&self, line: impl AsRef<str>) {
        if !self.args.json && !self.global.quiet {
            outln!("{}", line.as_ref());
        }
    }

    /// The line that tells how it ended (shown with `-q` too; not with `--json`).
    fn result(&self, line: impl AsRef<str>) {
        if !self.args.json {
            outln!("{}", line.as_ref());
        }
    }

    fn note_leftovers(&self, run: &RunOutput) {
        if run.leftovers > 0 && !self.global.quiet {
            errln!(
                "{} the frontend left {} process{} running after it ended; stopped",
                Styles::stderr().hint("note:"),
                run.leftovers,
                if run.leftovers == 1 { "" } else { "es" }
            );
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
            .with_prompt(out::question(plan))
            .default(false)
            .interact()
            .unwrap_or(false)
    }

    /// A failure after the switch began (the message says how it was settled); report.
    fn abort(
        &self,
        sw: &Switch,
        preview: Option<&Preview>,
        status: String,
        message: String,
        after: Option<Observed>,
    ) -> Stop {
        self.fail(
            sw,
            preview,
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
            errln!("{} {}", s.error("error:"), message);
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
            frontend: sw.frontend.as_ref(),
            decision: Some(&decision),
            commands: sw.commands.clone(),
            preview,
            outcome,
        })
    }

    fn emit_json(&self, doc: JsonDoc) -> anyhow::Result<()> {
        if self.args.json {
            outln!("{}", serde_json::to_string_pretty(&doc)?);
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

/// The `.condarc` edits of a plan (`--edit-condarc`): each file read once, its entries taken
/// out from the last line up (so the earlier line numbers stay right).
fn condarc_edits(plan: &Plan) -> anyhow::Result<Vec<CondarcEdit>> {
    let mut out: Vec<CondarcEdit> = Vec::new();
    let mut pins: Vec<&plan::ConfigPin> = plan.config_pins.iter().collect();
    pins.sort_by_key(|p| std::cmp::Reverse(p.line));
    for p in pins {
        let (Some(file), Some(line)) = (&p.file, p.line) else {
            continue;
        };
        let idx = match out.iter().position(|e| e.file == *file) {
            Some(i) => i,
            None => {
                let bytes = std::fs::read(file).map_err(|e| {
                    UserError::usage(format!("cannot read {}: {e}", file.display()))
                })?;
                let text = String::from_utf8(bytes.clone())
                    .map_err(|_| UserError::usage(format!("{}: not UTF-8 text", file.display())))?;
                out.push(CondarcEdit {
                    file: file.clone(),
                    original: bytes,
                    during: text,
                });
                out.len() - 1
            }
        };
        let e = &mut out[idx];
        e.during = crate::change::condarc::remove_pinned(&e.during, file, line, &p.spec).map_err(
            |err| {
                UserError::usage(format!("cannot take `{}` out: {err}", p.spec)).with_hint(format!(
                    "remove it yourself ({}), then rerun without --edit-condarc",
                    plan::condarc_remove_command(p)
                ))
            },
        )?;
    }
    Ok(out)
}

/// The commands the switch will run, for people (quoted for a POSIX shell).
fn commands(plan: &Plan, fe: Option<&Frontend>, python: &Path) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::PipUninstall { args } => {
                let a: Vec<OsString> = args.iter().map(OsString::from).collect();
                Some(frontend::display_command(python, &a))
            }
            Step::Install { .. } => fe.map(|fe| {
                frontend::display_command(&fe.exe, &plan.install_args(false, false, false))
            }),
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
