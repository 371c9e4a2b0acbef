"""`conda doctor [--fix]` as conda 26.7.1 runs it, for the checks given (not all of conda's)."""
import logging

from .base.context import context
from .exceptions import CondaSystemExit, DryRunExit
from .reporters import confirm_yn

log = logging.getLogger("conda.doctor")


def execute(prefix, checks, fix=False, args=None):
    print(f"Environment Health Report for: {prefix}\n")
    for check in checks:
        try:
            check.action(prefix, context.verbose)
        except Exception as err:
            log.warning("Error running health check: %s (%s)", check.name, err)
    if not fix:
        return 0
    print("\n" + "=" * 60)
    print("Running fixes...")
    print("=" * 60 + "\n")
    exit_code = 0
    confirm = lambda msg: confirm_yn(msg, default="no", dry_run=context.dry_run)  # noqa: E731
    for check in checks:
        if not check.fixer:
            continue
        try:
            result = check.fixer(prefix, args, confirm)
            if result != 0:
                exit_code = result
        except DryRunExit as exc:
            print(f"WARNING: {exc}")
        except CondaSystemExit:
            pass
    return exit_code
