//! `blasfix ps` against real workloads from the heavy directory's `venv-sci` (NumPy, SciPy,
//! scikit-learn, joblib and threadpoolctl from PyPI), compared with what really happens:
//! each target asks threadpoolctl for its own pools and writes the answer into its ready file.
//! Skipped unless `BLASFIX_HEAVY_DIR` is set (tests/heavy/run.sh sets it).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use crate::ps::{Target, assert_valid, process, ps_json};
use crate::support::heavy_dir;

fn sci_python(h: &Path) -> PathBuf {
    let p = h.join("venv-sci/bin/python");
    assert!(
        p.exists(),
        "{} missing: the heavy directory is incomplete (run tests/heavy/run.sh)",
        p.display()
    );
    p
}

/// What threadpoolctl says in the target: (internal_api, num_threads, real path) per library.
type Truth = Vec<(String, u64, String)>;

fn truth(text: &str) -> Truth {
    let v: Value = serde_json::from_str(text).expect("threadpoolctl JSON");
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["internal_api"].as_str().unwrap().to_string(),
                x["num_threads"].as_u64().unwrap(),
                x["filepath"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The pool `ps` reports for a library file.
fn pool<'a>(p: &'a Value, path: &str) -> &'a Value {
    p["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == path)
        .unwrap_or_else(|| panic!("no pool for {path} in {p:#}"))
}

fn has_finding(doc: &Value, id: &str) -> bool {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == id)
}

fn cpus() -> usize {
    blasfix::facts::cpu::detect().usable_cpus
}

/// Workers that run GEMMs, started with multiprocessing's fork: `setup` runs in each worker
/// before its first GEMM; each writes threadpoolctl's view, then computes until killed.
fn gemm_workers(setup: &str) -> String {
    format!(
        r#"
import json, multiprocessing as mp
def work(i):
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits
{setup}
    a = np.random.rand(400, 400)
    a @ a
    info = [dict(internal_api=x["internal_api"], num_threads=x["num_threads"],
                 filepath=os.path.realpath(x["filepath"])) for x in threadpool_info()]
    ready("worker-%d" % os.getpid(), json.dumps(info))
    while True:
        a @ a
if __name__ == "__main__":
    watch_stdin()
    procs = [mp.get_context("fork").Process(target=work, args=(i,)) for i in range(2)]
    for p in procs:
        p.start()
    ready("pids", json.dumps([p.pid for p in procs]))
    for p in procs:
        p.join()
"#
    )
}

fn worker_truths(t: &mut Target) -> Vec<(u32, Truth)> {
    let pids: Vec<u32> = serde_json::from_str(&t.wait_ready("pids")).unwrap();
    pids.iter()
        .map(|pid| (*pid, truth(&t.wait_ready(&format!("worker-{pid}")))))
        .collect()
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_ps_gemm_workers_with_default_pools_then_with_limits() {
    let Some(h) = heavy_dir() else { return };
    let py = sci_python(&h);
    let usable = cpus();
    // (name, variables, in-worker setup)
    let limit = (usable / 2).max(1);
    let limited = format!("    threadpool_limits({limit})");
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&str, Vars, &str); 3] = [
        ("default pools", &[], ""),
        (
            "OPENBLAS_NUM_THREADS=1 exported",
            &[("OPENBLAS_NUM_THREADS", "1")],
            "",
        ),
        ("threadpool_limits in each worker", &[], &limited),
    ];
    for (name, env, setup) in cases {
        let mut t = Target::start(&py, &gemm_workers(setup), env);
        let workers = worker_truths(&mut t);
        let doc = ps_json(&["--interval", "1", &t.pid().to_string()]);
        let mut demand = 0;
        let mut largest = 0;
        for (pid, tp) in &workers {
            let p = process(&doc, *pid);
            assert_eq!(p["role"], "fork-worker", "{name}");
            let (api, n, path) = tp
                .iter()
                .find(|x| x.0 == "openblas")
                .expect("threadpoolctl sees OpenBLAS");
            assert_eq!(api, "openblas");
            let lib = p["libraries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| &l["path"] == path)
                .unwrap_or_else(|| panic!("{name}: {path} not among {p:#}"));
            assert_eq!(lib["implementation"], "openblas");
            assert_eq!(lib["threading_layer"], "pthreads");
            let x = pool(p, path);
            assert_eq!(
                x["threads"].as_u64(),
                Some(*n),
                "{name}: ps says {x:#}, threadpoolctl says {n}"
            );
            demand += n;
            largest = largest.max(*n as usize);
        }
        // Smaller pools help only when one is above the budget of max(1, usable // workers).
        let over = has_finding(&doc, "pools-oversubscribed");
        let budget = (usable / 2).max(1);
        assert_eq!(
            over,
            demand as usize > usable && largest > budget,
            "{name}: {doc:#}"
        );
        if over {
            let f = doc["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["id"] == "pools-oversubscribed")
                .unwrap();
            let k = (usable / 2).max(1);
            assert!(
                f["fix"].as_str().unwrap().starts_with(&format!(
                    "export OMP_NUM_THREADS={k} OPENBLAS_NUM_THREADS={k} MKL_NUM_THREADS={k}"
                )),
                "{name}: {f:#}"
            );
            assert!(
                f["detail"]
                    .as_str()
                    .unwrap()
                    .contains("multiprocessing sets no thread limits")
            );
        }
    }
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_ps_workers_pinned_to_one_cpu_overlap() {
    let Some(h) = heavy_dir() else { return };
    if cpus() < 2 {
        crate::support::skip::<()>(
            crate::support::Need::Optional,
            "pinning two workers to one CPU needs a machine with two or more",
        );
        return;
    }
    let py = sci_python(&h);
    let mut t = Target::start(&py, &gemm_workers("    os.sched_setaffinity(0, {0})"), &[]);
    let workers = worker_truths(&mut t);
    let doc = ps_json(&["--interval", "1", &t.pid().to_string()]);
    for (pid, _) in &workers {
        assert_eq!(process(&doc, *pid)["affinity"], serde_json::json!([0]));
    }
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "affinity-overlap")
        .unwrap_or_else(|| panic!("no affinity-overlap in {doc:#}"));
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("2 processes are pinned to the same CPU(s) 0"),
        "{f:#}"
    );
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_ps_scikit_learn_libgomp_beside_openblas() {
    let Some(h) = heavy_dir() else { return };
    let py = sci_python(&h);
    let script = r#"
import json
import numpy as np, scipy.linalg
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_info
X = np.random.rand(4000, 8)
KMeans(n_clusters=4, n_init=1).fit(X)
a = np.random.rand(300, 300)
a @ a
scipy.linalg.lu(a)
watch_stdin()
info = [dict(internal_api=x["internal_api"], num_threads=x["num_threads"],
             filepath=os.path.realpath(x["filepath"])) for x in threadpool_info()]
ready("ready", json.dumps(info))
while True:
    time.sleep(1)
"#;
    let mut t = Target::start(&py, script, &[]);
    let tp = truth(&t.wait_ready("ready"));
    let doc = ps_json(&["--interval", "0.5", &t.pid().to_string()]);
    let p = process(&doc, t.pid());
    let libs = p["libraries"].as_array().unwrap();
    // Everything threadpoolctl lists is mapped and named, with the size threadpoolctl reports.
    for (api, n, path) in &tp {
        let lib = libs
            .iter()
            .find(|l| &l["path"] == path)
            .unwrap_or_else(|| panic!("{path} ({api}) not among {p:#}"));
        let (implementation, kind) = match api.as_str() {
            "openmp" => ("libgomp", "openmp"),
            "openblas" => ("openblas", "blas"),
            other => panic!("unexpected library {other}"),
        };
        assert_eq!(lib["implementation"], implementation, "{path}");
        assert_eq!(lib["kind"], kind, "{path}");
        let x = pool(p, path);
        assert_eq!(
            x["inferred"].as_u64(),
            Some(*n),
            "the rule for {path}: {x:#}"
        );
        if x["observed"] == true {
            assert_eq!(x["threads"].as_u64(), Some(*n), "observed {path}: {x:#}");
        }
    }
    // NumPy's and SciPy's own OpenBLAS, and scikit-learn's libgomp.
    let count = |imp: &str| libs.iter().filter(|l| l["implementation"] == imp).count();
    assert_eq!(count("openblas"), 2, "{p:#}");
    assert_eq!(count("libgomp"), 1, "{p:#}");
    assert!(
        !has_finding(&doc, "openmp-duplicate"),
        "one OpenMP runtime: {doc:#}"
    );
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_ps_joblib_loky_workers_get_limits() {
    let Some(h) = heavy_dir() else { return };
    let py = sci_python(&h);
    let script = r#"
import json
from joblib import Parallel, delayed
def task(i):
    import numpy as np
    from threadpoolctl import threadpool_info
    a = np.random.rand(300, 300)
    a @ a
    info = [dict(internal_api=x["internal_api"], num_threads=x["num_threads"],
                 filepath=os.path.realpath(x["filepath"])) for x in threadpool_info()]
    ready("worker-%d" % os.getpid(), json.dumps(info))
    while not os.path.exists(os.path.join(READY, "done")):
        time.sleep(0.05)
    return os.getpid()
if __name__ == "__main__":
    watch_stdin()
    from joblib.externals.loky import cpu_count
    ready("cpus", str(cpu_count()))
    Parallel(n_jobs=2)(delayed(task)(i) for i in range(2))
    while True:
        time.sleep(1)
"#;
    let mut t = Target::start(&py, script, &[]);
    let loky_cpus: usize = t.wait_ready("cpus").trim().parse().unwrap();
    let want = (loky_cpus / 2).max(1).to_string();
    // Two workers, each ready once its task runs.
    let ready = |t: &Target| -> Vec<u32> {
        std::fs::read_dir(t.dir.path())
            .unwrap()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("worker-")?
                    .parse()
                    .ok()
            })
            .collect()
    };
    let t0 = std::time::Instant::now();
    let mut pids = ready(&t);
    while pids.len() < 2 {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(120),
            "the loky workers did not start in two minutes"
        );
        assert!(t.child.try_wait().unwrap().is_none(), "the target exited");
        std::thread::sleep(std::time::Duration::from_millis(20));
        pids = ready(&t);
    }
    let doc = ps_json(&["--interval", "0.5", &t.pid().to_string()]);
    std::fs::write(t.dir.path().join("done"), "").unwrap();
    assert_eq!(doc["trees"][0]["launcher"], "loky", "{doc:#}");
    for pid in pids {
        let tp = truth(&t.wait_ready(&format!("worker-{pid}")));
        let p = process(&doc, pid);
        assert_eq!(p["role"], "loky-worker");
        for var in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"] {
            assert_eq!(p["env"][var], want.as_str(), "loky sets {var}: {p:#}");
        }
        let (_, n, path) = tp.iter().find(|x| x.0 == "openblas").unwrap();
        assert_eq!(pool(p, path)["threads"].as_u64(), Some(*n), "{p:#}");
    }
}

/// `ps -- CMD` on a real pool: the report (on --output) comes when CMD exits and holds the
/// busiest window, with the workers that are gone by then. The test lets CMD finish only
/// after `-v` has announced two windows since the workers were ready.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_ps_command_mode_reports_the_busiest_window() {
    let Some(h) = heavy_dir() else { return };
    let py = sci_python(&h);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("train.py");
    std::fs::write(
        &script,
        r#"
import os, sys, time, multiprocessing as mp
D = sys.argv[1]
def work(i):
    import numpy as np
    a = np.random.rand(400, 400)
    a @ a
    open(os.path.join(D, "worker-%d" % i), "w").close()
    while not os.path.exists(os.path.join(D, "stop")):
        a @ a
if __name__ == "__main__":
    procs = [mp.get_context("fork").Process(target=work, args=(i,)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print("trained")
"#,
    )
    .unwrap();
    let report = dir.path().join("report.json");
    let mut ps = crate::support::blasfix_command()
        .args(["ps", "-v", "--json", "--interval", "0.5", "--output"])
        .arg(&report)
        .arg("--")
        .arg(&py)
        .arg(&script)
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = BufReader::new(ps.stderr.take().unwrap());
    let mut after_ready = 0;
    for line in err.lines() {
        let line = line.unwrap();
        let ready = (0..2).all(|i| dir.path().join(format!("worker-{i}")).exists());
        if ready && line.starts_with("window ") {
            after_ready += 1;
            if after_ready == 2 {
                std::fs::write(dir.path().join("stop"), "").unwrap();
                break;
            }
        }
    }
    let out = ps.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "trained\n");
    let doc: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_valid(&doc, "ps -- CMD on a real pool");
    let workers: Vec<&Value> = doc["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["role"] == "fork-worker")
        .collect();
    assert_eq!(workers.len(), 2, "{doc:#}");
    for w in workers {
        assert!(
            w["libraries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["implementation"] == "openblas"),
            "{w:#}"
        );
    }
}

/// A trainer whose environment workers are started the way Stable-Baselines3's SubprocVecEnv
/// starts them (multiprocessing's fork server) and step with NumPy; `extra` is the environment
/// it is started with. Returns the target once every worker has run its first GEMM.
fn trainer(py: &Path, env: &[(&str, &str)]) -> (Target, Vec<u32>) {
    let script = r#"
import json, multiprocessing as mp
import numpy as np
def env_worker(i):
    a = np.random.rand(400, 400)
    a @ a
    ready("worker-%d" % os.getpid())
    while True:
        a @ a
if __name__ == "__main__":
    watch_stdin()
    ctx = mp.get_context("forkserver")
    procs = [ctx.Process(target=env_worker, args=(i,), daemon=True) for i in range(4)]
    for p in procs:
        p.start()
    ready("pids", json.dumps([p.pid for p in procs]))
    for p in procs:
        p.join()
"#;
    let mut t = Target::start_named(py, "train.py", script, env);
    let pids: Vec<u32> = serde_json::from_str(&t.wait_ready("pids")).unwrap();
    for pid in &pids {
        t.wait_ready(&format!("worker-{pid}"));
    }
    (t, pids)
}

/// README "My GPU is idle and all cores are busy": real `ps` output before and after the fix.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_readme_ps_outputs_are_current() {
    use crate::readme::{Block, check};
    let Some(h) = heavy_dir() else { return };
    let py = sci_python(&h);
    let run = |pid: u32| -> String {
        let out = crate::support::blasfix()
            .args(["ps", "--interval", "2"])
            .arg(pid.to_string())
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let mut blocks = Vec::new();
    let (t, _) = trainer(&py, &[]);
    blocks.push(Block {
        name: "ps-gpu-idle-before",
        command: "blasfix ps $(pgrep -of train.py)".into(),
        output: run(t.pid()),
        vendor: None,
    });
    drop(t);
    let one = [
        ("OMP_NUM_THREADS", "1"),
        ("OPENBLAS_NUM_THREADS", "1"),
        ("MKL_NUM_THREADS", "1"),
    ];
    let (t, _) = trainer(&py, &one);
    blocks.push(Block {
        name: "ps-gpu-idle-after",
        command: "blasfix ps $(pgrep -of train.py)".into(),
        output: run(t.pid()),
        vendor: None,
    });
    drop(t);
    check(&blocks);
}

/// MKL (the PyPI wheel, with Intel OpenMP) and scikit-learn's GNU OpenMP in one process, and
/// Debian's reference BLAS: the libraries as they are, and the findings they call for.
#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_ps_two_openmp_runtimes_mkl_and_the_reference_blas() {
    let Some(h) = heavy_dir() else { return };
    let py = sci_python(&h);
    let netlib = Path::new("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3");
    assert!(
        netlib.exists(),
        "{} missing: tests/heavy/run.sh installs Debian's python3-numpy, which brings libblas3",
        netlib.display()
    );
    let script = format!(
        r#"
import ctypes, glob
mkl = sorted(glob.glob(os.path.join({lib:?}, "libmkl_rt.so*")))[0]
ctypes.CDLL(mkl).MKL_Get_Max_Threads()  # loads MKL's threading layer and libiomp5
import sklearn.cluster                   # scikit-learn's own libgomp
ctypes.CDLL({netlib:?})
watch_stdin()
ready()
while True:
    time.sleep(1)
"#,
        lib = h.join("mkl-venv/lib").display().to_string(),
        netlib = netlib.display().to_string(),
    );
    let mut t = Target::start(&py, &script, &[]);
    t.wait_ready("ready");
    let doc = ps_json(&["--interval", "0.3", &t.pid().to_string()]);
    let p = process(&doc, t.pid());
    let lib = |imp: &str| {
        p["libraries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["implementation"] == imp)
            .unwrap_or_else(|| panic!("no {imp} in {p:#}"))
    };
    assert_eq!(lib("mkl")["threading_layer"], "intel");
    assert!(
        lib("mkl")["version"].is_string(),
        "from the wheel's dist-info"
    );
    assert_eq!(lib("libiomp")["kind"], "openmp");
    assert_eq!(lib("libgomp")["kind"], "openmp");
    assert_eq!(lib("netlib")["kind"], "blas");
    let finding = |id: &str| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .cloned()
    };
    let omp = finding("openmp-duplicate").expect("two OpenMP runtimes");
    assert_eq!(omp["severity"], "warning");
    assert!(
        omp["fix"]
            .as_str()
            .unwrap()
            .starts_with("export MKL_THREADING_LAYER=GNU")
    );
    let rb = finding("reference-blas").expect("reference BLAS");
    assert!(rb["fix"].as_str().unwrap().contains("update-alternatives"));
    let non_intel = matches!(
        blasfix::facts::cpu::detect().vendor_family,
        blasfix::facts::cpu::VendorFamily::Amd
            | blasfix::facts::cpu::VendorFamily::Hygon
            | blasfix::facts::cpu::VendorFamily::Zhaoxin
    );
    assert_eq!(finding("mkl-on-non-intel").is_some(), non_intel, "{doc:#}");
}
