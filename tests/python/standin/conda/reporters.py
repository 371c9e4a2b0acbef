from .base.context import context
from .exceptions import CondaSystemExit, DryRunExit

# What the user types at the prompt; tests set it.
ANSWER = ["no"]
PROMPTS = []


def confirm_yn(message="Proceed", default="yes", dry_run=None):
    """conda's confirmation: dry run raises DryRunExit, --yes returns, "no" raises."""
    if (dry_run is None and context.dry_run) or dry_run:
        raise DryRunExit()
    if context.always_yes:
        return True
    PROMPTS.append(message)
    print(f"{message} [y/N]: {ANSWER[0]}")
    if ANSWER[0] != "yes":
        raise CondaSystemExit("Exiting.")
    return True
