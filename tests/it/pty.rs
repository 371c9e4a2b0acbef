//! The interactive confirmation on a real pseudo-terminal (dialoguer reads one key in raw mode
//! after hiding the cursor; see the recipe in crates-and-cli.md §4).
#![cfg(unix)]

use crate::apply::{Fixture, fixture, snapshot};

fn session(f: &Fixture) -> rexpect::session::PtySession {
    let mut cmd = crate::support::blasfix_command();
    cmd.env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env("CONDA_EXE", &f.fake)
        .env("FAKE_LOG", &f.log)
        .env("FAKE_MODE", "ok")
        .env_remove("CONDA_PREFIX")
        .env_remove("MAMBA_EXE")
        .current_dir(&f.root)
        .args(["apply", "--frontend", "conda", "--backend", "mkl", "-p"])
        .arg(&f.prefix);
    rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn blasfix on a pty")
}

fn answer(p: &mut rexpect::session::PtySession, key: &str) {
    p.exp_string("to Intel MKL?").expect("the question");
    p.exp_string("\x1b[?25l").expect("raw mode (cursor hidden)");
    std::thread::sleep(std::time::Duration::from_millis(100));
    p.send(key).expect("send key");
    p.flush().expect("flush");
}

/// The exit code, read from nix's `WaitStatus` (which rexpect does not re-export).
fn exit_code(p: &rexpect::session::PtySession) -> Option<i32> {
    let status = format!("{:?}", p.process().wait().ok()?);
    let inner = status.strip_prefix("Exited(")?.strip_suffix(')')?;
    inner.rsplit(", ").next()?.parse().ok()
}

#[test]
fn answer_no_changes_nothing() {
    let f = fixture(Some("libblas=*=*openblas\n"));
    let before = snapshot(&f.prefix);
    let mut p = session(&f);
    answer(&mut p, "n");
    p.exp_string("Nothing changed").expect("declined message");
    p.exp_eof().expect("exit");
    assert_eq!(exit_code(&p), Some(0));
    assert_eq!(snapshot(&f.prefix), before);
    assert_eq!(f.argv_log().len(), 1, "only the preview ran");
}

#[test]
fn answer_yes_applies() {
    let f = fixture(None);
    let mut p = session(&f);
    answer(&mut p, "y");
    p.exp_string("Switched").expect("success message");
    p.exp_eof().expect("exit");
    assert_eq!(exit_code(&p), Some(0));
    assert!(
        f.prefix
            .join("conda-meta/libblas-3.9.0-20_linux64_mkl.json")
            .is_file()
    );
    assert_eq!(f.pinned().as_deref(), Some("libblas=*=*mkl\n"));
}

#[test]
fn ctrl_c_during_install_restores_pinned() {
    let f = fixture(Some("python 3.12.*\nlibblas=*=*openblas\n"));
    let before = snapshot(&f.prefix);
    let mut cmd = crate::support::blasfix_command();
    cmd.env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env("CONDA_EXE", &f.fake)
        .env("FAKE_LOG", &f.log)
        .env("FAKE_MODE", "hang-install")
        .env_remove("CONDA_PREFIX")
        .current_dir(&f.root)
        .args([
            "apply",
            "--frontend",
            "conda",
            "--backend",
            "mkl",
            "--yes",
            "-v",
            "-p",
        ])
        .arg(&f.prefix);
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn");
    // -v echoes the frontend's lines: once this one shows, pinned has been rewritten.
    p.exp_string("| Solving environment")
        .expect("install running");
    assert_ne!(
        std::fs::read(f.prefix.join("conda-meta/pinned")).ok(),
        before
            .get(std::path::Path::new("conda-meta/pinned"))
            .cloned()
    );
    p.send_control('c').expect("ctrl-c");
    p.exp_string("interrupted").expect("interrupted message");
    p.exp_eof().expect("exit");
    assert_eq!(exit_code(&p), Some(3));
    assert_eq!(snapshot(&f.prefix), before);
}

#[test]
fn offers_to_pin_the_environment_yml_that_names_the_env() {
    let f = fixture(None);
    let yml = f.root.join("environment.yml");
    let text = "name: \"my env $HOME;&'x\"\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.12\n  - numpy  # the array library\n";
    std::fs::write(&yml, text).unwrap();
    let mut p = session(&f);
    answer(&mut p, "y");
    p.exp_string("Switched").expect("success message");
    p.exp_string("there too?").expect("the pin offer");
    p.exp_string("\x1b[?25l").expect("raw mode (cursor hidden)");
    std::thread::sleep(std::time::Duration::from_millis(100));
    p.send("y").expect("send key");
    p.flush().expect("flush");
    p.exp_string("wrote").expect("written");
    p.exp_eof().expect("exit");
    assert_eq!(exit_code(&p), Some(0));
    let after = std::fs::read_to_string(&yml).unwrap();
    assert_eq!(
        after,
        "name: \"my env $HOME;&'x\"\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.12\n  - numpy  # the array library\n  - libblas=*=*mkl\n"
    );
    assert_eq!(
        std::fs::read_to_string(f.root.join("environment.yml.bak")).unwrap(),
        text
    );
}
