#!/usr/bin/env python3
"""Run the Python tests (the conda plugin, `python -m blasfix`, argument forwarding) with
only Python 3's unittest: `python3 tests/python/run.py` after `cargo build`.

BLASFIX_BIN: the binary to test (default target/debug/blasfix). BLASFIX_HEAVY_DIR: the heavy
dir with real prefixes (tests/heavy/run.sh --setup-only); without it those tests are skipped,
and under CI=true they fail. Ends with a plain "python: N passed, N failed, N skipped" line.
"""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
suite = unittest.defaultTestLoader.discover(here, top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
skipped = len(result.skipped)
passed = result.testsRun - failed - skipped
for test, reason in result.skipped:
    print(f"skipped: {test.id()}: {reason}")
print(f"python: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)
