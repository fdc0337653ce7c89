#!/usr/bin/env bash
# Installs what wick needs to build, test and train from Debian 12's packages, and only what is
# missing (safe to run again; needs root, or sudo), then from npm ONNX Runtime for the ONNX export
# tests (tools/onnxruntime) and playwright-core for the bn-lab report's browser test (tools/browser,
# which also needs Debian's chromium); without npm or its registry those checks say they were skipped.
set -euo pipefail

# npm_packages FOLDER WHAT: installs tools/FOLDER's locked packages once; WHAT says what is skipped
# without them. --ignore-scripts: onnxruntime-node ships its CPU library, and its install script
# would try to download more; playwright-core drives the system's chromium and downloads nothing.
npm_packages() {
  local dir
  dir="$(cd "$(dirname "$0")" && pwd)/$1"
  [ -d "$dir/node_modules" ] && return 0
  if ! command -v npm >/dev/null; then
    echo "install-deps: no npm, so no tools/$1: $2" >&2
    return 0
  fi
  npm ci --ignore-scripts --no-audit --no-fund --prefix "$dir" >/dev/null ||
    echo "install-deps: npm could not install tools/$1: $2" >&2
}

install_npm() {
  npm_packages onnxruntime "the ONNX export tests will skip their runtime checks"
  npm_packages browser "the bn-lab report test will skip its browser check"
}

packages=(
  g++ cmake ninja-build pkg-config          # toolchain
  libopenblas-dev libtbb-dev zlib1g-dev     # GEMM, threads, .gz datasets
  nlohmann-json3-dev libstb-dev libcli11-dev # JSON, images, command line
  libonnx-dev libprotobuf-dev               # ONNX export (its protobuf classes, checker; libonnx-dev
                                            # does not pull in protobuf's headers)
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
  install_npm
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
install_npm
