"""The conda plugin: a ``blas`` check for ``conda doctor``, ``conda blasfix``, and a warning when
a transaction switches the BLAS.

conda loads it from its own environment (usually ``base``) through the entry point group
``conda`` (``pyproject.toml``). conda is imported only inside the functions conda calls, so
importing this module never needs conda; every function runs the blasfix binary installed with
this package (``find_blasfix_bin``).

Targets conda 23.11 and later (the health-check hook); ``conda doctor --fix`` (conda 26.1 and
later) gets the fixer, detected from the fields of ``CondaHealthCheck``; the post-solve warning
needs conda 24.1 and later (earlier condas never call it).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
from typing import Iterable, Optional, Sequence, Tuple

from . import find_blasfix_bin
from ._args import with_env_args

CHECK_NAME = "blas"
CHECK_SUMMARY = "Which BLAS NumPy runs on and whether it suits this machine (blasfix)"
CHECK_FIX = "Switch to the recommended BLAS with `blasfix apply`, through conda"
# conda.base.constants.OK_MARK / X_MARK (conda 26.1+ has them there; earlier condas spell the
# same characters in the doctor module).
OK_MARK = "\u2705"
X_MARK = "\u274c"
# blasfix's exit code for a usage error (bad prefix, unreadable input).
EXIT_USAGE = 2


class BlasfixError(Exception):
    """The blasfix binary could not be run or did not answer."""


def _hookimpl(func):
    """conda's hook marker (``conda.plugins.hookimpl`` is ``pluggy.HookimplMarker("conda")``).

    pluggy comes with conda; without it nothing can load these hooks, so they stay unmarked.
    """
    try:
        import pluggy
    except ImportError:
        return func
    return pluggy.HookimplMarker("conda")(func)


def _marks() -> Tuple[str, str]:
    try:
        from conda.base.constants import OK_MARK as ok, X_MARK as x
    except ImportError:
        return OK_MARK, X_MARK
    return ok, x


def child_env() -> dict:
    """The environment for blasfix: this process's, with CONDA_EXE naming the conda that runs
    the plugin when the shell did not set it (so that `blasfix apply` uses the same conda)."""
    env = dict(os.environ)
    if not env.get("CONDA_EXE"):
        try:
            from conda.base.context import context

            exe = context.conda_exe_vars_dict.get("CONDA_EXE")
        except Exception:
            exe = None
        if exe:
            env["CONDA_EXE"] = exe
    return env


def run_blasfix(args: Sequence[str], capture: bool) -> subprocess.CompletedProcess:
    """Run the blasfix binary; with ``capture``, keep stdout and stderr."""
    try:
        exe = find_blasfix_bin()
    except FileNotFoundError as err:
        raise BlasfixError(str(err)) from None
    # What the plugin printed goes out before the child writes to the same streams.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return subprocess.run(
            [exe, *args],
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            text=True if capture else None,
            errors="replace" if capture else None,
        )
    except OSError as err:
        raise BlasfixError(f"cannot run {exe}: {err}") from None


def check(prefix: str) -> dict:
    """blasfix's report on the environment at ``prefix`` (``blasfix doctor --json``)."""
    out = run_blasfix(["doctor", "--json", "-p", str(prefix)], capture=True)
    if out.returncode != 0:
        last = (out.stderr or "").strip().splitlines()
        raise BlasfixError(last[0] if last else f"blasfix exited with status {out.returncode}")
    try:
        return json.loads(out.stdout)
    except ValueError as err:
        raise BlasfixError(f"blasfix printed no JSON report: {err}") from None


# --- what the report says (pure) -------------------------------------------------------------

# blasfix's display names (BlasImpl::display_name).
_NAMES = {
    "mkl": "Intel MKL",
    "openblas": "OpenBLAS",
    "blis": "BLIS",
    "accelerate": "Apple Accelerate",
    "netlib": "reference BLAS (netlib)",
    "nvpl": "NVIDIA NVPL",
    "ambiguous": "an ambiguous BLAS",
    "none": "no BLAS",
}


def blas_name(impl: Optional[str]) -> str:
    return _NAMES.get(impl or "", impl or "an unknown BLAS")


def problems(report: dict) -> list:
    """The findings that make the check fail: warnings and errors."""
    return [f for f in report.get("findings", []) if f.get("severity") in ("warning", "error")]


def runs_on(report: dict) -> str:
    """``OpenBLAS (declared, linked, loaded)``: the BLAS and how each layer sees it."""
    blas = report.get("blas") or {}
    seen = []
    if blas.get("declared") not in (None, "none", "unknown"):
        seen.append(("declared", blas["declared"]))
    if report.get("linkage"):
        seen.append(("linked", report["linkage"].get("implementation")))
    runtime = report.get("runtime")
    if runtime and not runtime.get("error"):
        seen.append(("loaded", runtime.get("implementation")))
    main = blas.get("implementation")
    if not seen:
        return blas_name(main)
    if all(impl == main for _, impl in seen):
        return f"{blas_name(main)} ({', '.join(how for how, _ in seen)})"
    return ", ".join(f"{blas_name(impl)} ({how})" for how, impl in seen)


def for_conda(fix: str) -> str:
    """A blasfix command as conda users run it: ``conda blasfix ...``."""
    return "conda " + fix if fix.startswith("blasfix ") else fix


def render_check(report: dict, verbose: bool, fixer: bool, marks=(OK_MARK, X_MARK)) -> str:
    """The ``blas`` section of ``conda doctor``: one line with conda's mark; the findings'
    titles when it fails; with ``verbose``, their reasons and fixes."""
    ok, x = marks
    found = problems(report)
    lines = []
    if not found:
        lines.append(f"{ok} NumPy runs on {runs_on(report)}; nothing to fix.")
        if verbose:
            rec = report.get("recommendation") or {}
            if rec.get("reason"):
                lines.append(textwrap.fill(rec["reason"], width=88, initial_indent="  ",
                                           subsequent_indent="  ", break_on_hyphens=False))
            for f in report.get("findings", []):
                lines.append(f"  note: {f.get('title', '')}")
        return "\n".join(lines) + "\n"
    count = len(found)
    lines.append(
        f"{x} NumPy runs on {runs_on(report)}: {count} BLAS problem{'s' if count > 1 else ''}"
        " found by blasfix:"
    )
    for f in found:
        lines.append(f"  - {f.get('title', f.get('id', '?'))}")
        if verbose:
            if f.get("detail"):
                lines.append(textwrap.fill(f["detail"], width=88, initial_indent="    ",
                                           subsequent_indent="    ", break_on_hyphens=False))
            if f.get("fix"):
                lines.append(f"    fix: {for_conda(f['fix'])}")
            if f.get("fix_raw"):
                lines.append(f"    (runs: {f['fix_raw']})")
    if not verbose:
        more = "details: conda doctor -v"
        if fixer and needed_switch(report)[0]:
            more += f"; fix: conda doctor --fix {CHECK_NAME}"
        lines.append(f"  ({more})")
    return "\n".join(lines) + "\n"


def needed_switch(report: dict) -> Tuple[Optional[str], Optional[dict]]:
    """The backend ``blasfix apply`` should switch to, and the finding that asks for it; (None,
    None) when no finding's fix is a switch."""
    for f in problems(report):
        words = shlex.split(f.get("fix") or "")
        if words[:2] == ["blasfix", "apply"] and "--backend" in words:
            i = words.index("--backend")
            if i + 1 < len(words):
                return words[i + 1], f
    return None, None


# --- conda doctor ------------------------------------------------------------------------------


def make_action(fixer: bool):
    """``action(prefix, verbose)`` for ``CondaHealthCheck``."""

    def blas_check(prefix: str, verbose: bool) -> None:
        ok, x = _marks()
        try:
            report = check(prefix)
        except BlasfixError as err:
            print(f"{x} blasfix could not check the BLAS of {prefix}: {err}\n")
            return
        print(render_check(report, bool(verbose), fixer, (ok, x)))

    return blas_check


def blas_fixer(prefix: str, args, confirm) -> int:
    """``fixer(prefix, args, confirm)`` for ``conda doctor --fix`` (conda 26.1+).

    conda calls every fixer, so this checks again first and returns 0 when there is nothing to
    switch. ``confirm`` asks (default no); under ``--dry-run`` it raises ``DryRunExit`` and when
    the user declines ``CondaSystemExit`` (conda handles both); with ``--yes`` it returns at
    once. Only then does ``blasfix apply --yes`` run, with this conda as the frontend.
    """
    try:
        report = check(prefix)
    except BlasfixError as err:
        print(f"blasfix could not check the BLAS of {prefix}: {err}")
        return 1
    target, finding = needed_switch(report)
    if target is None:
        print(f"No BLAS switch needed: NumPy runs on {runs_on(report)}.")
        return 0
    print(f"{finding.get('title', 'The BLAS should be switched')}.")
    if finding.get("fix_raw"):
        print(f"blasfix apply would run: {finding['fix_raw']}")
    apply_args = ["apply", "-p", str(prefix), "--backend", target, "--frontend", "conda"]
    if getattr(args, "dry_run", False):
        # conda's own preview of the switch; changes nothing. confirm() then ends the dry run.
        try:
            run_blasfix([*apply_args, "--dry-run"], capture=False)
        except BlasfixError as err:
            print(f"blasfix could not preview the switch: {err}")
    confirm(f"Switch the BLAS of {prefix} to {blas_name(target)}?")
    try:
        return run_blasfix([*apply_args, "--yes"], capture=False).returncode
    except BlasfixError as err:
        print(f"blasfix could not switch the BLAS: {err}")
        return 1


def health_check_fields(cls) -> frozenset:
    """The fields a ``CondaHealthCheck`` class takes: a dataclass from conda 25.7 on, a
    NamedTuple before; ``fixer``, ``summary`` and ``fix`` from conda 26.1 on."""
    fields = set(getattr(cls, "__dataclass_fields__", None) or ())
    fields |= set(getattr(cls, "_fields", ()))
    return frozenset(fields)


def health_check(cls):
    """Our ``CondaHealthCheck``, with the fixer where this conda supports one."""
    fields = health_check_fields(cls)
    can_fix = "fixer" in fields
    kwargs = {"name": CHECK_NAME, "action": make_action(can_fix)}
    if can_fix:
        kwargs["fixer"] = blas_fixer
    if "summary" in fields:
        kwargs["summary"] = CHECK_SUMMARY
    if "fix" in fields and can_fix:
        kwargs["fix"] = CHECK_FIX
    return cls(**kwargs)


# --- conda blasfix -----------------------------------------------------------------------------


def forward(argv: Sequence[str], target_prefix: str, locate_prefix_by_name) -> list:
    """argv for the binary, with conda's meaning of ``-n`` and of no ``-n``/``-p`` at all."""
    return with_env_args(
        argv,
        default_prefix=str(target_prefix),
        name_to_prefix=lambda name: str(locate_prefix_by_name(name)),
    )


def subcommand_action(argv: Sequence[str]) -> int:
    """``conda blasfix ARGS``: blasfix with ARGS; conda's exceptions (an unknown ``-n``) are
    conda's to report."""
    from conda.base.context import context, locate_prefix_by_name

    args = forward(tuple(argv), context.target_prefix, locate_prefix_by_name)
    try:
        return run_blasfix(args, capture=False).returncode
    except BlasfixError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE


# --- warning before a transaction switches the BLAS --------------------------------------------

BLAS_SELECTORS = ("libblas", "blas")


def _impl_of(build: str) -> str:
    """The implementation a selector's build names: ``20_linux64_mkl`` -> ``mkl``, ``mkl`` ->
    ``mkl`` (Anaconda's ``blas``)."""
    return (build or "").rsplit("_", 1)[-1]


def blas_switch(unlink_precs: Iterable, link_precs: Iterable):
    """(name, old impl, new impl) when a transaction replaces a BLAS selector package with one
    of another implementation; else None (pure; records need ``name`` and ``build``)."""
    old = {p.name: p.build for p in unlink_precs if p.name in BLAS_SELECTORS}
    for p in link_precs:
        if p.name in old:
            a, b = _impl_of(old[p.name]), _impl_of(p.build)
            if a and b and a != b:
                return p.name, a, b
    return None


def post_solve_action(repodata_fn, unlink_precs, link_precs) -> None:
    switch = blas_switch(unlink_precs, link_precs)
    if switch is None:
        return
    name, old, new = switch
    print(
        f"\nblasfix: this transaction switches the BLAS from {blas_name(old)} to "
        f"{blas_name(new)} ({name} {old} -> {new}). To keep {blas_name(old)}, answer no and add "
        f'"{name}=*=*{old}" to the command, or pin it: conda blasfix apply --backend {old}\n',
        file=sys.stderr,
    )


# --- the hooks conda loads ---------------------------------------------------------------------


@_hookimpl
def conda_health_checks():
    from conda.plugins.types import CondaHealthCheck

    yield health_check(CondaHealthCheck)


@_hookimpl
def conda_subcommands():
    from conda.plugins.types import CondaSubcommand

    # No configure_parser: conda hands over the rest of the command line untouched.
    yield CondaSubcommand(
        name="blasfix",
        summary="Which BLAS NumPy really runs on, why, and switch it safely (blasfix).",
        action=subcommand_action,
    )


@_hookimpl
def conda_post_solves():
    from conda.plugins.types import CondaPostSolve

    yield CondaPostSolve(name="blasfix-blas-switch", action=post_solve_action)
