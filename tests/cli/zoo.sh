#!/usr/bin/env bash
# The model zoo on the command line: wick models (parameters match zoo.py's), every zoo model
# trains a few steps, saves and evaluates from its file alone; --norm group on a ResNet, fine-tuning
# a ResNet's head with --freeze-backbone and the no-BatchNorm note, wick bench --model, and the
# --norm errors.
# Run: bash tests/cli/zoo.sh <wick binary> <tests/data dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FAST=(--data synthetic --train-limit 64 --test-limit 32 --batch-size 16 --max-steps 2 --quiet)

# ---- wick models: zoo.py's parameter counts for 1x28x28 and 10 classes
wick_ok "models" models --data synthetic --json
for row in "mlp +batch +204,042" "lenet5 +none +61,706" "small-cnn +batch +421,834" "vgg8 +batch +304,682" \
           "resnet20 +batch +272,186" "resnet32 +batch +466,618" "resnet56 +batch +855,482"; do
  expect_line "^${row} " "models lists $row"
done
wick_ok "models --norm group" models --data synthetic --norm group
expect_line "^mlp +group +not available: mlp: norm group is not defined" "models --norm group: mlp refused"
expect_line "^resnet20 +group +272,186 " "models --norm group: resnet20 has the same parameter count"

# ---- every zoo model: train, save, eval from the file alone
for model in mlp lenet5 small-cnn vgg8 resnet20 resnet32 resnet56; do
  wick_ok "train --model $model" train --model "$model" "${FAST[@]}" --save "$TMP/$model.safetensors"
  wick_ok "eval of $model" eval --data synthetic --test-limit 32 --weights "$TMP/$model.safetensors" --json
  json_field test_acc >/dev/null || fail "eval of $model --json: expected test_acc"
done

# ---- resnet20 with GroupNorm: trains, and fine-tuning notes there is no BatchNorm to freeze
wick_ok "train resnet20 --norm group" train --model resnet20 --norm group "${FAST[@]}" --save "$TMP/r20g.safetensors"
wick_ok "inspect resnet20 --norm group" inspect "$TMP/r20g.safetensors"
grep -q 'GroupNorm(8, 16' "$OUT" || fail "inspect: expected GroupNorm(8, 16, ...) in resnet20 --norm group"
wick_ok "finetune resnet20 --norm group --bn frozen" finetune --weights "$TMP/r20g.safetensors" --bn frozen "${FAST[@]}"
expect_line "^note: --bn frozen: the model has no BatchNorm layers" "finetune of a GroupNorm model: the note"

# ---- fine-tuning a ResNet's head (fc) alone, BatchNorm frozen throughout the residual blocks
wick_ok "finetune resnet20 --freeze-backbone --bn frozen" finetune --weights "$TMP/resnet20.safetensors" \
  --freeze-backbone --bn frozen --data synthetic --train-limit 64 --test-limit 32 --batch-size 16 --max-steps 2 \
  --save "$TMP/r20ft.safetensors"
expect_line "^froze 21 BatchNorm layers" "finetune resnet20 --bn frozen: every BatchNorm in the tree (bn1, 2 per block, 2 shortcuts)"
# Only the head moved: every other tensor is bitwise the same after --freeze-backbone --bn frozen.
wick compare "$TMP/r20ft.safetensors" "$TMP/resnet20.safetensors" --rtol 0 --atol 0
# Rows: name, shape ("[16, 1, 3, 3]"), max abs, max rel.
moved=$(awk '/^  / && $1 != "tensor" { split($0, after, "]"); split(after[2], v, " "); if (v[1] != "0.000e+00") print $1 }' "$OUT")
[[ $(echo "$moved" | grep -c '^fc\.') == 2 ]] || fail "finetune --freeze-backbone: expected fc.weight and fc.bias to move, moved: $moved"
[[ -z $(echo "$moved" | grep -v '^fc\.') ]] || fail "finetune --freeze-backbone --bn frozen moved the backbone: $moved"

# ---- bench --model
wick_ok "bench --model resnet20" bench --model resnet20 --only latency --steps 3 --repeats 1 --warmup 1 --json
grep -q '"model":"resnet20"' "$OUT" || fail "bench --model resnet20 --json: expected the model name"

# ---- errors
expect_error 2 "--norm bogus" 'norm' 'bogus' -- train --model resnet20 --norm bogus "${FAST[@]}"
expect_error 2 "bench --model unknown" 'model' 'resnet18' -- bench --model resnet18
expect_error 1 "unknown --model" 'unknown model "resnet18"' 'resnet20' -- train --model resnet18 "${FAST[@]}"
expect_error 1 "lenet5 --norm batch" 'lenet5: it has no normalization layers' -- train --model lenet5 --norm batch "${FAST[@]}"
expect_error 1 "--norm with an architecture file" '--norm group' 'already describes the architecture' -- \
  eval --weights "$TMP/resnet20.safetensors" --norm group --data synthetic --test-limit 8
finish
