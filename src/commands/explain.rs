//! `blasfix explain`: the doctor's facts as prose.

use crate::cli::{EnvSelector, ExplainArgs, GlobalArgs};
use crate::facts::snapshot::EnvSnapshot;

pub fn run(args: &ExplainArgs, _global: &GlobalArgs) -> anyhow::Result<u8> {
    let env = EnvSnapshot::capture();
    let sel = EnvSelector {
        name: args.env.name.clone(),
        prefix: args.env.prefix.clone(),
    };
    let runtime = (!args.no_runtime).then(|| std::time::Duration::from_secs(args.timeout));
    let facts = super::gather::gather(&sel, &env, runtime)?;
    let rec = crate::diagnose::recommend::recommend(&facts);
    print!(
        "{}",
        crate::render::explain::render(&facts, &rec, args.topic.into())
    );
    Ok(crate::error::EXIT_OK)
}
