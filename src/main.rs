//! Entry point: everything lives in the library so tests and the binary share it.
fn main() -> std::process::ExitCode {
    blasfix::run(std::env::args_os())
}
