#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang in their own build dir and runs them side by
# side for SECONDS each, starting from the committed corpus. New inputs go to BUILD/corpus/<target>,
# crashing ones to BUILD/crashes/<target>; any crash fails. Usage: tools/fuzz.sh [SECONDS] [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${2:-build-fuzz}
targets=(architecture load_module module_state checkpoint idx cifar image optimizer_state)
command -v clang++ >/dev/null || { echo "fuzz: needs clang: apt-get install clang libclang-rt-14-dev" >&2; exit 1; }
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

CC=clang CXX=clang++ cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWICK_FUZZ=ON \
  -DWICK_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

pids=()
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/crashes/$t"
  "$build/fuzz/fuzz_$t" "$build/corpus/$t" "tests/fuzz/corpus/$t" -dict=tests/fuzz/json.dict \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$t/" >"$build/fuzz_$t.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if wait "${pids[$i]}"; then
    echo "fuzz_$t: no crash in ${seconds}s ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz_$t.log" | grep -o '[0-9]*$') runs, $(grep -o 'cov: [0-9]*' "$build/fuzz_$t.log" | tail -1))"
  else
    failed=1
    echo "fuzz_$t: FAILED; its log ($build/fuzz_$t.log) ends:" >&2
    tail -n 60 "$build/fuzz_$t.log" >&2
    ls "$build/crashes/$t" >&2
  fi
done
exit $failed
