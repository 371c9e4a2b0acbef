//! CPU facts from texts recorded on real machines that CI does not have: `/proc/cpuinfo` of
//! aarch64 servers (Neoverse N1, V1, V2/Grace, N2) and `sysctl` output of Macs (Apple M4,
//! an x86_64 process under Rosetta 2 on an M1, an Intel Mac). Each text is quoted as published;
//! the source is named above it. These run on every target (the pure `assemble` takes the text),
//! so the aarch64 stage under qemu and the Windows stage under Wine prove them too.

use blasfix::facts::cpu::{self, CpuParts, SysctlInfo, VendorFamily};

fn linux_aarch64(cpuinfo: &str) -> cpu::CpuFacts {
    cpu::assemble(CpuParts {
        os: "linux".into(),
        process_arch: "aarch64".into(),
        machine: Some("aarch64".into()),
        cpuinfo: Some(cpuinfo.into()),
        ..Default::default()
    })
}

/// AWS Graviton2 (Neoverse N1): archspec/archspec-json, tests/targets/linux-amazon-graviton2
/// (commit e0a3a83a8e909c5fddd0b4cf3f34778283e8b404), spacing as recorded there.
const GRAVITON2_N1: &str = "processor       : 0
BogoMIPS        : 243.75
Features        : fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant     : 0x3
CPU part        : 0xd0c
CPU revision    : 1
";

/// AWS Graviton3 (Neoverse V1): James Clark (Arm), "Re: [PATCH v2 0/4] Add VG register attr test
/// with kernel version and feature detection", linux-kernel / linux-perf-users, 2022-12-13,
/// Message-ID <634087f2-1a7a-0f61-51e8-9e6068d59e9d@arm.com> (`head /proc/cpuinfo` on a
/// Graviton 3; the mail wraps the Features line, joined again here).
const GRAVITON3_V1: &str = "processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x1
CPU part\t: 0xd40
CPU revision\t: 1
";

/// NVIDIA Grace (Neoverse V2, 72 cores): Breno Leitao, "Re: arm64: csdlock at early boot due to
/// slow serial (?)", linux-serial / linux-arm-kernel, 2025-07-03, Message-ID
/// <aGaQBghdAl8VGWmV@gmail.com> (the last of the 72 processor blocks; lscpu there says
/// "Vendor ID: ARM, Model name: Neoverse-V2, Core(s) per socket: 72").
const GRACE_V2: &str = "processor\t: 71
BogoMIPS\t: 2000.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm sb paca pacg dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svebf16 i8mm bf16 dgh bti
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd4f
CPU revision\t: 0
";

/// Neoverse N2: archspec/archspec-json, tests/targets/linux-rhel9-neoverse_n2 (commit
/// f7a3dc7b740f84b627070d1153d7c7fb857a868a); archspec blanked the fields it does not read.
const RHEL9_N2: &str = "processor       : Irrelevant
BogoMIPS        : Irrelevant
Features        : fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb dcpodp sve2 sveaes svepmull svebitperm svesha3 flagm2 frint svei8mm svebf16 i8mm bf16 dgh
CPU implementer : 0x41
CPU architecture: Irrelevant
CPU variant     : Irrelevant
CPU part        : 0xd49
CPU revision    : Irrelevant
";

#[test]
fn neoverse_cpuinfo_texts() {
    // (text, archspec name, brand, part, SVE, SVE2, FP64 FLOPs/cycle)
    let cases = [
        (
            GRAVITON2_N1,
            "neoverse_n1",
            "ARM Neoverse-N1",
            "0xd0c",
            false,
            false,
            8,
        ),
        (
            GRAVITON3_V1,
            "neoverse_v1",
            "ARM Neoverse-V1",
            "0xd40",
            true,
            false,
            16,
        ),
        (
            GRACE_V2,
            "neoverse_v2",
            "ARM Neoverse-V2",
            "0xd4f",
            true,
            true,
            16,
        ),
        (
            RHEL9_N2,
            "neoverse_n2",
            "ARM Neoverse-N2",
            "0xd49",
            true,
            true,
            8,
        ),
    ];
    for (text, arch, brand, part, sve, sve2, flops) in cases {
        let f = linux_aarch64(text);
        assert_eq!(f.microarch.as_deref(), Some(arch), "{text}");
        assert_eq!(f.vendor, "ARM");
        assert_eq!(f.vendor_family, VendorFamily::Arm);
        assert_eq!(f.brand.as_deref(), Some(brand));
        assert_eq!(f.cpu_part.as_deref(), Some(part));
        assert_eq!(f.subdir, "linux-aarch64");
        assert_eq!(f.process_subdir, "linux-aarch64");
        assert_eq!(f.fp64_flops_per_cycle, Some(flops), "{arch}");
        // SVE comes from the kernel's hwcaps (Features), the same names archspec matches on.
        let info = cpu::CpuInfo::parse(text);
        let features = info.first("Features").unwrap_or("");
        assert_eq!(features.split(' ').any(|x| x == "sve"), sve, "{arch}");
        assert_eq!(features.split(' ').any(|x| x == "sve2"), sve2, "{arch}");
        // No x86 fields, no physical-core ids in an aarch64 cpuinfo.
        assert_eq!((f.family, f.model, f.physical_cores), (None, None, None));
        assert_eq!(f.logical_cpus, 1);
    }
}

/// Apple M4 Max, macOS 15 Sequoia: archspec/archspec-json, tests/targets/darwin-sequoia-m4
/// (commit db3df731588411f59a8ea27083bb14ba2ae47428), the keys blasfix reads, verbatim.
/// `kern.osproductversion` is not in that file: 15.5 stands for a current Sequoia.
const M4_SYSCTL: &str = "hw.perflevel0.physicalcpu: 12
hw.perflevel1.physicalcpu: 4
hw.optional.arm.FEAT_SME: 1
hw.optional.arm.FEAT_SME2: 1
hw.optional.neon: 1
hw.optional.arm64: 1
hw.physicalcpu: 16
hw.physicalcpu_max: 16
hw.logicalcpu: 16
hw.logicalcpu_max: 16
hw.cpufamily: 399882554
hw.nperflevels: 2
machdep.cpu.brand_string: Apple M4 Max
kern.osproductversion: 15.5
";

/// An x86_64 process under Rosetta 2 on an M1, macOS 12 Monterey: archspec/archspec-json,
/// tests/targets/rossetta2-monterey-core2 (commit 4a906a1e056b6101e058efdd78b8c21785cfe294),
/// verbatim lines. `sysctl.proc_translated` is per process and absent from `sysctl -a`; a
/// translated process reads 1 (Apple, "About the Rosetta translation environment").
const ROSETTA_M1_SYSCTL: &str = "hw.optional.sse4_2: 1
hw.optional.avx1_0: 0
hw.optional.avx2_0: 0
hw.optional.arm64: 1
hw.physicalcpu: 8
hw.logicalcpu: 8
hw.cpufrequency: 2400000000
machdep.cpu.brand_string: Apple M1
machdep.cpu.family: 6
sysctl.proc_translated: 1
";

/// Intel Core i7-6700K, macOS 10.14 Mojave: archspec/archspec-json, tests/targets/darwin-mojave-skylake
/// (commit 9b22d3d592182f59d668ebf7b4f9897f5b9b635e), verbatim; that file records the machdep
/// keys only.
const MOJAVE_SKYLAKE_SYSCTL: &str = "machdep.cpu.vendor: GenuineIntel
machdep.cpu.model: 94
machdep.cpu.brand_string: Intel(R) Core(TM) i7-6700K CPU @ 4.00GHz
";

fn mac(process_arch: &str, sysctl: &str) -> cpu::CpuFacts {
    cpu::assemble(CpuParts {
        os: "macos".into(),
        process_arch: process_arch.into(),
        machine: Some(process_arch.into()),
        sysctl: Some(SysctlInfo::parse(sysctl)),
        ..Default::default()
    })
}

#[test]
fn sysctl_apple_m4() {
    let s = SysctlInfo::parse(M4_SYSCTL);
    assert_eq!(s.brand.as_deref(), Some("Apple M4 Max"));
    assert_eq!((s.physical_cpus, s.logical_cpus), (Some(16), Some(16)));
    assert!(s.arm64 && s.sme && !s.translated);
    assert_eq!(s.vendor, None);
    let f = mac("aarch64", M4_SYSCTL);
    assert_eq!(f.vendor, "Apple");
    assert_eq!(f.vendor_family, VendorFamily::Apple);
    assert_eq!(f.microarch.as_deref(), Some("m4"));
    assert_eq!(
        (f.subdir.as_str(), f.process_subdir.as_str()),
        ("osx-arm64", "osx-arm64")
    );
    assert!(!f.rosetta);
    assert!(f.has("sme"));
    assert_eq!((f.logical_cpus, f.physical_cores), (16, Some(16)));
    assert_eq!(f.macos_version.as_deref(), Some("15.5"));
    assert_eq!(
        blasfix::facts::blas::accelerate_variant(f.macos_version.as_deref()),
        "newaccelerate"
    );
}

#[test]
fn sysctl_rosetta_on_m1() {
    let f = mac("x86_64", ROSETTA_M1_SYSCTL);
    assert!(f.rosetta);
    assert_eq!(f.vendor_family, VendorFamily::Apple);
    assert_eq!(f.brand.as_deref(), Some("Apple M1"));
    assert_eq!(f.microarch.as_deref(), Some("m1"));
    // The hardware is osx-arm64; the process (and a conda env it belongs to) is osx-64.
    assert_eq!(
        (f.subdir.as_str(), f.process_subdir.as_str()),
        ("osx-arm64", "osx-64")
    );
    assert_eq!((f.logical_cpus, f.physical_cores), (8, Some(8)));
    // No kern.osproductversion recorded: the Accelerate variant is left to the solver.
    assert_eq!(f.macos_version, None);
    assert_eq!(blasfix::facts::blas::accelerate_variant(None), "accelerate");
    // The same machine read by a native process is not translated.
    let native = mac(
        "aarch64",
        &ROSETTA_M1_SYSCTL.replace("proc_translated: 1", "proc_translated: 0"),
    );
    assert!(!native.rosetta);
    assert_eq!(native.process_subdir, "osx-arm64");
}

#[test]
fn sysctl_intel_mac() {
    let s = SysctlInfo::parse(MOJAVE_SKYLAKE_SYSCTL);
    assert!(!s.arm64 && !s.translated);
    assert_eq!(s.vendor.as_deref(), Some("GenuineIntel"));
    let f = mac("x86_64", MOJAVE_SKYLAKE_SYSCTL);
    assert!(!f.rosetta);
    assert_eq!(f.vendor_family, VendorFamily::Intel);
    assert_eq!(
        (f.subdir.as_str(), f.process_subdir.as_str()),
        ("osx-64", "osx-64")
    );
    assert_eq!(f.base_mhz, Some(4000));
    // Unknown and broken values are absent, never a panic.
    let broken = SysctlInfo::parse("hw.physicalcpu: lots\nhw.logicalcpu: -3\nno colon here\n");
    assert_eq!((broken.physical_cpus, broken.logical_cpus), (None, None));
}
