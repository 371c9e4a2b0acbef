#!/usr/bin/env bash
# By-hand check of the conda plugin inside a real conda, run from conda's source (conda is not
# installable in a current version from PyPI, so CI cannot do this; see README "Supported conda
# versions").
#
# Usage: tests/python/real_conda.sh CONDA_SOURCE_DIR VERSION WHEEL
#   CONDA_SOURCE_DIR  a directory holding conda's `conda/` package at a release tag (e.g. from
#                     `git archive 26.7.1 conda | tar -x -C DIR` in a clone of conda/conda)
#   VERSION           that tag, e.g. 26.7.1 (25.5.0 and 23.11.0 were checked too)
#   WHEEL             the blasfix wheel to load (.ci/ship leaves it in target/ship/dist/)
# Needs BLASFIX_HEAVY_DIR (tests/heavy/run.sh --setup-only) for the heavy channel and py-rattler.
# Everything goes under a temporary directory; nothing outside it changes.
set -euo pipefail
exec </dev/null
src="$(cd "$1" && pwd)"; version="$2"; wheel="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
here="$(cd "$(dirname "$0")" && pwd)"
H="${BLASFIX_HEAVY_DIR:?set BLASFIX_HEAVY_DIR}"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
echo "__version__ = \"$version\"" >"$src/conda/_version.py"
python3 -m venv "$w/venv"
# conda's runtime dependencies that are on PyPI (menuinst and the libmamba solver are not; the
# doctor and plugin paths do not import them).
"$w/venv/bin/python" -m pip install -q archspec boltons charset-normalizer \
  conda-package-handling distro frozendict jsonpatch msgpack packaging platformdirs pluggy \
  pycosat requests 'ruamel.yaml<0.19' setuptools tqdm truststore backports.zstd "$wheel"
mkdir -p "$w/venv/conda-meta" "$w/envs" "$w/bin"
printf '#!/bin/sh\nPYTHONPATH=%s exec %s -m conda "$@"\n' "$src" "$w/venv/bin/python" >"$w/bin/conda-real"
printf '#!/bin/sh\nexec %s %s "$@"\n' "$H/tools/bin/python" "$here/../heavy/fake_conda.py" >"$w/bin/conda"
chmod +x "$w/bin/conda-real" "$w/bin/conda"
printf 'envs_dirs:\n  - %s\n' "$w/envs" >"$w/condarc"
"$w/bin/conda" create -y -c "$H/channel" -p "$w/envs/ml" numpy >/dev/null
# The switch itself goes through fake_conda.py (a real py-rattler solve and install): conda's
# solvers cannot run offline on the heavy channel here.
export CONDARC="$w/condarc" CONDA_EXE="$w/bin/conda" FAKE_CONDA_CHANNELS="$H/channel"
conda="$w/bin/conda-real"
run() { echo; echo "\$ conda $*"; "$conda" "$@" 2>&1 | grep -v -e Retrying -e REQUESTS_CA_BUNDLE; }
"$conda" --version
run doctor --list || true
run doctor blas -v -n ml
if "$conda" doctor --help | grep -q -- --fix; then
  run doctor blas --fix --dry-run -n ml
  echo; echo '$ echo n | conda doctor blas --fix -n ml'
  echo n | "$conda" doctor blas --fix -n ml 2>&1 | tail -3
  run doctor blas --fix --yes -n ml
  run doctor blas --fix --yes -n ml
fi
run blasfix doctor --no-runtime --json -n ml | python3 -c \
  'import json,sys; t=sys.stdin.read(); e=json.loads(t[t.index("{"):])["environment"]; print("conda blasfix doctor -n ml ->", e["prefix"], e["kind"])'
