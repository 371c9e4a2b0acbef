"""Shared setup of the plugin tests: the package from python/, the built binary, the conda
stand-in, the heavy dir's real prefixes."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "standin")
sys.path.insert(0, os.path.join(ROOT, "python"))
CI = os.environ.get("CI") == "true"


def blasfix_bin():
    """The binary under test: BLASFIX_BIN, else cargo's debug build."""
    exe = os.environ.get("BLASFIX_BIN") or os.path.join(ROOT, "target", "debug", "blasfix")
    if not os.path.isfile(exe):
        raise RuntimeError(f"{exe} missing: run `cargo build` first (or set BLASFIX_BIN)")
    return exe


os.environ["BLASFIX_BIN"] = blasfix_bin()
# What would change what blasfix sees on this machine.
for var in ("CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_EXE", "_CONDA_EXE", "CONDA_ROOT",
            "VIRTUAL_ENV", "MAMBA_EXE", "MAMBA_ROOT_PREFIX", "BLASFIX_INVOKED_AS",
            "FORCE_COLOR", "CLICOLOR_FORCE", "CONDARC"):
    os.environ.pop(var, None)
os.environ["NO_COLOR"] = "1"


def heavy_dir():
    """BLASFIX_HEAVY_DIR when its setup is complete; under CI=true its absence fails."""
    h = os.environ.get("BLASFIX_HEAVY_DIR")
    if h and os.path.isfile(os.path.join(h, "READY")):
        return os.path.abspath(h)
    why = "BLASFIX_HEAVY_DIR unset or not set up (tests/heavy/run.sh --setup-only)"
    if CI:
        raise AssertionError(f"CI=true: {why}")
    raise unittest.SkipTest(why)


def import_standin():
    """Put the conda stand-in first on sys.path (fresh modules each time)."""
    for name in [m for m in sys.modules if m == "conda" or m.startswith("conda.")]:
        del sys.modules[name]
    if STANDIN not in sys.path:
        sys.path.insert(0, STANDIN)
    import conda.base.context  # noqa: F401
    import conda.reporters  # noqa: F401
    return sys.modules["conda"]


def drop_standin():
    for name in [m for m in sys.modules if m == "conda" or m.startswith("conda.")]:
        del sys.modules[name]
    while STANDIN in sys.path:
        sys.path.remove(STANDIN)


def doctor_json(prefix, *extra):
    out = subprocess.run([os.environ["BLASFIX_BIN"], "doctor", "--json", "-p", prefix, *extra],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@contextlib.contextmanager
def captured_fds():
    """Capture stdout and stderr at the file descriptor level, children included, in the order
    written (Python's own streams are flushed into the same descriptors)."""
    out, err = tempfile.TemporaryFile("w+b"), tempfile.TemporaryFile("w+b")
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    res = {}
    try:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        yield res
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        out.seek(0)
        err.seek(0)
        res["stdout"] = out.read().decode("utf-8", "replace")
        res["stderr"] = err.read().decode("utf-8", "replace")
        out.close()
        err.close()


def blas_record(prefix):
    for name in sorted(os.listdir(os.path.join(prefix, "conda-meta"))):
        if name.startswith("libblas-"):
            return name[: -len(".json")]
    return ""


class FreshPrefix:
    """A conda prefix made by tests/heavy/fake_conda.py (a real py-rattler solve and install)
    from the heavy channel, and a `conda` wrapper that runs fake_conda.py for it."""

    def __init__(self, heavy, name="plugin env"):
        self.dir = tempfile.mkdtemp(prefix="blasfix-plugin-")
        self.prefix = os.path.join(self.dir, "envs", name)
        self.channel = os.path.join(heavy, "channel")
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir)
        self.conda = os.path.join(bindir, "conda")
        with open(self.conda, "w") as f:
            f.write("#!/bin/sh\nexec '{}' '{}' \"$@\"\n".format(
                os.path.join(heavy, "tools", "bin", "python"),
                os.path.join(ROOT, "tests", "heavy", "fake_conda.py")))
        os.chmod(self.conda, 0o755)
        subprocess.run([self.conda, "create", "-y", "-c", self.channel, "-p", self.prefix,
                        "numpy"], check=True, capture_output=True)

    def env(self):
        return {"CONDA_EXE": self.conda, "FAKE_CONDA_CHANNELS": self.channel}

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class FreshPrefixCase(unittest.TestCase):
    """Tests on one FreshPrefix (named PREFIX_NAME) for the class, with the conda stand-in and
    the prefix's `conda` (CONDA_EXE) for each test."""

    PREFIX_NAME = "plugin env"

    @classmethod
    def setUpClass(cls):
        cls.heavy = heavy_dir()
        cls.fresh = FreshPrefix(cls.heavy, name=cls.PREFIX_NAME)

    @classmethod
    def tearDownClass(cls):
        cls.fresh.remove()

    def setUp(self):
        import_standin()
        self.addCleanup(drop_standin)
        env = mock.patch.dict(os.environ, self.fresh.env())
        env.start()
        self.addCleanup(env.stop)
