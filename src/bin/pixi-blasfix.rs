//! `pixi-blasfix`: what `pixi blasfix` runs (pixi 0.49+ runs any `pixi-NAME` on PATH as
//! `pixi NAME`). A few lines of std, so the wheel and `cargo install` do not carry a second copy
//! of blasfix: it runs the `blasfix` installed beside it with `BLASFIX_INVOKED_AS=pixi`, which
//! makes the environment and the manifest default to the pixi workspace's.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(p) => p.with_file_name(format!("blasfix{}", std::env::consts::EXE_SUFFIX)),
        Err(e) => {
            eprintln!("error: pixi-blasfix cannot tell where it is installed: {e}");
            return ExitCode::from(2);
        }
    };
    let mut cmd = Command::new(&exe);
    cmd.args(std::env::args_os().skip(1))
        .env("BLASFIX_INVOKED_AS", "pixi");
    #[cfg(unix)]
    let err = {
        use std::os::unix::process::CommandExt;
        cmd.exec()
    };
    #[cfg(not(unix))]
    let err = match cmd.status() {
        Ok(status) => {
            return ExitCode::from(
                status
                    .code()
                    .and_then(|c| u8::try_from(c).ok())
                    .unwrap_or(1),
            );
        }
        Err(e) => e,
    };
    eprintln!(
        "error: pixi-blasfix cannot run {}: {err}\nhint: pixi-blasfix runs the blasfix installed beside it; reinstall both (`pip install blasfix`, `cargo install blasfix`)",
        exe.display()
    );
    ExitCode::from(2)
}
