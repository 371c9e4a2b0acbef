#!/usr/bin/env python3
"""Build a local conda channel (linux-64 + empty noarch) shaped like conda-forge's BLAS scheme,
whose packages carry real binaries from this machine, so that a real solver (py-rattler, conda)
creates prefixes where NumPy links OpenBLAS or MKL through libblas/libcblas/liblapack symlinks.

    build_channel.py OUTDIR --mkl-venv VENV

Packages:
  python 3.11          pyvenv.cfg + bin/python -> /usr/bin/python3.11 (Debian's)
  numpy (Debian's)     /usr/lib/python3/dist-packages/numpy, RUNPATH set to the prefix's lib/
  libopenblas 0.3.x    Debian's libopenblas0-pthread library, lib/libopenblas.so.0 symlink
  mkl, intel-openmp    the PyPI mkl wheel's libraries (from VENV/lib)
  libblas, libcblas, liblapack 3.9.0 builds 20_linux64_openblas and 20_linux64_mkl
                       (mkl variant carries track_features blas_mkl, so openblas is the default)
"""
import argparse
import glob
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

SUBDIR = "linux-64"
TIMESTAMP_MS = 1_700_000_000_000
DEBIAN_NUMPY = "/usr/lib/python3/dist-packages/numpy"
DEBIAN_OPENBLAS_GLOB = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r*.so"
PYTHON = "/usr/bin/python3.11"
MKL_SKIP = re.compile(r"sycl|blacs|scalapack|cdft|pgi_thread|tbb_thread")


class Channel:
    def __init__(self, root):
        self.root = root
        self.records = {}
        os.makedirs(os.path.join(root, SUBDIR), exist_ok=True)
        os.makedirs(os.path.join(root, "noarch"), exist_ok=True)

    def package(self, name, version, build, *, files=None, links=None, depends=(),
                constrains=(), track_features=None, build_number=0):
        """files: {path in prefix: source file or bytes}; links: {path in prefix: target}."""
        files, links = files or {}, links or {}
        index = {
            "name": name, "version": version, "build": build, "build_number": build_number,
            "depends": list(depends), "constrains": list(constrains), "subdir": SUBDIR,
            "arch": "x86_64", "platform": "linux", "license": "BSD-3-Clause",
            "timestamp": TIMESTAMP_MS,
        }
        if track_features:
            index["track_features"] = track_features
        entries = []
        raw = io.BytesIO()
        mtime = TIMESTAMP_MS // 1000
        with tarfile.open(fileobj=raw, mode="w:bz2", compresslevel=1) as tar:
            def put(path, data, mode):
                info = tarfile.TarInfo(path)
                info.size, info.mode, info.mtime = len(data), mode, mtime
                tar.addfile(info, io.BytesIO(data))

            for path, src in sorted(files.items()):
                if isinstance(src, bytes):
                    data, mode = src, 0o644
                else:
                    with open(src, "rb") as f:
                        data = f.read()
                    mode = 0o755 if os.access(src, os.X_OK) else 0o644
                put(path, data, mode)
                entries.append({"_path": path, "path_type": "hardlink",
                                "sha256": hashlib.sha256(data).hexdigest(),
                                "size_in_bytes": len(data)})
            for path, target in sorted(links.items()):
                info = tarfile.TarInfo(path)
                info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, mtime
                tar.addfile(info)
                entries.append({"_path": path, "path_type": "softlink",
                                "sha256": hashlib.sha256(target.encode()).hexdigest(),
                                "size_in_bytes": len(target)})
            put("info/index.json", json.dumps(index, indent=2).encode(), 0o644)
            put("info/paths.json",
                json.dumps({"paths": entries, "paths_version": 1}, indent=2).encode(), 0o644)
            put("info/files", "".join(e["_path"] + "\n" for e in entries).encode(), 0o644)
        blob = raw.getvalue()
        fn = f"{name}-{version}-{build}.tar.bz2"
        with open(os.path.join(self.root, SUBDIR, fn), "wb") as f:
            f.write(blob)
        self.records[fn] = dict(index, fn=fn, size=len(blob),
                                md5=hashlib.md5(blob).hexdigest(),
                                sha256=hashlib.sha256(blob).hexdigest())
        print(f"  {fn} ({len(blob) // 1024} KiB)", flush=True)

    def write_index(self):
        for subdir, packages in ((SUBDIR, self.records), ("noarch", {})):
            with open(os.path.join(self.root, subdir, "repodata.json"), "w") as f:
                json.dump({"info": {"subdir": subdir}, "packages": packages,
                           "packages.conda": {}, "repodata_version": 1}, f, indent=1)


def walk(src, dest):
    """({dest path: src file}, {dest path: link target}) for a tree, without __pycache__/tests."""
    files, links = {}, {}
    for root, dirs, names in os.walk(src):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", "tests")]
        for n in names:
            p = os.path.join(root, n)
            rel = os.path.join(dest, os.path.relpath(p, src))
            if os.path.islink(p):
                links[rel] = os.readlink(p)
            else:
                files[rel] = p
    return files, links


def debian_numpy_version():
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-numpy"],
                         capture_output=True, text=True, check=True).stdout
    m = re.match(r"(?:\d+:)?([0-9.]+)", out)
    return m.group(1) if m else "1.24.2"


def python_version():
    out = subprocess.run([PYTHON, "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--mkl-venv", required=True)
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    chan = Channel(out)
    print(f"building channel in {out}", flush=True)

    pyver = python_version()
    chan.package("python", pyver, "h0_0_cpython",
                 files={"pyvenv.cfg": f"home = /usr/bin\ninclude-system-site-packages = false\n"
                                      f"version = {pyver}\n".encode()},
                 links={"bin/python": PYTHON, "bin/python3": PYTHON, "bin/python3.11": PYTHON})

    openblas = sorted(glob.glob(DEBIAN_OPENBLAS_GLOB))
    if not openblas:
        sys.exit(f"no {DEBIAN_OPENBLAS_GLOB}: apt-get install libopenblas0-pthread")
    ob_real = os.path.basename(openblas[-1])
    ob_ver = re.search(r"r(\d+\.\d+\.\d+)", ob_real).group(1)
    chan.package("libopenblas", ob_ver, "pthreads_h0_0",
                 files={f"lib/{ob_real}": openblas[-1]},
                 links={"lib/libopenblas.so.0": ob_real, "lib/libopenblas.so": ob_real})

    venv_lib = os.path.join(os.path.abspath(args.mkl_venv), "lib")
    libs = sorted(os.listdir(venv_lib))
    omp = {f"lib/{n}": os.path.join(venv_lib, n) for n in libs if n.startswith("libiomp5") and n.endswith(".so")}
    mkl = {f"lib/{n}": os.path.join(venv_lib, n) for n in libs
           if n.startswith("libmkl_") and ".so" in n and not MKL_SKIP.search(n)
           and not os.path.islink(os.path.join(venv_lib, n))}
    rt = [p for p in mkl if os.path.basename(p).startswith("libmkl_rt.so")]
    if not rt:
        sys.exit(f"no libmkl_rt.so* in {venv_lib}: pip install mkl into {args.mkl_venv}")
    mkl_rt = os.path.basename(rt[0])
    mkl_ver = "2025.0.0"
    for d in glob.glob(os.path.join(os.path.abspath(args.mkl_venv), "lib/python3*/site-packages/mkl-*.dist-info")):
        mkl_ver = os.path.basename(d)[len("mkl-"):-len(".dist-info")]
    major = mkl_ver.split(".")[0]
    chan.package("intel-openmp", mkl_ver, "h0_0", files=omp)
    chan.package("mkl", mkl_ver, "h0_0", files=mkl, depends=[f"intel-openmp {major}.*"])

    impl = {
        "openblas": ("libopenblas.so.0", f"libopenblas >={ob_ver},<1.0a0"),
        "mkl": (mkl_rt, f"mkl >={mkl_ver},<{int(major) + 1}.0a0"),
    }
    for flavour, (target, dep) in impl.items():
        build = f"20_linux64_{flavour}"
        tf = None if flavour == "openblas" else f"blas_{flavour}"
        chan.package("libblas", "3.9.0", build, build_number=20, depends=[dep],
                     constrains=[f"libcblas 3.9.0 {build}", f"liblapack 3.9.0 {build}",
                                 f"blas * {flavour}"],
                     track_features=tf,
                     links={"lib/libblas.so.3": target, "lib/libblas.so": target})
        for name in ("libcblas", "liblapack"):
            other = "liblapack" if name == "libcblas" else "libcblas"
            chan.package(name, "3.9.0", build, build_number=20,
                         depends=[f"libblas 3.9.0 {build}"],
                         constrains=[f"{other} 3.9.0 {build}", f"blas * {flavour}"],
                         track_features=tf,
                         links={f"lib/{name}.so.3": target, f"lib/{name}.so": target})

    npver = debian_numpy_version()
    site = "lib/python3.11/site-packages"
    with tempfile.TemporaryDirectory() as work:
        stage = os.path.join(work, "numpy")
        shutil.copytree(DEBIAN_NUMPY, stage, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
        for root, _, names in os.walk(stage):
            for n in names:
                p = os.path.join(root, n)
                if n.endswith(".so") and not os.path.islink(p):
                    # numpy/<sub>/x.so -> up to site-packages, python3.11, lib
                    ups = os.path.relpath(p, stage).count(os.sep) + 3
                    subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/" + "/".join([".."] * ups), p],
                                   check=True)
        files, links = walk(stage, f"{site}/numpy")
        dist = f"{site}/numpy-{npver}.dist-info"
        files[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: numpy\nVersion: {npver}\n".encode()
        files[f"{dist}/INSTALLER"] = b"conda\n"
        chan.package("numpy", npver, "py311h0_0", files=files, links=links,
                     depends=["libblas >=3.9.0,<4.0a0", "libcblas >=3.9.0,<4.0a0",
                              "liblapack >=3.9.0,<4.0a0", "python >=3.11,<3.12.0a0"])
    chan.write_index()
    print(f"channel ready: {len(chan.records)} packages", flush=True)


if __name__ == "__main__":
    main()
