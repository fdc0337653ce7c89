#!/usr/bin/env bash
# Installs the wick in BUILD_DIR to a temporary prefix, builds tests/package against it as an
# outside project would, and runs the result.
set -euo pipefail
build_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
# The README's training program, copied verbatim: the first C++ block under its heading.
awk '/^## Writing your own training program/ {section = 1} section && /^```cpp/ {inside = 1; next}
     inside && /^```/ {exit} inside {print}' "$here/../../README.md" > "$work/readme_program.cpp"
grep -q 'int main' "$work/readme_program.cpp" || { echo "check.sh: no C++ program found in README.md" >&2; exit 1; }
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  -DREADME_PROGRAM="$work/readme_program.cpp" > "$work/configure.log"
cmake --build "$work/build" > "$work/build.log"
"$work/build/consumer"
"$work/build/export_onnx" "$work/model.onnx"
"$work/build/custom_dataset" > "$work/custom_dataset.log"
# It trains one epoch of Fashion-MNIST and saves model.safetensors where it runs.
if [ -d /usr/share/datasets/fashion-mnist ]; then
  (cd "$work" && "$work/build/readme_program")
  test -s "$work/model.safetensors" || { echo "check.sh: the README program saved no model" >&2; exit 1; }
fi
