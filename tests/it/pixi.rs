//! `pixi blasfix`: the `pixi-blasfix` launcher, the workspace's environment by default (`-e`
//! names another), and `pin` defaulting to the workspace's manifest in pixi's table form.

use std::path::{Path, PathBuf};

use blasfix::testing::{CONDA_FORGE, PrefixBuilder, RecordSpec};

use crate::support::{blasfix, clean_env};

/// `pixi-blasfix` as built for this test run (it runs the `blasfix` beside it).
fn pixi_blasfix() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::from_std(crate::support::program_command(Path::new(env!(
        "CARGO_BIN_EXE_pixi-blasfix"
    ))));
    clean_env(&mut cmd);
    cmd
}

/// `pixi-blasfix` execs the `blasfix` beside it; under qemu-user without binfmt_misc (the
/// aarch64 stage of .ci/cross) that exec cannot run an aarch64 binary, so those tests skip there.
fn launcher_can_exec() -> bool {
    crate::support::runner().is_none()
        || crate::support::skip::<()>(
            crate::support::Need::Optional,
            "pixi-blasfix execs blasfix, which qemu-user cannot follow without binfmt_misc",
        )
        .is_some()
}

/// A pixi workspace with `manifest` (pixi.toml or pyproject.toml) and an installed
/// environment `env` (rattler-style records, as pixi writes them). The prefix is returned as
/// blasfix names it: `.pixi`, `envs` and `env` joined one at a time (backslashes on Windows).
fn workspace(dir: &Path, manifest: &str, text: &str, env: &str) -> PathBuf {
    std::fs::write(dir.join(manifest), text).unwrap();
    let mut b = PrefixBuilder::new(dir.join(".pixi").join("envs").join(env))
        .rattler_style()
        .python("3.12.3");
    for n in ["libblas", "libcblas", "liblapack"] {
        b = b.record(RecordSpec::new(n, "3.9.0", "20_linux64_openblas").channel(CONDA_FORGE));
    }
    b.record(RecordSpec::new("numpy", "2.0.1", "py312h1103770_0").channel(CONDA_FORGE))
        .build()
        .unwrap()
}

const PIXI_TOML: &str = "[workspace]\nname = \"demo\"\nchannels = [\"conda-forge\"]\nplatforms = [\"linux-64\"]\n\n[dependencies]\nnumpy = \">=2\"  # keep\n";

fn doctor_env(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice::<serde_json::Value>(&out).unwrap()["environment"].clone()
}

#[test]
fn pixi_blasfix_defaults_to_the_workspace_default_env_from_a_subdirectory() {
    if !launcher_can_exec() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = workspace(dir.path(), "pixi.toml", PIXI_TOML, "default");
    let sub = dir.path().join("src/pkg");
    std::fs::create_dir_all(&sub).unwrap();
    let env =
        doctor_env(
            pixi_blasfix()
                .current_dir(&sub)
                .args(["doctor", "--no-runtime", "--json"]),
        );
    assert_eq!(env["prefix"], prefix.to_str().unwrap());
    assert_eq!(env["kind"], "pixi");
    assert_eq!(env["name"], "default");
    let how = env["found_by"].as_str().unwrap();
    assert!(how.contains("pixi.toml"), "{how}");

    // Plain blasfix there does not look at the workspace (no CONDA_PREFIX, no -p).
    let out = blasfix()
        .current_dir(&sub)
        .env("PATH", "/nonexistent")
        .args(["doctor", "--no-runtime", "--json"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("no environment"));
}

#[test]
fn program_name_pixi_blasfix_is_enough() {
    // A symlink or copy named pixi-blasfix (pixi-blasfix.exe on Windows) behaves like the
    // launcher.
    let dir = tempfile::tempdir().unwrap();
    let prefix = workspace(dir.path(), "pixi.toml", PIXI_TOML, "default");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let built = Path::new(env!("CARGO_BIN_EXE_blasfix"));
    let link = bin.join(format!("pixi-blasfix{}", std::env::consts::EXE_SUFFIX));
    std::fs::copy(built, &link).unwrap();
    // Under Wine 8 (.ci/cross) a Rust program needs the test-only bcryptprimitives.dll shim
    // (ProcessPrng) that the runner puts beside the built binaries: the copy takes it along.
    // (Test setup only: blasfix itself ships no such file.)
    let shim = built.with_file_name("bcryptprimitives.dll");
    if cfg!(windows) && shim.is_file() {
        std::fs::copy(&shim, bin.join("bcryptprimitives.dll")).unwrap();
    }
    let mut cmd = assert_cmd::Command::from_std(crate::support::program_command(&link));
    clean_env(&mut cmd);
    let env = doctor_env(
        cmd.current_dir(dir.path())
            .args(["doctor", "--no-runtime", "--json"]),
    );
    assert_eq!(env["prefix"], prefix.to_str().unwrap());
}

#[test]
fn dash_e_and_active_pixi_shell_choose_the_environment() {
    if !launcher_can_exec() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), "pixi.toml", PIXI_TOML, "default");
    let cuda = workspace(dir.path(), "pixi.toml", PIXI_TOML, "cuda");
    for args in [["-e", "cuda"], ["--environment", "cuda"], ["-n", "cuda"]] {
        let env = doctor_env(
            pixi_blasfix()
                .current_dir(dir.path())
                .args(["doctor", "--no-runtime", "--json"])
                .args(args),
        );
        assert_eq!(env["prefix"], cuda.to_str().unwrap(), "{args:?}");
    }
    // Inside `pixi shell -e cuda` of this workspace.
    let env = doctor_env(
        pixi_blasfix()
            .current_dir(dir.path())
            .env("PIXI_PROJECT_ROOT", dir.path())
            .env("PIXI_ENVIRONMENT_NAME", "cuda")
            .args(["doctor", "--no-runtime", "--json"]),
    );
    assert_eq!(env["prefix"], cuda.to_str().unwrap());
    // ... but not the shell of another workspace.
    let other = tempfile::tempdir().unwrap();
    let env = doctor_env(
        pixi_blasfix()
            .current_dir(dir.path())
            .env("PIXI_PROJECT_ROOT", other.path())
            .env("PIXI_ENVIRONMENT_NAME", "cuda")
            .args(["doctor", "--no-runtime", "--json"]),
    );
    assert_eq!(env["name"], "default");
}

#[test]
fn missing_workspace_or_env_is_a_usage_error_naming_the_fix() {
    if !launcher_can_exec() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    pixi_blasfix()
        .current_dir(dir.path())
        .args(["doctor", "--no-runtime"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no pixi workspace at or above"));
    std::fs::write(dir.path().join("pixi.toml"), PIXI_TOML).unwrap();
    pixi_blasfix()
        .current_dir(dir.path())
        .args(["doctor", "--no-runtime", "-e", "gpu"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("run `pixi install -e gpu` first"));
    // A plain pyproject.toml is not a workspace.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(
        plain.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n",
    )
    .unwrap();
    pixi_blasfix()
        .current_dir(plain.path())
        .args(["pin", "--backend", "mkl", "--yes"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no pixi workspace"));
    assert_eq!(
        std::fs::read_to_string(plain.path().join("pyproject.toml")).unwrap(),
        "[project]\nname = \"x\"\n"
    );
}

#[test]
fn pin_defaults_to_the_manifest_in_table_form() {
    if !launcher_can_exec() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), "pixi.toml", PIXI_TOML, "default");
    let sub = dir.path().join("notebooks");
    std::fs::create_dir_all(&sub).unwrap();
    pixi_blasfix()
        .current_dir(&sub)
        .args(["pin", "--backend", "mkl", "--yes"])
        .assert()
        .success()
        .stderr(predicates::str::contains("using manifest"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pixi.toml")).unwrap(),
        PIXI_TOML.to_string() + "libblas = { version = \"*\", build = \"*mkl\" }\n"
    );

    // pyproject.toml with [tool.pixi]: the pin goes under [tool.pixi.dependencies].
    let dir = tempfile::tempdir().unwrap();
    let py = "[project]\nname = \"demo\"\n\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\nplatforms = [\"linux-64\"]\n";
    workspace(dir.path(), "pyproject.toml", py, "default");
    pixi_blasfix()
        .current_dir(dir.path())
        .args(["pin", "--backend", "mkl", "--yes"])
        .assert()
        .success();
    let out = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
    assert!(
        out.ends_with(
            "[tool.pixi.dependencies]\nlibblas = { version = \"*\", build = \"*mkl\" }\n"
        ),
        "{out}"
    );
}

#[test]
fn help_names_pixi_blasfix() {
    if !launcher_can_exec() {
        return;
    }
    pixi_blasfix()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicates::str::contains("Usage: pixi blasfix"));
}
