#!/usr/bin/env bash
# wick export on the command line: a trained wick file and a PyTorch-written file (zoo.py's keys,
# no architecture) become ONNX files, folded or not; --json; and the usage and input errors, which
# leave no file behind. Values in ONNX Runtime are checked by tests/test_onnx.cpp.
# Run: bash tests/cli/export.sh <wick binary> <tests/data dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

wick_ok "train small-cnn" train --data synthetic --train-limit 64 --test-limit 32 --batch-size 16 --max-steps 2 \
  --quiet --save "$TMP/sc.safetensors"
wick_ok "export" export --data synthetic --weights "$TMP/sc.safetensors" --onnx "$TMP/sc.onnx" --json
expect_line "^wrote .*sc.onnx: 12 nodes, 17 initializers, .* opset 17, input \(N, 1, 28, 28\); ONNX's checker passed" \
  "export: the summary"
expect_eq "export --json nodes" 12 "$(json_field nodes)"
[[ -s $TMP/sc.onnx ]] || fail "export: no file"
wick_ok "export --fold-bn --opset 13" export --data synthetic --weights "$TMP/sc.safetensors" --onnx "$TMP/scf.onnx" \
  --fold-bn --opset 13 --json
expect_eq "export --fold-bn: folded" 2 "$(json_field folded)"
expect_eq "export --fold-bn: nodes (no BatchNormalization)" 10 "$(json_field nodes)"

# A file PyTorch wrote (zoo.py's state_dict keys, no architecture) with the model named.
wick_ok "export of PyTorch's resnet20 weights" export --data synthetic --model resnet20 \
  --weights "$TEST_DATA/zoo/resnet20.safetensors" --onnx "$TMP/r20.onnx" --fold-bn
expect_line "21 BatchNorms folded; ONNX's checker passed" "export resnet20 --fold-bn: every BatchNorm folded"

# ---- errors: one line each, and no file written
expect_error 2 "export without --onnx" "--onnx is required" -- export --weights "$TMP/sc.safetensors"
expect_error 2 "export --opset 12" "--opset" "12" -- export --weights "$TMP/sc.safetensors" --onnx "$TMP/x.onnx" --opset 12
expect_error 2 "export --opset abc" "--opset" -- export --weights "$TMP/sc.safetensors" --onnx "$TMP/x.onnx" --opset abc
expect_error 2 "export of a missing file" "--weights" "$TMP/none.safetensors" -- \
  export --weights "$TMP/none.safetensors" --onnx "$TMP/x.onnx"
expect_error 1 "export into a missing folder" "--onnx" "$TMP/no/dir/x.onnx" -- \
  export --data synthetic --weights "$TMP/sc.safetensors" --onnx "$TMP/no/dir/x.onnx"
head -c 100 "$TMP/sc.safetensors" >"$TMP/cut.safetensors"
expect_error 1 "export of a truncated file" "cut.safetensors" -- \
  export --data synthetic --weights "$TMP/cut.safetensors" --onnx "$TMP/x.onnx"
expect_error 1 "export of another model's weights" "mlp.safetensors" -- \
  export --data synthetic --model resnet20 --weights "$TEST_DATA/zoo/mlp.safetensors" --onnx "$TMP/x.onnx"
[[ ! -e $TMP/x.onnx ]] || fail "a failed export left $TMP/x.onnx"
ls "$TMP" | grep -q '\.tmp' && fail "a failed export left a temporary file: $(ls "$TMP")"

finish
