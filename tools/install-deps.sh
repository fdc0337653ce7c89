#!/usr/bin/env bash
# Installs what wick needs to build, test and train from Debian 12's packages, and only what is
# missing (safe to run again). Needs root, or sudo.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config          # toolchain
  libopenblas-dev libtbb-dev zlib1g-dev     # GEMM, threads, .gz datasets
  nlohmann-json3-dev libstb-dev libcli11-dev # JSON, images, command line
  doctest-dev                               # tests
  dataset-fashion-mnist                     # the default dataset
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
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
