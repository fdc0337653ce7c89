#!/usr/bin/env bash
# The wick subcommands end to end on small synthetic runs: train with every output, eval at batch 1
# and 500 (same predictions), inspect, fold-bn, finetune with each BatchNorm mode, compare.
# Run: bash tests/cli/smoke.sh <wick binary> <tests/data dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SMALL=(--data synthetic --train-limit 512 --test-limit 200)
TEST=(--data synthetic --test-limit 200)  # eval has no training split

# ---- help and version
wick_ok "--help" --help
expect_line '^ +compare ' "--help lists compare"
expect_line '^ +fold-bn ' "--help lists fold-bn"
wick_ok "compare --help" compare --help
expect_line 'atol \+ rtol' "compare --help explains the tolerance"
wick_ok "--version" --version
expect_line '^wick [0-9]' "--version"

# ---- train with every output
wick_ok "train" train "${SMALL[@]}" --epochs 2 --save "$TMP/model.safetensors" --metrics "$TMP/metrics.csv" \
  --plot "$TMP/curves.svg" --json
cp "$OUT" "$TMP/train.out"
if grep -q $'\r\|\x1b' "$OUT"; then fail "train: progress on a non-terminal should be plain lines, found \\r or escapes"; fi
expect_line '^epoch 1/2 done' "train reports epoch 1"
expect_line '^epoch 2/2 done' "train reports epoch 2"
expect_line '^saved ' "train reports the saved file"
json=$(grep '^{' "$OUT" | tail -n 1) || die "train --json printed no JSON line"
[[ $(tail -n 1 "$OUT") == "$json" ]] || fail "train --json: the JSON line should be the last line of stdout"
for key in train_loss test_acc test_loss img_per_s seconds; do
  json_field "$key" >/dev/null || fail "train --json: expected a numeric \"$key\" in: $json"
done
train_acc=$(json_field test_acc) || die "train --json printed no test_acc"
steps=$(json_field steps) || die "train --json printed no steps"
expect_eq "train --json steps (2 epochs of 512/64 batches)" 16 "$steps"
awk -v a="$train_acc" 'BEGIN { exit !(a >= 0 && a <= 1) }' || fail "train: test_acc $train_acc is not a fraction"
awk -v l="$(json_field train_loss)" 'BEGIN { exit !(l > 0 && l < 2.3) }' ||
  fail "train: expected the training loss below ln(10) = 2.30 after 16 steps, got $(json_field train_loss)"
[[ -s $TMP/model.safetensors ]] || die "train --save wrote nothing"

# Metrics CSV: the header and one row per epoch, 8 numeric fields each.
expect_eq "metrics CSV header" "epoch,steps,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds" \
  "$(head -n 1 "$TMP/metrics.csv")"
expect_eq "metrics CSV line count (header + 2 epochs)" 3 "$(wc -l <"$TMP/metrics.csv")"
awk -F, 'NR > 1 { if (NF != 8 || $1 != NR - 1 || $2 != 8 * (NR - 1)) exit 1;
                  for (i = 1; i <= NF; ++i) if ($i !~ /^-?[0-9]+(\.[0-9]+)?$/) exit 1 }' "$TMP/metrics.csv" ||
  { fail "metrics CSV rows: expected 'epoch,steps,...' with epochs 1,2, steps 8,16 and 8 numbers"; cat "$TMP/metrics.csv" >&2; }
csv_acc=$(tail -n 1 "$TMP/metrics.csv" | cut -d, -f6)
awk -v a="$csv_acc" -v b="$train_acc" 'BEGIN { exit !(a - b < 1e-6 && b - a < 1e-6) }' ||
  fail "metrics CSV last test_acc $csv_acc should equal the JSON's $train_acc"

# SVG: one <svg> element with the curves.
[[ $(head -c 4 "$TMP/curves.svg") == "<svg" ]] || fail "plot: expected the SVG to start with <svg, got: $(head -c 40 "$TMP/curves.svg")"
[[ $(tail -c 7 "$TMP/curves.svg" | tr -d '\n') == *"</svg>" ]] || fail "plot: expected the SVG to end with </svg>, got: $(tail -c 40 "$TMP/curves.svg")"
grep -q '<polyline\|<path' "$TMP/curves.svg" || fail "plot: expected curves (<polyline> or <path>) in the SVG"
if [[ -x /usr/bin/python3 ]]; then
  /usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$TMP/curves.svg" 2>"$TMP/xml.err" ||
    fail "plot: the SVG is not well-formed XML: $(cat "$TMP/xml.err")"
fi

# ---- eval: the same predictions at batch 1 and 500, equal to the accuracy train reported
wick_ok "eval at batch 500" eval --weights "$TMP/model.safetensors" "${TEST[@]}" --batch-size 500 --json --confusion
acc500=$(json_field test_acc) || die "eval --json printed no test_acc"
images=$(json_field images) || die "eval --json printed no images"
expect_eq "eval images" 200 "$images"
# The confusion matrix rows: 10 classes, summing to the images, the diagonal to the correct ones.
awk -v n="$images" -v acc="$acc500" '
  /^confusion matrix/ { on = 1; next }
  on && /^ *[0-9]+( +[0-9]+)* *$/ { ++rows; for (i = 1; i <= NF; ++i) { total += $i; if (i == rows) diag += $i } }
  END { exit !(rows == 10 && total == n && (diag / n - acc) < 1e-9 && (acc - diag / n) < 1e-9) }' "$OUT" ||
  { fail "eval --confusion: expected 10 rows summing to $images with the diagonal giving accuracy $acc500"; show_output; }
grep -q '"confusion":\[\[' "$OUT" || fail "eval --json --confusion: expected the matrix in the JSON"
wick_ok "eval at batch 1" eval --weights "$TMP/model.safetensors" "${TEST[@]}" --batch-size 1 --json
acc1=$(json_field test_acc) || die "eval --json printed no test_acc"
expect_eq "eval test_acc at batch 1 vs batch 500 (predictions must not depend on the batch)" "$acc500" "$acc1"
awk -v a="$acc1" -v b="$train_acc" 'BEGIN { exit !(a == b) }' ||
  fail "eval test_acc $acc1 should equal the $train_acc train reported on the same test images"
echo "ok: eval test_acc $acc1 at batch 1 and $acc500 at batch 500 (train: $train_acc)"

# ---- inspect: tensors with PyTorch names and the BatchNorm statistics
wick_ok "inspect" inspect "$TMP/model.safetensors" --json
for name in 0.weight 1.running_mean 1.running_var 1.num_batches_tracked 5.running_var 9.weight 11.bias; do
  expect_line "^  $name +(float32|int64) +\\[" "inspect lists $name"
done
expect_line '^  0\.weight +float32 +\[32, 1, 3, 3\]' "inspect shows the shape of 0.weight"
expect_line '^parameters: 421834$' "inspect counts small-cnn's parameters"
expect_line '^BatchNorm 1: running_mean mean -?[0-9.]+ .*num_batches_tracked 16$' "inspect summarises BatchNorm 1"
expect_line '^BatchNorm 5: .*running_var mean [0-9.]+ .*num_batches_tracked 16$' "inspect summarises BatchNorm 5"
expect_line '"batchnorm":\[\{' "inspect --json lists the BatchNorm layers"

# ---- compare: a file against itself
wick_ok "compare a file with itself" compare "$TMP/model.safetensors" "$TMP/model.safetensors" --json
expect_line '^all 18 tensors within tolerance' "compare of identical files"
expect_line '"ok":true' "compare --json of identical files"

# ---- fold-bn: no BatchNorm left, the same accuracy
wick_ok "fold-bn" fold-bn --weights "$TMP/model.safetensors" --out "$TMP/folded.safetensors" --json
expect_line '^folded 2 BatchNorm layers' "fold-bn reports 2 layers"
wick_ok "inspect the folded file" inspect "$TMP/folded.safetensors"
if grep -q 'running_mean\|^BatchNorm' "$OUT"; then fail "fold-bn: the folded file still holds BatchNorm statistics"; fi
wick_ok "eval the folded file" eval --weights "$TMP/folded.safetensors" "${TEST[@]}" --batch-size 500 --json
expect_eq "eval test_acc folded vs unfolded (fold-bn must not change predictions)" "$acc500" "$(json_field test_acc)"

# ---- finetune with each BatchNorm mode
FT=("${SMALL[@]}" --max-steps 4 --quiet --json)
before_pct=$(awk -v a="$acc500" 'BEGIN { printf "%.2f%%", 100 * a }')
# check_finetune MODE: the before/after report of the last run.
check_finetune() {
  expect_line "^before fine-tuning: test accuracy ${before_pct//./\\.} " "finetune $1 reports the accuracy before"
  expect_line "^after fine-tuning: test accuracy [0-9.]+% \\(before: ${before_pct//./\\.}\\)" "finetune $1 reports after/before"
  json_field test_acc >/dev/null || fail "finetune $1 --json: expected test_acc"
}
# compare_zero FILE NAMES...: the named tensors of FILE equal the trained model's (max abs 0).
compare_zero() {
  local file=$1
  shift
  wick compare "$file" "$TMP/model.safetensors"
  local name
  for name in "$@"; do
    grep -qE "^  ${name//./\\.} .* 0\\.000e\\+00 +0\\.000e\\+00\$" "$OUT" ||
      { fail "$file: expected $name unchanged by fine-tuning"; show_output; }
  done
}
# compare_changed FILE NAMES...: the named tensors of FILE differ from the trained model's.
compare_changed() {
  local file=$1
  shift
  wick compare "$file" "$TMP/model.safetensors"
  local name
  for name in "$@"; do
    grep -qE "^  ${name//./\\.} .*outside tolerance\$" "$OUT" ||
      { fail "$file: expected $name changed by fine-tuning"; show_output; }
  done
}
BN_STATS=(1.running_mean 1.running_var 1.num_batches_tracked 5.running_mean 5.running_var 5.num_batches_tracked)

wick_ok "finetune --bn train" finetune --weights "$TMP/model.safetensors" --bn train "${FT[@]}" --save "$TMP/ft_train.safetensors"
check_finetune train
compare_changed "$TMP/ft_train.safetensors" "${BN_STATS[@]}" 0.weight 11.weight

wick_ok "finetune --bn frozen" finetune --weights "$TMP/model.safetensors" --bn frozen "${FT[@]}" --save "$TMP/ft_frozen.safetensors"
check_finetune frozen
expect_line '^froze 2 BatchNorm layers' "finetune --bn frozen freezes both BatchNorm layers"
compare_zero "$TMP/ft_frozen.safetensors" "${BN_STATS[@]}" 1.weight 5.bias
compare_changed "$TMP/ft_frozen.safetensors" 0.weight 11.weight

wick_ok "finetune --bn recalibrate" finetune --weights "$TMP/model.safetensors" --bn recalibrate "${FT[@]}" \
  --save "$TMP/ft_recal.safetensors"
check_finetune recalibrate
expect_line '^after recalibrating BatchNorm on [0-9]+ batches .*test accuracy [0-9.]+%' "finetune --bn recalibrate reports"
compare_changed "$TMP/ft_recal.safetensors" 1.running_mean 5.running_var

wick_ok "finetune --freeze-backbone" finetune --weights "$TMP/model.safetensors" --freeze-backbone --bn frozen "${FT[@]}" \
  --save "$TMP/ft_head.safetensors"
check_finetune "--freeze-backbone"
compare_zero "$TMP/ft_head.safetensors" 0.weight 0.bias 1.weight 1.bias 4.weight 5.weight 9.weight 9.bias "${BN_STATS[@]}"
compare_changed "$TMP/ft_head.safetensors" 11.weight 11.bias

left=$(find "$TMP" -name '*.tmp*')
[[ -z $left ]] || fail "temporary files were left behind: $left"
finish
