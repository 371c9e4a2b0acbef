"""The Windows-only code paths of templates/probe.py, run by the host's python3 (no Windows
CPython exists on the machines that test blasfix): EnumProcessModulesEx with a buffer that has to
grow, GetModuleFileNameExW, Windows DLL names per BLAS family, and the queries of loaded DLLs
(MKL, OpenBLAS from delvewheel's numpy.libs, conda-forge's libblas.dll copy of mkl_rt, OpenMP).

kernel32/Psapi and the DLLs are ctypes stand-ins that behave as the Win32 documentation
describes; `sys.platform` is "win32" and the probe's `os.path` is `ntpath` while the tests run.

Usage: python3 tests/python/probe_win32.py templates/probe.py   (tests/it/probe.rs runs it)
Prints one line per check and "N passed, N failed" last; exits 1 on any failure.
"""

import ctypes
import importlib.util
import ntpath
import os
import sys
import types
from ctypes import wintypes

MODULE_PATHS = {
    0x1000: "C:\\Users\\u\\miniforge3\\envs\\ml\\python.exe",
    0x2000: "C:\\Users\\u\\miniforge3\\envs\\ml\\Library\\bin\\mkl_rt.2.dll",
    0x3000: "C:\\Users\\u\\miniforge3\\envs\\ml\\Library\\bin\\libiomp5md.dll",
    0x4000: "C:\\Users\\u\\miniforge3\\envs\\ml\\Library\\bin\\libblas.dll",
    0x5000: ("C:\\Users\\u\\venv\\Lib\\site-packages\\numpy.libs\\"
             "libscipy_openblas64_-fb1711452d4d8cee9f276fd1449ee5c7.dll"),
    0x6000: "C:\\WINDOWS\\SYSTEM32\\VCOMP140.DLL",
    0x7000: "C:\\WINDOWS\\System32\\KERNEL32.DLL",
}
# More modules than the probe's first buffer (1024) holds, so it must grow the buffer; most are
# system DLLs without a BLAS-looking name.
FILLER = dict((0x10000 + i, "C:\\WINDOWS\\System32\\filler%d.dll" % i) for i in range(1500))


class Fn:
    """A foreign function stand-in: accepts argtypes/restype, calls a Python function."""

    def __init__(self, impl):
        self.impl = impl
        self.argtypes = None
        self.restype = ctypes.c_int
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return self.impl(*args)


class FakePsapi:
    def __init__(self, modules):
        self.handles = list(modules)
        self.modules = modules
        self.EnumProcessModulesEx = Fn(self._enum)
        self.GetModuleFileNameExW = Fn(self._name)

    def _enum(self, process, buf, size, needed, flags):
        assert flags == 0x03, "LIST_MODULES_ALL"
        width = ctypes.sizeof(wintypes.HMODULE)
        needed._obj.value = len(self.handles) * width
        for i, h in enumerate(self.handles[: size // width]):
            buf[i] = h
        return 1

    def _name(self, process, module, path, size):
        name = self.modules.get(module)
        if name is None:
            return 0
        path.value = name
        return len(name)


class FakeKernel32:
    def __init__(self):
        self.GetCurrentProcess = Fn(lambda: 0xFFFF)


class FakeLib:
    """A loaded DLL: attribute lookup fails for symbols it does not export, like ctypes.CDLL."""

    def __init__(self, symbols):
        self._symbols = dict((k, Fn(v)) for k, v in symbols.items())

    def __getattr__(self, name):
        try:
            return self.__dict__["_symbols"][name]
        except KeyError:
            raise AttributeError(name)


def set_buffer(text):
    def impl(buf, size):
        buf.value = text.encode()[: int(getattr(size, "value", size)) - 1]
    return impl


MKL = {
    "MKL_Get_Max_Threads": lambda: 8,
    "MKL_Get_Version_String": set_buffer(
        "Intel(R) oneAPI Math Kernel Library Version 2025.3.0 Product Build 20251007 for "
        "Intel(R) 64 architecture applications"),
    "MKL_Set_Threading_Layer": lambda layer: 0,
    "cblas_dgemm": lambda: 0,
    "dgemm_": lambda: 0,
}
OPENBLAS = {
    "scipy_openblas_get_num_threads64_": lambda: 4,
    "scipy_openblas_get_config64_": lambda: b"OpenBLAS 0.3.27.dev  USE64BITINT DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=24",
    "scipy_openblas_get_parallel64_": lambda: 1,
    "scipy_openblas_get_corename64_": lambda: b"Haswell",
}
OPENMP = {"omp_get_max_threads": lambda: 8}
LIBS = {
    MODULE_PATHS[0x2000]: MKL,
    MODULE_PATHS[0x3000]: OPENMP,
    MODULE_PATHS[0x4000]: MKL,  # conda-forge's libblas.dll is a copy of mkl_rt.2.dll
    MODULE_PATHS[0x5000]: OPENBLAS,
    MODULE_PATHS[0x6000]: OPENMP,
}


def load_probe(path):
    spec = importlib.util.spec_from_file_location("blasfix_probe", path)
    mod = importlib.util.module_from_spec(spec)
    mod._BLASFIX_NO_MAIN = True
    spec.loader.exec_module(mod)
    return mod


class Windows:
    """sys.platform, kernel32/Psapi, CDLL and the probe's os.path as on Windows, restored on exit."""

    def __init__(self, probe, modules):
        self.probe = probe
        self.psapi = FakePsapi(modules)
        self.opened = []

    def __enter__(self):
        self.saved = (sys.platform, getattr(ctypes, "WinDLL", None), ctypes.CDLL,
                      getattr(ctypes, "get_last_error", None), self.probe.os)
        libs = {"kernel32": FakeKernel32(), "Psapi": self.psapi}
        ctypes.WinDLL = lambda name, use_last_error=False: libs[name]
        ctypes.get_last_error = lambda: 0

        def cdll(path, mode=0):
            self.opened.append(path)
            if path not in LIBS:
                raise OSError("[WinError 126] The specified module could not be found")
            return FakeLib(LIBS[path])
        ctypes.CDLL = cdll
        fake_os = types.ModuleType("os")
        fake_os.__dict__.update(os.__dict__)
        fake_os.path = ntpath
        self.probe.os = fake_os
        sys.platform = "win32"
        return self

    def __exit__(self, *exc):
        sys.platform, win, ctypes.CDLL, last, self.probe.os = self.saved
        if win is None:
            del ctypes.WinDLL
        else:
            ctypes.WinDLL = win
        if last is None:
            del ctypes.get_last_error
        else:
            ctypes.get_last_error = last
        return False


results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print("%s %s%s" % ("ok  " if cond else "FAIL", name, (": %s" % detail) if not cond else ""))


def main(probe_path):
    probe = load_probe(probe_path)
    modules = dict(MODULE_PATHS)
    modules.update(FILLER)

    with Windows(probe, modules) as w:
        paths, method, errors = probe.loaded_paths()
    check("method is EnumProcessModulesEx", method == "EnumProcessModulesEx", method)
    check("every module listed after the buffer grew", len(paths) == len(modules), len(paths))
    check("EnumProcessModulesEx called again with a larger buffer",
          w.psapi.EnumProcessModulesEx.calls == 2, w.psapi.EnumProcessModulesEx.calls)
    check("no errors", errors == [], errors)
    check("Windows paths kept as GetModuleFileNameExW wrote them",
          MODULE_PATHS[0x5000] in paths and MODULE_PATHS[0x2000] in paths)

    with Windows(probe, modules):
        names = dict((p, probe.family_of(p)[1]) for p in MODULE_PATHS.values())
    check("mkl_rt.2.dll is MKL", names[MODULE_PATHS[0x2000]] == "mkl", names)
    check("libiomp5md.dll and VCOMP140.DLL are OpenMP",
          names[MODULE_PATHS[0x3000]] == "openmp" and names[MODULE_PATHS[0x6000]] == "openmp", names)
    check("delvewheel's libscipy_openblas64_-<hash>.dll is OpenBLAS",
          names[MODULE_PATHS[0x5000]] == "openblas", names)
    check("libblas.dll is generic (decided by its symbols)",
          names[MODULE_PATHS[0x4000]] == "generic", names)
    check("python.exe and KERNEL32.DLL are nothing",
          names[MODULE_PATHS[0x1000]] is None and names[MODULE_PATHS[0x7000]] is None, names)
    check("a backslash Accelerate path is still recognised (is_accelerate_image)",
          probe.is_accelerate_image("X:\\System\\Library\\Frameworks\\Accelerate.framework\\A"))

    with Windows(probe, modules) as w:
        report = probe.libraries(use_threadpoolctl=False)
    libs = dict((e["filepath"], e) for e in report["libraries"])
    mkl = libs.get(MODULE_PATHS[0x2000], {})
    check("MKL queried: threads, version, layer",
          (mkl.get("internal_api"), mkl.get("num_threads"), mkl.get("version"),
           mkl.get("threading_layer")) == ("mkl", 8, "2025.3.0", "intel"), mkl)
    ob = libs.get(MODULE_PATHS[0x5000], {})
    check("OpenBLAS queried through scipy_ ... 64_ symbols",
          (ob.get("internal_api"), ob.get("num_threads"), ob.get("version"),
           ob.get("architecture"), ob.get("threading_layer"), ob.get("symbol_suffix"))
          == ("openblas", 4, "0.3.27.dev", "Haswell", "pthreads", "64_"), ob)
    generic = libs.get(MODULE_PATHS[0x4000], {})
    check("libblas.dll copy of mkl_rt answers as MKL", generic.get("internal_api") == "mkl", generic)
    omp = [e for e in report["libraries"] if e["internal_api"] == "openmp"]
    check("both OpenMP runtimes listed with their threads",
          sorted(e["num_threads"] for e in omp) == [8, 8] and len(omp) == 2, omp)
    check("only BLAS-looking DLLs were opened",
          all(not p.lower().endswith(("kernel32.dll", "python.exe")) and "filler" not in p
              for p in w.opened), w.opened)
    check("report names the method", report["source"] == "blasfix (EnumProcessModulesEx)",
          report["source"])

    # A failing EnumProcessModulesEx is an error in the report, not an exception.
    failing = FakePsapi(modules)
    failing.EnumProcessModulesEx = Fn(lambda *a: 0)
    with Windows(probe, modules) as w:
        w.psapi.__dict__.update(failing.__dict__)
        paths, method, errors = probe.loaded_paths()
    check("EnumProcessModulesEx failure is reported",
          paths == [] and method is None and any("EnumProcessModulesEx failed" in e for e in errors),
          errors)

    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
