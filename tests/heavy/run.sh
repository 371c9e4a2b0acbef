#!/usr/bin/env bash
# Prepare the heavy-test directory and run the heavy tests
# (`cargo test --test it heavy_ -- --ignored`: they are #[ignore]d in plain `cargo test`).
#
# Usage: tests/heavy/run.sh [--setup-only] [extra cargo test filter args...]
#   BLASFIX_HEAVY_DIR  where everything goes (default: tests/heavy/.cache, git-ignored)
#
# Needs a Debian-like machine with Rust and Python 3.11; installs with apt-get (as root, or via
# sudo) what is missing: python3-numpy, libopenblas0-pthread, patchelf, python3-venv. Idempotent:
# every step is skipped when its result exists (delete a directory to redo it); the channel and
# prefixes are redone when build_channel.py or make_prefix.py change.
#
# Layout of $BLASFIX_HEAVY_DIR (the contract heavy tests rely on; see heavy_dir() in
# tests/it/support.rs):
#   tools/                 venv with py-rattler (tools/bin/python)
#   mkl-venv/              venv with the PyPI `mkl` wheel (mkl-venv/lib/libmkl_rt.so.*)
#   channel/               local conda channel, conda-forge BLAS layout (linux-64 + noarch)
#   prefixes/openblas/     `numpy` solved from channel/ by py-rattler (libblas 20_linux64_openblas)
#   prefixes/mkl/          `numpy` + `libblas * *mkl` (libblas 20_linux64_mkl, mkl, intel-openmp)
#   venv-pypi/             venv with NumPy from PyPI (bundled numpy.libs/libscipy_openblas64_*.so)
#   wheels/<name>/         NumPy wheels for other platforms, unpacked (site-packages layout):
#       macos-arm64-accelerate/  macosx_14_0_arm64 (links Accelerate)
#       macos-arm64-openblas/    macosx_11_0_arm64 (numpy/.dylibs/libscipy_openblas64_.dylib)
#       macos-x86_64-openblas/   macosx_10_13_x86_64
#       win-amd64/               win_amd64 (numpy.libs/libscipy_openblas64_-*.dll)
#   pip-cache/, rattler-cache/  download and package caches
#   READY                  written last, when the layout is complete
set -euo pipefail
exec </dev/null

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
H="${BLASFIX_HEAVY_DIR:-$here/.cache}"
mkdir -p "$H"
H="$(cd "$H" && pwd)"
export PIP_CACHE_DIR="$H/pip-cache"
export PIP_DISABLE_PIP_VERSION_CHECK=1
export BLASFIX_RATTLER_CACHE="$H/rattler-cache"
NUMPY_WHEEL_VERSION="2.1.3"
PY="${PYTHON:-python3}"

setup_only=0
if [[ "${1:-}" == "--setup-only" ]]; then setup_only=1; shift; fi

step() { printf '\n==> %s\n' "$*"; }
t0=$SECONDS

# --- system packages ---------------------------------------------------------------------------
step "system packages"
need=()
for p in python3-numpy libopenblas0-pthread patchelf python3-venv; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        need+=("$p")
    fi
done
if ((${#need[@]})); then
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then sudo=(sudo -n); fi
    echo "installing: ${need[*]}"
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
else
    echo "already installed: python3-numpy libopenblas0-pthread patchelf python3-venv"
fi

make_venv() { # dir, pip args...
    local dir="$1"; shift
    if [[ -f "$dir/.done" ]]; then echo "reusing $dir"; return; fi
    rm -rf "$dir"
    "$PY" -m venv "$dir"
    "$dir/bin/python" -m pip install -q "$@"
    touch "$dir/.done"
}

# --- venvs -------------------------------------------------------------------------------------
step "tools venv (py-rattler)"
make_venv "$H/tools" py-rattler
"$H/tools/bin/python" -c 'import importlib.metadata as m; print("py-rattler", m.version("py-rattler"))'

step "mkl venv (PyPI mkl wheel, ~180 MB download the first time)"
make_venv "$H/mkl-venv" mkl
ls "$H/mkl-venv/lib" | grep -E '^libmkl_rt|^libiomp5' || true

step "venv-pypi (NumPy from PyPI)"
make_venv "$H/venv-pypi" numpy
"$H/venv-pypi/bin/python" -c 'import numpy; print("numpy", numpy.__version__, numpy.__file__)'

# --- foreign wheels ----------------------------------------------------------------------------
step "NumPy $NUMPY_WHEEL_VERSION wheels for macOS and Windows"
fetch_wheel() { # name platform
    local name="$1" plat="$2" dest="$H/wheels/$1"
    if [[ -f "$dest/.done" ]]; then echo "reusing wheels/$name"; return; fi
    rm -rf "$dest" "$H/wheels/.dl-$name"
    "$PY" -m pip download -q --only-binary=:all: --no-deps --platform "$plat" \
        --python-version 3.12 --implementation cp -d "$H/wheels/.dl-$name" "numpy==$NUMPY_WHEEL_VERSION"
    local whl
    whl="$(ls "$H/wheels/.dl-$name"/*.whl)"
    "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$whl" "$dest"
    basename "$whl" > "$dest/.wheel"
    rm -rf "$H/wheels/.dl-$name"
    touch "$dest/.done"
    echo "wheels/$name <- $(cat "$dest/.wheel")"
}
fetch_wheel macos-arm64-accelerate macosx_14_0_arm64
fetch_wheel macos-arm64-openblas macosx_11_0_arm64
fetch_wheel macos-x86_64-openblas macosx_10_13_x86_64
fetch_wheel win-amd64 win_amd64

# --- channel and prefixes ----------------------------------------------------------------------
step "local conda channel"
# The channel and the prefixes are rebuilt when the scripts that make them change.
stamp="$(cat "$here/build_channel.py" "$here/make_prefix.py" | sha256sum | cut -c1-16)"
if [[ "$(cat "$H/channel/.done" 2>/dev/null)" == "$stamp" ]]; then
    echo "reusing channel/"
else
    rm -rf "$H/prefixes" "$H/rattler-cache"
    "$PY" "$here/build_channel.py" "$H/channel" --mkl-venv "$H/mkl-venv"
    echo "$stamp" > "$H/channel/.done"
fi

step "prefixes (py-rattler)"
mkdir -p "$H/prefixes"
make_prefix() { # name specs...
    local name="$1"; shift
    local dest="$H/prefixes/$name"
    if [[ "$(cat "$dest/conda-meta/.done" 2>/dev/null)" == "$stamp $*" ]]; then
        echo "reusing prefixes/$name"
        return
    fi
    rm -rf "$dest"
    "$H/tools/bin/python" "$here/make_prefix.py" "$H/channel" "$dest" "$@"
    echo "$stamp $*" > "$dest/conda-meta/.done"
}
make_prefix openblas numpy
make_prefix mkl numpy 'libblas * *mkl'
for p in openblas mkl; do
    printf '%-9s lib/libblas.so.3 -> %s\n' "$p" "$(readlink "$H/prefixes/$p/lib/libblas.so.3")"
done

date -u +%FT%TZ > "$H/READY"
echo "setup done in $((SECONDS - t0)) s: $H"

if ((setup_only)); then exit 0; fi

# --- the heavy tests ---------------------------------------------------------------------------
# The heavy tests are #[ignore = "heavy: ..."] in plain `cargo test`; here they run on purpose.
# .ci/test-stage ends the stage with one line: tests run, failed, skipped (with reasons).
step "cargo test --test it heavy_ -- --ignored"
cd "$root"
status=0
BLASFIX_HEAVY_DIR="$H" "$root/.ci/test-stage" "heavy tests" -- \
    cargo test --test it heavy_ "$@" -- --ignored --test-threads=1 || status=$?
echo "total $((SECONDS - t0)) s"
exit "$status"
