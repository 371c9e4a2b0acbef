"""A stand-in for the parts of conda the blasfix plugin touches, for tests only.

conda itself is not installable in a current version from PyPI, so the plugin's functions are
tested against this: the names, signatures and behaviour below follow conda 26.7.1
(conda/plugins/types.py, conda/base/constants.py, conda/base/context.py, conda/reporters.py,
conda/exceptions.py, conda/plugins/subcommands/doctor/__init__.py). Tests change
``conda.base.context.context`` and swap ``CondaHealthCheck`` for older shapes.
"""
__version__ = "26.7.1-standin"
