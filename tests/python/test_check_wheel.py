""".ci/check_wheel.py catches what PyPI users would trip over: a binary needing a newer glibc
than its manylinux tag promises, wrong tags, missing files."""

import importlib.util
import os
import unittest
import zipfile
import tempfile

import support
from support import ROOT

spec = importlib.util.spec_from_file_location("check_wheel",
                                              os.path.join(ROOT, ".ci", "check_wheel.py"))
check_wheel = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_wheel)

TAGS = ["py3-none-manylinux_2_17_x86_64", "py3-none-manylinux2014_x86_64"]


def fake_wheel(directory, binary, tags=TAGS, name_tags="manylinux_2_17_x86_64.manylinux2014_x86_64",
               modules=True):
    path = os.path.join(directory, f"blasfix-0.1.0-py3-none-{name_tags}.whl")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("blasfix-0.1.0.dist-info/WHEEL",
                   "Wheel-Version: 1.0\n" + "".join(f"Tag: {t}\n" for t in tags))
        z.writestr("blasfix-0.1.0.dist-info/entry_points.txt",
                   "[conda]\nblasfix=blasfix.conda_plugin\n")
        if modules:
            for m in ("__init__", "__main__", "conda_plugin", "_args"):
                z.writestr(f"blasfix/{m}.py", "")
        for exe in ("blasfix", "pixi-blasfix"):
            with open(binary, "rb") as f:
                z.writestr(f"blasfix-0.1.0.data/scripts/{exe}", f.read())
    return path


@unittest.skipUnless(os.uname().machine == "x86_64", "the host binary must be x86_64 ELF")
class CheckWheelTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.host_bin = support.blasfix_bin()

    def test_host_glibc_build_is_refused_for_manylinux2014(self):
        facts = check_wheel.elf_facts(open(self.host_bin, "rb").read())
        glibc = max((v[6:] for vs in facts[2].values() for v in vs if v.startswith("GLIBC_2")),
                    key=check_wheel.version_key)
        if check_wheel.version_key(glibc) <= (2, 17):
            self.skipTest(f"this machine's build needs only GLIBC_{glibc}")
        errors = check_wheel.check(fake_wheel(self.dir.name, self.host_bin), TAGS)
        self.assertTrue(any("above the 2.17 its manylinux tag promises" in e for e in errors),
                        errors)

    def test_tags_and_files_are_checked(self):
        w = fake_wheel(self.dir.name, self.host_bin, tags=["py3-none-linux_x86_64"],
                       name_tags="linux_x86_64", modules=False)
        errors = check_wheel.check(w, TAGS)
        self.assertTrue(any(e.startswith("tags:") for e in errors), errors)
        self.assertIn("blasfix/conda_plugin.py missing", errors)

    def test_glibc_promises(self):
        self.assertEqual(check_wheel.glibc_promise("py3-none-manylinux2014_x86_64"), (2, 17))
        self.assertEqual(check_wheel.glibc_promise("py3-none-manylinux_2_28_aarch64"), (2, 28))
        self.assertIsNone(check_wheel.glibc_promise("py3-none-win_amd64"))


if __name__ == "__main__":
    unittest.main()
