"""Arguments forwarded to the blasfix binary (pure functions, no conda, no I/O).

``python -m blasfix`` and ``conda blasfix`` both choose the environment their own way when the
user names none: ``sys.prefix`` (as ``python -m pip`` does) and conda's target prefix (the
active environment, else base). ``conda blasfix`` also gives ``-n NAME`` conda's meaning (its
envs dirs, including ``envs_dirs`` from .condarc) by turning it into ``-p PATH``.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

# blasfix's commands that take -n/-p (see `blasfix --help`).
ENV_COMMANDS = frozenset({"doctor", "explain", "apply", "pin", "bench"})
# blasfix's global options that take a value (given before the command).
_GLOBAL_WITH_VALUE = frozenset({"--color"})
_HELP = frozenset({"-h", "--help", "-V", "--version"})
_NAME_LONG = ("--name", "--environment")
_NAME_SHORT = ("-n", "-e")


def command_of(argv: Sequence[str]) -> Optional[str]:
    """The blasfix command in argv (the first word that is no option or option value)."""
    skip = False
    for tok in argv:
        if skip:
            skip = False
            continue
        if tok == "--":
            return None
        if tok in _GLOBAL_WITH_VALUE:
            skip = True
            continue
        if tok.startswith("-"):
            continue
        return tok
    return None


def with_env_args(
    argv: Sequence[str],
    default_prefix: Optional[str] = None,
    name_to_prefix: Optional[Callable[[str], str]] = None,
) -> list:
    """argv for the binary: with ``name_to_prefix``, every ``-n NAME`` (``--name``, ``-e``,
    ``--environment``, ``-nNAME``, ``--name=NAME``) becomes ``-p PATH``; with ``default_prefix``,
    ``-p default_prefix`` is added when neither ``-n`` nor ``-p`` is given. Only for the
    commands that take an environment, and never with ``--help`` or ``--version``.
    """
    argv = list(argv)
    if command_of(argv) not in ENV_COMMANDS or any(t in _HELP for t in argv):
        return argv
    out = []
    chosen = False
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            out.extend(argv[i:])
            break
        name = None
        given = [tok]
        if tok in _NAME_SHORT or tok in _NAME_LONG:
            if i + 1 < len(argv):
                name = argv[i + 1]
                given.append(name)
                i += 1
        elif tok.startswith(tuple(n + "=" for n in _NAME_LONG)):
            name = tok.split("=", 1)[1]
        elif tok[:2] in _NAME_SHORT and len(tok) > 2:
            name = tok[2:]
        if name is not None:
            chosen = True
            if name_to_prefix is None:
                out.extend(given)
            else:
                out.extend(["-p", name_to_prefix(name)])
        else:
            if tok in ("-p", "--prefix") or tok.startswith("--prefix=") or (
                tok.startswith("-p") and not tok.startswith("--")
            ):
                chosen = True
            out.append(tok)
        i += 1
    if not chosen and default_prefix:
        out.extend(["-p", str(default_prefix)])
    return out
