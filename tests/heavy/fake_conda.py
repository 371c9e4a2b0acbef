#!/usr/bin/env python3
"""A small conda-compatible frontend for blasfix's heavy tests, built on py-rattler.

It performs a real solve and a real install into a real prefix, so `blasfix apply` can be
tested end to end without conda. Run it with a Python that has py-rattler (the heavy dir's
`tools/bin/python`).

Implemented (the subset `blasfix apply` uses, with conda's behaviour):

    fake_conda.py install -p PREFIX [-y] [--json] [--dry-run] [--no-pin] [-c CHANNEL]... SPECS...
    fake_conda.py create  -p PREFIX [-y] [-c CHANNEL]... SPECS...     (a fresh prefix, for tests)

* Channels: every `-c CHANNEL` (a URL or a path), else `$FAKE_CONDA_CHANNELS` (separated by
  os.pathsep). Platforms: the channel's `linux-64` (or `$FAKE_CONDA_SUBDIR`) plus `noarch`.
* Specs: conda MatchSpec strings, parsed leniently (`libblas=*=*mkl` works).
* The solve keeps what is installed: the prefix's records are `locked_packages` (preferred),
  and the specs are the user's earlier requests (records' `requested_specs`/`requested_spec`)
  plus every other installed package's name, with the new CLI specs replacing specs of the
  same name.
* `conda-meta/pinned` (unless `--no-pin`): every non-blank line not starting with `#` is a
  MatchSpec added as a solver constraint. Like conda's libmamba solver, a CLI spec that names a
  pinned package and cannot be satisfied together with the pin is refused before solving
  (`SpecsConfigurationConflictError`), never silently overridden.
* `--dry-run --json`: conda's shape, `{"success", "dry_run", "prefix", "actions": {"PREFIX",
  "FETCH", "LINK", "UNLINK"}}` with conda's 8-field `dist_fields_dump` entries; nothing to do
  gives `{"success": true, "message": "All requested packages already installed."}`.
* Errors: with `--json`, `{"exception_name", "exception_type", "message", "error"}` on stdout;
  without, `Name: message` on stderr; exit status 1.
* Without `--dry-run`: conda's stage lines on stdout, then `rattler.install` (records written by
  rattler, including `requested_specs`), and a `conda-meta/history` entry.
* Fault injection for tests: `FAKE_CONDA_FAIL=1` fails the real install after solving (nothing
  is written); `FAKE_CONDA_HANG=1` hangs there instead.

Not implemented: other subcommands, `-n NAME`, channel priority settings, `.condarc`.
"""
import asyncio
import glob
import json
import os
import sys
import time

try:
    import rattler
except ImportError:  # pragma: no cover - reported like conda would
    print("CondaError: fake_conda.py needs py-rattler (the heavy dir's tools/bin/python)", file=sys.stderr)
    sys.exit(1)


class CondaError(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


def parse_args(argv):
    if not argv or argv[0] not in ("install", "create"):
        raise CondaError("ArgumentError", "fake_conda.py implements only `install` and `create`")
    opts = {"create": argv[0] == "create", "prefix": None, "json": False, "dry_run": False, "no_pin": False, "channels": [], "specs": []}
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in ("-p", "--prefix"):
            opts["prefix"] = argv[i + 1]
            i += 2
            continue
        if a in ("-c", "--channel"):
            opts["channels"].append(argv[i + 1])
            i += 2
            continue
        if a == "--json":
            opts["json"] = True
        elif a == "--dry-run":
            opts["dry_run"] = True
        elif a == "--no-pin":
            opts["no_pin"] = True
        elif a in ("-y", "--yes", "-q", "--quiet"):
            pass
        elif a.startswith("-"):
            raise CondaError("ArgumentError", "unsupported option " + a)
        else:
            opts["specs"].append(a)
        i += 1
    if not opts["prefix"]:
        raise CondaError("ArgumentError", "fake_conda.py needs -p PREFIX")
    if not opts["specs"]:
        raise CondaError("ArgumentError", "no package specs given")
    if not opts["channels"]:
        env = os.environ.get("FAKE_CONDA_CHANNELS", "")
        opts["channels"] = [c for c in env.split(os.pathsep) if c]
    if not opts["channels"]:
        raise CondaError("ArgumentError", "no channel: pass -c CHANNEL or set FAKE_CONDA_CHANNELS")
    opts["channels"] = [c if "://" in c else "file://" + os.path.abspath(c) for c in opts["channels"]]
    return opts


def ms(spec):
    """conda's lenient MatchSpec (rattler's strict parser rejects `libblas=*=*mkl`)."""
    return rattler.MatchSpec(spec, strict=False)


def name_of(spec):
    return str(ms(spec).name.normalized)


def installed(prefix):
    meta = os.path.join(prefix, "conda-meta")
    if not os.path.isdir(meta):
        raise CondaError("EnvironmentLocationNotFound", "Not a conda environment: " + prefix)
    return [rattler.PrefixRecord.from_path(p) for p in sorted(glob.glob(os.path.join(meta, "*.json")))]


def pinned_specs(prefix):
    path = os.path.join(prefix, "conda-meta", "pinned")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip() and not l.strip().startswith("#")]


def previous_specs(records):
    """The user's earlier requests, plus every installed package by name: like conda, an
    install keeps what is installed unless the new specs need it changed."""
    specs = []
    for r in records:
        req = list(getattr(r, "requested_specs", None) or [])
        if not req and getattr(r, "requested_spec", None) not in (None, "None"):
            req = [r.requested_spec]
        specs.extend(req)
    named = {name_of(s) for s in specs}
    specs.extend(str(r.name.normalized) for r in records if str(r.name.normalized) not in named)
    return specs


def record_key(r):
    return (str(r.name.normalized), str(r.version), str(r.build))


def dist_fields(r):
    channel = str(r.channel or "")
    base = channel.rstrip("/")
    if base.endswith("/" + str(r.subdir)):
        base = base[: -len(str(r.subdir)) - 1]
    name, version, build = record_key(r)
    return {
        "base_url": base,
        "build_number": int(r.build_number),
        "build_string": build,
        "channel": base.rsplit("/", 1)[-1] if base else "",
        "dist_name": "%s-%s-%s" % (name, version, build),
        "name": name,
        "platform": str(r.subdir),
        "version": version,
    }


async def solve(opts, records):
    subdir = os.environ.get("FAKE_CONDA_SUBDIR", "linux-64")
    new = {name_of(s): s for s in opts["specs"]}
    specs = [s for s in previous_specs(records) if name_of(s) not in new] + list(new.values())
    pins = [] if opts["no_pin"] else pinned_specs(opts["prefix"])
    for pin in pins:
        pin_name = name_of(pin)
        if pin_name in new:
            # libmamba: an explicit spec may not override a pin; refuse early when they cannot
            # both hold.
            try:
                await rattler.solve(
                    sources=opts["channels"], specs=[ms(new[pin_name])], constraints=[ms(pin)],
                    platforms=[subdir, "noarch"], virtual_packages=[],
                )
            except Exception:
                raise CondaError(
                    "SpecsConfigurationConflictError",
                    "Requested specs conflict with configured specs.\n"
                    "  requested specs: \n    - %s\n  pinned specs: \n    - %s\n"
                    "Use 'conda config --show-sources' to look for 'pinned_specs' and 'track_features' "
                    "configuration parameters.  Pinned specs may also be defined in the file "
                    "%s." % (new[pin_name], pin, os.path.join(opts["prefix"], "conda-meta", "pinned")),
                )
    try:
        return await rattler.solve(
            sources=opts["channels"],
            specs=[ms(s) for s in specs],
            constraints=[ms(p) for p in pins] or None,
            locked_packages=records,
            platforms=[subdir, "noarch"],
            virtual_packages=rattler.VirtualPackage.detect(),
        )
    except Exception as e:
        text = str(e)
        if "No candidates were found" in text or "cannot be installed because there are no viable options" in text:
            raise CondaError("PackagesNotFoundInChannelsError", text)
        raise CondaError("UnsatisfiableError", text)


def transaction(records, solution):
    old = {str(r.name.normalized): r for r in records}
    new = {str(r.name.normalized): r for r in solution}
    unlink = [old[n] for n in sorted(old) if n not in new or record_key(old[n]) != record_key(new[n])]
    link = [new[n] for n in sorted(new) if n not in old or record_key(old[n]) != record_key(new[n])]
    return link, unlink


def write_history(prefix, argv, link, unlink):
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    lines = ["==> %s <==" % stamp, "# cmd: conda " + " ".join(argv), "# conda version: 26.7.1"]
    lines += ["-%s::%s-%s-%s" % ((str(r.channel or "").rstrip("/"),) + record_key(r)) for r in unlink]
    lines += ["+%s::%s-%s-%s" % ((str(r.channel or "").rstrip("/"),) + record_key(r)) for r in link]
    with open(os.path.join(prefix, "conda-meta", "history"), "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


async def main(argv):
    opts = parse_args(argv)
    if opts["create"]:
        os.makedirs(os.path.join(opts["prefix"], "conda-meta"), exist_ok=True)
    records = installed(opts["prefix"])
    if not opts["json"]:
        print("Channels:\n" + "".join(" - %s\n" % c for c in opts["channels"]) + "Platform: linux-64", flush=True)
        print("Collecting package metadata (repodata.json): done", flush=True)
        print("Solving environment: ...working...", flush=True)
    solution = await solve(opts, records)
    link, unlink = transaction(records, solution)
    if not opts["json"]:
        print("Solving environment: done", flush=True)
    if not link and not unlink:
        msg = "All requested packages already installed."
        print(json.dumps({"success": True, "message": msg}) if opts["json"] else "\n# " + msg)
        return
    if opts["dry_run"]:
        if opts["json"]:
            print(json.dumps({
                "success": True, "dry_run": True, "prefix": opts["prefix"],
                "actions": {"PREFIX": opts["prefix"], "FETCH": [],
                            "LINK": [dist_fields(r) for r in link], "UNLINK": [dist_fields(r) for r in unlink]},
            }, indent=2))
        else:
            for r in unlink:
                print("  - " + "-".join(record_key(r)))
            for r in link:
                print("  + " + "-".join(record_key(r)))
            print("DryRunExit: Dry run. Exiting.")
        return
    if os.environ.get("FAKE_CONDA_FAIL"):
        raise CondaError("CondaHTTPError", "HTTP 000 CONNECTION FAILED (FAKE_CONDA_FAIL is set)")
    if os.environ.get("FAKE_CONDA_HANG"):
        time.sleep(24 * 3600)
    print("Preparing transaction: done\nVerifying transaction: done\nExecuting transaction: ...working...", flush=True)
    new_names = {name_of(s): s for s in opts["specs"]}
    await rattler.install(
        solution,
        target_prefix=opts["prefix"],
        installed_packages=records,
        show_progress=False,
        # py-rattler 0.28 forwards these unwrapped to its native layer.
        requested_specs=[ms(s)._match_spec for s in new_names.values()],
    )
    write_history(opts["prefix"], argv, link, unlink)
    print("Executing transaction: done", flush=True)


def finish(code):
    """Exit without interpreter teardown: py-rattler 0.28's native runtime can crash there
    (SIGSEGV after the work is done), which would turn success into failure."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    args = sys.argv[1:]
    as_json = "--json" in args
    code = 0
    try:
        asyncio.run(main(args))
    except CondaError as e:
        code = 1
        if as_json:
            print(json.dumps({
                "exception_name": e.name,
                "exception_type": "<class 'conda.exceptions.%s'>" % e.name,
                "message": e.message,
                "error": "%s: %s" % (e.name, e.message),
            }, indent=2))
        else:
            print("%s: %s" % (e.name, e.message), file=sys.stderr)
    finish(code)
