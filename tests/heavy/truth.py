"""Ground truth for the heavy tests: what this Python really runs, asked of the process itself.

Imports NumPy, runs a 128x128 DGEMM (the size the probe uses; every pool started), then prints one JSON object:
  numpy_file   numpy.__file__
  gemm_file    the real path of the file that defines the DGEMM symbol NumPy's own extension
               module binds to (dlsym on that module's handle searches its dependencies in the
               loader's order; dladdr names the file that defines the address)
  gemm_symbol  which name was found (cblas_dgemm, scipy_cblas_dgemm64_, ...)
  openblas_config   that file's own openblas_get_config() answer, when it has one
  mkl_version       its MKL_Get_Version_String(), when it has one
  dpkg_owner   the Debian package owning gemm_file (dpkg -S), when there is one
  threads      threads of this process after the GEMM (/proc/self/task)
  mapped       real paths of every mapped shared object whose name mentions blas/lapack/mkl/blis/atlas
It uses nothing of blasfix.
"""

import ctypes
import glob
import json
import os
import subprocess
import sys

import numpy as np

a = np.ones((128, 128))
a.dot(a)

out = {"numpy_file": np.__file__}
try:
    out["threads"] = len(os.listdir("/proc/self/task"))
except OSError:
    out["threads"] = None

mapped = []
with open("/proc/self/maps") as f:
    for line in f:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].strip().startswith("/"):
            real = os.path.realpath(parts[5].strip())
            base = os.path.basename(real).lower()
            if any(k in base for k in ("blas", "lapack", "mkl", "blis", "atlas")) and real not in mapped:
                mapped.append(real)
out["mapped"] = mapped


class DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


dladdr = ctypes.CDLL(None).dladdr
dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
dladdr.restype = ctypes.c_int

core = os.path.dirname(np.__file__)
modules = glob.glob(os.path.join(core, "_core", "_multiarray_umath*.so")) + glob.glob(
    os.path.join(core, "core", "_multiarray_umath*.so"))
handle = ctypes.CDLL(modules[0], mode=os.RTLD_NOLOAD)
names = [p + "cblas_dgemm" + s for p in ("", "scipy_") for s in ("", "64_", "_64")]
for name in names:
    fn = getattr(handle, name, None)
    if fn is None:
        continue
    info = DlInfo()
    if dladdr(ctypes.cast(fn, ctypes.c_void_p).value, ctypes.byref(info)):
        out["gemm_file"] = os.path.realpath(os.fsdecode(info.dli_fname))
        out["gemm_symbol"] = name
        break

gemm_file = out.get("gemm_file")
if gemm_file:
    lib = ctypes.CDLL(gemm_file, mode=os.RTLD_NOLOAD)
    for p in ("", "scipy_"):
        for s in ("", "64_", "_64"):
            fn = getattr(lib, p + "openblas_get_config" + s, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                out["openblas_config"] = fn().decode()
                break
        if "openblas_config" in out:
            break
    fn = getattr(lib, "MKL_Get_Version_String", None)
    if fn is not None:
        buf = ctypes.create_string_buffer(200)
        fn(buf, 200)
        out["mkl_version"] = buf.value.decode()
    try:
        owner = subprocess.run(["dpkg", "-S", gemm_file], capture_output=True, text=True)
        if owner.returncode == 0:
            out["dpkg_owner"] = owner.stdout.split(":")[0].strip()
    except OSError:
        pass

sys.stdout.write(json.dumps(out) + "\n")
