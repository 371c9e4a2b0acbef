#!/usr/bin/env python3
"""Check a built wheel before it could go to PyPI: its tags, its files, and what its binaries
need from the system.

    check_wheel.py WHEEL --tags TAG[,TAG...]

* The WHEEL file's Tag lines and the file name's tags must be exactly TAGs.
* It must hold the blasfix and pixi-blasfix binaries in its scripts, the blasfix Python package
  (__main__, conda_plugin) and the conda entry point.
* ELF binaries (manylinux): the machine must match the tag's architecture, the highest GLIBC_
  symbol version they need (.gnu.version_r) must be at most what the manylinux tag promises, and
  DT_NEEDED may name only libraries every manylinux system has (the PEP 599 / 600 list).
* PE binaries (win_amd64): machine AMD64, and imports only from DLLs Windows itself ships (no
  libgcc_s_seh-1.dll, libwinpthread-1.dll or other MinGW runtime DLL).

Prints what it found; exits 1 on any failure. Needs only Python 3.
"""
import argparse
import configparser
import re
import struct
import sys
import zipfile

# PEP 600's libraries a manylinux wheel may link without bundling them.
MANYLINUX_LIBS = {
    "libgcc_s.so.1", "libstdc++.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libc.so.6",
    "libnsl.so.1", "libutil.so.1", "libpthread.so.0", "libresolv.so.2", "libX11.so.6",
    "libXext.so.6", "libXrender.so.1", "libICE.so.6", "libSM.so.6", "libGL.so.1",
    "libgobject-2.0.so.0", "libgthread-2.0.so.0", "libglib-2.0.so.0",
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
}
# DLLs every supported Windows has (system32; api-ms-win-* are API sets).
WINDOWS_DLLS = {
    "kernel32.dll", "ntdll.dll", "advapi32.dll", "bcrypt.dll", "bcryptprimitives.dll",
    "ws2_32.dll", "userenv.dll", "msvcrt.dll", "ucrtbase.dll", "shell32.dll", "ole32.dll",
    "oleaut32.dll", "combase.dll", "secur32.dll", "psapi.dll", "dbghelp.dll", "crypt32.dll", "user32.dll",
    "synchronization.dll", "iphlpapi.dll", "powrprof.dll", "shlwapi.dll", "version.dll",
}
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}


def glibc_promise(tag):
    """The glibc a platform tag promises, as (major, minor); None for non-manylinux tags."""
    plat = tag.split("-")[-1]
    m = re.match(r"manylinux_(\d+)_(\d+)_", plat)
    if m:
        return int(m.group(1)), int(m.group(2))
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    for name, version in legacy.items():
        if plat.startswith(name + "_"):
            return version
    return None


def cstr(data, off):
    end = data.index(b"\0", off)
    return data[off:end].decode("ascii", "replace")


def elf_facts(data):
    """(machine, needed libraries, {library: [version names]}) of a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF")
    e_machine = struct.unpack_from("<H", data, 18)[0]
    e_shoff = struct.unpack_from("<Q", data, 40)[0]
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 58)
    sections = []
    for i in range(e_shnum):
        (name, typ, flags, addr, off, size, link, info, align,
         entsize) = struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
        sections.append({"type": typ, "offset": off, "size": size, "link": link, "info": info})
    needed, versions = [], {}
    for s in sections:
        if s["type"] == 6:  # SHT_DYNAMIC
            strtab = sections[s["link"]]["offset"]
            for off in range(s["offset"], s["offset"] + s["size"], 16):
                tag, val = struct.unpack_from("<qQ", data, off)
                if tag == 0:
                    break
                if tag == 1:  # DT_NEEDED
                    needed.append(cstr(data, strtab + val))
        if s["type"] == 0x6FFFFFFE:  # SHT_GNU_verneed
            strtab = sections[s["link"]]["offset"]
            off = s["offset"]
            for _ in range(s["info"]):
                _ver, cnt, file_, aux, nxt = struct.unpack_from("<HHIII", data, off)
                lib = cstr(data, strtab + file_)
                a = off + aux
                for _ in range(cnt):
                    _hash, _flags, _other, name, anext = struct.unpack_from("<IHHII", data, a)
                    versions.setdefault(lib, []).append(cstr(data, strtab + name))
                    a += anext
                off += nxt
    return ELF_MACHINES.get(e_machine, str(e_machine)), needed, versions


def pe_facts(data):
    """(machine, imported DLL names) of a PE32+ executable."""
    if data[:2] != b"MZ":
        raise ValueError("not a PE executable")
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        raise ValueError("no PE signature")
    machine, nsec = struct.unpack_from("<HH", data, pe + 4)
    opt_size = struct.unpack_from("<H", data, pe + 20)[0]
    opt = pe + 24
    if struct.unpack_from("<H", data, opt)[0] != 0x20B:
        raise ValueError("not PE32+")
    import_rva = struct.unpack_from("<I", data, opt + 112 + 8)[0]
    secs = []
    for i in range(nsec):
        vsize, vaddr, rawsize, rawptr = struct.unpack_from("<IIII", data, opt + opt_size + i * 40 + 8)
        secs.append((vaddr, max(vsize, rawsize), rawptr))

    def at(rva):
        for vaddr, size, rawptr in secs:
            if vaddr <= rva < vaddr + size:
                return rawptr + rva - vaddr
        raise ValueError(f"RVA {rva:#x} outside every section")

    dlls = []
    off = at(import_rva) if import_rva else None
    while off is not None:
        desc = struct.unpack_from("<IIIII", data, off)
        if not any(desc):
            break
        dlls.append(cstr(data, at(desc[3])))
        off += 20
    return {0x8664: "amd64", 0xAA64: "arm64"}.get(machine, hex(machine)), dlls


def version_key(v):
    return tuple(int(x) for x in v.split("."))


def check(path, want_tags):
    errors = []
    name_tags = path.rsplit("/", 1)[-1][: -len(".whl")].split("-")[2:]
    pys, abis, plats = (t.split(".") for t in name_tags)
    from_name = {f"{p}-{a}-{pl}" for p in pys for a in abis for pl in plats}
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        wheel_meta = [n for n in names if n.endswith(".dist-info/WHEEL")]
        tags = {line.split(":", 1)[1].strip()
                for line in z.read(wheel_meta[0]).decode().splitlines()
                if line.startswith("Tag:")}
        print(f"{path.rsplit('/', 1)[-1]}: tags {', '.join(sorted(tags))}")
        if tags != set(want_tags) or from_name != set(want_tags):
            errors.append(f"tags: WHEEL says {sorted(tags)}, the file name {sorted(from_name)}, "
                          f"wanted {sorted(want_tags)}")
        entry = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        eps = configparser.ConfigParser(delimiters=("=",))
        eps.optionxform = str
        eps.read_string(z.read(entry[0]).decode() if entry else "")
        if eps.get("conda", "blasfix", fallback=None) != "blasfix.conda_plugin":
            errors.append("entry_points.txt has no [conda] blasfix = blasfix.conda_plugin")
        else:
            print("  entry point [conda] blasfix = blasfix.conda_plugin")
        for module in ("blasfix/__init__.py", "blasfix/__main__.py", "blasfix/conda_plugin.py",
                       "blasfix/_args.py"):
            if module not in names:
                errors.append(f"{module} missing")
        windows = any(t.endswith("win_amd64") for t in want_tags)
        suffix = ".exe" if windows else ""
        promises = [g for g in map(glibc_promise, want_tags) if g]
        promise = min(promises) if promises else None
        arch = next((a for a in ("x86_64", "aarch64") if any(t.endswith(a) for t in want_tags)),
                    None)
        for exe in ("blasfix", "pixi-blasfix"):
            member = [n for n in names if re.search(rf"\.data/scripts/{exe}{re.escape(suffix)}$", n)]
            if not member:
                errors.append(f"scripts/{exe}{suffix} missing")
                continue
            data = z.read(member[0])
            if windows:
                machine, dlls = pe_facts(data)
                foreign = sorted(d for d in dlls if d.lower() not in WINDOWS_DLLS
                                 and not d.lower().startswith(("api-ms-win-", "ext-ms-")))
                print(f"  {exe}.exe: PE {machine}, {len(data) // 1024} KiB, imports "
                      f"{', '.join(sorted(set(d.lower() for d in dlls)))}")
                if machine != "amd64":
                    errors.append(f"{exe}.exe: machine {machine}, wanted amd64")
                if foreign:
                    errors.append(f"{exe}.exe imports DLLs Windows does not ship: {foreign}")
                continue
            machine, needed, versions = elf_facts(data)
            glibc = sorted({v[len("GLIBC_"):] for vs in versions.values() for v in vs
                            if v.startswith("GLIBC_") and v[6:7].isdigit()}, key=version_key)
            top = glibc[-1] if glibc else "none"
            print(f"  {exe}: ELF {machine}, {len(data) // 1024} KiB, needs {', '.join(needed)}; "
                  f"highest GLIBC_{top} (of {len(glibc)} versions)")
            if machine != arch:
                errors.append(f"{exe}: ELF for {machine}, the tag says {arch}")
            extra = sorted(set(needed) - MANYLINUX_LIBS)
            if extra:
                errors.append(f"{exe} links libraries outside the manylinux set: {extra}")
            if promise and glibc and version_key(top) > promise:
                errors.append(f"{exe} needs GLIBC_{top}, above the {promise[0]}.{promise[1]} "
                              f"its manylinux tag promises")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel")
    ap.add_argument("--tags", required=True, help="the exact tags, comma-separated")
    a = ap.parse_args()
    errors = check(a.wheel, a.tags.split(","))
    for e in errors:
        print(f"check_wheel: FAILED: {e}", file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
