"""blasfix runtime probe.

Run by the environment's own Python (3.6 or newer, standard library only). It imports NumPy (and
scipy.linalg when SciPy is installed), then reports which BLAS and OpenMP libraries the process
really loaded, with their versions and thread counts, and what numpy.show_config() declares.

It prints exactly one JSON object on stdout. Everything else, including anything NumPy, MKL or
OpenBLAS write to file descriptor 1, goes to stderr. Errors are reported in the JSON, not raised.

Library discovery follows threadpoolctl: threadpoolctl.threadpool_info() when it is importable,
and always a built-in listing (dl_iterate_phdr, /proc/self/maps, _dyld_* or
EnumProcessModulesEx) whose libraries are opened with RTLD_NOLOAD, so nothing new is loaded.

`blasfix bench` runs this file with bench.py appended and `_BLASFIX_NO_MAIN = True` before it.
"""

import json
import os
import sys

PROBE_VERSION = 1

# Environment variables that decide BLAS and OpenMP behaviour, reported as the process saw them.
THREAD_VARS = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_DEFAULT_NUM_THREADS",
    "MKL_NUM_THREADS", "MKL_DOMAIN_NUM_THREADS", "MKL_DYNAMIC", "MKL_THREADING_LAYER",
    "MKL_INTERFACE_LAYER", "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE", "MKL_CBWR",
    "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "OPENBLAS_CORETYPE",
    "OPENBLAS_VERBOSE", "KMP_DUPLICATE_LIB_OK", "KMP_AFFINITY", "OMP_PROC_BIND", "OMP_PLACES",
    "FLEXIBLAS", "FLEXIBLAS64",
)

# Filename prefixes (lowercase basename of the real path) and the library family they may be.
PREFIXES = (
    ("libscipy_openblas", "openblas"), ("libopenblas", "openblas"), ("openblas", "openblas"),
    ("libmkl_rt", "mkl"), ("mkl_rt", "mkl"),
    ("libblis", "blis"),
    ("libflexiblas", "flexiblas"),
    ("libnvpl_blas", "nvpl"),
    ("libiomp", "openmp"), ("libgomp", "openmp"), ("libomp", "openmp"), ("vcomp", "openmp"),
    ("libblas", "generic"), ("libcblas", "generic"), ("blas", "generic"),
)

OPENBLAS_PREFIXES = ("", "scipy_")
OPENBLAS_SUFFIXES = ("", "64_", "_64")
MKL_LAYERS = {0: "intel", 1: "sequential", 2: "pgi", 3: "gnu", 4: "tbb", -1: "not specified"}


def _protect_stdout():
    """Send fd 1 (and sys.stdout) to stderr; return a file for the JSON on the real stdout."""
    try:
        sys.stdout.flush()
        real = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        return os.fdopen(real, "w")
    except Exception:
        return sys.__stdout__


def _emit(out, obj):
    out.write(json.dumps(obj, ensure_ascii=True, default=str, sort_keys=True))
    out.write("\n")
    out.flush()


def _err_text(exc):
    return "%s: %s" % (type(exc).__name__, exc)


def _tail(text, lines=8):
    parts = [l for l in text.strip().splitlines() if l.strip()]
    return "\n".join(parts[-lines:])


def python_info():
    return {
        "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
        "full_version": sys.version,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "platform": sys.platform,
        "implementation": getattr(getattr(sys, "implementation", None), "name", None),
    }


def thread_env():
    return dict((k, os.environ[k]) for k in THREAD_VARS if k in os.environ)


def import_module(name):
    """Import a module; (module, None) or (None, {"type", "message", "traceback"})."""
    import importlib
    import traceback
    try:
        return importlib.import_module(name), None
    except (Exception, SystemExit) as exc:
        return None, {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": _tail(traceback.format_exc(), 12),
        }


def module_installed(name):
    try:
        import importlib.util
        return importlib.util.find_spec(name) is not None
    except Exception:
        return False


# ---------------------------------------------------------------------------------------------
# Loaded libraries: the paths of every shared object in the process.

def _paths_dl_iterate_phdr(ctypes):
    libc = ctypes.CDLL(None)
    fn = libc.dl_iterate_phdr

    class PhdrInfo(ctypes.Structure):
        _fields_ = [
            ("dlpi_addr", ctypes.c_void_p),
            ("dlpi_name", ctypes.c_char_p),
            ("dlpi_phdr", ctypes.c_void_p),
            ("dlpi_phnum", ctypes.c_uint16),
        ]

    found = []

    def callback(info, size, data):
        name = info.contents.dlpi_name
        if name:
            found.append(os.fsdecode(name))
        return 0

    cb_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(PhdrInfo), ctypes.c_size_t,
                               ctypes.c_char_p)
    cb = cb_type(callback)
    fn.argtypes = [cb_type, ctypes.c_char_p]
    fn.restype = ctypes.c_int
    fn(cb, None)
    return found


def _paths_proc_maps():
    found = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6:
                path = parts[5].strip()
                if path.startswith("/") and path not in found:
                    found.append(path)
    return found


def _paths_dyld(ctypes):
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "_dyld_image_count"):
        import ctypes.util
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc._dyld_image_count.restype = ctypes.c_uint32
    libc._dyld_get_image_name.restype = ctypes.c_char_p
    libc._dyld_get_image_name.argtypes = [ctypes.c_uint32]
    found = []
    for i in range(libc._dyld_image_count()):
        name = libc._dyld_get_image_name(i)
        if name:
            found.append(os.fsdecode(name))
    return found


def _paths_windows(ctypes):
    from ctypes import wintypes
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    psapi = ctypes.WinDLL("Psapi", use_last_error=True)
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    psapi.EnumProcessModulesEx.argtypes = [
        wintypes.HANDLE, ctypes.POINTER(wintypes.HMODULE), wintypes.DWORD,
        ctypes.POINTER(wintypes.DWORD), wintypes.DWORD]
    psapi.EnumProcessModulesEx.restype = wintypes.BOOL
    psapi.GetModuleFileNameExW.argtypes = [
        wintypes.HANDLE, wintypes.HMODULE, wintypes.LPWSTR, wintypes.DWORD]
    psapi.GetModuleFileNameExW.restype = wintypes.DWORD
    process = kernel32.GetCurrentProcess()
    needed = wintypes.DWORD()
    count = 1024
    while True:
        buf = (wintypes.HMODULE * count)()
        ok = psapi.EnumProcessModulesEx(process, buf, ctypes.sizeof(buf), ctypes.byref(needed),
                                        0x03)
        if not ok:
            raise OSError("EnumProcessModulesEx failed (error %d)" % ctypes.get_last_error())
        got = needed.value // ctypes.sizeof(wintypes.HMODULE)
        if got <= count:
            break
        count = got
    found = []
    path = ctypes.create_unicode_buffer(32768)
    for i in range(got):
        if buf[i] and psapi.GetModuleFileNameExW(process, buf[i], path, 32768):
            found.append(path.value)
    return found


def loaded_paths():
    """(paths, method, errors): every shared library in this process."""
    errors = []
    try:
        import ctypes
    except Exception as exc:
        return [], None, ["ctypes: " + _err_text(exc)]
    if sys.platform == "darwin":
        attempts = [("_dyld_get_image_name", lambda: _paths_dyld(ctypes))]
    elif sys.platform == "win32":
        attempts = [("EnumProcessModulesEx", lambda: _paths_windows(ctypes))]
    else:
        attempts = [("dl_iterate_phdr", lambda: _paths_dl_iterate_phdr(ctypes)),
                    ("/proc/self/maps", _paths_proc_maps)]
    for method, fn in attempts:
        try:
            paths = fn()
            if paths:
                return paths, method, errors
            errors.append("%s: no libraries listed" % method)
        except Exception as exc:
            errors.append("%s: %s" % (method, _err_text(exc)))
    return [], None, errors


# ---------------------------------------------------------------------------------------------
# Querying one library.

def _open_noload(ctypes, path):
    if sys.platform == "win32":
        return ctypes.CDLL(path)
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 1)
    return ctypes.CDLL(path, mode=mode)


def _sym(lib, name):
    try:
        return getattr(lib, name)
    except AttributeError:
        return None


def _int_call(lib, name, *args):
    import ctypes
    fn = _sym(lib, name)
    if fn is None:
        return None
    fn.restype = ctypes.c_int
    return int(fn(*args))


def _str_call(lib, name, *args):
    import ctypes
    fn = _sym(lib, name)
    if fn is None:
        return None
    fn.restype = ctypes.c_char_p
    value = fn(*args)
    return value.decode("utf-8", "replace").strip() if value else None


def _query_openblas(lib, entry):
    for pre in OPENBLAS_PREFIXES:
        for suf in OPENBLAS_SUFFIXES:
            if _sym(lib, pre + "openblas_get_num_threads" + suf) is None:
                continue
            entry["symbol_prefix"] = pre
            entry["symbol_suffix"] = suf
            config = _str_call(lib, pre + "openblas_get_config" + suf)
            entry["config"] = config
            tokens = (config or "").split()
            if len(tokens) > 1 and tokens[0] == "OpenBLAS":
                entry["version"] = tokens[1]
            entry["num_threads"] = _int_call(lib, pre + "openblas_get_num_threads" + suf)
            parallel = _int_call(lib, pre + "openblas_get_parallel" + suf)
            entry["threading_layer"] = {None: "unknown", 0: "disabled", 1: "pthreads",
                                        2: "openmp"}.get(parallel, "disabled")
            entry["architecture"] = _str_call(lib, pre + "openblas_get_corename" + suf)
            return True
    return False


def _query_mkl(lib, entry):
    import ctypes
    import re
    if _sym(lib, "MKL_Get_Max_Threads") is None:
        return False
    fn = _sym(lib, "MKL_Get_Version_String")
    if fn is not None:
        buf = ctypes.create_string_buffer(200)
        fn(buf, 200)
        text = buf.value.decode("utf-8", "replace")
        entry["config"] = text.strip()
        m = re.search(r"Version ([^ ]+) ", text)
        entry["version"] = m.group(1) if m else None
    entry["num_threads"] = _int_call(lib, "MKL_Get_Max_Threads")
    layer = _int_call(lib, "MKL_Set_Threading_Layer", ctypes.c_int(-1))
    entry["threading_layer"] = None if layer is None else MKL_LAYERS.get(layer, str(layer))
    return True


def _query_blis(lib, entry):
    if _sym(lib, "bli_thread_get_num_threads") is None:
        return False
    n = _int_call(lib, "bli_thread_get_num_threads")
    entry["num_threads"] = 1 if n == -1 else n
    entry["version"] = _str_call(lib, "bli_info_get_version_str")
    if _int_call(lib, "bli_info_get_enable_openmp"):
        entry["threading_layer"] = "openmp"
    elif _int_call(lib, "bli_info_get_enable_pthreads"):
        entry["threading_layer"] = "pthreads"
    else:
        entry["threading_layer"] = "disabled"
    arch_id = _int_call(lib, "bli_arch_query_id")
    if arch_id is not None:
        import ctypes
        entry["architecture"] = _str_call(lib, "bli_arch_string", ctypes.c_int(arch_id))
    return True


def _query_flexiblas(lib, entry):
    import ctypes
    if _sym(lib, "flexiblas_get_num_threads") is None:
        return False
    entry["num_threads"] = _int_call(lib, "flexiblas_get_num_threads")
    fn = _sym(lib, "flexiblas_get_version")
    if fn is not None:
        parts = [ctypes.c_int(), ctypes.c_int(), ctypes.c_int()]
        fn(*[ctypes.byref(p) for p in parts])
        entry["version"] = ".".join(str(p.value) for p in parts)
    fn = _sym(lib, "flexiblas_current_backend")
    if fn is not None:
        buf = ctypes.create_string_buffer(1024)
        fn(buf, ctypes.c_size_t(1024))
        entry["config"] = "backend " + buf.value.decode("utf-8", "replace")
    return True


def _query_openmp(lib, entry):
    if _sym(lib, "omp_get_max_threads") is None:
        return False
    entry["num_threads"] = _int_call(lib, "omp_get_max_threads")
    return True


def _query_nvpl(lib, entry):
    return _sym(lib, "nvpl_blas_get_version") is not None or _sym(lib, "dgemm_") is not None


def _query_generic(lib, entry):
    """A libblas/libcblas that is none of the above: reference BLAS when it has BLAS symbols."""
    if _query_openblas(lib, entry):
        entry["internal_api"] = "openblas"
        return True
    if _query_mkl(lib, entry):
        entry["internal_api"] = "mkl"
        return True
    if _query_blis(lib, entry):
        entry["internal_api"] = "blis"
        return True
    if _sym(lib, "cblas_dgemm") is not None or _sym(lib, "dgemm_") is not None:
        entry["internal_api"] = "netlib"
        return True
    return False


QUERIES = {
    "openblas": _query_openblas, "mkl": _query_mkl, "blis": _query_blis,
    "flexiblas": _query_flexiblas, "openmp": _query_openmp, "nvpl": _query_nvpl,
    "generic": _query_generic,
}


def is_accelerate_image(path):
    p = path.replace("\\", "/")
    return "/Accelerate.framework/" in p or "/vecLib.framework/" in p


def family_of(realpath):
    name = os.path.basename(realpath).lower()
    for prefix, family in PREFIXES:
        if name.startswith(prefix):
            return prefix, family
    return None, None


def builtin_libraries(paths):
    """BLAS, OpenMP and Accelerate entries for the loaded paths, deduplicated by real path."""
    try:
        import ctypes
    except Exception:
        return [], []
    libs = []
    errors = []
    seen = set()
    accelerate = None
    for path in paths:
        try:
            real = os.path.realpath(path)
        except Exception:
            real = path
        if real in seen:
            continue
        seen.add(real)
        if is_accelerate_image(real):
            if accelerate is None or os.path.basename(real) == "libBLAS.dylib":
                accelerate = real
            continue
        prefix, family = family_of(real)
        if family is None:
            continue
        entry = {
            "user_api": "openmp" if family == "openmp" else "blas",
            "internal_api": family, "prefix": prefix, "filepath": real, "version": None,
            "num_threads": None, "threading_layer": None, "architecture": None,
        }
        try:
            lib = _open_noload(ctypes, real)
            if not QUERIES[family](lib, entry):
                continue
        except Exception as exc:
            entry["error"] = _err_text(exc)
            errors.append("%s: %s" % (real, _err_text(exc)))
            if family == "generic":
                continue
        libs.append(entry)
    if accelerate is not None:
        libs.append({"user_api": "blas", "internal_api": "accelerate", "prefix": "Accelerate",
                     "filepath": accelerate, "version": None,
                     "num_threads": None, "threading_layer": None, "architecture": None})
    return libs, errors


def threadpoolctl_libraries():
    """(libraries, version, error) from threadpoolctl.threadpool_info(), without leaving the
    KMP_DUPLICATE_LIB_OK it sets on import in this process's environment."""
    had = "KMP_DUPLICATE_LIB_OK" in os.environ
    try:
        try:
            import threadpoolctl
        except ImportError:
            return None, None, None
        try:
            info = threadpoolctl.threadpool_info()
        except Exception as exc:
            return None, getattr(threadpoolctl, "__version__", None), _err_text(exc)
        return info, getattr(threadpoolctl, "__version__", None), None
    except Exception as exc:
        return None, None, _err_text(exc)
    finally:
        if not had and "KMP_DUPLICATE_LIB_OK" in os.environ:
            del os.environ["KMP_DUPLICATE_LIB_OK"]


def _from_threadpoolctl(item):
    entry = {}
    for key in ("user_api", "internal_api", "prefix", "filepath", "version", "num_threads",
                "threading_layer", "architecture"):
        entry[key] = item.get(key)
    if item.get("current_backend"):
        entry["config"] = "backend %s" % item.get("current_backend")
    if entry.get("filepath"):
        entry["filepath"] = os.path.realpath(entry["filepath"])
    return entry


def libraries(use_threadpoolctl=True):
    """Every BLAS/OpenMP library loaded now, and how they were found."""
    paths, method, errors = loaded_paths()
    builtin, query_errors = builtin_libraries(paths)
    errors.extend(query_errors)
    result = {"method": method, "images": len(paths), "errors": errors, "libraries": builtin,
              "source": "blasfix (%s)" % method if method else None}
    if not use_threadpoolctl:
        return result
    info, version, error = threadpoolctl_libraries()
    if error:
        errors.append("threadpoolctl: " + error)
    if info is None:
        return result
    by_path = dict((e["filepath"], e) for e in builtin)
    merged = []
    for item in info:
        entry = _from_threadpoolctl(item)
        own = by_path.pop(entry.get("filepath"), None)
        if own:
            for key, value in own.items():
                if entry.get(key) is None:
                    entry[key] = value
        merged.append(entry)
    # Libraries threadpoolctl has no controller for (Accelerate, reference BLAS, NVPL).
    merged.extend(e for e in by_path.values()
                  if e["internal_api"] in ("accelerate", "netlib", "nvpl"))
    result["libraries"] = merged
    result["source"] = "threadpoolctl %s" % version
    return result


# ---------------------------------------------------------------------------------------------
# What numpy.show_config() declares, read from numpy.__config__ without printing anything.

def _plain(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def numpy_config():
    mod, error = import_module("numpy.__config__")
    if mod is None:
        return {"format": None, "error": error["message"]}
    config = getattr(mod, "CONFIG", None)
    if isinstance(config, dict):
        deps = config.get("Build Dependencies") or {}
        out = {"format": "meson"}
        for key in ("blas", "lapack"):
            if isinstance(deps.get(key), dict):
                out[key] = _plain(deps[key])
        return out
    infos = {}
    for name, value in vars(mod).items():
        if name.endswith("_info") and isinstance(value, dict):
            infos[name] = _plain(value)
    return {"format": "distutils", "info": infos}


# ---------------------------------------------------------------------------------------------

def collect(import_scipy=True, use_threadpoolctl=True):
    """The whole report. Imports NumPy (and scipy.linalg); never raises."""
    report = {"probe_version": PROBE_VERSION, "python": python_info(), "env": thread_env(),
              "errors": []}
    if sys.version_info < (3, 6):
        report["fatal"] = "python_too_old"
        return report, None
    np, error = import_module("numpy")
    if np is None:
        missing = error["type"] == "ModuleNotFoundError" and "'numpy'" in error["message"]
        report["fatal"] = "numpy_missing" if missing else "numpy_import_failed"
        report["numpy_error"] = error
        report["sys_path"] = list(sys.path)
        return report, None
    report["numpy"] = {"version": getattr(np, "__version__", None),
                       "file": getattr(np, "__file__", None)}
    if import_scipy and module_installed("scipy"):
        scipy, error = import_module("scipy")
        if scipy is not None:
            report["scipy"] = {"version": getattr(scipy, "__version__", None),
                               "file": getattr(scipy, "__file__", None)}
            linalg, error = import_module("scipy.linalg")
        if error:
            report["scipy_error"] = error
    try:
        report["loaded"] = libraries(use_threadpoolctl)
    except Exception as exc:
        report["errors"].append("listing libraries: " + _err_text(exc))
    try:
        report["config"] = numpy_config()
    except Exception as exc:
        report["errors"].append("numpy.__config__: " + _err_text(exc))
    return report, np


def main(argv):
    out = _protect_stdout()
    try:
        report, _ = collect(use_threadpoolctl="--no-threadpoolctl" not in argv)
    except BaseException as exc:
        report = {"probe_version": PROBE_VERSION, "fatal": "probe_failed",
                  "errors": ["probe: " + _err_text(exc)]}
    _emit(out, report)
    # The answer is out: skip interpreter finalization (thread-pool teardown of every loaded
    # library), which blasfix would otherwise wait for.
    try:
        sys.stderr.flush()
    finally:
        os._exit(0)


if __name__ == "__main__" and not globals().get("_BLASFIX_NO_MAIN"):
    main(sys.argv[1:])
