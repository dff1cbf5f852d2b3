#!/usr/bin/env bash
# Installs everything onnxc needs on a bare Debian 12 machine (run as root or with sudo).
# Debian packages build the compiler; a private virtualenv (.venv) holds the PyPI test tooling.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
pkgs="build-essential cmake git python3 python3-venv python3-pip pkg-config
      protobuf-c-compiler libprotobuf-c-dev libonnx-dev llvm-19-dev libcmocka-dev zlib1g-dev libzstd-dev"
missing=""
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends $missing
fi
if [ "${ONNXC_NO_PYTHON:-0}" != 1 ]; then
  venv="$here/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c "import onnx, onnxruntime, numpy" >/dev/null 2>&1; then
    echo "install-deps: installing PyPI test tooling into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "onnx>=1.16" onnxruntime numpy
  fi
fi
