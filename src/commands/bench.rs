//! `blasfix bench`: find the environment's Python, measure with a progress bar, judge against
//! the CPU's peak, print the table (or JSON).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{BenchArgs, GlobalArgs};
use crate::diagnose::bench::{self as judge, BenchReport};
use crate::error::{EXIT_OK, UserError};
use crate::facts::bench::{self as measurement, Event, parse_event};
use crate::facts::cpu::CpuFacts;
use crate::facts::probe::ProbeError;
use crate::facts::snapshot::EnvSnapshot;
use crate::render::bench as table;

pub use table::summary;

pub fn run(args: &BenchArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let env = EnvSnapshot::capture();
    let facts = super::gather::gather(&args.env, &env, None)?;
    let python = python_of(
        facts.environment.python.as_deref(),
        &facts.environment.prefix,
    )
    .ok_or_else(|| {
        UserError::usage(format!(
            "{}: no Python interpreter found in this environment",
            facts.environment.prefix.display()
        ))
        .with_hint("choose an environment that has Python with -n NAME or -p PATH")
    })?;

    let report = measure(
        &python,
        &facts.machine,
        args.quick,
        Duration::from_secs(args.timeout),
        global.quiet,
        global.verbose > 0,
    )?;

    if args.json {
        crate::render::out::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::render::out::out!("{}", table::render(&report));
    }
    if let Some(w) = table::busy_warning(&report) {
        eprint!("{w}");
    }
    Ok(EXIT_OK)
}

/// Run bench.py in `python` with a progress bar and build the report (shared by `bench` and
/// `apply --bench`).
pub fn measure(
    python: &Path,
    machine: &CpuFacts,
    quick: bool,
    timeout: Duration,
    quiet: bool,
    verbose: bool,
) -> anyhow::Result<BenchReport> {
    let bar = progress_bar(quiet);
    let mut on_line = {
        let bar = bar.clone();
        move |line: &str| match parse_event(line) {
            Some(Event::Start { cases }) => {
                bar.set_length(cases);
                bar.set_position(0);
            }
            Some(Event::Case { name, n, i }) => {
                bar.set_position(i);
                bar.set_message(format!("{name} n={n}"));
            }
            None if verbose && !line.trim().is_empty() => bar.println(format!("python: {line}")),
            None => {}
        }
    };
    let measured = measurement::run(python, quick, timeout, &mut on_line);
    bar.finish_and_clear();
    let measured = measured.map_err(|e| probe_user_error(e, timeout.as_secs()))?;
    Ok(judge::report(measured, machine))
}

/// The environment's interpreter: what `envs` found, else the usual places in the prefix.
pub fn python_of(located: Option<&Path>, prefix: &Path) -> Option<PathBuf> {
    located
        .map(Path::to_path_buf)
        .or_else(|| crate::facts::envs::python_of(prefix))
}

fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} benchmarking [{bar:30}] {pos}/{len} {msg} ({elapsed})",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn probe_user_error(e: ProbeError, timeout: u64) -> anyhow::Error {
    let hint = match &e {
        ProbeError::NumpyMissing { .. } => Some(
            "install NumPy in this environment, or choose another with -n NAME or -p PATH"
                .to_string(),
        ),
        ProbeError::PythonMissing { .. }
        | ProbeError::NotExecutable { .. }
        | ProbeError::BrokenLink { .. } => {
            Some("choose an environment with a working Python with -n NAME or -p PATH".to_string())
        }
        ProbeError::Timeout { .. } => Some(format!(
            "the benchmark needed more than {timeout} s; try --quick or a larger --timeout"
        )),
        ProbeError::TooOld { .. } => Some("the benchmark needs Python 3.6 or newer".to_string()),
        _ => None,
    };
    let mut err = UserError::usage(format!("benchmark: {e}"));
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_is_found_in_the_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(python_of(None, dir.path()), None);
        std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
        std::fs::write(dir.path().join("bin/python"), "").expect("write");
        assert_eq!(
            python_of(None, dir.path()),
            Some(dir.path().join("bin/python"))
        );
        assert_eq!(
            python_of(Some(Path::new("/x/python3")), dir.path()),
            Some(PathBuf::from("/x/python3"))
        );
    }
}
