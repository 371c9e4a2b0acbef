//! `blasfix doctor`: gather the facts, evaluate the rules, print the report.

use crate::cli::{DoctorArgs, EnvSelector, GlobalArgs};
use crate::error::{EXIT_FINDINGS, EXIT_OK, UserError};
use std::time::Duration;

use crate::facts::Facts;

use crate::facts::snapshot::EnvSnapshot;

use crate::diagnose::findings::{self, Severity};
use crate::facts::problem::Problem;
use crate::facts::{condarc, cpu, declared, envs, linkage, mirrors, prefix, probe, threads};
use crate::render::report;

/// Gather every static fact about the selected environment (no Python is run).
pub fn gather(sel: &EnvSelector, env: &EnvSnapshot) -> anyhow::Result<Facts> {
    gather_with(sel, env, None)
}

/// Gather the facts; with `runtime`, also run the environment's Python with the probe (started
/// first, so that the static work happens while it imports NumPy) and wait at most that long.
pub fn gather_with(
    sel: &EnvSelector,
    env: &EnvSnapshot,
    runtime: Option<Duration>,
) -> anyhow::Result<Facts> {
    let selector = envs::Selector {
        name: sel.name.clone(),
        prefix: sel.prefix.clone(),
    };
    let located = envs::locate(&selector, env).map_err(|e| UserError::usage(e.to_string()))?;
    let probe = match (runtime, &located.python) {
        (Some(timeout), Some(python)) => Some(probe::spawn(python, timeout, &[])),
        _ => None,
    };
    let mut problems = Vec::new();
    if runtime.is_some() && located.python.is_none() {
        problems.push(Problem::at(
            &located.prefix,
            "no Python interpreter in this environment; the runtime probe was skipped",
        ));
    }
    let machine = cpu::detect();
    let prefix = prefix::read(&located.prefix);
    let blas = declared::declared(&prefix);
    let cfg = condarc::load(env, Some(&located.prefix));
    let subdir = prefix
        .subdir
        .clone()
        .unwrap_or_else(|| machine.process_subdir.clone());
    let channels = condarc::channel_facts(&cfg, &subdir);
    let pip_indexes = mirrors::pip_indexes(env, Some(&located.prefix));
    let threads = threads::from_env(env, &machine);
    let linkage = prefix.site.as_ref().map(|site| {
        linkage::inspect_with(
            &located.prefix,
            &site.path,
            Some(&subdir),
            &linkage::LoaderEnv::capture(env),
        )
    });
    let runtime = probe.map(|p| p.wait());
    Ok(Facts {
        machine,
        environment: located,
        prefix,
        blas,
        channels,
        pip_indexes,
        threads,
        linkage,
        runtime,
        problems,
    })
}

pub fn run(args: &DoctorArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let env = EnvSnapshot::capture();
    let runtime = (!args.no_runtime).then(|| Duration::from_secs(args.timeout));
    let facts = gather_with(&args.env, &env, runtime)?;
    let found = findings::evaluate(&facts);
    let rec = findings::recommend(&facts);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report::json(&facts, &found, &rec))?
        );
    } else {
        print!(
            "{}",
            report::human(&facts, &found, &rec, global.verbose > 0, global.quiet)
        );
    }
    let serious = found.iter().any(|f| f.severity <= Severity::Warning);
    Ok(if args.strict && serious {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}
