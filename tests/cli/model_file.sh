#!/usr/bin/env bash
# Architecture files on the command line: wick train --model FILE.json (examples/models/resnet20.json),
# then eval and inspect from the saved file alone (its architecture travels with the weights), and a
# broken or missing FILE.json is one line on stderr naming where.
# Run: bash tests/cli/model_file.sh <wick binary> <tests/data dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODELS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples/models" && pwd)
FAST=(--data synthetic --train-limit 256 --test-limit 50 --batch-size 32)

# ---- train resnet20 from its architecture file, then use the saved file without --model
wick_ok "train --model resnet20.json" train "${FAST[@]}" --model "$MODELS/resnet20.json" --max-steps 3 \
  --save "$TMP/resnet20.safetensors" --json
[[ -s $TMP/resnet20.safetensors ]] || fail "train --save wrote no file"
grep -q '272186' "$OUT" || fail "train of resnet20.json: expected its 272186 parameters in the summary"
train_acc=$(json_field train_acc) || fail "train --json printed no train_acc"

wick_ok "eval without --model" eval --data synthetic --test-limit 50 --weights "$TMP/resnet20.safetensors" --json
images=$(json_field images) || fail "eval --json printed no images"
[[ ${images:-} == 50 ]] || fail "eval: expected 50 test images, got ${images:-none}"
grep -q '^test accuracy: ' "$OUT" || fail "eval printed no test accuracy"

# The same weights with the architecture given again as --model FILE.json score the same.
acc=$(json_field test_acc)
wick_ok "eval with --model resnet20.json" eval --data synthetic --test-limit 50 --weights "$TMP/resnet20.safetensors" \
  --model "$MODELS/resnet20.json" --json
[[ $(json_field test_acc) == "$acc" ]] || fail "eval with --model FILE.json: expected test_acc $acc, got $(json_field test_acc)"

wick_ok "inspect" inspect "$TMP/resnet20.safetensors"
grep -q '^architecture:' "$OUT" || fail "inspect: expected the architecture"
grep -q ': Residual($' "$OUT" || fail "inspect: expected the Residual blocks in the architecture"
grep -q '^  (layer3): Sequential($' "$OUT" || fail "inspect: expected the named stage layer3 in the architecture"
grep -qE '^  layer2\.0\.shortcut\.1\.running_var ' "$OUT" || fail "inspect: expected zoo.py's key layer2.0.shortcut.1.running_var"
# fold-bn folds every BatchNorm of the file's architecture: bn1, two per block, two shortcuts.
wick_ok "fold-bn of the resnet20 file" fold-bn --weights "$TMP/resnet20.safetensors" --out "$TMP/folded.safetensors" --json
[[ $(json_field folded) == 21 ]] || fail "fold-bn: expected 21 folded BatchNorm layers (1 + 9 x 2 + 2), got $(json_field folded)"
wick_ok "eval of the folded resnet20" eval --data synthetic --test-limit 50 --weights "$TMP/folded.safetensors" --json
[[ $(json_field test_acc) == "$acc" ]] || fail "eval of the folded file: expected test_acc $acc, got $(json_field test_acc)"
echo "ok: train, eval and inspect of resnet20.json (train_acc ${train_acc:-?})"

# small-cnn.json trains too, and its file evaluates like any small-cnn file.
wick_ok "train --model small-cnn.json" train "${FAST[@]}" --model "$MODELS/small-cnn.json" --max-steps 2 \
  --save "$TMP/cnn.safetensors" --quiet
wick_ok "eval of the small-cnn.json file" eval --data synthetic --test-limit 50 --weights "$TMP/cnn.safetensors"

# A file without an architecture (PyTorch's small-cnn) folds with --model FILE.json.
wick_ok "fold-bn --model small-cnn.json of PyTorch's weights" fold-bn --weights "$TEST_DATA/small_cnn_pt.safetensors" \
  --model "$MODELS/small-cnn.json" --out "$TMP/pt_folded.safetensors" --json
[[ $(json_field folded) == 2 ]] || fail "fold-bn --model small-cnn.json: expected 2 folded layers, got $(json_field folded)"

# ---- broken and missing architecture files: exit 1, one line naming the place
sed '0,/"out_channels": 32/s//"out_channels": -2/' "$MODELS/resnet20.json" >"$TMP/bad.json"
expect_error 1 "--model of a file with out_channels -2" 'bad\.json' \
  'layers\[4\]\.layers\[0\]\.layers\[0\]\.out_channels: expected a positive integer, got -2' -- \
  train "${FAST[@]}" --model "$TMP/bad.json" --max-steps 1
printf '{"type": "Sequential", "layers": [' >"$TMP/truncated.json"
expect_error 1 "--model of a truncated JSON file" 'truncated\.json' 'not valid JSON' -- \
  train "${FAST[@]}" --model "$TMP/truncated.json" --max-steps 1
printf '{"type": "Sequential", "layers": [{"type": "Transformer"}]}' >"$TMP/unknown.json"
expect_error 1 "--model naming an unknown layer type" 'layers\[0\]\.type: unknown module type "Transformer"' \
  'registered: .*Conv2d' -- train "${FAST[@]}" --model "$TMP/unknown.json" --max-steps 1
expect_error 1 "--model of a missing file" 'nope\.json' 'cannot open' -- \
  train "${FAST[@]}" --model "$TMP/nope.json" --max-steps 1
expect_error 1 "eval --model of a missing file" 'nope\.json' 'cannot open' -- \
  eval --data synthetic --test-limit 50 --weights "$TMP/resnet20.safetensors" --model "$TMP/nope.json"
# Weights that do not fit the architecture file: the key that differs.
expect_error 1 "small-cnn weights with --model resnet20.json" 'cnn\.safetensors' 'conv1\.weight|0\.weight' -- \
  eval --data synthetic --test-limit 50 --weights "$TMP/cnn.safetensors" --model "$MODELS/resnet20.json"

finish
