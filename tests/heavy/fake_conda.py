#!/usr/bin/env python3
"""A small conda-compatible frontend for blasfix's heavy tests, built on py-rattler.

It performs a real solve and a real install into a real prefix, so `blasfix apply` can be
tested end to end without conda. Run it with a Python that has py-rattler (the heavy dir's
`tools/bin/python`).

Implemented (the subset `blasfix apply` uses, with conda's behaviour):

    fake_conda.py install (-p PREFIX | -n NAME) [-y] [--json] [--dry-run] [--no-pin]
                          [--solver classic|libmamba] [-c CHANNEL]... SPECS...
    fake_conda.py create  (-p PREFIX | -n NAME) [-y] [-c CHANNEL]... SPECS...   (a fresh prefix)

* Channels: every `-c CHANNEL` (a URL or a path), else `$FAKE_CONDA_CHANNELS` (separated by
  os.pathsep). Platforms: the channel's `linux-64` (or `$FAKE_CONDA_SUBDIR`) plus `noarch`.
* Specs: conda MatchSpec strings, parsed leniently (`libblas=*=*mkl` works).
* The solve keeps what is installed: the prefix's records are `locked_packages` (preferred),
  and the specs are the user's earlier requests (records' `requested_specs`/`requested_spec`)
  plus every other installed package's name, with the new CLI specs replacing specs of the
  same name.
* `-n NAME` as conda resolves it: the first of the envs dirs (`CONDA_ENVS_DIRS`, `envs_dirs`
  of the `.condarc` files below, `<root>/envs`, `~/.conda/envs`; the root is `$CONDA_ROOT`, else
  the folder above the `bin/` this script is called from) that holds a folder NAME; else
  `EnvironmentLocationNotFound: Not a conda environment: <first envs dir>/NAME`.
* Pins (unless `--no-pin`): `conda-meta/pinned` (every non-blank line not starting with `#`)
  and `pinned_packages` of `~/.condarc` and `$CONDARC` (block or flow lists) and
  `CONDA_PINNED_PACKAGES` (`&`-separated), added as solver constraints. With the libmamba
  solver (the default) a CLI spec that names a pinned package and cannot be satisfied together
  with the pin is refused before solving (`SpecsConfigurationConflictError`). With the classic
  solver (`--solver classic`, `CONDA_SOLVER=classic`) it wins: the pin is dropped for this
  solve with conda's warning and stays in its file (so the next install switches back).
* `--dry-run --json`: conda's shape, `{"success", "dry_run", "prefix", "actions": {"PREFIX",
  "FETCH", "LINK", "UNLINK"}}` with conda's 8-field `dist_fields_dump` entries; nothing to do
  gives `{"success": true, "message": "All requested packages already installed."}`.
* Errors: with `--json`, `{"exception_name", "exception_type", "message", "error"}` on stdout;
  without, `Name: message` on stderr; exit status 1.
* Without `--dry-run`: conda's stage lines on stdout, then `rattler.install` (records written by
  rattler, including `requested_specs`), and a `conda-meta/history` entry.
* Fault injection for tests: `FAKE_CONDA_FAIL=1` fails the real install after solving (nothing
  is written); `FAKE_CONDA_HANG=1` hangs there instead, `FAKE_CONDA_HANG=after` once the install
  is done (records written). `FAKE_CONDA_READY=FILE`: the file is created (with the pid) when the
  hang begins, so a test can send its signal at that moment without sleeping.

Not implemented: other subcommands, channel priority settings, the rest of `.condarc`.
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
    opts = {"create": argv[0] == "create", "prefix": None, "name": None, "json": False, "dry_run": False, "no_pin": False,
            "solver": os.environ.get("CONDA_SOLVER", "libmamba"), "channels": [], "specs": []}
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in ("-p", "--prefix"):
            opts["prefix"] = argv[i + 1]
            i += 2
            continue
        if a in ("-n", "--name"):
            opts["name"] = argv[i + 1]
            i += 2
            continue
        if a == "--solver":
            opts["solver"] = argv[i + 1]
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
    if opts["name"] and not opts["prefix"]:
        opts["prefix"] = prefix_of_name(opts["name"], opts["create"])
    if not opts["prefix"]:
        raise CondaError("ArgumentError", "fake_conda.py needs -p PREFIX or -n NAME")
    if not opts["specs"]:
        raise CondaError("ArgumentError", "no package specs given")
    if not opts["channels"]:
        env = os.environ.get("FAKE_CONDA_CHANNELS", "")
        opts["channels"] = [c for c in env.split(os.pathsep) if c]
    if not opts["channels"]:
        raise CondaError("ArgumentError", "no channel: pass -c CHANNEL or set FAKE_CONDA_CHANNELS")
    opts["channels"] = [c if "://" in c else "file://" + os.path.abspath(c) for c in opts["channels"]]
    return opts


def condarc_files():
    files = [os.path.expanduser("~/.condarc")]
    if os.environ.get("CONDARC"):
        files.append(os.environ["CONDARC"])
    return [f for f in files if os.path.isfile(f)]


def condarc_list(key):
    """The entries of a top-level list `key` in the .condarc files (block or flow style)."""
    out = []
    for path in condarc_files():
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        inside = False
        for line in lines:
            code = line.split(" #")[0].rstrip()
            if not code.strip() or code.strip().startswith("#"):
                continue
            if not line.startswith((" ", "\t", "-")):
                inside = False
                if code.startswith(key + ":"):
                    rest = code[len(key) + 1:].strip()
                    if rest.startswith("["):
                        out += [x.strip().strip("'\"") for x in rest.strip("[]").split(",") if x.strip()]
                    else:
                        inside = True
                continue
            if inside and code.strip().startswith("- "):
                out.append(code.strip()[2:].strip().strip("'\""))
    return out


def root_prefix():
    if os.environ.get("CONDA_ROOT"):
        return os.environ["CONDA_ROOT"]
    # The wrapper that runs this script says where it is (`<root>/bin/conda`).
    called_as = os.environ.get("FAKE_CONDA_ARGV0") or sys.argv[0]
    return os.path.dirname(os.path.dirname(os.path.abspath(called_as)))


def envs_dirs():
    dirs = [d for d in os.environ.get("CONDA_ENVS_DIRS", "").split(os.pathsep) if d]
    dirs += condarc_list("envs_dirs")
    dirs += [os.path.join(root_prefix(), "envs"), os.path.expanduser("~/.conda/envs")]
    out = []
    for d in dirs:
        d = os.path.abspath(os.path.expanduser(d))
        if d not in out:
            out.append(d)
    return out


def prefix_of_name(name, create):
    """conda's -n: the first envs dir holding NAME; else the first envs dir (where create puts it)."""
    if "/" in name:
        raise CondaError("CondaValueError", "'/' not allowed in environment name: " + name)
    if name in ("base", "root"):
        return root_prefix()
    dirs = envs_dirs()
    for d in dirs:
        if os.path.isdir(os.path.join(d, name)):
            return os.path.join(d, name)
    target = os.path.join(dirs[0], name)
    if not create:
        raise CondaError("EnvironmentLocationNotFound", "Not a conda environment: " + target)
    return target


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
    """conda's get_pinned_specs: context pins (pinned_packages, CONDA_PINNED_PACKAGES) + file."""
    var = os.environ.get("CONDA_PINNED_PACKAGES")
    pins = [p.strip() for p in var.split("&") if p.strip()] if var else condarc_list("pinned_packages")
    path = os.path.join(prefix, "conda-meta", "pinned")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            pins += [l.strip() for l in f if l.strip() and not l.strip().startswith("#")]
    return pins


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
    if opts["solver"] == "classic":
        # conda's classic solver: an explicit spec overrides a pin of the same name for this
        # solve (with a warning); the pin stays where it is.
        kept = []
        for pin in pins:
            if name_of(pin) in new:
                print("Warning: pinned spec %s conflicts with explicit specs.  Overriding pinned spec." % pin,
                      file=sys.stderr)
            else:
                kept.append(pin)
        pins = kept
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
    if os.environ.get("FAKE_CONDA_HANG") == "1":
        hang()
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
    if os.environ.get("FAKE_CONDA_HANG") == "after":
        hang()
    print("Executing transaction: done", flush=True)


def hang():
    """Announce the moment through FAKE_CONDA_READY (atomically), then wait to be stopped."""
    ready = os.environ.get("FAKE_CONDA_READY")
    if ready:
        with open(ready + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(ready + ".tmp", ready)
    time.sleep(24 * 3600)


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
