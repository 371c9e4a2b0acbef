//! `blasfix doctor`: gather the facts, evaluate the rules, print the report.

use crate::cli::{DoctorArgs, EnvSelector, GlobalArgs};
use crate::error::{EXIT_FINDINGS, EXIT_OK, UserError};
use crate::facts::{EnvSnapshot, Facts};
use crate::findings::{self, Severity};
use crate::{blas, condarc, cpu, envs, mirrors, prefix, report, threads};

/// Gather every static fact about the selected environment.
pub fn gather(sel: &EnvSelector, env: &EnvSnapshot) -> anyhow::Result<Facts> {
    let selector = envs::Selector {
        name: sel.name.clone(),
        prefix: sel.prefix.clone(),
    };
    let located = envs::locate(&selector, env).map_err(|e| UserError::usage(e.to_string()))?;
    let machine = cpu::detect();
    let prefix = prefix::read(&located.prefix);
    let blas = blas::declared(&prefix);
    let cfg = condarc::load(env, Some(&located.prefix));
    let subdir = prefix
        .subdir
        .clone()
        .unwrap_or_else(|| machine.process_subdir.clone());
    let channels = condarc::channel_facts(&cfg, &subdir);
    let pip_indexes = mirrors::pip_indexes(env, Some(&located.prefix));
    let threads = threads::from_env(env, &machine);
    Ok(Facts {
        machine,
        environment: located,
        prefix,
        blas,
        channels,
        pip_indexes,
        threads,
        linkage: None,
        runtime: None,
        problems: Vec::new(),
    })
}

pub fn run(args: &DoctorArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let env = EnvSnapshot::capture();
    let facts = gather(&args.env, &env)?;
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
