//! `blasfix completions <shell>`: the shell completion script, generated from the clap
//! definitions so it never drifts from the real options.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::EXIT_OK;

/// The completion script for `shell`, as bytes ready to print.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "blasfix", &mut out);
    out
}

pub fn run(args: &CompletionsArgs) -> anyhow::Result<u8> {
    // `blasfix completions bash | head` is not an error.
    crate::render::out::stdout_bytes(&script(args.shell));
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_names_every_visible_command() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let text = String::from_utf8(script(shell)).expect("utf-8 script");
            for sub in ["doctor", "explain", "apply", "pin", "bench", "completions"] {
                assert!(text.contains(sub), "{shell}: {sub} missing");
            }
            assert!(
                !text.contains("generate-man"),
                "{shell}: hidden command leaked"
            );
        }
    }
}
