use crate::support::blasfix;

#[test]
fn version_and_help() {
    blasfix()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicates::str::starts_with("blasfix "));
    blasfix()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicates::str::contains("Exit codes"));
}

#[test]
fn bad_usage_exits_2() {
    blasfix().arg("--no-such-flag").assert().code(2);
}
