"""``python -m blasfix``: run the blasfix binary for this Python's environment.

Like ``python -m pip``, it looks at the environment of the Python that runs it (its
``sys.prefix``) unless ``-n``/``-p`` says otherwise, activated or not.
"""

from __future__ import annotations

import os
import subprocess
import sys

from . import find_blasfix_bin
from ._args import with_env_args


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        exe = find_blasfix_bin()
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args = with_env_args(argv, default_prefix=sys.prefix)
    if sys.platform == "win32":
        # No exec on Windows: run it, and pass on Ctrl-C to the child alone.
        try:
            return subprocess.call([exe, *args])
        except KeyboardInterrupt:
            return 130
    os.execv(exe, [exe, *args])
    return 2  # not reached


if __name__ == "__main__":
    sys.exit(main())
