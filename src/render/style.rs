//! Colour decisions (flag > NO_COLOR > FORCE_COLOR/CLICOLOR_FORCE > terminal, as uv does) and
//! the few styles the renderers use.

use console::Style;

/// What `--color` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Decide colours once, for stdout and stderr, from the flag and the environment.
pub fn init(choice: ColorChoice) {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let decide = |is_term: bool| match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if env("NO_COLOR").is_some() {
                false
            } else if env("FORCE_COLOR").is_some() || env("CLICOLOR_FORCE").is_some() {
                true
            } else {
                is_term && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true)
            }
        }
    };
    console::set_colors_enabled(decide(console::Term::stdout().is_term()));
    console::set_colors_enabled_stderr(decide(console::Term::stderr().is_term()));
}

/// The colour decision that can be made before argument parsing (for clap's own messages):
/// Some(true/false) from `--color always|never` or the environment, None for "ask the terminal".
pub fn early_choice(args: &[std::ffi::OsString]) -> Option<bool> {
    let mut flag = None;
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        let value = match a.strip_prefix("--color") {
            Some(rest) if rest.starts_with('=') => Some(rest[1..].to_string()),
            Some("") => it.next().map(|v| v.to_string()),
            _ => None,
        };
        match value.as_deref() {
            Some("always") => flag = Some(true),
            Some("never") => flag = Some(false),
            Some(_) => flag = None,
            None => {}
        }
    }
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    flag.or_else(|| env("NO_COLOR").map(|_| false)).or_else(|| {
        (env("FORCE_COLOR").is_some() || env("CLICOLOR_FORCE").is_some()).then_some(true)
    })
}

/// Styles bound to one stream's colour decision.
pub struct Styles {
    enabled: bool,
}

impl Styles {
    pub fn stdout() -> Self {
        Styles {
            enabled: console::colors_enabled(),
        }
    }
    pub fn stderr() -> Self {
        Styles {
            enabled: console::colors_enabled_stderr(),
        }
    }
    pub fn plain() -> Self {
        Styles { enabled: false }
    }
    fn paint(&self, style: Style, s: &str) -> String {
        style.force_styling(self.enabled).apply_to(s).to_string()
    }
    pub fn error(&self, s: &str) -> String {
        self.paint(Style::new().red().bold(), s)
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint(Style::new().yellow().bold(), s)
    }
    pub fn info(&self, s: &str) -> String {
        self.paint(Style::new().cyan(), s)
    }
    pub fn ok(&self, s: &str) -> String {
        self.paint(Style::new().green().bold(), s)
    }
    pub fn hint(&self, s: &str) -> String {
        self.paint(Style::new().cyan().bold(), s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(Style::new().bold(), s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint(Style::new().dim(), s)
    }
    pub fn code(&self, s: &str) -> String {
        self.paint(Style::new().cyan(), s)
    }
}

#[cfg(test)]
mod tests {
    use super::early_choice;

    fn args(a: &[&str]) -> Vec<std::ffi::OsString> {
        a.iter().map(|s| s.into()).collect()
    }

    #[test]
    fn the_flag_decides_before_parsing() {
        assert_eq!(
            early_choice(&args(&["blasfix", "--color", "never", "doctor", "--bogus"])),
            Some(false)
        );
        assert_eq!(
            early_choice(&args(&["blasfix", "doctor", "--color=always"])),
            Some(true)
        );
        assert_eq!(
            early_choice(&args(&["blasfix", "--color=always", "--color=never"])),
            Some(false)
        );
        // After `--` nothing is a flag: the answer is the environment's, never the flag's `always`.
        let env_only = early_choice(&args(&["blasfix"]));
        assert_eq!(
            early_choice(&args(&["blasfix", "pin", "--", "--color=always"])),
            env_only
        );
    }
}
