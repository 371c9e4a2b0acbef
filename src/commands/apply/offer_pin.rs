//! After a successful switch in a terminal: when `environment.yml` in the current directory
//! names this environment, show the pin edit and offer to write it, as `blasfix pin` would.

use crate::change::envfile;
use crate::change::plan::Plan;
use crate::facts::Facts;
use crate::facts::blas::ChannelFamily;
use crate::render::style::Styles;

/// When `environment.yml` (or `.yaml`) in the current directory names this environment, show
/// the pin edit and offer to write it (default No), as `blasfix pin` would.
pub fn offer_envfile_pin(facts: &Facts, plan: &Plan) {
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
    if env_name.is_none() || envfile::file_name_key(&bytes) != env_name {
        return;
    }
    if !matches!(
        plan.family,
        ChannelFamily::CondaForge | ChannelFamily::Defaults
    ) {
        return;
    }
    let req = envfile::PinRequest {
        backend: plan.target,
        family: plan.family,
    };
    let edited = match envfile::edit_environment_yml(&bytes, &req) {
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
        crate::render::diff::diff(&edited.before, &edited.after, &file.display().to_string())
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
    match crate::commands::atomic::write_atomic(&file, &edited.bytes, true) {
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
