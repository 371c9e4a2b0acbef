"""blasfix: find out which BLAS NumPy really runs on, explain why, and switch it safely.

The program is the Rust binary this package installs into the environment's scripts
directory; this package finds it (``find_blasfix_bin``), runs it for ``python -m blasfix``,
and holds the conda plugin (``blasfix.conda_plugin``, loaded by conda only).
"""

from __future__ import annotations

import os
import sys
import sysconfig

__all__ = ["find_blasfix_bin"]


def _scripts_dirs():
    """Where an installer puts this package's executables, most likely first."""
    dirs = [sysconfig.get_path("scripts")]
    # `pip install --user`.
    try:
        user_scheme = sysconfig.get_preferred_scheme("user")
    except AttributeError:  # Python < 3.10
        user_scheme = "nt_user" if os.name == "nt" else "posix_user"
    try:
        dirs.append(sysconfig.get_path("scripts", scheme=user_scheme))
    except KeyError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    # `pip install --target DIR`: DIR/blasfix/ and DIR/bin/.
    dirs.append(os.path.join(os.path.dirname(here), "bin"))
    # `pip install --prefix P`: P/lib/pythonX.Y/site-packages/blasfix/ and P/bin/.
    dirs.append(os.path.join(here, *[os.pardir] * 4, "bin"))
    return dirs


def find_blasfix_bin(name: str = "blasfix") -> str:
    """The path of the ``blasfix`` binary installed with this package.

    ``BLASFIX_BIN`` overrides the search (for tests and development builds). The binary on
    PATH is deliberately not used: it could be another version than this package's.
    """
    override = os.environ.get("BLASFIX_BIN")
    if override:
        return override
    exe = name + (sysconfig.get_config_var("EXE") or (".exe" if os.name == "nt" else ""))
    tried = []
    for d in _scripts_dirs():
        if not d:
            continue
        path = os.path.normpath(os.path.join(d, exe))
        if os.path.isfile(path):
            return path
        tried.append(path)
    raise FileNotFoundError(
        "the blasfix binary of this package is not installed where pip puts it "
        f"(looked for {', '.join(tried)}); reinstall with `{sys.executable} -m pip install "
        "--force-reinstall blasfix`, or set BLASFIX_BIN to a blasfix binary"
    )
