#!/usr/bin/env bash
# wick bench end to end on tiny runs (not a timing test): the table and JSON line of every
# workload, of train:N / eval:N and of --profile, --only, bad flags rejected, and a model of your
# own (an architecture file naming Module subclasses linked into build/wick_user_resnet).
# Run: bash tests/cli/bench.sh <wick binary> <tests/data dir>   (exit 77: no Fashion-MNIST)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# expect_positive NAME DESCRIPTION: the JSON line of the last run has a number NAME above 0.
expect_positive() {
  local v
  v=$(json_field "$1") || { fail "$2: the JSON line has no number \"$1\""; return; }
  awk -v v="$v" 'BEGIN { exit !(v > 0) }' || fail "$2: expected \"$1\" > 0, got $v"
}

# ---- bad usage: exit 2 (no data needed)
expect_error 2 "bench --only of an unknown workload" 'only' 'train1' -- bench --only train1
expect_error 2 "bench --only train:0" 'not a workload: train:0' -- bench --only train:0
expect_error 2 "bench --only a sized workload of another kind" 'not a workload: latency:4' -- bench --only latency:4
expect_error 2 "bench --steps 0" '--steps: must be a positive number, got 0' -- bench --steps 0
expect_error 2 "bench --repeats not a number" '--repeats' -- bench --repeats x
expect_error 2 "bench --threads -1" '--threads: must be zero or more, got -1' -- bench --threads -1
expect_error 2 "bench --profile with --only" 'profile|only' -- bench --profile --only latency
expect_error 2 "bench with a train flag" '--epochs' -- bench --epochs 3
mkdir -p "$TMP/empty"
expect_error 1 "bench with --data-dir of an empty folder" 'cannot find' -- bench --data-dir "$TMP/empty" --only latency

require_fashion_mnist
TINY=(--steps 1 --repeats 2 --warmup 1 --threads 2)

# ---- every workload: one table row each, the peak RSS line, the JSON figures
wick_ok "bench of every workload" bench "${TINY[@]}" --json
for w in train64 train256 eval256 latency; do
  expect_line "^$w " "bench table row $w"
  grep '^{' "$OUT" | grep -q "\"$w\":{" || fail "bench --json: no \"$w\" object"
done
expect_line '^peak RSS: [0-9.]+ MiB' "bench peak RSS line"
expect_line 'large tensor buffers: at most [0-9.]+ MiB in use' "bench tensor-buffer line"
for f in img_per_s img_per_s_min median_ms p99_ms peak_rss_mib peak_tensor_buffers_mib; do expect_positive "$f" "bench --json"; done

# ---- --only runs just those
wick_ok "bench --only latency" bench --only latency "${TINY[@]}" --json
expect_line '^latency ' "bench --only latency row"
grep -qE '^(train64|train256|eval256) ' "$OUT" && fail "bench --only latency ran other workloads"
expect_positive median_ms "bench --only latency --json"

# ---- train:N and eval:N: any batch size, in the order asked
wick_ok "bench --only eval:5,train:3" bench --only eval:5,train:3 "${TINY[@]}" --json
expect_line '^eval:5 +eval img/s, batch 5 ' "bench eval:5 row"
expect_line '^train:3 +training img/s, batch 3 ' "bench train:3 row"
grep '^{' "$OUT" | grep -q '"train:3":{"batch":3,' || fail "bench --json: no \"train:3\" object with its batch"
expect_positive img_per_s "bench --only eval:5,train:3 --json"

# ---- --no-fuse: the model as built
wick_ok "bench --no-fuse" bench --no-fuse --only train:4,latency "${TINY[@]}" --json
expect_line '^wick bench: small-cnn, no fusion passes on' "bench --no-fuse header"
grep '^{' "$OUT" | grep -q '"fused":false' || fail "bench --no-fuse --json: no \"fused\":false"
expect_positive median_ms "bench --no-fuse --json"

# ---- --profile: a row per layer and per step part, the backward ops, the measured roofs
wick_ok "bench --profile" bench --profile --profile-batch 8 --steps 2 --repeats 1 --warmup 1 --threads 2 --json
for row in '0 Conv2d' '1 BatchNorm2dReLU ' '2 Identity: in row 1' '4 Conv2d' '9 Linear' '11 Linear' \
  'data loader wait' 'autograd engine' 'optimizer step'; do
  expect_line "^$row" "bench --profile row \"$row\""
done
expect_line '^  conv2d +2 ' "bench --profile backward op conv2d (2 nodes per step)"
expect_line '^  batch_norm_relu +2 ' "bench --profile backward op batch_norm_relu (fused, as in training)"
expect_line '^(FMA peak [0-9.]+ GFLOP/s .*; )?sgemm peak [0-9.]+ GFLOP/s \(wick::gemm 1024\^3, (avx512|openblas) kernel\)' \
  "bench --profile sgemm peak (and the FMA peak where the CPU has AVX-512)"
if grep -q avx512f /proc/cpuinfo; then expect_positive fma_peak_gflops "bench --profile --json (AVX-512)"; fi
for f in sgemm_peak_gflops dram_gbs step_ms flops_fwd gbs; do expect_positive "$f" "bench --profile --json"; done

# ---- a model of your own: --model FILE.json. bench/user_resnet20.json names Module subclasses that
# bench/user_resnet.cpp defines and build/wick_user_resnet links in; plain wick does not know them.
# The network is the zoo's resnet20 written as Module subclasses: training must match it exactly.
USER_ARCH="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bench/user_resnet20.json"
expect_error 1 "bench --model FILE.json of types this wick lacks" 'unknown module type "Net"' -- \
  bench --model "$USER_ARCH" --only latency "${TINY[@]}"
expect_error 2 "bench --model neither a zoo model nor a file" 'not a zoo model' -- bench --model resnet21
USER_WICK="$(dirname "$WICK")/wick_user_resnet"
if [[ -x $USER_WICK ]]; then
  WICK=$USER_WICK wick_ok "wick_user_resnet bench" bench --model "$USER_ARCH" --only train:4,eval:4,latency "${TINY[@]}" --json
  expect_line '^wick bench: .*user_resnet20.json on Fashion-MNIST' "bench header naming the architecture file"
  expect_positive img_per_s "wick_user_resnet bench --json"
  # The same network as the zoo's resnet20, layer for layer and in the same initialization order:
  # two training steps give the same losses to the last digit.
  WICK=$USER_WICK wick_ok "wick_user_resnet train" train --model "$USER_ARCH" --data synthetic --max-steps 2 --quiet --json
  user_losses=$(json_field train_loss),$(json_field test_loss)
  wick_ok "wick train resnet20" train --model resnet20 --data synthetic --max-steps 2 --quiet --json
  [[ $user_losses == "$(json_field train_loss),$(json_field test_loss)" ]] ||
    fail "the user-written resnet20 and the zoo's differ after 2 steps: $user_losses against $(json_field train_loss),$(json_field test_loss)"
  # wick eval runs a forward of its own through trace_for_inference (no fallback warning): the
  # accuracy and loss (to 4 decimals) the training run measured with the model as built.
  WICK=$USER_WICK wick_ok "wick_user_resnet train --save" train --model "$USER_ARCH" --data synthetic --max-steps 2 \
    --quiet --json --save "$TMP/user.safetensors"
  trained="$(json_field test_acc) $(printf %.4f "$(json_field test_loss)")"
  WICK=$USER_WICK wick_ok "wick_user_resnet eval" eval --weights "$TMP/user.safetensors" --data synthetic --json
  expect_eq "wick_user_resnet eval: the test accuracy and loss training measured" "$trained" \
    "$(json_field test_acc) $(printf %.4f "$(json_field test_loss)")"
  ! grep -q "fuse_for_inference instead" "$ERR" || fail "wick_user_resnet eval fell back from trace_for_inference: $(cat "$ERR")"
  WICK=$USER_WICK expect_error 1 "bench --profile of a model that is no Sequential" 'Sequential.*Net' -- \
    bench --model "$USER_ARCH" --profile --steps 1 --repeats 1
else
  fail "no $USER_WICK next to $WICK (build the wick_user_resnet target)"
fi
finish
