"""blasfix runtime probe.

Run by the environment's own Python (3.6 or newer, standard library only). It imports NumPy (SciPy
only with --scipy: blasfix reads SciPy's BLAS from its files), runs one tiny GEMM so that every BLAS
and OpenMP pool is started the way the first real call starts it, then reports which BLAS and
OpenMP libraries the process really loaded, with their versions and the pool sizes they really
got, the threads the process runs, which copy of NumPy was imported (and which sys.path entry, put
there by what, made it win), and what numpy.show_config() declares.

It prints exactly one JSON object on stdout. Everything else, including anything NumPy, MKL or
OpenBLAS write to file descriptor 1, goes to stderr. Errors are reported in the JSON, not raised.

Library discovery is blasfix's own (dl_iterate_phdr, /proc/self/maps, _dyld_* or
EnumProcessModulesEx; libraries opened with RTLD_NOLOAD, so nothing new is loaded), merged with
threadpoolctl.threadpool_info() when threadpoolctl is importable: every library either of them
finds is reported, so an older threadpoolctl that does not know a library never hides it. A
library is named by its own evidence: symbols it defines itself (dladdr tells a wrapper's
forwarded symbols apart), then the directory it lives in (Debian's openblas-pthread/, blis-openmp/,
atlas/, blas/); one that exports BLAS symbols but shows no identity is "unknown", with the reason.

`blasfix bench` runs this file with bench.py appended and `_BLASFIX_NO_MAIN = True` before it.
"""

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
    ("libarmpl", "armpl"),
    ("libaocl-blas", "blis"), ("libaocl_blas", "blis"),
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


def _dumps(obj):
    """The text json.dumps(obj, ensure_ascii=True, default=str, sort_keys=True) gives, without
    importing the json package (a measurable part of the probe's cost): strings go through the
    same C escaper json uses."""
    try:
        from _json import encode_basestring_ascii as quote
    except ImportError:
        import json
        return json.dumps(obj, ensure_ascii=True, default=str, sort_keys=True)
    parts = []
    put = parts.append

    def enc(o):
        if isinstance(o, str):
            put(quote(o))
        elif o is None:
            put("null")
        elif o is True:
            put("true")
        elif o is False:
            put("false")
        elif isinstance(o, int):
            put(int.__repr__(o))
        elif isinstance(o, float):
            if o != o:
                put("NaN")
            elif o in (float("inf"), float("-inf")):
                put("Infinity" if o > 0 else "-Infinity")
            else:
                put(float.__repr__(o))
        elif isinstance(o, dict):
            put("{")
            for i, (k, v) in enumerate(sorted(o.items())):
                if i:
                    put(", ")
                if not isinstance(k, str):
                    k = "null" if k is None else str(k).lower() if isinstance(k, bool) else str(k)
                put(quote(k))
                put(": ")
                enc(v)
            put("}")
        elif isinstance(o, (list, tuple)):
            put("[")
            for i, v in enumerate(o):
                if i:
                    put(", ")
                enc(v)
            put("]")
        else:
            put(quote(str(o)))

    enc(obj)
    return "".join(parts)


def _emit(out, obj):
    out.write(_dumps(obj))
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
    try:
        return importlib.import_module(name), None
    except (Exception, SystemExit) as exc:
        import traceback
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


_DLADDR = []


def _dladdr():
    """libc's dladdr as a ctypes function (None where there is none)."""
    if _DLADDR:
        return _DLADDR[0]
    fn = None
    try:
        import ctypes

        class DlInfo(ctypes.Structure):
            _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                        ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

        if sys.platform != "win32":
            raw = ctypes.CDLL(None).dladdr
            raw.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
            raw.restype = ctypes.c_int

            def fn(addr):
                info = DlInfo()
                if raw(addr, ctypes.byref(info)) and info.dli_fname:
                    return os.fsdecode(info.dli_fname)
                return None
    except Exception:
        fn = None
    _DLADDR.append(fn)
    return fn


def _own_sym(lib, name, path):
    """The symbol when `path` defines it itself: dlsym on a handle also finds what the
    library's dependencies define (Debian's libblas.so.3 wrappers forward to libopenblas.so.0).
    Returns (function or None, defined elsewhere: the defining file or None)."""
    fn = _sym(lib, name)
    if fn is None:
        return None, None
    where = _dladdr()
    if where is None:
        return fn, None
    try:
        import ctypes
        defined = where(ctypes.cast(fn, ctypes.c_void_p).value)
    except Exception:
        return fn, None
    if defined and os.path.realpath(defined) != path:
        return None, os.path.realpath(defined)
    return fn, None


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
    if entry["version"] and "aocl" in entry["version"].lower():
        entry["build"] = "AMD AOCL"
    elif _sym(lib, "aocl_get_version") is not None or _sym(lib, "AOCL_get_version") is not None:
        entry["build"] = "AMD AOCL"
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
    if _sym(lib, "nvpl_blas_get_version") is None and _sym(lib, "dgemm_") is None:
        return False
    name = os.path.basename(entry["filepath"]).lower()
    entry["threading_layer"] = ("openmp" if "_gomp" in name else
                                "sequential" if "_seq" in name else None)
    return True


def _query_armpl(lib, entry):
    if _sym(lib, "armplversion") is None and _sym(lib, "dgemm_") is None:
        return False
    name = os.path.basename(entry["filepath"]).lower()
    entry["threading_layer"] = "openmp" if "_mp" in name else "sequential"
    return True


def _query_atlas(lib, entry):
    return _sym(lib, "ATL_buildinfo") is not None or _sym(lib, "atl_f77wrap_dgemm_") is not None


# Symbols a library of each family defines itself (checked in this order on a generic
# libblas/libcblas, whose name says nothing).
IDENTITY = (
    ("openblas", tuple(p + "openblas_get_num_threads" + s
                       for p in OPENBLAS_PREFIXES for s in OPENBLAS_SUFFIXES)),
    ("mkl", ("MKL_Get_Max_Threads",)),
    ("blis", ("bli_thread_get_num_threads", "bli_info_get_version_str")),
    ("flexiblas", ("flexiblas_get_num_threads",)),
    ("atlas", ("ATL_buildinfo", "atl_f77wrap_dgemm_")),
    ("armpl", ("armplversion",)),
    ("nvpl", ("nvpl_blas_get_version",)),
)

# Debian/Ubuntu alternatives directories (`<multiarch>/<dir>/libblas.so.3`) and what they hold.
DIR_FAMILIES = (("openblas", "openblas"), ("blis", "blis"), ("atlas", "atlas"),
                ("mkl", "mkl"), ("flexiblas", "flexiblas"), ("armpl", "armpl"),
                ("nvpl", "nvpl"))


def _query_generic(lib, entry):
    """A libblas/libcblas whose name says nothing: named by the symbols it defines itself, else
    by its directory; a wrapper over another loaded library is dropped (that library has its
    own entry); a library with BLAS symbols and no identity is "unknown", with the reason."""
    path = entry["filepath"]
    for family, symbols in IDENTITY:
        for name in symbols:
            fn, elsewhere = _own_sym(lib, name, path)
            if elsewhere and family_of(elsewhere)[1] not in (None, "generic"):
                # A wrapper over a library that is listed under its own name.
                return False
            if fn is not None or elsewhere:
                entry["internal_api"] = family
                entry["evidence"] = ("defines " + name if fn is not None else
                                     "its dependency %s defines %s"
                                     % (os.path.basename(elsewhere), name))
                QUERIES[family](lib, entry)
                return True
    if _sym(lib, "dgemm_") is None and _sym(lib, "cblas_dgemm") is None:
        return False
    parent = os.path.basename(os.path.dirname(path)).lower()
    for marker, family in DIR_FAMILIES:
        if parent.startswith(marker):
            entry["internal_api"] = family
            entry["evidence"] = "directory %s/" % parent
            if family == "openblas" or family == "blis":
                rest = parent[len(marker):].lstrip("-")
                entry["threading_layer"] = {"pthread": "pthreads", "openmp": "openmp",
                                            "serial": "disabled"}.get(rest)
            return True
    if parent in ("blas", "lapack"):
        entry["internal_api"] = "netlib"
        entry["evidence"] = "directory %s/ (the reference BLAS alternative)" % parent
        entry["threading_layer"] = "disabled"
        return True
    entry["internal_api"] = "unknown"
    entry["evidence"] = ("exports BLAS symbols (dgemm_) but defines none of OpenBLAS, MKL, "
                         "BLIS, FlexiBLAS, ATLAS, ArmPL or NVPL's own functions, and its "
                         "directory (%s/) does not name it" % parent)
    return True


QUERIES = {
    "openblas": _query_openblas, "mkl": _query_mkl, "blis": _query_blis,
    "flexiblas": _query_flexiblas, "openmp": _query_openmp, "nvpl": _query_nvpl,
    "armpl": _query_armpl, "atlas": _query_atlas, "generic": _query_generic,
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
            "source": "blasfix",
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
                     "filepath": accelerate, "version": None, "source": "blasfix",
                     "num_threads": None, "threading_layer": None, "architecture": None})
    return libs, errors


def _give_libc(tpc):
    """Older threadpoolctl releases find libc with ctypes.util.find_library("c"), which on Linux
    runs `ldconfig -p` in a child process; hand them the libc already loaded, as newer releases
    take it themselves (dlopen(NULL)), through their own class-level cache."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        for obj in vars(tpc).values():
            cache = getattr(obj, "_system_libraries", None) if isinstance(obj, type) else None
            if isinstance(cache, dict) and "libc" not in cache:
                cache["libc"] = ctypes.CDLL(None, mode=getattr(os, "RTLD_NOLOAD", 4))
    except Exception:
        pass


def threadpoolctl_libraries():
    """(libraries, version, error) from threadpoolctl.threadpool_info(), without leaving the
    KMP_DUPLICATE_LIB_OK it sets on import in this process's environment."""
    had = "KMP_DUPLICATE_LIB_OK" in os.environ
    try:
        try:
            import threadpoolctl
        except ImportError:
            return None, None, None
        _give_libc(threadpoolctl)
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
    entry = {"source": "threadpoolctl"}
    for key in ("user_api", "internal_api", "prefix", "filepath", "version", "num_threads",
                "threading_layer", "architecture"):
        entry[key] = item.get(key)
    if item.get("current_backend"):
        entry["config"] = "backend %s" % item.get("current_backend")
    if entry.get("filepath"):
        entry["filepath"] = os.path.realpath(entry["filepath"])
    return entry


def merge(own, tpc):
    """One entry per real path: threadpoolctl's values where it has them, blasfix's for the
    rest, and every library only one of them found."""
    by_path = {}
    order = []
    for entry in own:
        by_path[entry["filepath"]] = entry
        order.append(entry["filepath"])
    for item in tpc:
        entry = _from_threadpoolctl(item)
        path = entry.get("filepath")
        mine = by_path.get(path)
        if mine is None:
            by_path[path] = entry
            order.append(path)
            continue
        for key, value in entry.items():
            if value is not None and key != "source":
                mine[key] = value
        mine["source"] = "both"
    return [by_path[p] for p in order]


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
    result["libraries"] = merge(builtin, info)
    result["threadpoolctl"] = version
    result["source"] = "blasfix (%s) and threadpoolctl %s" % (method, version)
    return result


# ---------------------------------------------------------------------------------------------
# Threads: how many the process really runs, before and after the first BLAS call.

def os_threads():
    """Threads of this process (Linux /proc/self/task); None where that cannot be read."""
    try:
        return len(os.listdir("/proc/self/task"))
    except Exception:
        return None


def needs_gemm(libs):
    """OpenMP teams (libgomp, libiomp5, libomp) and MKL start their threads at the first
    parallel call, not at load; a pthreads OpenBLAS has its pool once it is loaded."""
    for entry in libs:
        if entry.get("user_api") == "openmp" or entry.get("internal_api") == "mkl":
            return True
        if entry.get("threading_layer") in ("openmp", "intel", "gnu", "tbb"):
            return True
    return False


def requery(entry):
    """Read a library's thread count again (after the GEMM); keeps the old value on failure."""
    family = entry.get("internal_api")
    if family not in QUERIES or not entry.get("filepath"):
        return
    try:
        import ctypes
        fresh = dict(entry)
        if QUERIES[family](_open_noload(ctypes, entry["filepath"]), fresh):
            if fresh.get("num_threads") is not None:
                entry["num_threads"] = fresh["num_threads"]
    except Exception:
        pass


def gemm_provider(libs):
    """The file defining the DGEMM NumPy's own extension module binds to (dlsym on that
    module's handle searches its dependencies in the loader's order; dladdr names the file),
    and the listed library that serves it (the file itself, or what a wrapper forwards to)."""
    mod = (sys.modules.get("numpy._core._multiarray_umath")
           or sys.modules.get("numpy.core._multiarray_umath"))
    path = getattr(mod, "__file__", None)
    where = _dladdr()
    if not path or where is None:
        return None
    import ctypes
    handle = _open_noload(ctypes, path)
    for pre in OPENBLAS_PREFIXES:
        for suf in OPENBLAS_SUFFIXES:
            name = pre + "cblas_dgemm" + suf
            fn = _sym(handle, name)
            if fn is None:
                continue
            defined = where(ctypes.cast(fn, ctypes.c_void_p).value)
            if not defined:
                return None
            real = os.path.realpath(defined)
            listed = [e["filepath"] for e in libs]
            serves = real if real in listed else None
            if serves is None:
                own = _open_noload(ctypes, real)
                for family, symbols in IDENTITY:
                    for sym in symbols:
                        fn2, elsewhere = _own_sym(own, sym, real)
                        if elsewhere in listed:
                            serves = elsewhere
                            break
                    if serves:
                        break
            return {"file": real, "symbol": name, "library": serves}
    return None


def tiny_gemm(np):
    """One 128x128 DGEMM: large enough that OpenBLAS, MKL and BLIS go parallel (and OpenMP
    runtimes create their teams), small enough to cost well under a millisecond of work."""
    import time
    try:
        a = np.ones((128, 128))
        start = time.perf_counter()
        a.dot(a)
        return {"ok": True, "ms": round((time.perf_counter() - start) * 1000.0, 3)}
    except Exception as exc:
        return {"ok": False, "error": _err_text(exc)}


# ---------------------------------------------------------------------------------------------
# Which NumPy is imported, and what put its sys.path entry where it is.

def _norm(path):
    try:
        return os.path.normcase(os.path.realpath(os.path.abspath(path or os.curdir)))
    except Exception:
        return path


def sys_path_origins(skip=None):
    """[{path, origin}] for sys.path: PYTHONPATH, the user site, site-packages (the
    environment's or, with include-system-site-packages, the base Python's), a .pth file and
    line, the standard library, or "other" (sitecustomize, a startup hook, run-time edits)."""
    try:
        import site
    except Exception:
        site = None
    pythonpath = [_norm(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    user = None
    sites = []
    if site is not None:
        try:
            if getattr(site, "ENABLE_USER_SITE", False):
                user = _norm(site.getusersitepackages())
        except Exception:
            user = None
        try:
            sites = [_norm(p) for p in site.getsitepackages()]
        except Exception:
            sites = []
    prefix = _norm(sys.prefix)
    pth = {}
    for d in ([user] if user else []) + sites:
        try:
            names = sorted(n for n in os.listdir(d) if n.endswith(".pth"))
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            for i, line in enumerate(lines, 1):
                s = line.strip()
                if not s or s.startswith("#") or s.startswith(("import ", "import\t")):
                    continue
                pth.setdefault(_norm(os.path.join(d, s)), "%s:%d" % (os.path.join(d, name), i))
    stdlib = _norm(os.path.dirname(os.__file__))
    out = []
    for entry in sys.path:
        norm = _norm(entry)
        if skip and norm == skip:
            continue
        if norm in pythonpath:
            origin = "PYTHONPATH"
        elif user and norm == user:
            origin = "user site"
        elif norm in sites:
            inside = norm == prefix or norm.startswith(prefix + os.sep)
            origin = "site-packages" if inside else "base site-packages"
        elif norm in pth:
            origin = ".pth " + pth[norm]
        elif norm == stdlib or norm.startswith(stdlib + os.sep) or norm.endswith(".zip"):
            origin = "stdlib"
        else:
            origin = "other"
        out.append({"path": entry, "origin": origin})
    return out


def numpy_copies(origins):
    """The sys.path entries holding a numpy package, in import order (the first one wins)."""
    out = []
    for item in origins:
        try:
            if os.path.isfile(os.path.join(item["path"] or os.curdir, "numpy", "__init__.py")):
                out.append(item)
        except Exception:
            pass
    return out


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

def collect(import_scipy=False, use_threadpoolctl=True, gemm=True):
    """The whole report. Imports NumPy (scipy.linalg only when asked), runs one tiny GEMM;
    never raises."""
    report = {"probe_version": PROBE_VERSION, "python": python_info(), "env": thread_env(),
              "errors": []}
    if sys.version_info < (3, 6):
        report["fatal"] = "python_too_old"
        return report, None
    threads = {"before_numpy": os_threads()}
    try:
        here = globals().get("__file__")
        origins = sys_path_origins(_norm(os.path.dirname(here)) if here else None)
    except Exception as exc:
        origins = [{"path": p, "origin": "other"} for p in sys.path]
        report["errors"].append("sys.path origins: " + _err_text(exc))
    report["sys_path"] = origins
    np, error = import_module("numpy")
    report["numpy_copies"] = numpy_copies(origins)
    if np is None:
        missing = error["type"] == "ModuleNotFoundError" and "'numpy'" in error["message"]
        report["fatal"] = "numpy_missing" if missing else "numpy_import_failed"
        report["numpy_error"] = error
        return report, None
    threads["after_import"] = os_threads()
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
    loaded = None
    try:
        loaded = libraries(use_threadpoolctl)
        report["loaded"] = loaded
    except Exception as exc:
        report["errors"].append("listing libraries: " + _err_text(exc))
    if gemm and (loaded is None or needs_gemm(loaded["libraries"])):
        report["gemm"] = tiny_gemm(np)
        threads["after_gemm"] = os_threads()
        for entry in (loaded or {}).get("libraries", []):
            requery(entry)
    report["threads"] = threads
    try:
        report["gemm_provider"] = gemm_provider((loaded or {}).get("libraries", []))
    except Exception as exc:
        report["errors"].append("GEMM provider: " + _err_text(exc))
    try:
        report["config"] = numpy_config()
    except Exception as exc:
        report["errors"].append("numpy.__config__: " + _err_text(exc))
    return report, np


def main(argv):
    out = _protect_stdout()
    try:
        report, _ = collect(import_scipy="--scipy" in argv,
                            use_threadpoolctl="--no-threadpoolctl" not in argv,
                            gemm="--no-gemm" not in argv)
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
