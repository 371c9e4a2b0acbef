"""The conda plugin, `python -m blasfix` and the argument forwarding, run against the real
blasfix binary, real prefixes (BLASFIX_HEAVY_DIR) and a conda stand-in (see standin/)."""

import argparse
import collections
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import typing
import unittest
from unittest import mock

import support  # noqa: F401  (sets sys.path and BLASFIX_BIN first)
from support import (ROOT, FreshPrefixCase, blas_record, captured_fds, doctor_json, drop_standin,
                     heavy_dir, import_standin)

from blasfix import _args, conda_plugin as plugin

Rec = collections.namedtuple("Rec", "name version build")


class ImportTest(unittest.TestCase):
    def test_importing_the_plugin_imports_no_conda(self):
        code = ("import sys, blasfix.conda_plugin, blasfix.__main__; "
                "print(sorted(m for m in sys.modules if m == 'conda' or m.startswith('conda.')))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "python")},
                             check=True)
        self.assertEqual(out.stdout.strip(), "[]")

    def test_entry_point_is_declared_in_conda_group(self):
        with open(os.path.join(ROOT, "pyproject.toml")) as f:
            text = f.read()
        self.assertIn('[project.entry-points.conda]\nblasfix = "blasfix.conda_plugin"', text)


class ArgsTest(unittest.TestCase):
    """`conda blasfix ...`: -n has conda's meaning, no -n/-p means conda's target prefix."""

    def locate(self, name):
        if name == "missing":
            raise LookupError(name)
        return f"/envs/{name}"

    def fwd(self, *argv):
        return plugin.forward(argv, "/active", self.locate)

    def test_forwarding(self):
        cases = [
            (("doctor",), ["doctor", "-p", "/active"]),
            (("doctor", "-n", "ml"), ["doctor", "-p", "/envs/ml"]),
            (("doctor", "--name", "ml", "--json"), ["doctor", "-p", "/envs/ml", "--json"]),
            (("doctor", "--name=ml"), ["doctor", "-p", "/envs/ml"]),
            (("doctor", "-nml"), ["doctor", "-p", "/envs/ml"]),
            (("explain", "blas", "-e", "ml"), ["explain", "blas", "-p", "/envs/ml"]),
            (("apply", "-p", "/x", "--yes"), ["apply", "-p", "/x", "--yes"]),
            (("apply", "--prefix=/x"), ["apply", "--prefix=/x"]),
            (("--color", "never", "-v", "doctor"), ["--color", "never", "-v", "doctor", "-p",
                                                    "/active"]),
            (("pin", "environment.yml", "--backend", "mkl"),
             ["pin", "environment.yml", "--backend", "mkl", "-p", "/active"]),
            (("bench", "--quick", "-n", "base"), ["bench", "--quick", "-p", "/envs/base"]),
            # Commands without an environment, help and version pass through untouched.
            (("completions", "bash"), ["completions", "bash"]),
            (("doctor", "--help"), ["doctor", "--help"]),
            (("--version",), ["--version"]),
            ((), []),
        ]
        for argv, want in cases:
            with self.subTest(argv=argv):
                self.assertEqual(self.fwd(*argv), want)

    def test_unknown_name_is_condas_error(self):
        with self.assertRaises(LookupError):
            self.fwd("doctor", "-n", "missing")

    def test_python_m_keeps_names_and_adds_sys_prefix(self):
        f = _args.with_env_args
        self.assertEqual(f(["doctor", "-n", "ml"], default_prefix="/py"), ["doctor", "-n", "ml"])
        self.assertEqual(f(["doctor", "-eml"], default_prefix="/py"), ["doctor", "-eml"])
        self.assertEqual(f(["doctor"], default_prefix="/py"), ["doctor", "-p", "/py"])
        self.assertEqual(f(["doctor", "--", "x"], default_prefix="/py"),
                         ["doctor", "--", "x", "-p", "/py"])


def report(findings=(), declared="openblas", impl="openblas", rec="mkl"):
    return {
        "blas": {"declared": declared, "implementation": impl},
        "linkage": {"implementation": impl},
        "runtime": {"implementation": impl, "error": None},
        "recommendation": {"backend": rec, "reason": "Intel CPU: MKL is tuned for it."},
        "findings": list(findings),
    }


SWITCH = {
    "id": "openblas-on-intel", "severity": "warning",
    "title": "NumPy runs on OpenBLAS on an Intel CPU where MKL is available",
    "detail": "conda-forge publishes MKL builds for linux-64.",
    "fix": "blasfix apply --backend mkl -p '/x y'",
    "fix_raw": "conda install -p '/x y' \"libblas=*=*mkl\"",
}
THREADS = {"id": "threads", "severity": "warning", "title": "OMP_NUM_THREADS exceeds the quota",
           "fix": "export OMP_NUM_THREADS=2"}
INFO = {"id": "note", "severity": "info", "title": "conda-forge channel"}


class RenderTest(unittest.TestCase):
    def test_ok_without_problems(self):
        text = plugin.render_check(report([INFO], "mkl", "mkl"), False, True)
        self.assertEqual(text, "\u2705 NumPy runs on Intel MKL (declared, linked, loaded); "
                               "nothing to fix.\n")
        verbose = plugin.render_check(report([INFO], "mkl", "mkl"), True, True)
        self.assertIn("  Intel CPU: MKL is tuned for it.\n", verbose)
        self.assertIn("  note: conda-forge channel", verbose)

    def test_x_with_titles_and_hint(self):
        text = plugin.render_check(report([SWITCH, THREADS, INFO]), False, True)
        self.assertEqual(text.splitlines(), [
            "\u274c NumPy runs on OpenBLAS (declared, linked, loaded): 2 BLAS problems found "
            "by blasfix:",
            "  - NumPy runs on OpenBLAS on an Intel CPU where MKL is available",
            "  - OMP_NUM_THREADS exceeds the quota",
            "  (details: conda doctor -v; fix: conda doctor --fix blas)",
        ])
        # Without a fixer (conda < 26.1), no --fix hint; no switch, no hint either.
        self.assertIn("(details: conda doctor -v)", plugin.render_check(report([SWITCH]), False,
                                                                          False))
        self.assertIn("(details: conda doctor -v)", plugin.render_check(report([THREADS]), False,
                                                                          True))

    def test_verbose_has_reason_and_fix_for_conda_users(self):
        text = plugin.render_check(report([SWITCH]), True, True)
        self.assertIn("    conda-forge publishes MKL builds for linux-64.\n", text)
        self.assertIn("    fix: conda blasfix apply --backend mkl -p '/x y'\n", text)
        self.assertIn("    (runs: conda install -p '/x y' \"libblas=*=*mkl\")", text)
        self.assertNotIn("details:", text)

    def test_disagreeing_layers_are_spelled_out(self):
        r = report([SWITCH], declared="mkl", impl="openblas")
        r["linkage"]["implementation"] = "mkl"
        self.assertIn("Intel MKL (declared), Intel MKL (linked), OpenBLAS (loaded)",
                      plugin.render_check(r, False, True))

    def test_needed_switch(self):
        self.assertEqual(plugin.needed_switch(report([THREADS, SWITCH])), ("mkl", SWITCH))
        self.assertEqual(plugin.needed_switch(report([THREADS, INFO])), (None, None))


class FeatureDetectionTest(unittest.TestCase):
    """CondaHealthCheck's shapes across conda versions."""

    def test_namedtuple_before_25_7_gets_no_fixer(self):
        class Old(typing.NamedTuple):  # conda 23.11 - 25.5
            name: str
            action: typing.Callable

        check = plugin.health_check(Old)
        self.assertEqual(check.name, "blas")
        self.assertEqual(Old._fields, ("name", "action"))

    def test_dataclass_without_fixer_25_7_to_25_11(self):
        @dataclasses.dataclass
        class Mid:
            name: str
            action: typing.Callable

        self.assertEqual(plugin.health_check(Mid).name, "blas")

    def test_dataclass_with_fixer_26_1_on(self):
        from_standin = import_standin()
        try:
            from conda.plugins.types import CondaHealthCheck
            check = plugin.health_check(CondaHealthCheck)
        finally:
            drop_standin()
        self.assertTrue(from_standin)
        self.assertIs(check.fixer, plugin.blas_fixer)
        self.assertEqual(check.summary, plugin.CHECK_SUMMARY)
        self.assertEqual(check.fix, plugin.CHECK_FIX)


class HooksTest(unittest.TestCase):
    def setUp(self):
        import_standin()
        self.addCleanup(drop_standin)

    def test_hooks_yield_condas_types(self):
        import conda.plugins.types as t
        (check,) = list(plugin.conda_health_checks())
        self.assertIsInstance(check, t.CondaHealthCheck)
        (sub,) = list(plugin.conda_subcommands())
        self.assertIsInstance(sub, t.CondaSubcommand)
        self.assertEqual(sub.name, "blasfix")
        self.assertIsNone(sub.configure_parser, "conda must hand over argv untouched")
        (post,) = list(plugin.conda_post_solves())
        self.assertIsInstance(post, t.CondaPostSolve)

    def test_child_env_names_the_running_conda(self):
        from conda.base.context import context
        context.conda_exe_vars_dict = {"CONDA_EXE": "/opt/conda/bin/conda"}
        self.assertEqual(plugin.child_env()["CONDA_EXE"], "/opt/conda/bin/conda")
        with mock.patch.dict(os.environ, {"CONDA_EXE": "/mine/conda"}):
            self.assertEqual(plugin.child_env()["CONDA_EXE"], "/mine/conda")


class PostSolveTest(unittest.TestCase):
    def test_blas_switch(self):
        cf_mkl = Rec("libblas", "3.9.0", "20_linux64_mkl")
        cf_ob = Rec("libblas", "3.9.0", "22_linux64_openblas")
        cf_mkl2 = Rec("libblas", "3.9.0", "22_linux64_mkl")
        np = Rec("numpy", "2.0.0", "py312_0")
        self.assertEqual(plugin.blas_switch([cf_mkl, np], [cf_ob]), ("libblas", "mkl", "openblas"))
        self.assertIsNone(plugin.blas_switch([cf_mkl], [cf_mkl2]), "an update keeping MKL")
        self.assertIsNone(plugin.blas_switch([], [cf_ob]), "a fresh install")
        self.assertEqual(plugin.blas_switch([Rec("blas", "1.0", "mkl")],
                                            [Rec("blas", "1.0", "openblas")]),
                         ("blas", "mkl", "openblas"))

    def test_warning_names_the_way_back(self):
        with captured_fds() as out:
            plugin.post_solve_action("repodata.json", [Rec("libblas", "3.9.0", "20_linux64_mkl")],
                                     [Rec("libblas", "3.9.0", "22_linux64_openblas")])
            plugin.post_solve_action("repodata.json", [], [])
        self.assertIn("switches the BLAS from Intel MKL to OpenBLAS", out["stderr"])
        self.assertIn('"libblas=*=*mkl"', out["stderr"])
        self.assertEqual(out["stdout"], "")


class RealPrefixTest(unittest.TestCase):
    """The check and the subcommand on the heavy dir's real prefixes."""

    @classmethod
    def setUpClass(cls):
        cls.heavy = heavy_dir()
        cls.prefixes = [os.path.join(cls.heavy, "prefixes", n) for n in ("openblas", "mkl")]

    def action_output(self, prefix, verbose, fixer=True):
        with captured_fds() as out:
            plugin.make_action(fixer)(prefix, verbose)
        return out["stdout"]

    def test_action_agrees_with_blasfix_doctor(self):
        for prefix in self.prefixes:
            with self.subTest(prefix=prefix):
                truth = doctor_json(prefix)
                text = self.action_output(prefix, False)
                found = plugin.problems(truth)
                want_impl = plugin.blas_name(truth["blas"]["implementation"])
                self.assertTrue(text.startswith(("\u274c" if found else "\u2705")
                                                + f" NumPy runs on {want_impl}"), text)
                for f in found:
                    self.assertIn(f"  - {f['title']}\n", text)
                verbose = " ".join(self.action_output(prefix, True).split())
                for f in found:
                    self.assertIn(" ".join(f["detail"].split()), verbose)

    def test_action_reports_what_it_cannot_check(self):
        with tempfile.TemporaryDirectory() as d:
            text = self.action_output(os.path.join(d, "nope"), False)
        self.assertTrue(text.startswith("\u274c blasfix could not check the BLAS of"), text)
        self.assertIn("no such directory", text)

    def test_conda_blasfix_forwards_to_the_binary(self):
        import_standin()
        self.addCleanup(drop_standin)
        from conda.base.context import context
        from conda.exceptions import EnvironmentNameNotFound
        envs = os.path.join(self.heavy, "prefixes")
        context.envs_dirs = [envs]
        context.target_prefix = self.prefixes[1]
        for argv, want in [(("doctor", "--json", "--no-runtime", "-n", "openblas"),
                            self.prefixes[0]),
                           (("doctor", "--json", "--no-runtime"), self.prefixes[1])]:
            with self.subTest(argv=argv), captured_fds() as out:
                rc = plugin.subcommand_action(argv)
            self.assertEqual(rc, 0, out["stderr"])
            env = json.loads(out["stdout"])["environment"]
            self.assertEqual(env["prefix"], want)
            self.assertEqual(env["found_by"], "-p")
        with self.assertRaises(EnvironmentNameNotFound):
            plugin.subcommand_action(("doctor", "-n", "no-such-env"))
        with captured_fds() as out:
            rc = plugin.subcommand_action(("doctor", "--strictly-wrong"))
        self.assertEqual(rc, 2)
        self.assertIn("--strictly-wrong", out["stderr"])

    def test_python_m_blasfix_looks_at_its_own_environment(self):
        """From the conda prefix's own Python, not activated, and from this one."""
        pp = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "python")}
        for python, prefix in [(os.path.join(self.prefixes[0], "bin", "python"),
                                self.prefixes[0]),
                               (sys.executable, sys.prefix)]:
            with self.subTest(python=python):
                out = subprocess.run([python, "-m", "blasfix", "doctor", "--json",
                                      "--no-runtime"], env=pp, capture_output=True, text=True)
                self.assertEqual(out.returncode, 0, out.stderr)
                env = json.loads(out.stdout)["environment"]
                self.assertEqual(os.path.realpath(env["prefix"]), os.path.realpath(prefix))
        out = subprocess.run([sys.executable, "-m", "blasfix", "--version"], env=pp,
                             capture_output=True, text=True)
        self.assertTrue(out.stdout.startswith("blasfix "), out)


class FixerTest(FreshPrefixCase):
    """conda doctor --fix: every decision on a fresh real prefix; conda's confirm semantics
    come from the stand-in (conda 26.7.1's confirm_yn and doctor loop)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.target, _ = plugin.needed_switch(doctor_json(cls.fresh.prefix))
        cls.other = os.path.join(cls.heavy, "prefixes",
                                 "mkl" if cls.target == "mkl" else "openblas")

    def setUp(self):
        super().setUp()
        import conda.reporters
        from conda.base.context import context
        self.context = context
        self.reporters = conda.reporters
        self.reporters.PROMPTS.clear()

    def need_switch(self):
        if self.target is None:
            self.skipTest("blasfix recommends no switch for the channel's OpenBLAS prefix on "
                          "this CPU, so there is nothing for the fixer to do")

    def doctor_fix(self, prefix, dry_run=False, yes=False, answer="no"):
        import conda.doctor
        self.context.dry_run, self.context.always_yes = dry_run, yes
        self.reporters.ANSWER[0] = answer
        from conda.plugins.types import CondaHealthCheck
        checks = [plugin.health_check(CondaHealthCheck)]
        args = argparse.Namespace(dry_run=dry_run, yes=yes, fix=True, checks=["blas"])
        with captured_fds() as out:
            rc = conda.doctor.execute(prefix, checks, fix=True, args=args)
        return rc, out["stdout"] + out["stderr"]

    def test_a_nothing_to_fix_returns_0_without_asking(self):
        target, _ = plugin.needed_switch(doctor_json(self.other))
        if target is not None:
            self.skipTest(f"{self.other} needs a switch to {target} on this CPU")
        before = blas_record(self.other)
        rc, out = self.doctor_fix(self.other)
        self.assertEqual(rc, 0, out)
        self.assertIn("No BLAS switch needed: NumPy runs on", out)
        self.assertEqual(self.reporters.PROMPTS, [])
        self.assertEqual(blas_record(self.other), before)

    def test_b_dry_run_previews_and_changes_nothing(self):
        self.need_switch()
        before = blas_record(self.fresh.prefix)
        rc, out = self.doctor_fix(self.fresh.prefix, dry_run=True)
        self.assertEqual(rc, 0, out)
        self.assertIn("blasfix apply would run: conda install", out)
        self.assertIn("Dry run: nothing changed.", out)  # blasfix apply --dry-run's preview
        self.assertIn("WARNING: Dry run. Exiting.", out)  # conda's DryRunExit
        self.assertEqual(self.reporters.PROMPTS, [])
        self.assertEqual(blas_record(self.fresh.prefix), before)

    def test_c_declined_changes_nothing(self):
        self.need_switch()
        before = blas_record(self.fresh.prefix)
        rc, out = self.doctor_fix(self.fresh.prefix, answer="no")
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.reporters.PROMPTS,
                         [f"Switch the BLAS of {self.fresh.prefix} to "
                          f"{plugin.blas_name(self.target)}?"])
        self.assertNotIn("Switched", out)
        self.assertEqual(blas_record(self.fresh.prefix), before)

    def test_d_yes_switches_and_then_nothing_is_left(self):
        self.need_switch()
        rc, out = self.doctor_fix(self.fresh.prefix, yes=True)
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.reporters.PROMPTS, [], "--yes must not ask")
        self.assertIn(f"Switched {self.fresh.prefix} to {plugin.blas_name(self.target)}.", out)
        self.assertTrue(blas_record(self.fresh.prefix).endswith("_" + self.target),
                        blas_record(self.fresh.prefix))
        # conda calls every fixer: the second run finds nothing and returns 0 at once.
        rc, out = self.doctor_fix(self.fresh.prefix, yes=True)
        self.assertEqual(rc, 0, out)
        self.assertIn("No BLAS switch needed", out)


if __name__ == "__main__":
    unittest.main()
