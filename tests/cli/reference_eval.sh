#!/usr/bin/env bash
# wick evaluates PyTorch's weights like PyTorch: small-cnn trained one epoch in PyTorch
# (tools/golden/cli_reference.py) scores the recorded PyTorch test accuracy on all 10000
# Fashion-MNIST test images, within 0.05 percentage points, at batch 1000 and at batch 1.
# Run: bash tests/cli/reference_eval.sh <wick binary> <tests/data dir>   (exit 77: no Fashion-MNIST)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_fashion_mnist
WEIGHTS=$TEST_DATA/small_cnn_pt_trained.safetensors
[[ -f $WEIGHTS && -f $TEST_DATA/cli_reference.json ]] ||
  die "missing $WEIGHTS or cli_reference.json (run /usr/bin/python3 tools/golden/cli_reference.py)"
ref=$(grep -oE '"trained":\{[^}]*"test_acc":[0-9.eE+-]+' "$TEST_DATA/cli_reference.json" | grep -oE '[0-9.eE+-]+$') ||
  die "cli_reference.json has no trained.test_acc"

for batch in 1000 1; do
  wick_ok "eval of PyTorch's weights at batch $batch" eval --weights "$WEIGHTS" --batch-size "$batch" --json
  acc=$(json_field test_acc) || die "eval --json printed no test_acc"
  images=$(json_field images) || die "eval --json printed no images"
  [[ $images == 10000 ]] || fail "eval at batch $batch: expected all 10000 test images, got $images"
  if awk -v a="$acc" -v b="$ref" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.0005 + 1e-12) }'; then
    echo "ok: batch $batch: wick test accuracy $acc, PyTorch $ref"
  else
    fail "eval at batch $batch: expected test accuracy within 0.0005 of PyTorch's $ref, got $acc"
  fi
done
finish
