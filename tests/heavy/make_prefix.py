#!/usr/bin/env python3
"""Create a conda prefix from a local channel with py-rattler (no conda needed).

    make_prefix.py CHANNEL_DIR PREFIX SPEC [SPEC...]

Specs use py-rattler's strict MatchSpec syntax (`libblas * *mkl`, not `libblas=*=*mkl`).
py-rattler's solve/install are coroutines in some versions and plain calls in others.
"""
import asyncio
import inspect
import os
import sys

import rattler


def call(fn, *args, **kwargs):
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return result


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    channel, prefix, specs = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3:]
    url = "file://" + channel
    sources = [url]
    print(f"solving {specs} from {url}", flush=True)
    records = call(rattler.solve, sources=sources, specs=specs,
                   platforms=["linux-64", "noarch"])
    for r in records:
        print(f"  {r.name.normalized} {r.version} {r.build}", flush=True)
    extra = {}
    params = inspect.signature(rattler.install).parameters
    if "show_progress" in params:
        extra["show_progress"] = False
    cache = os.environ.get("BLASFIX_RATTLER_CACHE")
    if cache and "cache_dir" in params:
        extra["cache_dir"] = cache  # private to the heavy dir: a rebuilt channel is never stale
    call(rattler.install, records, target_prefix=prefix, **extra)
    print(f"installed {len(records)} packages into {prefix}", flush=True)
    sys.stdout.flush()
    # py-rattler's runtime has been seen to crash during interpreter teardown after a
    # successful install; the work is done, so leave without running finalizers.
    os._exit(0)


if __name__ == "__main__":
    main()
