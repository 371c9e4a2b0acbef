import os
import sys

from ..exceptions import EnvironmentNameNotFound


class Context:
    """The attributes of conda's context the plugin and the doctor loop read."""

    def __init__(self):
        self.root_prefix = sys.prefix
        self.target_prefix = sys.prefix
        self.envs_dirs = []
        self.dry_run = False
        self.always_yes = False
        self.verbose = False
        self.conda_exe_vars_dict = {"CONDA_EXE": None}


context = Context()


def locate_prefix_by_name(name, envs_dirs=None):
    """conda's lookup: base is the root prefix; else the first envs dir holding NAME."""
    if name in ("base", "root"):
        return context.root_prefix
    for d in envs_dirs or context.envs_dirs:
        p = os.path.join(d, name)
        if os.path.isdir(p):
            return os.path.abspath(p)
    raise EnvironmentNameNotFound(name)
