#!/usr/bin/env bash
# Installs what wick needs to build, test and train from Debian 12's packages, and only what is
# missing (safe to run again; needs root, or sudo), then ONNX Runtime from npm for the ONNX export
# tests (tools/onnxruntime; without npm or its registry those checks say they were skipped).
set -euo pipefail

install_onnxruntime() {
  local dir
  dir="$(cd "$(dirname "$0")" && pwd)/onnxruntime"
  [ -d "$dir/node_modules/onnxruntime-node" ] && return 0
  if ! command -v npm >/dev/null; then
    echo "install-deps: no npm, so no ONNX Runtime: the ONNX export tests will skip their runtime checks" >&2
    return 0
  fi
  # --ignore-scripts: the CPU library ships in the package; its install script would download more.
  npm ci --ignore-scripts --no-audit --no-fund --prefix "$dir" >/dev/null ||
    echo "install-deps: npm could not install onnxruntime-node: the ONNX export tests will skip their runtime checks" >&2
}

packages=(
  g++ cmake ninja-build pkg-config          # toolchain
  libopenblas-dev libtbb-dev zlib1g-dev     # GEMM, threads, .gz datasets
  nlohmann-json3-dev libstb-dev libcli11-dev # JSON, images, command line
  libonnx-dev                               # ONNX export (protobuf classes, checker)
  libopenmpi-dev openmpi-bin                # data-parallel training (optional to build)
  doctest-dev                               # tests
  dataset-fashion-mnist                     # the default dataset
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_onnxruntime
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_onnxruntime
