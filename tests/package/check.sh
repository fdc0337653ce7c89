#!/usr/bin/env bash
# Installs the wick in BUILD_DIR to a temporary prefix, builds tests/package against it as an
# outside project would, and runs the result.
set -euo pipefail
build_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
# The README's training program and its CMakeLists.txt, copied verbatim into an empty project:
# the first C++ block and the first cmake block under the heading.
readme_block() {  # LANGUAGE: prints the first ```LANGUAGE block after the heading
  awk -v lang="$1" '/^## Writing your own training program/ {section = 1}
    section && $0 == "```" lang {inside = 1; next} inside && /^```/ {exit} inside {print}' "$here/../../README.md"
}
mkdir "$work/app"
readme_block cpp > "$work/app/main.cpp"
readme_block cmake > "$work/app/CMakeLists.txt"
grep -q 'int main' "$work/app/main.cpp" || { echo "check.sh: no C++ program found in README.md" >&2; exit 1; }
grep -q 'wick::wick' "$work/app/CMakeLists.txt" || { echo "check.sh: no CMakeLists.txt found in README.md" >&2; exit 1; }
cmake -S "$work/app" -B "$work/app/build" -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/app.log"
cmake --build "$work/app/build" >> "$work/app.log"
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release > "$work/configure.log"
cmake --build "$work/build" > "$work/build.log"
"$work/build/consumer"
"$work/build/export_onnx" "$work/model.onnx"
"$work/build/custom_dataset" > "$work/custom_dataset.log"
# It trains one epoch of Fashion-MNIST and saves model.safetensors where it runs.
if [ -d /usr/share/datasets/fashion-mnist ]; then
  (cd "$work" && "$work/app/build/app")
  test -s "$work/model.safetensors" || { echo "check.sh: the README program saved no model" >&2; exit 1; }
fi
