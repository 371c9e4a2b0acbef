//! Shipping: completions, man pages, `--version`, colour precedence, 80-column help.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Need, blasfix, program};

const SHELLS: &[&str] = &["bash", "zsh", "fish", "powershell", "elvish"];
const COMMANDS: &[&str] = &["doctor", "explain", "apply", "pin", "bench", "completions"];

fn stdout_of(args: &[&str]) -> String {
    let out = blasfix().args(args).assert().success().get_output().clone();
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

#[test]
fn completions_for_every_shell_name_every_command() {
    for shell in SHELLS {
        let script = stdout_of(&["completions", shell]);
        assert!(!script.trim().is_empty(), "{shell}: empty script");
        for sub in COMMANDS {
            assert!(script.contains(sub), "{shell}: no mention of {sub}");
        }
        // fish spells long options `-l json`, the others `--json`.
        for flag in ["json", "no-runtime", "color"] {
            assert!(script.contains(flag), "{shell}: no mention of {flag}");
        }
        assert!(!script.contains("generate-man"), "{shell}: hidden command");
    }
}

/// The script for `shell` is valid syntax for that shell (`bash -n`, `zsh -n`,
/// `fish --no-execute`); `.ci/run` installs zsh and fish.
fn completion_script_parses(shell: &str, check: &[&str]) {
    let Some(program) = program(shell, Need::Ci) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("blasfix.{shell}"));
    std::fs::write(&path, stdout_of(&["completions", shell])).expect("write script");
    let out = Command::new(&program)
        .args(check)
        .arg(&path)
        .output()
        .expect("run the shell");
    assert!(
        out.status.success(),
        "{} rejects the {shell} script: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completion_script_parses_in_bash() {
    completion_script_parses("bash", &["-n"]);
}

#[test]
fn completion_script_parses_in_zsh() {
    completion_script_parses("zsh", &["-n"]);
}

#[test]
fn completion_script_parses_in_fish() {
    completion_script_parses("fish", &["--no-execute"]);
}

/// Loading the bash script defines the completion function and registers it for `blasfix`.
#[test]
fn bash_completion_registers_and_completes_subcommands() {
    let Some(bash) = program("bash", Need::Ci) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("blasfix.bash");
    std::fs::write(&path, stdout_of(&["completions", "bash"])).expect("write script");
    let script = format!(
        "source '{}'\n\
         complete -p blasfix\n\
         COMP_WORDS=(blasfix do); COMP_CWORD=1; COMP_LINE='blasfix do'; COMP_POINT=10\n\
         _blasfix blasfix do blasfix\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        path.display()
    );
    let out = Command::new(bash)
        .args(["--norc", "--noprofile", "-c", &script])
        .output()
        .expect("run bash");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("blasfix"), "not registered: {text}");
    assert!(
        text.lines().any(|l| l == "doctor"),
        "`blasfix do<TAB>` does not offer doctor: {text}"
    );
}

#[test]
fn completions_for_an_unknown_shell_is_bad_usage() {
    blasfix()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("possible values"));
    blasfix().arg("completions").assert().code(2);
}

fn man_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man")
}

fn committed_pages(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut pages: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".1"))
                .map(|e| {
                    let bytes = std::fs::read(e.path()).expect("read man page");
                    (e.file_name().to_string_lossy().into_owned(), bytes)
                })
                .collect()
        })
        .unwrap_or_default();
    pages.sort_by(|a, b| a.0.cmp(&b.0));
    pages
}

/// The committed `man/*.1` are what the clap definitions generate. To update them after a
/// change to `src/cli.rs`: `BLASFIX_UPDATE_MAN=1 cargo test --test it ship::man_pages`, then
/// commit `man/`. `write_pages` replaces each page by a rename, so the tests that read the
/// pages meanwhile (`man_pages_render_with_man`) see whole pages.
#[test]
fn man_pages_are_up_to_date() {
    let dir = man_dir();
    let generated = blasfix::commands::man::pages();
    if std::env::var_os("BLASFIX_UPDATE_MAN").is_some_and(|v| !v.is_empty()) {
        blasfix::commands::man::write_pages(&dir).expect("write man pages");
        eprintln!("note: rewrote {}", dir.display());
    }
    let committed = committed_pages(&dir);
    let names = |p: &[(String, Vec<u8>)]| p.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "man/ has other pages than the CLI defines; run BLASFIX_UPDATE_MAN=1 cargo test --test it \
         ship::man_pages and commit man/"
    );
    for ((name, old), (_, new)) in committed.iter().zip(&generated) {
        assert!(
            old == new,
            "man/{name} is stale; run BLASFIX_UPDATE_MAN=1 cargo test --test it ship::man_pages and \
             commit man/"
        );
    }
}

#[test]
fn man_pages_render_with_man() {
    let Some(man) = program("man", Need::Ci) else {
        return;
    };
    let out = Command::new(man)
        .arg("-l")
        .arg(man_dir().join("blasfix-doctor.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .expect("run man");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("--no-runtime"), "{text}");
}

#[test]
fn write_pages_into_a_file_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("write file");
    let err = blasfix::commands::man::write_pages(&file).expect_err("a file is not a directory");
    assert!(format!("{err:#}").contains("not-a-dir"), "{err:#}");
}

#[cfg(unix)]
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

/// From a checkout: `blasfix 0.1.0 (<commit>)`; from a tarball (no checkout, or the sources
/// sitting inside someone else's repository): `blasfix 0.1.0`. `.ci/ship` checks the tarball
/// case for real by building the wheel from the sdist.
// The expectation asks git, which a Windows test process under Wine cannot run.
#[cfg(unix)]
#[test]
fn version_names_the_commit_only_in_a_checkout() {
    let version = env!("CARGO_PKG_VERSION");
    let text = stdout_of(&["--version"]);
    let line = text.trim_end();
    let in_checkout = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
        Path::new(&top).canonicalize().ok()
            == Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().ok()
    });
    let expected = match std::env::var("BLASFIX_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => format!("blasfix {version} ({})", c.trim()),
        _ if in_checkout => {
            let commit = git(&["rev-parse", "--short=9", "HEAD"]).expect("HEAD");
            format!("blasfix {version} ({commit})")
        }
        _ => format!("blasfix {version}"),
    };
    assert_eq!(line, expected);
    // Subcommands report the same version.
    assert_eq!(
        stdout_of(&["doctor", "--version"]).trim_end(),
        expected.replacen("blasfix", "blasfix-doctor", 1)
    );
}

/// Every help screen fits 80 columns whatever the terminal says.
#[test]
fn help_fits_80_columns() {
    for sub in [
        &[][..],
        &["doctor"],
        &["explain"],
        &["apply"],
        &["pin"],
        &["bench"],
        &["completions"],
    ] {
        let mut args: Vec<&str> = sub.to_vec();
        args.push("--help");
        let out = blasfix()
            .args(&args)
            .env("COLUMNS", "200")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        for line in String::from_utf8_lossy(&out).lines() {
            assert!(
                line.chars().count() <= 80,
                "`blasfix {}` has a line over 80 columns: {line:?}",
                args.join(" ")
            );
        }
    }
}

/// Colour precedence (as uv): `--color` > NO_COLOR > FORCE_COLOR/CLICOLOR_FORCE > terminal.
/// Checked on the error message of a missing prefix, on stderr (a pipe here, never a
/// terminal; the terminal leg is in `colour_on_a_terminal` below).
#[test]
fn colour_precedence_without_a_terminal() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        // Flag beats everything.
        (&["--color", "always"], &[("NO_COLOR", "1")], true),
        (&["--color", "never"], &[("FORCE_COLOR", "1")], false),
        (&["--color", "never"], &[("CLICOLOR_FORCE", "1")], false),
        // NO_COLOR beats FORCE_COLOR and CLICOLOR_FORCE.
        (&[], &[("NO_COLOR", "1"), ("FORCE_COLOR", "1")], false),
        (&[], &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")], false),
        (
            &["--color", "auto"],
            &[("NO_COLOR", "1"), ("FORCE_COLOR", "1")],
            false,
        ),
        // FORCE_COLOR or CLICOLOR_FORCE beat "not a terminal".
        (&[], &[("FORCE_COLOR", "1")], true),
        (&[], &[("CLICOLOR_FORCE", "1")], true),
        // Empty values count as unset (as uv and no-color.org say).
        (&[], &[("NO_COLOR", ""), ("FORCE_COLOR", "1")], true),
        (&[], &[("FORCE_COLOR", "")], false),
        // Nothing set, not a terminal: plain.
        (&[], &[], false),
    ];
    for (flags, env, want) in cases {
        let mut cmd = blasfix();
        cmd.env_remove("NO_COLOR");
        for (k, v) in *env {
            cmd.env(k, v);
        }
        let out = cmd
            .args(*flags)
            .args(["doctor", "-p", "/nonexistent/blasfix-colour-test"])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("error:"), "{stderr}");
        assert_eq!(
            stderr.contains('\x1b'),
            *want,
            "flags {flags:?} env {env:?}: {stderr:?}"
        );
    }
}

/// The last leg: on a terminal, colour unless NO_COLOR or `--color never`.
#[cfg(unix)]
#[test]
fn colour_on_a_terminal() {
    let run = |flags: &[&str], no_color: bool| -> String {
        let mut cmd = crate::support::blasfix_command();
        cmd.env("TERM", "xterm")
            .env("HOME", crate::support::empty_home())
            .env_remove("FORCE_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("NO_COLOR")
            .args(flags)
            .args(["doctor", "-p", "/nonexistent/blasfix-colour-test"]);
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn on a pty");
        p.exp_eof().expect("exit")
    };
    assert!(
        run(&[], false).contains("\x1b["),
        "auto on a terminal colours"
    );
    assert!(
        !run(&[], true).contains("\x1b["),
        "NO_COLOR beats the terminal"
    );
    assert!(!run(&["--color", "never"], false).contains("\x1b["));
}

fn crate_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The conda recipe is YAML, carries Cargo.toml's version and tests what the issue asks.
#[test]
fn conda_recipe_matches_the_crate() {
    let recipe: serde_yaml::Value =
        serde_yaml::from_str(&crate_file("recipe/recipe.yaml")).expect("recipe.yaml is YAML");
    assert_eq!(recipe["schema_version"].as_u64(), Some(1));
    assert_eq!(
        recipe["context"]["version"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "recipe/recipe.yaml version differs from Cargo.toml"
    );
    let script: Vec<&str> = recipe["tests"][0]["script"]
        .as_sequence()
        .expect("tests[0].script")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(script.contains(&"blasfix --version"), "{script:?}");
    assert!(
        script.contains(&"blasfix doctor --no-runtime --json"),
        "{script:?}"
    );
}

/// pyproject.toml builds the binary as a wheel script with maturin, version from Cargo.toml.
#[test]
fn pyproject_packages_the_binary_with_maturin() {
    let doc: toml_edit::DocumentMut = crate_file("pyproject.toml").parse().expect("TOML");
    assert_eq!(
        doc["build-system"]["build-backend"].as_str(),
        Some("maturin")
    );
    assert_eq!(doc["tool"]["maturin"]["bindings"].as_str(), Some("bin"));
    assert_eq!(
        doc["project"]["name"].as_str(),
        Some(env!("CARGO_PKG_NAME"))
    );
    let dynamic = doc["project"]["dynamic"].as_array().expect("dynamic");
    assert!(dynamic.iter().any(|v| v.as_str() == Some("version")));
}
