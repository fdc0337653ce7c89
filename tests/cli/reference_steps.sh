#!/usr/bin/env bash
# wick trains like PyTorch: from the same initial small-cnn weights, 3 SGD steps (lr 0.05, momentum
# 0.9, batch 64) on the first 192 Fashion-MNIST images in file order give the same weights and
# BatchNorm buffers as PyTorch's (tools/golden/cli_reference.py), within 1e-4 relative.
# Run: bash tests/cli/reference_steps.sh <wick binary> <tests/data dir>   (exit 77: no Fashion-MNIST)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_fashion_mnist
for f in small_cnn_init small_cnn_3steps; do
  [[ -f $TEST_DATA/$f.safetensors ]] || die "missing $TEST_DATA/$f.safetensors (run /usr/bin/python3 tools/golden/cli_reference.py)"
done

wick_ok "3 steps from PyTorch's initial weights" train --init "$TEST_DATA/small_cnn_init.safetensors" --no-shuffle \
  --max-steps 3 --save "$TMP/out.safetensors" --threads 2 --test-limit 100 --quiet
# The check is not vacuous: the steps moved the weights well beyond the tolerance.
wick compare "$TEST_DATA/small_cnn_init.safetensors" "$TEST_DATA/small_cnn_3steps.safetensors" --rtol 1e-4 --atol 1e-6
[[ $RC -eq 1 ]] || die "compare of the initial and the trained weights: expected exit status 1 (they differ), got $RC"

wick compare "$TMP/out.safetensors" "$TEST_DATA/small_cnn_3steps.safetensors" --rtol 1e-4 --atol 1e-6
sed 's/^/  /' "$OUT"
if [[ $RC -ne 0 ]]; then
  fail "wick's weights after 3 steps should match PyTorch's within rtol 1e-4, atol 1e-6; compare exited $RC:"
  cat "$ERR" >&2
fi
finish
