#!/usr/bin/env bash
# Installs everything onnxc needs on a bare Debian 12 machine (run as root or with sudo).
# Debian packages build the compiler; a private virtualenv (.venv) holds the PyPI test
# tooling. Idempotent and quiet when everything is there already.
#   ONNXC_NO_PYTHON=1   skip the virtualenv (building the compiler needs none of it)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    SUDO="__none__"
  fi
fi

# One row per need: cmake, a C compiler, protobuf-c (+ protoc-c), the ONNX schema
# (libonnx-dev installs onnx.proto), the LLVM-C API, CMocka, clang with libFuzzer (the
# fuzz step; matches LLVM 19), Python for the test tooling.
pkgs="build-essential cmake pkg-config git ca-certificates
      protobuf-c-compiler libprotobuf-c-dev libonnx-dev
      llvm-19-dev zlib1g-dev libzstd-dev
      libcmocka-dev
      clang-19 libclang-rt-19-dev
      python3 python3-venv python3-pip"
missing=""
for p in $pkgs; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
if [ -n "$missing" ]; then
  if [ "$SUDO" = "__none__" ]; then
    echo "install-deps: missing Debian packages:$missing" >&2
    echo "install-deps: run this script as root or install sudo" >&2
    exit 1
  fi
  echo "install-deps: installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

# Pinned so that the conformance suite (generated from the onnx wheel) and the list of
# passing cases stay in step; bump together with tests/conformance/passing.txt.
py_pins="onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6"
if [ "${ONNXC_NO_PYTHON:-0}" != 1 ]; then
  venv="$here/.venv"
  if [ -e "$venv" ] && ! "$venv/bin/python" -c "import sys" >/dev/null 2>&1; then
    echo "install-deps: $venv is broken; recreating it"
    rm -rf "$venv"
  fi
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  check='import onnx, onnxruntime, numpy, sys
want = dict(p.split("==") for p in sys.argv[1:])
have = {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__}
sys.exit(0 if all(have[k] == v for k, v in want.items()) else 1)'
  # shellcheck disable=SC2086
  if ! "$venv/bin/python" -c "$check" $py_pins >/dev/null 2>&1; then
    echo "install-deps: installing PyPI test tooling into $venv ($py_pins)"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q --disable-pip-version-check $py_pins
  fi
  # Files created as root under the repository (sudo bash tools/...) stay usable by the
  # user who owns the checkout.
  if [ "$(id -u)" = 0 ]; then
    owner=$(stat -c %u:%g "$here")
    if [ "$owner" != "0:0" ]; then chown -R "$owner" "$venv" 2>/dev/null || true; fi
  fi
fi
