#!/usr/bin/env python3
"""How long `blasfix apply` takes from a signal to its own end while the frontend installs:
the frontend's whole tree stopped (a wrapper that forks grandchildren runs the fake conda of
tests/it/apply.rs, which hangs at its install), pinned restored, blasfix ended by the signal.

    python3 benches/stop_latency.py target/release/blasfix [RUNS]

Standard library only; prints the median, min and max per signal. Not a target, a measurement
for the README's numbers (the grace period before SIGKILL is 10 s; a frontend that honours
SIGTERM/SIGINT, as conda does, ends long before).
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def fake_conda(dest):
    text = open(os.path.join(HERE, "..", "tests", "it", "apply.rs"), encoding="utf-8").read()
    script = re.search(r'pub const FAKE_CONDA: &str = r#"(.*?)"#;', text, re.S).group(1)
    with open(dest, "w", encoding="utf-8") as f:
        f.write(script)
    os.chmod(dest, 0o755)


def prefix(root):
    meta = os.path.join(root, "env", "conda-meta")
    os.makedirs(meta)
    for n, v, b in [("libblas", "3.9.0", "20_linux64_openblas"), ("numpy", "1.26.4", "py312_0"),
                    ("python", "3.12.3", "h_0")]:
        with open(os.path.join(meta, "%s-%s-%s.json" % (n, v, b)), "w") as f:
            json.dump({"name": n, "version": v, "build": b, "build_number": 0, "depends": [], "files": [],
                       "channel": "https://conda.anaconda.org/conda-forge/linux-64", "subdir": "linux-64"}, f)
    with open(os.path.join(meta, "pinned"), "w") as f:
        f.write("libblas=*=*openblas\n")
    return os.path.join(root, "env")


def once(blasfix, sig):
    root = tempfile.mkdtemp()
    try:
        fake = os.path.join(root, "fake-conda")
        fake_conda(fake)
        wrapper = os.path.join(root, "conda")
        sleeper = "python3 -c 'import time; time.sleep(600)'"
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n%s &\n( %s & wait ) &\n'%s' \"$@\"\n" % (sleeper, sleeper, fake))
        os.chmod(wrapper, 0o755)
        ready = os.path.join(root, "ready")
        env = dict(os.environ, CONDA_EXE=wrapper, FAKE_MODE="hang-install", FAKE_READY=ready, NO_COLOR="1")
        p = subprocess.Popen([blasfix, "apply", "--yes", "--frontend", "conda", "--backend", "mkl",
                              "-p", prefix(root)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(ready):
            if p.poll() is not None:
                raise SystemExit("blasfix ended before the install")
            time.sleep(0.002)
        t = time.monotonic()
        p.send_signal(sig)
        p.wait()
        return (time.monotonic() - t) * 1000
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    blasfix = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        ms = [once(blasfix, getattr(signal, name)) for _ in range(runs)]
        print("%-7s signal -> tree stopped, pinned restored, blasfix ended: median %.0f ms (min %.0f, max %.0f), %d runs"
              % (name, statistics.median(ms), min(ms), max(ms), runs))


if __name__ == "__main__":
    main()
