//! The machine facts on the machine running the tests: they agree with the standard library,
//! follow the thread's affinity mask, and serialise with the field names the JSON schema uses.

use blasfix::facts::cpu;

#[cfg(target_os = "linux")]
use crate::support::{Need, skip};

#[test]
fn detect_matches_std_and_serialises() {
    let f = cpu::detect();
    let std_n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    assert_eq!(f.usable_cpus, std_n, "{f:#?}");
    assert!(f.logical_cpus >= f.usable_cpus);
    assert!(!f.subdir.is_empty() && !f.process_subdir.is_empty());
    let v = serde_json::to_value(&f).expect("CpuFacts serialises");
    for key in [
        "vendor",
        "vendor_family",
        "microarch",
        "simd",
        "usable_cpus",
        "subdir",
        "rosetta",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert!(
        v["vendor_family"]
            .as_str()
            .is_some_and(|s| s == s.to_lowercase())
    );
}

/// `detect` reads the calling thread's mask, as OpenBLAS and `available_parallelism` do.
#[cfg(target_os = "linux")]
#[test]
fn detect_follows_affinity() {
    let handle = std::thread::spawn(|| {
        // SAFETY: cpu_set_t is plain data; pinning only this new thread to one allowed CPU.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return None;
            }
            let first = (0..libc::CPU_SETSIZE as usize).find(|&i| libc::CPU_ISSET(i, &set))?;
            libc::CPU_ZERO(&mut set);
            libc::CPU_SET(first, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return None;
            }
        }
        Some(cpu::detect())
    });
    let Some(f) = handle.join().expect("thread ran") else {
        skip::<()>(Need::Ci, "could not change a thread's CPU affinity");
        return;
    };
    assert_eq!(f.affinity_cpus, Some(1), "{f:#?}");
    assert_eq!(f.usable_cpus, 1);
    if let Some(p) = f.physical_cores {
        assert_eq!(p, 1);
    }
    assert_eq!(blasfix::diagnose::threads::suggested_threads(&f), 1);
}
