//! `blasfix doctor`: gather the facts, evaluate the rules, print the report.

use crate::cli::{DoctorArgs, GlobalArgs};
use crate::error::{EXIT_FINDINGS, EXIT_OK};
use std::time::Duration;

use crate::diagnose::finding::Severity;
use crate::diagnose::recommend;
use crate::diagnose::rules;
use crate::facts::snapshot::EnvSnapshot;
use crate::render::report;

pub fn run(args: &DoctorArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let env = EnvSnapshot::capture();
    let runtime = (!args.no_runtime).then(|| Duration::from_secs(args.timeout));
    let facts = super::gather::gather(&args.env, &env, runtime)?;
    let found = rules::evaluate(&facts);
    let rec = recommend::recommend(&facts);
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
