"""README.md's `conda doctor` / `conda blasfix` blocks are real runs of the plugin's functions
(conda's doctor loop and confirm from the stand-in) on a fresh real prefix `ml`; this test
regenerates them and compares, like tests/it/readme.rs does for blasfix's own output.

Paths are shown as conda users see them (~/miniforge3/envs/ml, $H for the heavy dir); the
comparison masks digits and line wrapping. Blocks captured on another CPU (vendor, or a model
name that is not this one) are reported as skipped. BLASFIX_UPDATE_README=1 rewrites them.
"""

import os
import re
import unittest

import support  # noqa: F401
from support import ROOT, FreshPrefixCase, captured_fds, doctor_json

from blasfix import conda_plugin as plugin

BEGIN, END = "<!-- output: ", "<!-- /output -->"
README = os.path.join(ROOT, "README.md")


def normalise(text):
    return re.sub(r"\d+", "N", " ".join(text.split()))


# A CPU model as blasfix prints it (the brand string).
CPU_MODEL = re.compile(r"(Intel\(R\)|AMD |Hygon|Zhaoxin|Apple M)")


class ReadmeCondaBlocksTest(FreshPrefixCase):
    PREFIX_NAME = "ml"

    def paths(self, text):
        text = text.replace(self.fresh.dir, "~/miniforge3")
        return text.replace(self.heavy, "$H")

    def doctor(self, verbose=False, fix=False, yes=False):
        import conda.doctor
        from conda.base.context import context
        from conda.plugins.types import CondaHealthCheck
        context.verbose, context.always_yes = verbose, yes
        with captured_fds() as out:
            conda.doctor.execute(self.fresh.prefix, [plugin.health_check(CondaHealthCheck)],
                                 fix=fix)
        return out["stdout"]

    def conda_blasfix(self, *argv):
        from conda.base.context import context
        context.envs_dirs = [os.path.dirname(self.fresh.prefix)]
        with captured_fds() as out:
            plugin.subcommand_action(argv)
        return out["stdout"]

    def test_readme_conda_blocks_are_current(self):
        truth = doctor_json(self.fresh.prefix, "--no-runtime")["machine"]
        blocks = [
            ("conda-doctor", "conda doctor blas -n ml", self.doctor()),
            ("conda-doctor-verbose", "conda doctor blas -v -n ml", self.doctor(verbose=True)),
            ("conda-doctor-fix", "conda doctor blas --fix --yes -n ml",
             self.doctor(fix=True, yes=True)),
            ("conda-blasfix", "conda blasfix apply --backend openblas --dry-run -n ml",
             self.conda_blasfix("apply", "--backend", "openblas", "--dry-run", "-n", "ml")),
        ]
        with open(README, encoding="utf-8") as f:
            text = f.read()
        update = os.environ.get("BLASFIX_UPDATE_README") == "1"
        vendor = truth["vendor_family"]
        failures = []
        for name, command, output in blocks:
            body = f"```text\n$ {command}\n{self.paths(output).rstrip()}\n```\n"
            m = re.search(re.escape(BEGIN + name) + r"(?: \(vendor: (\w+)\))? -->\n(.*?)"
                          + re.escape(END), text, re.S)
            if m is None:
                failures.append(f"README.md has no block `{BEGIN}{name} ... -->`")
                continue
            if update:
                text = (text[:m.start()] + f"{BEGIN}{name} (vendor: {vendor}) -->\n{body}"
                        + text[m.end() - len(END):])
                continue
            # A block is machine-specific when it was captured on another vendor's CPU, or
            # names a CPU model that is not this one; those are reported as skipped.
            other_model = (CPU_MODEL.search(m.group(2)) is not None
                           and truth["brand"] not in m.group(2))
            with self.subTest(block=name):
                if m.group(1) != vendor or other_model:
                    self.skipTest(f"README block {name} was captured on another CPU "
                                  f"({m.group(1)}); this one is {vendor} {truth['brand']}")
                if normalise(m.group(2)) != normalise(body):
                    failures.append(f"README block {name} differs; now:\n{body}")
        if update:
            with open(README, "w", encoding="utf-8") as f:
                f.write(text)
        self.assertEqual(failures, [], "\n".join(failures)
                         + "\n(BLASFIX_UPDATE_README=1 python3 tests/python/run.py rewrites them)")


if __name__ == "__main__":
    unittest.main()
