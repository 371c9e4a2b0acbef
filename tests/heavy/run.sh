#!/usr/bin/env bash
# Prepare the heavy-test directory and run the heavy tests
# (`cargo test --test it heavy_ -- --ignored`: they are #[ignore]d in plain `cargo test`).
#
# Usage: tests/heavy/run.sh [--setup-only] [extra cargo test filter args...]
#   BLASFIX_HEAVY_DIR  where everything goes (default: tests/heavy/.cache, git-ignored)
#
# Needs a Debian-like machine with Rust and Python 3.11; installs with apt-get (as root, or via
# sudo) what is missing: python3-numpy, patchelf, python3-venv and every BLAS alternative Debian
# offers for it (libopenblas0-pthread, -openmp, -serial, libblis4-pthread, libatlas3-base,
# libblas3, liblapack3). Installing them leaves the libblas.so.3 alternative in auto mode on
# OpenBLAS (pthreads has the highest priority); tests switch alternatives only inside a private
# mount namespace (tests/heavy/with_alternatives.sh). Idempotent:
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
#   venv-sci/              numpy scipy scikit-learn joblib threadpoolctl from PyPI (two OpenBLAS)
#   venv-np124/            NumPy 1.24.4 from PyPI (distutils-era config, libopenblas64_p-r0-*.so)
#   venv-np126/            NumPy 1.26.4 from PyPI (first Meson build, libopenblas64_p-r0-*.so)
#   venv-oldtpc/           NumPy from PyPI with threadpoolctl 2.2.0 (knows no libscipy_openblas)
#   venv-syssite/          Debian's /usr/bin/python3 -m venv --system-site-packages, nothing
#                          installed: NumPy comes from python3-numpy in /usr/lib/python3/dist-packages
#   wheels/<name>/         NumPy wheels for other platforms, unpacked (site-packages layout):
#       macos-arm64-accelerate/  macosx_14_0_arm64 (links Accelerate)
#       macos-arm64-openblas/    macosx_11_0_arm64 (numpy/.dylibs/libscipy_openblas64_.dylib)
#       macos-x86_64-openblas/   macosx_10_13_x86_64
#       win-amd64/               win_amd64 (numpy.libs/libscipy_openblas64_-*.dll)
#       linux-aarch64/           manylinux_2_17_aarch64 (numpy.libs/libscipy_openblas64_-*.so)
#       mkl-win-amd64/           PyPI `mkl` for win_amd64 (mkl-*.data/data/Library/bin/mkl_rt.2.dll)
#       intel-openmp-win-amd64/  PyPI `intel-openmp` for win_amd64 (Library/bin/libiomp5md.dll)
#   arm64-python/          Debian bookworm's arm64 CPython 3.11 run by qemu-user: sysroot/ (its .debs
#                          unpacked; apt with a private state dir, the machine's apt is untouched),
#                          env/ (a venv-shaped prefix: NumPy's cp311 manylinux aarch64 wheel in
#                          lib/python3.11/site-packages, bin/python3 = qemu-aarch64 -L sysroot ...)
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
sys_pkgs=(python3-numpy libopenblas0-pthread patchelf python3-venv libopenblas0-openmp
    libopenblas0-serial libblis4-pthread libatlas3-base libblas3 liblapack3)
for p in "${sys_pkgs[@]}"; do
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
    echo "already installed: ${sys_pkgs[*]}"
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

step "venv-sci (NumPy, SciPy, scikit-learn, joblib, threadpoolctl from PyPI)"
make_venv "$H/venv-sci" numpy scipy scikit-learn joblib threadpoolctl

step "NumPy generations from PyPI (1.24: distutils config; 1.26: first Meson build)"
make_venv "$H/venv-np124" "numpy==1.24.4"
make_venv "$H/venv-np126" "numpy==1.26.4"

step "venv-oldtpc (NumPy with threadpoolctl 2.2.0, which knows no libscipy_openblas)"
make_venv "$H/venv-oldtpc" numpy "threadpoolctl==2.2.0"

step "venv-syssite (Debian's Python, --system-site-packages, nothing installed)"
if [[ -f "$H/venv-syssite/.done" ]]; then
    echo "reusing $H/venv-syssite"
else
    rm -rf "$H/venv-syssite"
    /usr/bin/python3 -m venv --system-site-packages --without-pip "$H/venv-syssite"
    touch "$H/venv-syssite/.done"
fi
"$H/venv-syssite/bin/python" -c 'import numpy; print("numpy", numpy.__version__, numpy.__file__)'

# --- foreign wheels ----------------------------------------------------------------------------
step "NumPy $NUMPY_WHEEL_VERSION wheels for macOS, Windows and linux-aarch64; MKL for Windows"
fetch_wheel() { # name platform [requirement]
    local name="$1" plat="$2" req="${3:-numpy==$NUMPY_WHEEL_VERSION}" dest="$H/wheels/$1"
    if [[ -f "$dest/.done" ]]; then echo "reusing wheels/$name"; return; fi
    rm -rf "$dest" "$H/wheels/.dl-$name"
    "$PY" -m pip download -q --only-binary=:all: --no-deps --platform "$plat" \
        --python-version 3.12 --implementation cp -d "$H/wheels/.dl-$name" "$req"
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
fetch_wheel linux-aarch64 manylinux2014_aarch64
# Real MKL and OpenMP DLLs for the conda win-64 prefixes the Windows tests build (.ci/cross).
fetch_wheel mkl-win-amd64 win_amd64 'mkl==2025.3.0'
fetch_wheel intel-openmp-win-amd64 win_amd64 'intel-openmp==2025.3.0'

# --- arm64 CPython under qemu-user ----------------------------------------------------------
step "arm64 CPython 3.11 from Debian bookworm, under qemu-aarch64, with NumPy's aarch64 wheel"
A="$H/arm64-python"
if [[ -f "$A/.done" ]]; then
    echo "reusing arm64-python"
else
    if ! command -v qemu-aarch64 >/dev/null; then
        sudo=(); [[ $(id -u) -ne 0 ]] && sudo=(sudo -n)
        "${sudo[@]}" apt-get update -q
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends qemu-user
    fi
    rm -rf "$A"
    mkdir -p "$A/apt/lists/partial" "$A/apt/cache/archives/partial" "$A/debs" "$A/sysroot"
    touch "$A/apt/status"
    echo "deb http://deb.debian.org/debian bookworm main" >"$A/apt/sources.list"
    {
        echo 'APT::Architecture "arm64";'
        echo 'APT::Architectures { "arm64"; };'
        echo "Dir::State::Lists \"$A/apt/lists\";"
        echo "Dir::State::status \"$A/apt/status\";"
        echo "Dir::Cache \"$A/apt/cache\";"
        echo "Dir::Etc::SourceList \"$A/apt/sources.list\";"
        echo 'Dir::Etc::SourceParts "/nonexistent";'
    } >"$A/apt/apt.conf"
    APT_CONFIG="$A/apt/apt.conf" apt-get update -q >/dev/null
    (cd "$A/debs" && APT_CONFIG="$A/apt/apt.conf" apt-get download -q \
        python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libgcc-s1 libexpat1 \
        zlib1g libffi8 libssl3 libbz2-1.0 liblzma5 libuuid1 libcrypt1 2>&1 | grep -v unsandboxed || true)
    for d in "$A"/debs/*.deb; do dpkg-deb -x "$d" "$A/sysroot"; done
    rm -rf "$A/apt" "$A/debs"
    mkdir -p "$A/env/bin" "$A/env/lib/python3.11/site-packages" "$A/.dl"
    "$PY" -m pip download -q --only-binary=:all: --no-deps --platform manylinux2014_aarch64 \
        --python-version 3.11 --implementation cp -d "$A/.dl" "numpy==$NUMPY_WHEEL_VERSION"
    "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$A"/.dl/*.whl "$A/env/lib/python3.11/site-packages"
    rm -rf "$A/.dl"
    printf 'home = %s\ninclude-system-site-packages = false\nversion = 3.11.2\n' \
        "$A/sysroot/usr/bin" >"$A/env/pyvenv.cfg"
    {
        echo '#!/bin/sh'
        echo "# Debian's arm64 CPython under qemu-user, seeing this venv's site-packages."
        echo 'env="$(cd "$(dirname "$0")/.." && pwd)"'
        echo 'root="$(dirname "$env")/sysroot"'
        echo 'PYTHONPATH="$env/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}" \'
        echo '    exec qemu-aarch64 -L "$root" "$root/usr/bin/python3.11" "$@"'
    } >"$A/env/bin/python3"
    chmod +x "$A/env/bin/python3"
    touch "$A/.done"
fi
"$A/env/bin/python3" -c 'import platform, numpy; print("arm64 python", platform.python_version(), platform.machine(), "numpy", numpy.__version__)'

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
