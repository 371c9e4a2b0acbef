//! Rules over a running workload (pure): who each process is (its role, from its command line,
//! thread names and launch variables), how large each of its thread pools is (observed from its
//! threads where they can be attributed, otherwise inferred from the library's documented rule),
//! what the whole tree adds up to, and the findings, each with the fix for its launcher.
//!
//! How pool threads are attributed (see README "How `ps` counts pool threads"): OpenBLAS,
//! libgomp, Intel and LLVM OpenMP do not name their threads, so a pool thread is an *anonymous*
//! thread (its name is the process's own). Anonymous threads other than the main thread are
//! grouped into bursts (consecutive thread ids started within one clock tick: a runtime creates
//! its pool in one loop). A burst of exactly `N - 1` threads, where the library's rule predicts
//! a pool of `N`, is that pool, observed. A single pool library with a single burst of another
//! size is observed with the burst's size (its limit was changed at run time, or Python threads
//! started in the same tick: said so). Anything else stays inferred from the rule. Per-thread
//! CPU time over the window tells which attributed threads were busy.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::diagnose::finding::{Finding, Severity};
use crate::facts::cpu::{CpuFacts, VendorFamily};
use crate::facts::process::{
    CgroupCpu, CpuSet, LibImpl, LibKind, MappedLib, ProcessSample, Snapshot, ThreadSample,
    Unreadable,
};
use crate::facts::snapshot::EnvSnapshot;

/// A thread that used at least this share of one CPU over the window counts as busy; so does
/// one that used some CPU and is runnable at the end of the window (on a crowded machine a
/// computing thread gets less than its share).
pub const BUSY_PERCENT: f64 = 10.0;

/// Whether a thread was busy over the window (see [`BUSY_PERCENT`]).
pub fn is_busy(cpu_percent: f64, state: char) -> bool {
    cpu_percent >= BUSY_PERCENT || (state == 'R' && cpu_percent > 0.0)
}

// ------------------------------------------------------------------------------------------
// Roles

/// What a process is in its tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A Python program not started by one of the launchers below.
    Main,
    /// A `fork()`ed copy of a Python parent (multiprocessing's fork start method: Pool,
    /// ProcessPoolExecutor, and PyTorch DataLoader workers before they name themselves).
    ForkWorker,
    /// multiprocessing's spawn start method (`spawn_main ... --multiprocessing-fork`).
    SpawnWorker,
    /// multiprocessing's fork server.
    Forkserver,
    /// A worker forked by the fork server (Stable-Baselines3 SubprocVecEnv's default).
    ForkserverWorker,
    /// multiprocessing's or loky's resource tracker.
    ResourceTracker,
    /// joblib/loky worker (`popen_loky_posix`).
    LokyWorker,
    /// PyTorch DataLoader worker (its main thread is named `pt_data_worker`).
    DataloaderWorker,
    /// torchrun / torch.distributed.run itself.
    Torchrun,
    /// A worker started by torchrun (`TORCHELASTIC_RUN_ID`, `LOCAL_RANK` in its environment).
    TorchrunWorker,
    /// Ray worker (`ray::IDLE`, `ray::task()` process titles).
    RayWorker,
    /// Dask worker or nanny (`dask worker [...]` process titles).
    DaskWorker,
    /// vLLM worker or engine (`VLLM::...` process titles).
    VllmWorker,
    /// Not Python, not a known launcher.
    Other,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::ForkWorker => "fork-worker",
            Role::SpawnWorker => "spawn-worker",
            Role::Forkserver => "forkserver",
            Role::ForkserverWorker => "forkserver-worker",
            Role::ResourceTracker => "resource-tracker",
            Role::LokyWorker => "loky-worker",
            Role::DataloaderWorker => "dataloader-worker",
            Role::Torchrun => "torchrun",
            Role::TorchrunWorker => "torchrun-worker",
            Role::RayWorker => "ray-worker",
            Role::DaskWorker => "dask-worker",
            Role::VllmWorker => "vllm-worker",
            Role::Other => "other",
        }
    }
    /// A short label for the table (13 columns at most).
    pub fn label(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::ForkWorker => "fork worker",
            Role::SpawnWorker => "spawn worker",
            Role::Forkserver => "forkserver",
            Role::ForkserverWorker => "fsrv worker",
            Role::ResourceTracker => "res. tracker",
            Role::LokyWorker => "loky worker",
            Role::DataloaderWorker => "DataLoader",
            Role::Torchrun => "torchrun",
            Role::TorchrunWorker => "torchrun wkr",
            Role::RayWorker => "ray worker",
            Role::DaskWorker => "dask worker",
            Role::VllmWorker => "vllm worker",
            Role::Other => "other",
        }
    }
    /// A process doing the work (as opposed to launching or tracking it).
    pub fn is_worker(self) -> bool {
        !matches!(
            self,
            Role::Main | Role::Forkserver | Role::ResourceTracker | Role::Torchrun | Role::Other
        )
    }
}

/// What role detection looks at.
#[derive(Debug, Clone, Copy)]
pub struct RoleInput<'a> {
    pub comm: &'a str,
    pub cmdline: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub python: bool,
    /// The parent's command line and role, when the parent was read.
    pub parent: Option<(&'a [String], Role)>,
}

/// One role rule: the role, what it matches, and where the marker comes from.
pub struct RoleRule {
    pub role: Role,
    pub matches: fn(&RoleInput<'_>) -> bool,
    pub source: &'static str,
}

fn arg0<'a>(p: &RoleInput<'a>) -> &'a str {
    p.cmdline.first().map(String::as_str).unwrap_or("")
}

fn any_arg(p: &RoleInput<'_>, f: impl Fn(&str) -> bool) -> bool {
    p.cmdline.iter().any(|a| f(a))
}

fn script_name(a: &str) -> &str {
    a.rsplit('/').next().unwrap_or(a)
}

/// The role table, first match wins (launch markers before the structural fork rules).
pub const ROLE_RULES: &[RoleRule] = &[
    RoleRule {
        role: Role::DataloaderWorker,
        matches: |p| p.comm == "pt_data_worker",
        source: "torch/utils/data/_utils/worker.py: _set_thread_name(\"pt_data_worker\")",
    },
    RoleRule {
        role: Role::RayWorker,
        matches: |p| {
            arg0(p).starts_with("ray::")
                || any_arg(p, |a| a.ends_with("ray/_private/workers/default_worker.py"))
        },
        source: "ray/_raylet.pyx: setproctitle(\"ray::IDLE\"), \"ray::{name}()\"",
    },
    RoleRule {
        role: Role::DaskWorker,
        matches: |p| {
            let a = arg0(p);
            a.starts_with("dask worker")
                || a.starts_with("dask nanny")
                || a.starts_with("dask-worker")
        },
        source: "distributed/worker.py: setproctitle(\"dask worker [...]\")",
    },
    RoleRule {
        role: Role::VllmWorker,
        matches: |p| arg0(p).starts_with("VLLM::"),
        source: "vllm: setproctitle(\"VLLM::Worker\"), \"VLLM::EngineCore\"",
    },
    RoleRule {
        role: Role::LokyWorker,
        matches: |p| any_arg(p, |a| a.ends_with("loky.backend.popen_loky_posix")),
        source: "joblib/externals/loky/backend/popen_loky_posix.py (python -m ... --process-name LokyProcess-N)",
    },
    RoleRule {
        role: Role::ResourceTracker,
        matches: |p| any_arg(p, |a| a.contains("resource_tracker import main")),
        source: "multiprocessing/resource_tracker.py, loky/backend/resource_tracker.py",
    },
    RoleRule {
        role: Role::Forkserver,
        matches: |p| {
            any_arg(p, |a| a.contains("multiprocessing.forkserver import main"))
                && !matches!(p.parent, Some((_, Role::Forkserver)))
        },
        source: "multiprocessing/forkserver.py: -c 'from multiprocessing.forkserver import main; main(...)'",
    },
    RoleRule {
        role: Role::ForkserverWorker,
        matches: |p| matches!(p.parent, Some((c, Role::Forkserver)) if c == p.cmdline),
        source: "multiprocessing/forkserver.py: workers are fork()ed by the server",
    },
    RoleRule {
        role: Role::SpawnWorker,
        matches: |p| {
            any_arg(p, |a| a == "--multiprocessing-fork")
                || any_arg(p, |a| a.contains("multiprocessing.spawn import spawn_main"))
        },
        source: "multiprocessing/spawn.py: get_command_line()",
    },
    RoleRule {
        role: Role::Torchrun,
        matches: |p| {
            any_arg(p, |a| script_name(a) == "torchrun")
                || any_arg(p, |a| {
                    a == "torch.distributed.run" || a == "torch.distributed.launch"
                })
        },
        source: "torch/distributed/run.py (the torchrun entry point)",
    },
    RoleRule {
        role: Role::TorchrunWorker,
        matches: |p| {
            p.env.contains_key("TORCHELASTIC_RUN_ID")
                || (p.env.contains_key("LOCAL_RANK") && p.env.contains_key("WORLD_SIZE"))
        },
        source: "torch/distributed/elastic/agent: worker env LOCAL_RANK, RANK, WORLD_SIZE, TORCHELASTIC_RUN_ID",
    },
    RoleRule {
        role: Role::ForkWorker,
        matches: |p| {
            p.python && matches!(p.parent, Some((c, r)) if c == p.cmdline && r != Role::Other)
        },
        source: "os.fork(): the child keeps its parent's argv",
    },
    RoleRule {
        role: Role::Main,
        matches: |p| p.python,
        source: "a Python interpreter",
    },
];

/// The role of one process (first rule that matches; `Other` if none).
pub fn role_of(p: &RoleInput<'_>) -> Role {
    ROLE_RULES
        .iter()
        .find(|r| (r.matches)(p))
        .map_or(Role::Other, |r| r.role)
}

// ------------------------------------------------------------------------------------------
// Launchers (what started the workers, for the fixes)

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Launcher {
    /// multiprocessing with fork or spawn (Pool, ProcessPoolExecutor, Process).
    Multiprocessing,
    /// multiprocessing's fork server (also Stable-Baselines3 SubprocVecEnv's default).
    Forkserver,
    Loky,
    Dataloader,
    Torchrun,
    Ray,
    Dask,
    Vllm,
    /// Separate programs (no common launcher).
    Independent,
}

impl Launcher {
    pub fn as_str(self) -> &'static str {
        match self {
            Launcher::Multiprocessing => "multiprocessing",
            Launcher::Forkserver => "forkserver",
            Launcher::Loky => "loky",
            Launcher::Dataloader => "dataloader",
            Launcher::Torchrun => "torchrun",
            Launcher::Ray => "ray",
            Launcher::Dask => "dask",
            Launcher::Vllm => "vllm",
            Launcher::Independent => "independent",
        }
    }
    fn of(role: Role) -> Option<Launcher> {
        Some(match role {
            Role::ForkWorker | Role::SpawnWorker => Launcher::Multiprocessing,
            Role::ForkserverWorker => Launcher::Forkserver,
            Role::LokyWorker => Launcher::Loky,
            Role::DataloaderWorker => Launcher::Dataloader,
            Role::TorchrunWorker => Launcher::Torchrun,
            Role::RayWorker => Launcher::Ray,
            Role::DaskWorker => Launcher::Dask,
            Role::VllmWorker => Launcher::Vllm,
            _ => return None,
        })
    }
}

// ------------------------------------------------------------------------------------------
// Pools

/// One thread pool of a process, as threadpoolctl would list it (one entry per library).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pool {
    pub implementation: LibImpl,
    pub path: String,
    /// The pool's size: observed when `observed`, else inferred.
    pub threads: usize,
    /// Seen in the process's threads (else inferred from the library's rule).
    pub observed: bool,
    /// What the library's documented rule gives for this process.
    pub inferred: usize,
    /// The pool's threads exist (a lazily started pool may not have started yet).
    pub started: bool,
    /// How the size was determined, in words.
    pub basis: String,
    /// Threads attributed to the pool (helpers; the calling thread is the process's own).
    pub tids: Vec<u32>,
    /// Of the attributed threads (and the calling thread), how many were busy in the window.
    pub busy_threads: Option<usize>,
}

/// The pool each library would start for a process with these variables and CPUs.
fn rule_size(
    lib: &MappedLib,
    env: &BTreeMap<String, String>,
    cpus: usize,
    machine: &CpuFacts,
) -> (usize, String) {
    let snapshot = EnvSnapshot::from_pairs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let cpu = CpuFacts {
        logical_cpus: machine.logical_cpus.max(cpus),
        affinity_cpus: Some(cpus),
        physical_cores: machine.physical_cores.map(|p| p.min(cpus)),
        usable_cpus: cpus,
        ..Default::default()
    };
    let t = crate::facts::threads::from_env(&snapshot, &cpu);
    let omp = env.get("OMP_NUM_THREADS").and_then(|v| {
        crate::facts::threads::parse_count("OMP_NUM_THREADS", v)
            .ok()
            .flatten()
    });
    let set = |var: &str| env.get(var).is_some_and(|v| !v.trim().is_empty());
    let openmp_rule = || match omp {
        Some(n) => (n, format!("OMP_NUM_THREADS={n}")),
        None => (
            cpus,
            format!("OMP_NUM_THREADS unset: the {cpus} CPUs of its affinity mask"),
        ),
    };
    match lib.implementation {
        LibImpl::Openblas if layer_has(lib, "openmp") => {
            let (n, why) = openmp_rule();
            (n, format!("OpenMP build of OpenBLAS: {why}"))
        }
        LibImpl::Openblas if layer_has(lib, "serial") => (1, "serial build of OpenBLAS".into()),
        LibImpl::Openblas => {
            // scipy-openblas (PyPI wheels) is built with MAX_THREADS=64.
            let cap = if lib.path.contains("scipy_openblas") {
                64
            } else {
                usize::MAX
            };
            let n = t.openblas_default.min(cap);
            let why = [
                "OPENBLAS_NUM_THREADS",
                "GOTO_NUM_THREADS",
                "OMP_NUM_THREADS",
            ]
            .iter()
            .find(|v| set(v))
            .map(|v| format!("{v}={}", env[*v].trim()))
            .unwrap_or_else(|| {
                format!(
                    "no variable set: the {cpus} CPUs of its affinity mask (quotas are ignored)"
                )
            });
            (n.max(1), why)
        }
        LibImpl::Mkl => {
            let why = if layer_has(lib, "sequential") {
                "sequential threading layer".to_string()
            } else {
                ["MKL_NUM_THREADS", "OMP_NUM_THREADS"]
                    .iter()
                    .find(|v| set(v))
                    .map(|v| format!("{v}={}", env[*v].trim()))
                    .unwrap_or_else(|| {
                        "no variable set: the physical cores of its CPUs (MKL_DYNAMIC)".into()
                    })
            };
            (t.mkl_default.max(1), why)
        }
        LibImpl::Blis => {
            let why = ["BLIS_NUM_THREADS", "OMP_NUM_THREADS"]
                .iter()
                .find(|v| set(v))
                .map(|v| format!("{v}={}", env[*v].trim()))
                .unwrap_or_else(|| "no variable set: BLIS runs single-threaded".into());
            (t.blis_default.max(1), why)
        }
        LibImpl::Libgomp | LibImpl::Libiomp | LibImpl::Libomp | LibImpl::Vcomp => openmp_rule(),
        _ => (1, "single-threaded".into()),
    }
}

/// Whether a library's threading layer (or build detail) says `word`.
fn layer_has(lib: &MappedLib, word: &str) -> bool {
    lib.threading_layer
        .as_deref()
        .is_some_and(|t| t.contains(word))
}

/// Libraries that own threads: pthreads OpenBLAS/BLIS and the OpenMP runtimes. (MKL and
/// OpenMP builds of OpenBLAS use an OpenMP runtime's threads; serial builds have none.)
fn owns_threads(lib: &MappedLib) -> bool {
    lib.implementation.is_openmp()
        || (matches!(lib.implementation, LibImpl::Openblas | LibImpl::Blis)
            && !layer_has(lib, "openmp")
            && !layer_has(lib, "serial"))
}

/// The OpenMP runtime an MKL or OpenMP-built BLAS uses, by its layer.
fn runtime_for(lib: &MappedLib, libs: &[MappedLib]) -> Option<usize> {
    let want: &[LibImpl] = match lib.implementation {
        LibImpl::Mkl if layer_has(lib, "intel") => &[LibImpl::Libiomp],
        LibImpl::Mkl if layer_has(lib, "gnu") => &[LibImpl::Libgomp],
        LibImpl::Openblas | LibImpl::Blis if layer_has(lib, "openmp") => {
            &[LibImpl::Libgomp, LibImpl::Libomp, LibImpl::Libiomp]
        }
        _ => return None,
    };
    libs.iter().position(|l| want.contains(&l.implementation))
}

/// Anonymous helper threads in bursts: consecutive thread ids started within one tick.
pub fn bursts(threads: &[&ThreadSample]) -> Vec<Vec<u32>> {
    let mut sorted: Vec<&&ThreadSample> = threads.iter().collect();
    sorted.sort_by_key(|t| t.tid);
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut last: Option<(u32, u64)> = None;
    for t in sorted {
        let joins = last.is_some_and(|(tid, start)| {
            t.tid.saturating_sub(tid) <= 2 && t.start_ticks.abs_diff(start) <= 1
        });
        if joins {
            out.last_mut().expect("a burst is open").push(t.tid);
        } else {
            out.push(vec![t.tid]);
        }
        last = Some((t.tid, t.start_ticks));
    }
    out
}

/// Thread names set by software that are not BLAS or OpenMP pool threads.
pub const OTHER_THREAD_NAMES: &[(&str, &str)] = &[
    ("pt_data_pin", "PyTorch DataLoader pin-memory thread"),
    ("pt_data_worker", "PyTorch DataLoader worker"),
    ("pt_autograd_", "PyTorch autograd device thread"),
    ("jemalloc_bg_thd", "jemalloc background thread"),
    ("cuda-EvtHandlr", "CUDA event handler"),
    ("cuda0", "CUDA driver thread"),
    ("ZMQbg/", "ZeroMQ I/O thread"),
    ("grpc_global_tim", "gRPC timer"),
];

/// Attribute a process's threads to its pools (see the module doc). `cpus`: the CPUs of its
/// affinity mask (what the libraries size their pools from; they ignore cgroup quotas).
pub fn attribute_pools(
    p: &ProcessSample,
    cpus: usize,
    machine: &CpuFacts,
    cpu: &dyn Fn(u32) -> Option<f64>,
) -> Vec<Pool> {
    let main_name = p
        .threads
        .iter()
        .find(|t| t.tid == p.pid)
        .map_or(p.comm.as_str(), |t| t.name.as_str());
    // The names a thread inherits: the executable's file name as exec'd (argv[0]) or as
    // mapped, cut to 15 bytes like `comm`, or the main thread's current name.
    let base15 =
        |s: &str| -> String { s.rsplit('/').next().unwrap_or(s).chars().take(15).collect() };
    let inherited: Vec<String> = p
        .exe
        .iter()
        .chain(p.cmdline.first())
        .map(|s| base15(s))
        .chain([main_name.to_string()])
        .collect();
    let anonymous: Vec<&ThreadSample> = p
        .threads
        .iter()
        .filter(|t| t.tid != p.pid && inherited.contains(&t.name))
        .collect();
    let mut free = bursts(&anonymous);

    let mut pools: Vec<Pool> = p
        .libraries
        .iter()
        .filter(|l| l.kind != LibKind::Lapack && l.implementation != LibImpl::Netlib)
        .filter(|l| {
            !matches!(
                l.implementation,
                LibImpl::Flexiblas
                    | LibImpl::Accelerate
                    | LibImpl::Nvpl
                    | LibImpl::Armpl
                    | LibImpl::Atlas
                    | LibImpl::Unknown
            )
        })
        .map(|l| {
            let (n, why) = rule_size(l, &p.env, cpus, machine);
            Pool {
                implementation: l.implementation,
                path: l.path.clone(),
                threads: n,
                observed: false,
                inferred: n,
                started: false,
                basis: format!("inferred: {why}"),
                tids: Vec::new(),
                busy_threads: None,
            }
        })
        .collect();
    let owners: Vec<usize> = pools
        .iter()
        .enumerate()
        .filter(|(_, pool)| {
            p.libraries
                .iter()
                .find(|l| l.path == pool.path)
                .is_some_and(owns_threads)
        })
        .map(|(i, _)| i)
        .collect();

    // 1. Exact matches: a burst of N - 1 threads for a pool of N.
    for &i in &owners {
        let want = pools[i].inferred.saturating_sub(1);
        if want == 0 {
            continue;
        }
        // Of several bursts of the right size, the one that computed most: pool threads run
        // BLAS, Python's helper threads mostly wait.
        let ticks = |b: &Vec<u32>| -> u64 {
            b.iter()
                .filter_map(|tid| p.threads.iter().find(|t| t.tid == *tid))
                .map(|t| t.cpu_ticks)
                .sum()
        };
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.len() == want)
            .max_by_key(|(i, b)| (ticks(b), std::cmp::Reverse(*i)))
            .map(|(i, _)| i);
        if let Some(b) = best {
            let tids = free.remove(b);
            let pool = &mut pools[i];
            pool.observed = true;
            pool.started = true;
            pool.basis = format!(
                "observed: {} anonymous thread(s) started together, as the rule predicts ({})",
                tids.len(),
                pool.basis.trim_start_matches("inferred: ")
            );
            pool.tids = tids;
        }
    }
    // 2. One pool library left and one burst left: the burst is that pool, of another size.
    // Only where the rule expects helpers: a library limited to one thread starts none, so an
    // anonymous thread beside it is someone else's.
    let open: Vec<usize> = owners
        .iter()
        .copied()
        .filter(|&i| !pools[i].observed && pools[i].inferred > 1)
        .collect();
    if open.len() == 1 && free.len() == 1 && owners.len() == 1 {
        let tids = free.remove(0);
        let pool = &mut pools[open[0]];
        pool.observed = true;
        pool.started = true;
        pool.threads = tids.len() + 1;
        pool.basis = format!(
            "observed: {} anonymous thread(s) besides the main thread; the rule says {} ({}): the \
             limit was changed at run time, or other unnamed threads are counted too",
            tids.len(),
            pool.inferred,
            pool.basis.trim_start_matches("inferred: ")
        );
        pool.tids = tids;
    }
    // 3. Pools without threads: not started yet, or limited to one.
    for &i in &owners {
        let pool = &mut pools[i];
        if pool.observed {
            continue;
        }
        if pool.inferred <= 1 {
            pool.basis = format!("{} (one thread: the caller's)", pool.basis);
        } else if free.is_empty() {
            pool.basis = format!(
                "{}; no threads of its own seen ({})",
                pool.basis,
                if pool.implementation.is_openmp() {
                    "OpenMP starts them at the first parallel region"
                } else {
                    "a fork()ed process restarts OpenBLAS's pool at its first BLAS call"
                }
            );
        } else {
            pool.basis = format!(
                "{}; {} anonymous thread(s) could not be attributed",
                pool.basis,
                free.iter().map(Vec::len).sum::<usize>()
            );
        }
    }
    // MKL and OpenMP builds of BLAS share their runtime's threads.
    for i in 0..pools.len() {
        let lib = p.libraries.iter().find(|l| l.path == pools[i].path);
        if let Some(rt) = lib.and_then(|l| runtime_for(l, &p.libraries)) {
            let rt_path = &p.libraries[rt].path;
            if let Some(r) = pools.iter().position(|x| &x.path == rt_path)
                && pools[r].observed
            {
                let (tids, name) = (
                    pools[r].tids.clone(),
                    pools[r].implementation.display_name(),
                );
                let pool = &mut pools[i];
                pool.observed = true;
                pool.started = true;
                pool.threads = tids.len() + 1;
                pool.basis = format!("observed: the threads of its OpenMP runtime ({name})");
                pool.tids = tids;
            }
        }
    }
    // Busy threads over the window; helpers that did nothing while the process computed mean
    // the pool runs with one thread (limited at run time, or calls too small to split).
    let helpers: Vec<u32> = pools.iter().flat_map(|x| x.tids.iter().copied()).collect();
    let busy = |tid: u32| -> Option<bool> {
        let state = p
            .threads
            .iter()
            .find(|t| t.tid == tid)
            .map_or('S', |t| t.state);
        cpu(tid).map(|c| is_busy(c, state))
    };
    let process_busy = p
        .threads
        .iter()
        .filter(|t| !helpers.contains(&t.tid))
        .any(|t| busy(t.tid) == Some(true));
    for pool in &mut pools {
        if !pool.observed {
            continue;
        }
        let flags: Vec<Option<bool>> = pool.tids.iter().copied().chain([p.pid]).map(busy).collect();
        if flags.iter().all(Option::is_some) {
            pool.busy_threads = Some(flags.iter().filter(|b| **b == Some(true)).count());
        }
        let idle = !pool.tids.is_empty() && pool.tids.iter().all(|t| cpu(*t) == Some(0.0));
        if idle && process_busy {
            pool.basis = format!(
                "observed: its {} helper thread(s) exist but used no CPU while the process \
                 computed: one thread in use (limited at run time, e.g. by threadpoolctl, or \
                 calls too small to split)",
                pool.tids.len()
            );
            pool.threads = 1;
        }
    }
    pools
}

// ------------------------------------------------------------------------------------------
// The workload over a window

/// A thread's CPU use over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadUse {
    pub tid: u32,
    pub name: String,
    pub state: char,
    pub cpu_percent: f64,
}

/// One process as `ps` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessView {
    pub pid: u32,
    pub ppid: u32,
    pub cmd: String,
    pub role: Role,
    pub python: bool,
    pub threads: usize,
    pub running_threads: usize,
    pub busy_threads: usize,
    /// CPU over the window, in percent of one CPU (None: not seen at the window's start).
    pub cpu_percent: Option<f64>,
    pub affinity: Option<CpuSet>,
    /// CPUs it may use: its affinity mask, capped by its cgroup quota.
    pub usable_cpus: usize,
    pub cgroup: Option<CgroupCpu>,
    /// Periods throttled by the quota during the window.
    pub throttled_in_window: Option<u64>,
    pub env: BTreeMap<String, String>,
    pub libraries: Vec<MappedLib>,
    pub pools: Vec<Pool>,
    /// The busiest threads (at most five), for `-v`.
    pub busiest: Vec<ThreadUse>,
    /// Threads pinned to one CPU each: (cpu, tid).
    #[serde(skip)]
    pub pinned: Vec<(usize, u32)>,
    /// Parts the kernel would not show.
    pub hidden: Vec<String>,
    /// Tree depth (0 for a root).
    pub depth: usize,
}

impl ProcessView {
    /// The threads its pools want at once: the largest pool (pools of different runtimes are
    /// rarely busy at the same moment; nested use is the exception).
    pub fn pool_threads(&self) -> usize {
        self.pools.iter().map(|p| p.threads).max().unwrap_or(0)
    }
}

/// The totals over a set of processes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub processes: usize,
    pub threads: usize,
    pub running_threads: usize,
    pub pool_threads: usize,
    pub busy_threads: usize,
    pub usable_cpus: usize,
}

/// A process tree: a root and its descendants among the processes shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tree {
    pub root: u32,
    pub pids: Vec<u32>,
    pub launcher: Option<Launcher>,
    pub totals: Totals,
}

/// Everything `ps` judges and prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub window_s: f64,
    pub processes: Vec<ProcessView>,
    pub trees: Vec<Tree>,
    pub totals: Totals,
    pub unreadable: Vec<Unreadable>,
    pub notes: Vec<String>,
}

/// CPUs a process may use: its mask (else every logical CPU), capped by its quota (floored, at
/// least one), as `available_parallelism` counts.
pub fn usable(affinity: Option<&CpuSet>, quota: Option<f64>, logical: usize) -> usize {
    let n = affinity.map_or(logical, CpuSet::count).max(1);
    quota.map_or(n, |q| n.min((q.floor() as usize).max(1)))
}

/// The command line shortened for a person: the program's file name, then its arguments.
pub fn short_cmd(p: &ProcessSample) -> String {
    if p.cmdline.is_empty() {
        return format!("[{}]", p.comm);
    }
    let mut parts = p.cmdline.clone();
    parts[0] = script_name(&parts[0]).to_string();
    parts.join(" ")
}

/// `s` cut to `n` characters, the cut marked.
pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Turn two snapshots (window start and end) into the workload (pure).
pub fn analyse(start: &Snapshot, end: &Snapshot, machine: &CpuFacts) -> Workload {
    let window = (end.at - start.at).max(1e-3);
    let tick = end.ticks_per_s.max(1) as f64;
    let pct = |ticks: u64| ticks as f64 / tick / window * 100.0;
    let logical = machine.logical_cpus.max(1);

    // Roles parents-first.
    let by_pid: HashMap<u32, &ProcessSample> = end.processes.iter().map(|p| (p.pid, p)).collect();
    let mut roles: HashMap<u32, Role> = HashMap::new();
    let mut depth: HashMap<u32, usize> = HashMap::new();
    fn role_rec(
        pid: u32,
        by_pid: &HashMap<u32, &ProcessSample>,
        roles: &mut HashMap<u32, Role>,
        depth: &mut HashMap<u32, usize>,
        guard: usize,
    ) -> Role {
        if let Some(r) = roles.get(&pid) {
            return *r;
        }
        let p = by_pid[&pid];
        let parent = by_pid.get(&p.ppid).filter(|_| guard < 256 && p.ppid != pid);
        let parent_role = parent.map(|pp| role_rec(pp.pid, by_pid, roles, depth, guard + 1));
        let d = parent.map_or(0, |pp| depth.get(&pp.pid).copied().unwrap_or(0) + 1);
        let r = role_of(&RoleInput {
            comm: &p.comm,
            cmdline: &p.cmdline,
            env: &p.env,
            python: p.python,
            parent: parent
                .zip(parent_role)
                .map(|(pp, r)| (pp.cmdline.as_slice(), r)),
        });
        roles.insert(pid, r);
        depth.insert(pid, d);
        r
    }
    for p in &end.processes {
        role_rec(p.pid, &by_pid, &mut roles, &mut depth, 0);
    }

    let mut processes = Vec::new();
    for p in &end.processes {
        let before = start.get(p.key());
        // A process absent at the start began during the window: all its time is in it.
        let cpu_percent = Some(pct(p
            .cpu_ticks
            .saturating_sub(before.map_or(0, |b| b.cpu_ticks))));
        let before_threads: HashMap<(u32, u64), u64> = before
            .map(|b| {
                b.threads
                    .iter()
                    .map(|t| ((t.tid, t.start_ticks), t.cpu_ticks))
                    .collect()
            })
            .unwrap_or_default();
        // A thread absent at the start began during the window: all its time is in it.
        let uses: Vec<ThreadUse> = p
            .threads
            .iter()
            .map(|t| ThreadUse {
                tid: t.tid,
                name: t.name.clone(),
                state: t.state,
                cpu_percent: pct(t.cpu_ticks.saturating_sub(
                    before_threads
                        .get(&(t.tid, t.start_ticks))
                        .copied()
                        .unwrap_or(0),
                )),
            })
            .collect();
        let use_of: HashMap<u32, f64> = uses.iter().map(|u| (u.tid, u.cpu_percent)).collect();
        let quota = p.cgroup.as_ref().and_then(|c| c.quota);
        let cpus = usable(p.affinity.as_ref(), quota, logical);
        let mask_cpus = usable(p.affinity.as_ref(), None, logical);
        let pools = attribute_pools(p, mask_cpus, machine, &|tid| use_of.get(&tid).copied());
        let mut busiest = uses.clone();
        busiest.sort_by(|a, b| {
            b.cpu_percent
                .total_cmp(&a.cpu_percent)
                .then(a.tid.cmp(&b.tid))
        });
        busiest.truncate(5);
        let throttled_in_window = p
            .cgroup
            .as_ref()
            .and_then(|c| c.nr_throttled)
            .zip(
                before
                    .and_then(|b| b.cgroup.as_ref())
                    .and_then(|c| c.nr_throttled),
            )
            .map(|(a, b)| a.saturating_sub(b));
        // A thread without its own mask has the process's.
        let pinned = p
            .threads
            .iter()
            .filter_map(|t| {
                let a = t.affinity.as_ref().or(p.affinity.as_ref())?;
                (a.count() == 1).then(|| (a.ids().next().unwrap_or(0), t.tid))
            })
            .collect();
        processes.push(ProcessView {
            pid: p.pid,
            ppid: p.ppid,
            cmd: short_cmd(p),
            role: roles.get(&p.pid).copied().unwrap_or(Role::Other),
            python: p.python,
            threads: p.threads.len(),
            running_threads: p.threads.iter().filter(|t| t.state == 'R').count(),
            busy_threads: uses
                .iter()
                .filter(|u| is_busy(u.cpu_percent, u.state))
                .count(),
            cpu_percent,
            affinity: p.affinity.clone(),
            usable_cpus: cpus,
            cgroup: p.cgroup.clone(),
            throttled_in_window,
            env: p.env.clone(),
            libraries: p.libraries.clone(),
            pools,
            busiest,
            pinned,
            hidden: p.hidden.clone(),
            depth: depth.get(&p.pid).copied().unwrap_or(0),
        });
    }
    // Depth-first order, children under their parents.
    let shown: BTreeSet<u32> = processes.iter().map(|p| p.pid).collect();
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut roots = Vec::new();
    for p in &processes {
        if p.ppid != p.pid && shown.contains(&p.ppid) {
            children.entry(p.ppid).or_default().push(p.pid);
        } else {
            roots.push(p.pid);
        }
    }
    roots.sort_unstable();
    let mut order = Vec::new();
    let mut trees = Vec::new();
    for &root in &roots {
        let mut pids = Vec::new();
        let mut stack = vec![root];
        while let Some(pid) = stack.pop() {
            pids.push(pid);
            if let Some(c) = children.get(&pid) {
                stack.extend(c.iter().rev());
            }
        }
        order.extend(pids.iter().copied());
        trees.push(Tree {
            root,
            pids,
            launcher: None,
            totals: Totals::default(),
        });
    }
    let pos: HashMap<u32, usize> = order.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    processes.sort_by_key(|p| pos.get(&p.pid).copied().unwrap_or(usize::MAX));
    for t in &mut trees {
        let members: Vec<&ProcessView> = processes
            .iter()
            .filter(|p| t.pids.contains(&p.pid))
            .collect();
        t.totals = totals(&members, logical);
        t.launcher = tree_launcher(&members);
    }
    let all: Vec<&ProcessView> = processes.iter().collect();
    let mut unreadable = end.unreadable.clone();
    for u in &start.unreadable {
        if !unreadable.iter().any(|x| x.pid == u.pid) {
            unreadable.push(u.clone());
        }
    }
    for p in &start.processes {
        if end.get(p.key()).is_none() {
            // Whatever the end said about this PID ("no such process", a newcomer reusing it),
            // what happened is that it exited.
            unreadable.retain(|u| u.pid != p.pid);
            unreadable.push(Unreadable {
                pid: p.pid,
                reason: format!("exited during the window ({})", cut(&short_cmd(p), 60)),
            });
        }
    }
    let mut notes = end.notes.clone();
    notes.dedup();
    Workload {
        window_s: window,
        totals: totals(&all, logical),
        processes,
        trees,
        unreadable,
        notes,
    }
}

/// CPUs a set of processes may use together: the union of their masks, capped per cgroup by
/// its quota.
fn shared_usable(ps: &[&ProcessView], logical: usize) -> usize {
    let mut by_cgroup: BTreeMap<String, (CpuSet, Option<f64>)> = BTreeMap::new();
    for p in ps {
        let key = p.cgroup.as_ref().map_or(String::new(), |c| {
            c.quota_source.clone().unwrap_or_else(|| c.path.clone())
        });
        let mask = p
            .affinity
            .clone()
            .unwrap_or_else(|| CpuSet::from_ids(0..logical));
        let e = by_cgroup.entry(key).or_insert((CpuSet::default(), None));
        e.0 = e.0.union(&mask);
        e.1 = p.cgroup.as_ref().and_then(|c| c.quota);
    }
    let union = by_cgroup
        .values()
        .fold(CpuSet::default(), |a, (m, _)| a.union(m))
        .count();
    let capped: usize = by_cgroup
        .values()
        .map(|(m, q)| usable(Some(m), *q, logical))
        .sum();
    union.min(capped).max(1)
}

fn totals(ps: &[&ProcessView], logical: usize) -> Totals {
    Totals {
        processes: ps.len(),
        threads: ps.iter().map(|p| p.threads).sum(),
        running_threads: ps.iter().map(|p| p.running_threads).sum(),
        pool_threads: ps.iter().map(|p| p.pool_threads()).sum(),
        busy_threads: ps.iter().map(|p| p.busy_threads).sum(),
        usable_cpus: if ps.is_empty() {
            0
        } else {
            shared_usable(ps, logical)
        },
    }
}

/// The launcher of a tree's workers: the most common among them.
fn tree_launcher(ps: &[&ProcessView]) -> Option<Launcher> {
    let mut count: BTreeMap<&'static str, (usize, Launcher)> = BTreeMap::new();
    for p in ps {
        if let Some(l) = Launcher::of(p.role) {
            count.entry(l.as_str()).or_insert((0, l)).0 += 1;
        }
    }
    count.into_values().max_by_key(|(n, _)| *n).map(|(_, l)| l)
}

// ------------------------------------------------------------------------------------------
// Findings

/// What the rules look at.
pub struct Judged<'a> {
    pub w: &'a Workload,
    pub machine: &'a CpuFacts,
}

type Rule = fn(&Judged<'_>) -> Vec<Finding>;

/// One function per finding id.
pub const RULES: &[(&str, Rule)] = &[
    ("pools-oversubscribed", pools_oversubscribed),
    ("affinity-overlap", affinity_overlap),
    ("openmp-duplicate", openmp_duplicate),
    ("mkl-on-non-intel", mkl_on_non_intel),
    ("reference-blas", reference_blas),
    ("cpu-throttled", cpu_throttled),
];

/// All findings, most severe first.
pub fn evaluate(w: &Workload, machine: &CpuFacts) -> Vec<Finding> {
    let j = Judged { w, machine };
    let mut out: Vec<Finding> = RULES.iter().flat_map(|(_, rule)| rule(&j)).collect();
    out.sort_by_key(|f| f.severity);
    out
}

fn members<'a>(w: &'a Workload, t: &Tree) -> Vec<&'a ProcessView> {
    w.processes
        .iter()
        .filter(|p| t.pids.contains(&p.pid))
        .collect()
}

fn pool_names(ps: &[&ProcessView]) -> String {
    let mut names: Vec<&str> = ps
        .iter()
        .flat_map(|p| p.pools.iter().filter(|x| x.threads == p.pool_threads()))
        .map(|x| x.implementation.display_name())
        .collect();
    names.sort_unstable();
    names.dedup();
    names.join(" and ")
}

/// The variables that size every pool, set to `k`.
fn exports(k: usize) -> String {
    format!("export OMP_NUM_THREADS={k} OPENBLAS_NUM_THREADS={k} MKL_NUM_THREADS={k}")
}

/// What the launcher already does, and the fix for it: one command per line (alternatives
/// after the first), each short enough to copy from an 80-column terminal.
fn launcher_fix(l: Option<Launcher>, k: usize, ps: &[&ProcessView]) -> (String, String) {
    let torch = ps
        .iter()
        .any(|p| p.libraries.iter().any(|l| l.path.contains("/torch/lib/")));
    let torch_line = if torch {
        format!("\nand torch.set_num_threads({k}) in each worker")
    } else {
        String::new()
    };
    let env = exports(k);
    match l {
        Some(Launcher::Loky) => (
            "joblib's loky backend already limits each worker to cpu_count() // n_jobs threads, \
             unless the parent already sets the variables (then the workers inherit them) or \
             inner_max_num_threads says otherwise."
                .into(),
            format!(
                "with joblib.parallel_config(inner_max_num_threads={k}): ...\n\
                 or unset the thread variables in the parent"
            ),
        ),
        Some(Launcher::Dataloader) => (
            "PyTorch's DataLoader calls torch.set_num_threads(1) in each worker, which limits \
             only torch's own pool: NumPy's OpenBLAS (and other BLAS) in a worker keeps its \
             full pool."
                .into(),
            format!("{env}\nor DataLoader(..., worker_init_fn=lambda i: threadpool_limits({k}))"),
        ),
        Some(Launcher::Torchrun) => (
            "torchrun sets OMP_NUM_THREADS=1 for its workers only when it is unset and \
             nproc_per_node > 1; OpenBLAS then follows it, MKL too unless MKL_NUM_THREADS is \
             set."
                .into(),
            format!("{env}{torch_line}"),
        ),
        Some(Launcher::Ray) => (
            "Ray sets OMP_NUM_THREADS to the CPUs assigned to a task (1 when it has none) only \
             when it is unset; it does not set the BLAS-specific variables."
                .into(),
            format!(
                "@ray.remote(num_cpus={k})\n\
                 or runtime_env={{\"env_vars\": {{\"OPENBLAS_NUM_THREADS\": \"{k}\"}}}}"
            ),
        ),
        Some(Launcher::Dask) => (
            "A Dask nanny sets OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS to 1 for \
             the workers it spawns (distributed.nanny.pre-spawn-environ); workers started \
             otherwise get nothing."
                .into(),
            format!("{env}\nor distributed.nanny.pre-spawn-environ with {k} thread(s)"),
        ),
        Some(Launcher::Forkserver) => (
            "multiprocessing's fork server sets no thread limits; Stable-Baselines3's \
             SubprocVecEnv (which starts its environment workers this way) sets nothing either."
                .into(),
            format!(
                "{env}\nor threadpoolctl.threadpool_limits({k}) first in each worker{torch_line}"
            ),
        ),
        Some(Launcher::Multiprocessing) => (
            "multiprocessing sets no thread limits: every worker starts full pools.".into(),
            format!(
                "{env}\nor Pool(initializer=threadpoolctl.threadpool_limits, initargs=({k},))\
                 {torch_line}"
            ),
        ),
        Some(Launcher::Vllm) => (
            "vLLM reduces torch's threads to 1 in its workers unless OMP_NUM_THREADS is set; \
             other BLAS pools keep their size."
                .into(),
            env,
        ),
        Some(Launcher::Independent) | None => (
            "These are separate programs: each sizes its pools for the whole machine.".into(),
            env,
        ),
    }
}

/// Pools x processes above the usable CPUs: per tree, else across separate trees.
fn pools_oversubscribed(j: &Judged<'_>) -> Vec<Finding> {
    let w = j.w;
    let mut out = Vec::new();
    let mut flagged = 0;
    for t in &w.trees {
        let ps = members(w, t);
        let with_pools: Vec<&ProcessView> = ps
            .iter()
            .copied()
            .filter(|p| p.pool_threads() > 0)
            .collect();
        let demand: usize = with_pools.iter().map(|p| p.pool_threads()).sum();
        let usable = t.totals.usable_cpus.max(1);
        if with_pools.len() < 2 && !with_pools.iter().any(|p| p.pool_threads() > usable) {
            continue;
        }
        let n = with_pools.len();
        let k = (usable / n.max(1)).max(1);
        // Only when smaller pools would help: with every pool at the budget already, the
        // processes themselves outnumber the CPUs.
        if demand <= usable || with_pools.iter().all(|p| p.pool_threads() <= k) {
            continue;
        }
        flagged += 1;
        let full: Vec<&ProcessView> = with_pools
            .iter()
            .copied()
            .filter(|p| p.pool_threads() >= p.usable_cpus && p.pool_threads() > 1)
            .collect();
        let observed = with_pools
            .iter()
            .filter(|p| {
                p.pools
                    .iter()
                    .any(|x| x.observed && x.threads == p.pool_threads())
            })
            .count();
        let root = ps.first().map_or(String::new(), |p| p.cmd.clone());
        let (does, fix) = launcher_fix(t.launcher, k, &ps);
        let sizes: BTreeSet<usize> = with_pools.iter().map(|p| p.pool_threads()).collect();
        let pids: Vec<String> = with_pools.iter().map(|p| p.pid.to_string()).collect();
        let pools = if sizes.len() == 1 {
            format!(
                "{} pools of {} threads each (PIDs {})",
                pool_names(&with_pools),
                sizes.first().copied().unwrap_or(0),
                pids.join(", ")
            )
        } else {
            let each: Vec<String> = with_pools
                .iter()
                .map(|p| format!("{} in PID {}", p.pool_threads(), p.pid))
                .collect();
            format!(
                "{} pools of {} threads",
                pool_names(&with_pools),
                each.join(", ")
            )
        };
        let seen = match observed {
            x if x == n => "all observed".to_string(),
            0 => "all inferred from the libraries' rules".to_string(),
            x => format!("{x} observed, {} inferred", n - x),
        };
        let mut detail = format!(
            "{n} processes under PID {} ({root}) keep {pools}; {seen}: {demand} threads for \
             {usable} usable CPUs.",
            t.root
        );
        if full.len() >= 2 {
            detail.push_str(&format!(
                " {} of them each sized their pool for every CPU they may use.",
                full.len()
            ));
        }
        detail.push_str(&format!(
            " During the window {} threads were busy (10 % of a CPU or more) for {usable} \
             CPUs; threads beyond the CPUs time-slice and spin instead of computing.",
            t.totals.busy_threads
        ));
        detail.push_str(&format!(
            " {does} A budget of max(1, {usable} // {n}) = {k} thread(s) per process fits: set \
             the variables where the program is started, so that every worker inherits them."
        ));
        out.push(
            Finding::new(
                "pools-oversubscribed",
                Severity::Warning,
                format!("{n} processes x their thread pools = {demand} threads on {usable} CPUs"),
                detail,
            )
            .fix(Some(fix), None),
        );
    }
    // Separate programs that only together oversubscribe the machine.
    if flagged == 0 && w.trees.len() >= 2 {
        let all: Vec<&ProcessView> = w
            .processes
            .iter()
            .filter(|p| p.pool_threads() > 0)
            .collect();
        let demand: usize = all.iter().map(|p| p.pool_threads()).sum();
        let usable = w.totals.usable_cpus.max(1);
        let trees = w
            .trees
            .iter()
            .filter(|t| members(w, t).iter().any(|p| p.pool_threads() > 0))
            .count();
        if trees >= 2 && demand > usable && w.totals.busy_threads > usable {
            let k = (usable / all.len().max(1)).max(1);
            let (does, fix) = launcher_fix(Some(Launcher::Independent), k, &all);
            out.push(
                Finding::new(
                    "pools-oversubscribed",
                    Severity::Warning,
                    format!("{trees} separate programs' thread pools = {demand} threads on {usable} CPUs"),
                    format!(
                        "{} processes in {trees} separate trees keep pools of {demand} threads in \
                         all, and {} threads were busy on {usable} CPUs during the window. {does}",
                        all.len(),
                        w.totals.busy_threads
                    ),
                )
                .fix(Some(fix), None),
            );
        }
    }
    out
}

/// Workers pinned to the same CPUs, or pool threads of different processes bound to one CPU.
fn affinity_overlap(j: &Judged<'_>) -> Vec<Finding> {
    let w = j.w;
    let logical = j.machine.logical_cpus.max(1);
    let mut out = Vec::new();
    for t in &w.trees {
        let ps = members(w, t);
        let all_cpus = ps
            .iter()
            .filter_map(|p| p.affinity.clone())
            .fold(CpuSet::default(), |a, m| a.union(&m));
        let machine_cpus = all_cpus.count().max(logical.min(all_cpus.count().max(1)));
        let workers: Vec<&ProcessView> = ps
            .iter()
            .copied()
            .filter(|p| p.pool_threads() > 0 || p.busy_threads > 0)
            .collect();
        let mut groups: BTreeMap<String, Vec<&ProcessView>> = BTreeMap::new();
        for p in &workers {
            if let Some(a) = &p.affinity
                && a.count() < logical
            {
                groups.entry(a.to_list()).or_default().push(p);
            }
        }
        for (mask, g) in groups {
            let cpus = g[0].affinity.as_ref().map_or(1, CpuSet::count);
            let demand: usize = g.iter().map(|p| p.pool_threads().max(1)).sum();
            if g.len() < 2 || demand <= cpus {
                continue;
            }
            let pids: Vec<String> = g.iter().map(|p| p.pid.to_string()).collect();
            out.push(
                Finding::new(
                    "affinity-overlap",
                    Severity::Warning,
                    format!("{} processes are pinned to the same CPU(s) {mask}", g.len()),
                    format!(
                        "PIDs {} may all run only on CPU(s) {mask} ({cpus} CPU(s)) while {} \
                         CPUs are online to this tree: their {demand} threads take turns on \
                         {cpus} and the other CPUs idle. A mask set by taskset, \
                         os.sched_setaffinity or a launcher's binding is inherited by every \
                         child.",
                        pids.join(", "),
                        machine_cpus.max(logical),
                    ),
                )
                .fix(
                    Some(
                        "os.sched_setaffinity(0, {i % os.cpu_count()})   # in worker i\n\
                         or remove the pinning (taskset, sched_setaffinity, launcher binding)"
                            .into(),
                    ),
                    None,
                ),
            );
        }
        // Threads bound one per CPU (OMP_PROC_BIND, KMP_AFFINITY) by several processes.
        let mut by_cpu: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
        for p in &workers {
            if p.affinity.as_ref().is_some_and(|a| a.count() == 1) {
                continue; // the whole process is pinned: handled above
            }
            for (cpu, _) in &p.pinned {
                by_cpu.entry(*cpu).or_default().insert(p.pid);
            }
        }
        let shared: Vec<(usize, Vec<u32>)> = by_cpu
            .into_iter()
            .filter(|(_, s)| s.len() >= 2)
            .map(|(c, s)| (c, s.into_iter().collect()))
            .collect();
        if !shared.is_empty() {
            let cpus = CpuSet::from_ids(shared.iter().map(|(c, _)| *c)).to_list();
            let pids: BTreeSet<u32> = shared.iter().flat_map(|(_, p)| p.iter().copied()).collect();
            out.push(
                Finding::new(
                    "affinity-overlap",
                    Severity::Warning,
                    format!(
                        "Threads of {} processes are bound to the same CPUs {cpus}",
                        pids.len()
                    ),
                    format!(
                        "PIDs {} each bind their pool threads one per CPU starting at the same \
                         CPUs ({cpus}), as OMP_PROC_BIND/OMP_PLACES or KMP_AFFINITY do in every \
                         process that inherits them: the bound threads of different processes \
                         share those CPUs.",
                        pids.iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .fix(
                    Some(
                        "unset OMP_PROC_BIND OMP_PLACES KMP_AFFINITY   # for the workers\n\
                         or give each worker its own OMP_PLACES"
                            .into(),
                    ),
                    None,
                ),
            );
        }
    }
    out
}

/// The environment prefix a library file belongs to (`PREFIX/lib/libx.so`).
fn prefix_of(path: &str) -> Option<&str> {
    let dir = path.rsplit_once('/')?.0;
    dir.strip_suffix("/lib")
}

/// Two OpenMP runtimes in one process.
fn openmp_duplicate(j: &Judged<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
    for p in &j.w.processes {
        let rts: Vec<&MappedLib> = p
            .libraries
            .iter()
            .filter(|l| l.kind == LibKind::Openmp)
            .collect();
        if rts.len() < 2 {
            continue;
        }
        let key: Vec<String> = rts.iter().map(|l| l.path.clone()).collect();
        if !seen.insert(key) {
            continue; // the same pair in another process (fork workers): said once
        }
        let kinds: BTreeSet<LibImpl> = rts.iter().map(|l| l.implementation).collect();
        let pids: Vec<String> =
            j.w.processes
                .iter()
                .filter(|q| {
                    let k: Vec<&str> = q
                        .libraries
                        .iter()
                        .filter(|l| l.kind == LibKind::Openmp)
                        .map(|l| l.path.as_str())
                        .collect();
                    k == rts.iter().map(|l| l.path.as_str()).collect::<Vec<_>>()
                })
                .map(|q| q.pid.to_string())
                .collect();
        let list = rts
            .iter()
            .map(|l| format!("{} ({})", l.implementation.display_name(), l.path))
            .collect::<Vec<_>>()
            .join(", ");
        let mkl = p
            .libraries
            .iter()
            .find(|l| l.implementation == LibImpl::Mkl);
        let (severity, why) =
            if kinds.contains(&LibImpl::Libomp) && kinds.contains(&LibImpl::Libiomp) {
                (
                    Severity::Error,
                    "LLVM's libomp and Intel's libiomp5 in one process are known to crash or \
                 deadlock",
                )
            } else if kinds.len() == 1 {
                (
                    Severity::Info,
                    "two copies of the same runtime each keep their own pool (wheels bundle their \
                 own copy); both are sized by OMP_NUM_THREADS, and their pools add up when both \
                 run",
                )
            } else {
                (
                    Severity::Warning,
                    "each runtime keeps its own pool and its own idea of the thread count; Intel \
                 documents numerical errors or crashes with two OpenMP runtimes",
                )
            };
        let fix = if mkl.is_some()
            && kinds.contains(&LibImpl::Libiomp)
            && kinds.contains(&LibImpl::Libgomp)
        {
            "export MKL_THREADING_LAYER=GNU   # MKL then runs on libgomp".to_string()
        } else if let Some(prefix) = rts
            .iter()
            .find_map(|l| prefix_of(&l.path))
            .filter(|p| std::path::Path::new(p).join("conda-meta").is_dir())
        {
            format!("conda install -p {prefix} \"_openmp_mutex=*=*_llvm\"")
        } else {
            "install the packages that bring them from one source (all conda-forge, or all \
             PyPI wheels built against the same runtime)"
                .to_string()
        };
        out.push(
            Finding::new(
                "openmp-duplicate",
                severity,
                format!("{} OpenMP runtimes in one process", rts.len()),
                format!(
                    "PID(s) {} map {list}: {why}. Do not set KMP_DUPLICATE_LIB_OK=TRUE: it only \
                     silences Intel's check and keeps both runtimes.",
                    pids.join(", ")
                ),
            )
            .fix(Some(fix), None),
        );
    }
    out
}

/// MKL in a process on a non-Intel CPU.
fn mkl_on_non_intel(j: &Judged<'_>) -> Vec<Finding> {
    if !matches!(
        j.machine.vendor_family,
        VendorFamily::Amd | VendorFamily::Hygon | VendorFamily::Zhaoxin
    ) {
        return Vec::new();
    }
    let with: Vec<(&ProcessView, &MappedLib)> =
        j.w.processes
            .iter()
            .filter_map(|p| {
                p.libraries
                    .iter()
                    .find(|l| l.implementation == LibImpl::Mkl)
                    .map(|l| (p, l))
            })
            .collect();
    let Some((_, lib)) = with.first() else {
        return Vec::new();
    };
    let prefix = prefix_of(&lib.path);
    let fix = match prefix {
        Some(p) if std::path::Path::new(p).join("conda-meta").is_dir() => {
            format!("blasfix apply --backend openblas -p {p}")
        }
        Some(p) => format!("blasfix doctor -p {p}"),
        None => "blasfix doctor".into(),
    };
    vec![
        Finding::new(
            "mkl-on-non-intel",
            Severity::Warning,
            format!(
                "{} process(es) run MKL on a non-Intel CPU ({})",
                with.len(),
                j.machine.vendor.trim()
            ),
            format!(
                "PID(s) {} map {}. MKL chooses its fast code paths by checking for a GenuineIntel \
             CPU; elsewhere it may use slower generic kernels. OpenBLAS or BLIS is usually as \
             fast or faster here; measure with `blasfix bench`.",
                with.iter()
                    .map(|(p, _)| p.pid.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                lib.path
            ),
        )
        .fix(Some(fix), None),
    ]
}

/// The unoptimised reference BLAS loaded.
fn reference_blas(j: &Judged<'_>) -> Vec<Finding> {
    let with: Vec<(&ProcessView, &MappedLib)> =
        j.w.processes
            .iter()
            .filter_map(|p| {
                p.libraries
                    .iter()
                    .find(|l| l.implementation == LibImpl::Netlib && l.kind == LibKind::Blas)
                    .map(|l| (p, l))
            })
            .collect();
    let Some((_, lib)) = with.first() else {
        return Vec::new();
    };
    let fix = if lib.path.starts_with("/usr/lib") {
        "sudo apt-get install libopenblas0-pthread\n\
         then: sudo update-alternatives --config libblas.so.3-$(gcc -dumpmachine)"
            .to_string()
    } else {
        match prefix_of(&lib.path) {
            Some(p) => format!("blasfix apply --backend openblas -p {p}"),
            None => "install an optimised BLAS (OpenBLAS) for this environment".into(),
        }
    };
    vec![
        Finding::new(
            "reference-blas",
            Severity::Warning,
            format!("{} process(es) run the reference BLAS", with.len()),
            format!(
                "PID(s) {} map {}, the unoptimised reference implementation: single-threaded and \
             often 10 to 50 times slower than OpenBLAS or MKL for matrix products.",
                with.iter()
                    .map(|(p, _)| p.pid.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                lib.path
            ),
        )
        .fix(Some(fix), None),
    ]
}

/// A cgroup quota that throttled the processes during the window.
fn cpu_throttled(j: &Judged<'_>) -> Vec<Finding> {
    let mut by_source: BTreeMap<String, (f64, u64, Vec<&ProcessView>)> = BTreeMap::new();
    for p in &j.w.processes {
        let (Some(c), Some(n)) = (&p.cgroup, p.throttled_in_window) else {
            continue;
        };
        let (Some(src), Some(q)) = (&c.quota_source, c.quota) else {
            continue;
        };
        let e = by_source.entry(src.clone()).or_insert((q, n, Vec::new()));
        e.1 = e.1.max(n);
        e.2.push(p);
    }
    by_source
        .into_iter()
        .filter(|(_, (_, n, _))| *n > 0)
        .map(|(src, (q, n, ps))| {
            let demand: usize = ps.iter().map(|p| p.pool_threads().max(1)).sum();
            let cap = (q.floor() as usize).max(1);
            let k = (cap / ps.len().max(1)).max(1);
            Finding::new(
                "cpu-throttled",
                Severity::Warning,
                format!("The cgroup CPU quota ({q:.2} CPUs) throttled these processes {n} times"),
                format!(
                    "{src} limits PID(s) {} to {q:.2} CPUs; during the {:.1} s window the \
                     kernel stopped them {n} time(s) for the rest of a period. Their pools want \
                     {demand} threads; OpenBLAS and OpenMP size pools from the CPUs they see, \
                     not from the quota. A budget of {cap} CPU(s) over {} process(es) is {k} \
                     thread(s) each.",
                    ps.iter()
                        .map(|p| p.pid.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    j.w.window_s,
                    ps.len()
                ),
            )
            .fix(
                Some(format!(
                    "{}\nor raise the quota (docker --cpus, Kubernetes limits.cpu)",
                    exports(k)
                )),
                None,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// Real command lines and names (captured from running launchers, or quoted from the
    /// source that sets them) and the role each must get.
    #[test]
    fn roles_from_real_command_lines() {
        let py = "/work/heavy/venv-sci/bin/python";
        let main = s(&[py, "capture.py", "fork"]);
        let forkserver = s(&[
            py,
            "-B",
            "-c",
            "from multiprocessing.forkserver import main; main(11, 12, ['__main__'], **{'sys_path': ['/tmp/psx', '/work/heavy/venv-sci/lib/python3.11/site-packages']})",
        ]);
        let empty = BTreeMap::new();
        let torch_env: BTreeMap<String, String> = [
            ("LOCAL_RANK", "0"),
            ("RANK", "0"),
            ("WORLD_SIZE", "4"),
            ("TORCHELASTIC_RUN_ID", "none"),
            ("OMP_NUM_THREADS", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        struct Case<'a> {
            comm: &'a str,
            cmd: Vec<String>,
            env: &'a BTreeMap<String, String>,
            python: bool,
            parent: Option<(Vec<String>, Role)>,
            want: Role,
        }
        let case = |comm, cmd: Vec<String>, parent: Option<(Vec<String>, Role)>, want| Case {
            comm,
            cmd,
            env: &empty,
            python: true,
            parent,
            want,
        };
        let cases = vec![
            case("python", main.clone(), None, Role::Main),
            case(
                "python",
                main.clone(),
                Some((main.clone(), Role::Main)),
                Role::ForkWorker,
            ),
            case(
                "python",
                s(&[
                    py,
                    "-B",
                    "-c",
                    "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=6, pipe_handle=15)",
                    "--multiprocessing-fork",
                ]),
                Some((main.clone(), Role::Main)),
                Role::SpawnWorker,
            ),
            case(
                "python",
                s(&[
                    py,
                    "-B",
                    "-c",
                    "from multiprocessing.resource_tracker import main;main(5)",
                ]),
                Some((main.clone(), Role::Main)),
                Role::ResourceTracker,
            ),
            case(
                "python",
                forkserver.clone(),
                Some((main.clone(), Role::Main)),
                Role::Forkserver,
            ),
            case(
                "python",
                forkserver.clone(),
                Some((forkserver.clone(), Role::Forkserver)),
                Role::ForkserverWorker,
            ),
            case(
                "python",
                s(&[
                    py,
                    "-m",
                    "joblib.externals.loky.backend.popen_loky_posix",
                    "--process-name",
                    "LokyProcess-2",
                    "--pipe",
                    "15",
                ]),
                Some((main.clone(), Role::Main)),
                Role::LokyWorker,
            ),
            case(
                "python",
                s(&[
                    py,
                    "-B",
                    "-c",
                    "from joblib.externals.loky.backend.resource_tracker import main; main(3, False)",
                ]),
                Some((main.clone(), Role::Main)),
                Role::ResourceTracker,
            ),
            // DataLoader workers are fork()ed (same argv) and rename their main thread.
            case(
                "pt_data_worker",
                main.clone(),
                Some((main.clone(), Role::Main)),
                Role::DataloaderWorker,
            ),
            case("python3.11", s(&["ray::IDLE"]), None, Role::RayWorker),
            case(
                "python3.11",
                s(&["ray::train_step()"]),
                None,
                Role::RayWorker,
            ),
            case(
                "python",
                s(&["dask worker [tcp://10.0.0.2:40123]"]),
                None,
                Role::DaskWorker,
            ),
            case("python", s(&["VLLM::Worker"]), None, Role::VllmWorker),
            case(
                "torchrun",
                s(&[
                    "/usr/bin/python3",
                    "/opt/venv/bin/torchrun",
                    "--nproc_per_node=4",
                    "train.py",
                ]),
                None,
                Role::Torchrun,
            ),
            case(
                "python3",
                s(&[
                    "/usr/bin/python3",
                    "-m",
                    "torch.distributed.run",
                    "--nproc_per_node=2",
                    "train.py",
                ]),
                None,
                Role::Torchrun,
            ),
            Case {
                comm: "python3",
                cmd: s(&["/usr/bin/python3", "-u", "train.py", "--epochs", "3"]),
                env: &torch_env,
                python: true,
                parent: Some((
                    s(&[
                        "/usr/bin/python3",
                        "/opt/venv/bin/torchrun",
                        "--nproc_per_node=4",
                        "train.py",
                    ]),
                    Role::Torchrun,
                )),
                want: Role::TorchrunWorker,
            },
            Case {
                comm: "bash",
                cmd: s(&["bash", "run.sh"]),
                env: &empty,
                python: false,
                parent: None,
                want: Role::Other,
            },
            // A non-Python child with its parent's argv (a shell's subshell) stays "other".
            Case {
                comm: "bash",
                cmd: s(&["bash", "run.sh"]),
                env: &empty,
                python: false,
                parent: Some((s(&["bash", "run.sh"]), Role::Other)),
                want: Role::Other,
            },
        ];
        for c in &cases {
            let input = RoleInput {
                comm: c.comm,
                cmdline: &c.cmd,
                env: c.env,
                python: c.python,
                parent: c.parent.as_ref().map(|(cmd, r)| (cmd.as_slice(), *r)),
            };
            assert_eq!(role_of(&input), c.want, "{} {:?}", c.comm, c.cmd);
        }
        // Every role rule is exercised by a case.
        for r in ROLE_RULES {
            assert!(
                cases.iter().any(|c| c.want == r.role),
                "no case for {:?}",
                r.role
            );
        }
    }

    fn thread(tid: u32, name: &str, start: u64, ticks: u64) -> ThreadSample {
        ThreadSample {
            tid,
            name: name.into(),
            state: 'S',
            cpu_ticks: ticks,
            start_ticks: start,
            affinity: Some(CpuSet::from_ids(0..4)),
        }
    }

    fn openblas(path: &str, layer: &str) -> MappedLib {
        MappedLib {
            implementation: LibImpl::Openblas,
            kind: LibKind::Blas,
            path: path.into(),
            version: None,
            threading_layer: Some(layer.into()),
        }
    }

    fn lib(imp: LibImpl, path: &str) -> MappedLib {
        MappedLib {
            implementation: imp,
            kind: if imp.is_openmp() {
                LibKind::Openmp
            } else {
                LibKind::Blas
            },
            path: path.into(),
            version: None,
            threading_layer: (imp == LibImpl::Mkl).then(|| "intel".to_string()),
        }
    }

    fn process(
        pid: u32,
        threads: Vec<ThreadSample>,
        libs: Vec<MappedLib>,
        env: &[(&str, &str)],
    ) -> ProcessSample {
        ProcessSample {
            pid,
            ppid: 1,
            uid: 1000,
            start_ticks: 100,
            comm: "python".into(),
            state: 'S',
            cmdline: s(&["/v/bin/python", "work.py"]),
            exe: Some("/v/bin/python3.11".into()),
            python: true,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cpu_ticks: 0,
            threads,
            affinity: Some(CpuSet::from_ids(0..4)),
            cgroup: None,
            libraries: libs,
            hidden: Vec::new(),
        }
    }

    fn machine(cpus: usize) -> CpuFacts {
        CpuFacts {
            logical_cpus: cpus,
            physical_cores: Some(cpus),
            usable_cpus: cpus,
            affinity_cpus: Some(cpus),
            vendor: "AuthenticAMD".into(),
            vendor_family: VendorFamily::Amd,
            ..Default::default()
        }
    }

    #[test]
    fn a_burst_matching_the_rule_is_the_observed_pool() {
        // OpenBLAS with 4 CPUs: 3 helpers started together at import, plus 3 Python threads
        // (a Pool's handlers) started later.
        let p = process(
            10,
            vec![
                thread(10, "python", 100, 50),
                thread(11, "python", 150, 40),
                thread(12, "python", 150, 40),
                thread(13, "python", 150, 40),
                thread(20, "python", 300, 0),
                thread(21, "python", 300, 0),
            ],
            vec![openblas(
                "/v/numpy.libs/libscipy_openblas64_-x.so",
                "pthreads",
            )],
            &[],
        );
        let pools = attribute_pools(&p, 4, &machine(4), &|_| Some(50.0));
        assert_eq!(pools.len(), 1);
        assert!(pools[0].observed, "{:?}", pools[0]);
        assert_eq!(pools[0].threads, 4);
        assert_eq!(pools[0].tids, vec![11, 12, 13]);
        assert_eq!(pools[0].busy_threads, Some(4));
        assert!(
            pools[0].basis.contains("as the rule predicts"),
            "{}",
            pools[0].basis
        );
    }

    #[test]
    fn idle_helpers_while_the_process_computes_mean_one_thread_in_use() {
        // threadpool_limits(1) after OpenBLAS started its pool: the helper exists, sleeps.
        let p = process(
            10,
            vec![thread(10, "python", 100, 50), thread(11, "python", 150, 0)],
            vec![openblas(
                "/v/numpy.libs/libscipy_openblas64_-x.so",
                "pthreads",
            )],
            &[],
        );
        let cpu = |tid: u32| Some(if tid == 10 { 95.0 } else { 0.0 });
        let pools = attribute_pools(&p, 2, &machine(2), &cpu);
        assert!(pools[0].observed);
        assert_eq!(pools[0].threads, 1, "{:?}", pools[0]);
        assert!(pools[0].basis.contains("limited at run time"));
        // The same threads while both compute: a pool of 2.
        let pools = attribute_pools(&p, 2, &machine(2), &|_| Some(60.0));
        assert_eq!((pools[0].threads, pools[0].busy_threads), (2, Some(2)));
        // An idle process tells nothing: the pool is the threads that exist.
        let pools = attribute_pools(&p, 2, &machine(2), &|_| Some(0.0));
        assert_eq!(pools[0].threads, 2);
    }

    #[test]
    fn pools_without_threads_stay_inferred() {
        // A fork()ed worker before its first BLAS call, and a lazily started OpenMP pool.
        let p = process(
            10,
            vec![thread(10, "python", 100, 5)],
            vec![
                openblas("/v/numpy.libs/libscipy_openblas64_-x.so", "pthreads"),
                lib(LibImpl::Libgomp, "/v/scikit_learn.libs/libgomp-e9.so.1.0.0"),
            ],
            &[],
        );
        let pools = attribute_pools(&p, 4, &machine(4), &|_| Some(0.0));
        assert_eq!(pools.len(), 2);
        assert!(
            pools
                .iter()
                .all(|x| !x.observed && x.threads == 4 && !x.started),
            "{pools:?}"
        );
        assert!(
            pools[0].basis.contains("restarts OpenBLAS's pool"),
            "{}",
            pools[0].basis
        );
        assert!(
            pools[1].basis.contains("first parallel region"),
            "{}",
            pools[1].basis
        );
    }

    #[test]
    fn limits_from_the_environment_size_the_rule() {
        let p = process(
            10,
            vec![thread(10, "python", 100, 5)],
            vec![openblas("/e/lib/libopenblasp-r0.3.21.so", "pthreads")],
            &[("OPENBLAS_NUM_THREADS", "1")],
        );
        let pools = attribute_pools(&p, 4, &machine(4), &|_| None);
        assert_eq!((pools[0].threads, pools[0].observed), (1, false));
        assert!(
            pools[0].basis.contains("OPENBLAS_NUM_THREADS=1"),
            "{}",
            pools[0].basis
        );
        // An OpenMP build follows OMP_NUM_THREADS, not OPENBLAS_NUM_THREADS.
        let p = process(
            10,
            vec![thread(10, "python", 100, 5)],
            vec![openblas(
                "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3",
                "openmp",
            )],
            &[("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "3")],
        );
        assert_eq!(attribute_pools(&p, 4, &machine(4), &|_| None)[0].threads, 3);
    }

    #[test]
    fn one_pool_with_one_other_burst_is_observed_with_its_size() {
        // threadpoolctl lowered nothing, but OPENBLAS_NUM_THREADS=8 clamps to 4 CPUs: the 3
        // helpers match. Here 2 helpers exist where the rule says 4: observed as 3.
        let p = process(
            10,
            vec![
                thread(10, "python", 100, 5),
                thread(11, "python", 120, 5),
                thread(12, "python", 120, 5),
            ],
            vec![openblas("/e/lib/libopenblasp-r0.3.21.so", "pthreads")],
            &[],
        );
        let pools = attribute_pools(&p, 4, &machine(4), &|_| None);
        assert!(pools[0].observed);
        assert_eq!(pools[0].threads, 3);
        assert!(pools[0].basis.contains("changed at run time"));
    }

    #[test]
    fn mkl_shares_its_openmp_runtime_threads() {
        let p = process(
            10,
            vec![thread(10, "python", 100, 5), thread(11, "python", 200, 5)],
            vec![
                lib(LibImpl::Mkl, "/e/lib/libmkl_rt.so.2"),
                lib(LibImpl::Libiomp, "/e/lib/libiomp5.so"),
            ],
            &[("OMP_NUM_THREADS", "2")],
        );
        let pools = attribute_pools(&p, 4, &machine(4), &|_| None);
        assert_eq!(pools.len(), 2);
        assert!(
            pools.iter().all(|x| x.observed && x.threads == 2),
            "{pools:?}"
        );
        assert!(pools[0].basis.contains("OpenMP runtime"));
    }

    #[test]
    fn named_threads_are_not_pool_threads() {
        let p = process(
            10,
            vec![
                thread(10, "pt_data_worker", 100, 5),
                thread(11, "pt_data_pin", 100, 5),
                thread(12, "python", 120, 5),
            ],
            vec![openblas("/e/lib/libopenblasp-r0.3.21.so", "pthreads")],
            &[],
        );
        let pools = attribute_pools(&p, 2, &machine(2), &|_| None);
        assert_eq!(pools[0].tids, vec![12]);
    }

    #[test]
    fn bursts_split_on_gaps_in_ids_or_time() {
        let ts = [
            thread(5, "p", 10, 0),
            thread(6, "p", 10, 0),
            thread(7, "p", 11, 0),
            thread(30, "p", 11, 0),
            thread(31, "p", 40, 0),
        ];
        let refs: Vec<&ThreadSample> = ts.iter().collect();
        assert_eq!(bursts(&refs), vec![vec![5, 6, 7], vec![30], vec![31]]);
    }

    #[test]
    fn usable_cpus_follow_mask_and_quota() {
        let m = CpuSet::from_ids(0..8);
        assert_eq!(usable(Some(&m), None, 16), 8);
        assert_eq!(usable(Some(&m), Some(2.5), 16), 2);
        assert_eq!(usable(Some(&m), Some(0.5), 16), 1);
        assert_eq!(usable(None, None, 16), 16);
    }

    // -- the workload and its findings, from snapshots built in code -----------------------

    fn snap(at: f64, ps: Vec<ProcessSample>) -> Snapshot {
        Snapshot {
            at,
            ticks_per_s: 100,
            processes: ps,
            unreadable: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A main process and `n` fork workers, each with a full OpenBLAS pool on `cpus` CPUs,
    /// busy for `busy` ticks over a 1 s window.
    fn pool_tree(n: u32, cpus: usize, env: &[(&str, &str)], busy: u64) -> (Snapshot, Snapshot) {
        let mut start = Vec::new();
        let mut end = Vec::new();
        let mut main = process(100, vec![thread(100, "python", 10, 0)], vec![], env);
        main.affinity = Some(CpuSet::from_ids(0..cpus));
        start.push(main.clone());
        end.push(main);
        for i in 0..n {
            let pid = 200 + i * 10;
            let helpers = cpus as u32 - 1;
            let mk = |ticks: u64| {
                let mut t = vec![thread(pid, "python", 20, ticks)];
                t.extend((1..=helpers).map(|h| thread(pid + h, "python", 30, ticks)));
                for t in &mut t {
                    t.affinity = Some(CpuSet::from_ids(0..cpus));
                }
                let mut p = process(
                    pid,
                    t,
                    vec![openblas(
                        "/v/numpy.libs/libscipy_openblas64_-x.so",
                        "pthreads",
                    )],
                    env,
                );
                p.ppid = 100;
                p.affinity = Some(CpuSet::from_ids(0..cpus));
                p.cpu_ticks = ticks * (helpers as u64 + 1);
                p
            };
            start.push(mk(0));
            end.push(mk(busy));
        }
        (snap(0.0, start), snap(1.0, end))
    }

    #[test]
    fn workers_with_full_pools_are_oversubscribed_with_the_launcher_fix() {
        let (a, b) = pool_tree(4, 8, &[], 60);
        let m = machine(8);
        let w = analyse(&a, &b, &m);
        assert_eq!(w.trees.len(), 1);
        assert_eq!(w.trees[0].launcher, Some(Launcher::Multiprocessing));
        assert_eq!(w.totals.pool_threads, 32);
        assert_eq!(w.totals.usable_cpus, 8);
        assert_eq!(w.totals.busy_threads, 32);
        assert_eq!(w.processes[1].role, Role::ForkWorker);
        assert_eq!(w.processes[1].cpu_percent.map(|c| c.round()), Some(480.0));
        let f = evaluate(&w, &m);
        let o = f
            .iter()
            .find(|x| x.id == "pools-oversubscribed")
            .expect("finding");
        assert!(o.title.contains("32 threads on 8 CPUs"), "{}", o.title);
        assert!(o.detail.contains("max(1, 8 // 4) = 2"), "{}", o.detail);
        assert!(
            o.detail.contains("OpenBLAS pools of 8 threads each"),
            "{}",
            o.detail
        );
        assert!(o.detail.contains("all observed"), "{}", o.detail);
        let fix = o.fix.as_deref().unwrap();
        assert!(
            fix.contains("export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2"),
            "{fix}"
        );
        assert!(
            fix.contains("initializer=threadpoolctl.threadpool_limits"),
            "{fix}"
        );
    }

    #[test]
    fn limited_workers_are_not_oversubscribed() {
        let (a, b) = pool_tree(4, 4, &[("OPENBLAS_NUM_THREADS", "1")], 60);
        // With the limit OpenBLAS starts no helpers: rebuild the workers with one thread.
        let strip = |s: Snapshot| Snapshot {
            processes: s
                .processes
                .into_iter()
                .map(|mut p| {
                    p.threads.truncate(1);
                    p
                })
                .collect(),
            ..s
        };
        let m = machine(4);
        let w = analyse(&strip(a), &strip(b), &m);
        assert_eq!(w.totals.pool_threads, 4);
        assert!(
            evaluate(&w, &m)
                .iter()
                .all(|f| f.id != "pools-oversubscribed")
        );
    }

    #[test]
    fn more_single_threaded_workers_than_cpus_is_no_pool_problem() {
        // 4 workers limited to one thread on 2 CPUs: smaller pools cannot help.
        let (a, b) = pool_tree(4, 1, &[("OPENBLAS_NUM_THREADS", "1")], 60);
        let m = machine(2);
        let w = analyse(&a, &b, &m);
        assert_eq!(w.totals.pool_threads, 4);
        assert!(
            evaluate(&w, &m)
                .iter()
                .all(|f| f.id != "pools-oversubscribed")
        );
    }

    #[test]
    fn a_python_thread_beside_a_one_thread_pool_is_not_the_pool() {
        let p = process(
            10,
            vec![thread(10, "python", 100, 5), thread(11, "python", 300, 0)],
            vec![openblas(
                "/v/numpy.libs/libscipy_openblas64_-x.so",
                "pthreads",
            )],
            &[("OPENBLAS_NUM_THREADS", "1")],
        );
        let pools = attribute_pools(&p, 2, &machine(2), &|_| Some(0.0));
        assert_eq!(
            (pools[0].threads, pools[0].observed),
            (1, false),
            "{:?}",
            pools[0]
        );
    }

    #[test]
    fn each_launcher_has_its_own_fix() {
        let m = machine(8);
        let fix_for = |l: Launcher| launcher_fix(Some(l), 2, &[]);
        let cases: &[(Launcher, &str, &str)] = &[
            (
                Launcher::Loky,
                "cpu_count() // n_jobs",
                "parallel_config(inner_max_num_threads=2)",
            ),
            (
                Launcher::Dataloader,
                "limits only torch's own pool",
                "threadpool_limits(2)",
            ),
            (
                Launcher::Torchrun,
                "OMP_NUM_THREADS=1",
                "export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2",
            ),
            (
                Launcher::Forkserver,
                "SubprocVecEnv",
                "threadpool_limits(2)",
            ),
            (
                Launcher::Multiprocessing,
                "no thread limits",
                "initargs=(2,))",
            ),
            (
                Launcher::Ray,
                "OMP_NUM_THREADS to the CPUs",
                "ray.remote(num_cpus=2)",
            ),
            (
                Launcher::Dask,
                "pre-spawn-environ",
                "export OMP_NUM_THREADS=2",
            ),
            (Launcher::Vllm, "vLLM", "export"),
            (
                Launcher::Independent,
                "separate programs",
                "export OMP_NUM_THREADS=2",
            ),
        ];
        let _ = m;
        for (l, does, fix) in cases {
            let (d, f) = fix_for(*l);
            assert!(d.contains(does) || f.contains(does), "{l:?}: {d} / {f}");
            assert!(f.contains(fix), "{l:?}: {f}");
            // Each line fits after "      fix: " in 80 columns.
            assert!(f.lines().all(|x| x.chars().count() <= 69), "{l:?}: {f}");
        }
    }

    #[test]
    fn pinned_workers_overlap() {
        let (mut a, mut b) = pool_tree(3, 4, &[], 50);
        for s in [&mut a, &mut b] {
            for p in s.processes.iter_mut().filter(|p| p.pid != 100) {
                p.affinity = Some(CpuSet::from_ids([0]));
                p.threads.truncate(1);
                for t in &mut p.threads {
                    t.affinity = Some(CpuSet::from_ids([0]));
                }
            }
        }
        let m = machine(4);
        let w = analyse(&a, &b, &m);
        let f = evaluate(&w, &m);
        let o = f
            .iter()
            .find(|x| x.id == "affinity-overlap")
            .expect("overlap");
        assert!(
            o.title
                .contains("3 processes are pinned to the same CPU(s) 0"),
            "{}",
            o.title
        );
        assert!(o.fix.as_deref().unwrap().contains("os.sched_setaffinity"));
    }

    #[test]
    fn two_openmp_runtimes_and_mkl_on_amd_and_reference_blas() {
        let p = process(
            10,
            vec![thread(10, "python", 1, 0)],
            vec![
                lib(LibImpl::Mkl, "/opt/conda/envs/x/lib/libmkl_rt.so.2"),
                lib(LibImpl::Libiomp, "/opt/conda/envs/x/lib/libiomp5.so"),
                lib(LibImpl::Libgomp, "/v/scikit_learn.libs/libgomp-e9.so.1.0.0"),
            ],
            &[],
        );
        let mut q = process(
            20,
            vec![thread(20, "python", 1, 0)],
            vec![lib(
                LibImpl::Netlib,
                "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0",
            )],
            &[],
        );
        q.ppid = 1;
        let m = machine(4);
        let w = analyse(
            &snap(0.0, vec![p.clone(), q.clone()]),
            &snap(1.0, vec![p, q]),
            &m,
        );
        let f = evaluate(&w, &m);
        let ids: Vec<&str> = f.iter().map(|x| x.id.as_str()).collect();
        assert!(ids.contains(&"openmp-duplicate"), "{ids:?}");
        assert!(ids.contains(&"mkl-on-non-intel"), "{ids:?}");
        assert!(ids.contains(&"reference-blas"), "{ids:?}");
        let omp = f.iter().find(|x| x.id == "openmp-duplicate").unwrap();
        assert_eq!(
            omp.fix
                .as_deref()
                .map(|s| s.starts_with("export MKL_THREADING_LAYER=GNU")),
            Some(true)
        );
        assert!(omp.detail.contains("KMP_DUPLICATE_LIB_OK"));
        let refb = f.iter().find(|x| x.id == "reference-blas").unwrap();
        assert!(refb.fix.as_deref().unwrap().contains("update-alternatives"));
        // libomp + libiomp5 is an error.
        let p = process(
            10,
            vec![thread(10, "python", 1, 0)],
            vec![
                lib(LibImpl::Libomp, "/e/lib/libomp.so"),
                lib(LibImpl::Libiomp, "/e/lib/libiomp5.so"),
            ],
            &[],
        );
        let w = analyse(
            &snap(0.0, vec![p.clone()]),
            &snap(1.0, vec![p]),
            &machine(4),
        );
        let f = evaluate(&w, &machine(4));
        assert_eq!(f[0].severity, Severity::Error);
        // On Intel, MKL is fine.
        let mut intel = machine(4);
        intel.vendor_family = VendorFamily::Intel;
        assert!(
            mkl_on_non_intel(&Judged {
                w: &w,
                machine: &intel
            })
            .is_empty()
        );
    }

    #[test]
    fn throttling_during_the_window() {
        let mk = |throttled| {
            let mut p = process(
                10,
                vec![thread(10, "python", 1, 0)],
                vec![openblas("/e/lib/libopenblasp-r0.3.21.so", "pthreads")],
                &[],
            );
            p.cgroup = Some(CgroupCpu {
                path: "/job".into(),
                quota: Some(0.5),
                quota_source: Some("/sys/fs/cgroup/job/cpu.max".into()),
                nr_periods: Some(100),
                nr_throttled: Some(throttled),
                throttled_usec: Some(0),
            });
            p
        };
        let m = machine(4);
        let w = analyse(&snap(0.0, vec![mk(3)]), &snap(1.0, vec![mk(9)]), &m);
        assert_eq!(w.processes[0].usable_cpus, 1);
        assert_eq!(w.processes[0].throttled_in_window, Some(6));
        let f = evaluate(&w, &m);
        let t = f
            .iter()
            .find(|x| x.id == "cpu-throttled")
            .expect("throttled");
        assert!(t.title.contains("6 times"), "{}", t.title);
        // Single process with a pool of 4 on a quota of 1 CPU: oversubscribed too.
        assert!(f.iter().any(|x| x.id == "pools-oversubscribed"));
        let w = analyse(&snap(0.0, vec![mk(9)]), &snap(1.0, vec![mk(9)]), &m);
        assert!(evaluate(&w, &m).iter().all(|x| x.id != "cpu-throttled"));
    }

    #[test]
    fn exits_during_the_window_are_reported() {
        let p = process(10, vec![thread(10, "python", 1, 0)], vec![], &[]);
        let w = analyse(&snap(0.0, vec![p]), &snap(1.0, vec![]), &machine(2));
        assert_eq!(w.unreadable.len(), 1);
        assert!(
            w.unreadable[0]
                .reason
                .starts_with("exited during the window")
        );
    }

    #[test]
    fn every_rule_is_listed_once() {
        let mut ids: Vec<&str> = RULES.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
    }
}
