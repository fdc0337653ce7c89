#!/usr/bin/env bash
# wick train and finetune's training options: every bad value and contradictory pair is bad usage
# (exit 2, one line naming the flags), and each option works on a tiny synthetic run, leaving the
# outputs it promises (CSV columns, JSON keys, a --save-best file that wick eval loads).
# Run: bash tests/cli/train_options.sh <wick binary> <tests/data dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FAST=(--data synthetic --train-limit 256 --test-limit 64 --batch-size 32 --threads 2 --quiet)

# ---- bad usage: exit 2, naming the flag (and the one it contradicts)
expect_error 2 "--scheduler bogus" '--scheduler' 'bogus' -- train --scheduler bogus "${FAST[@]}"
expect_error 2 "--step-size without step" '--step-size' '--scheduler step' -- train --step-size 2 "${FAST[@]}"
expect_error 2 "--scheduler step without --step-size" '--scheduler step' '--step-size' -- \
  train --scheduler step "${FAST[@]}"
expect_error 2 "--step-size 0" '--step-size' -- train --scheduler step --step-size 0 "${FAST[@]}"
expect_error 2 "--milestones without multistep" '--milestones' '--scheduler multistep' -- \
  train --scheduler cosine --milestones 1 "${FAST[@]}"
expect_error 2 "multistep without --milestones" '--scheduler multistep' '--milestones' -- \
  train --scheduler multistep "${FAST[@]}"
expect_error 2 "--milestones not numbers" '--milestones' 'x' -- train --scheduler multistep --milestones 1,x "${FAST[@]}"
expect_error 2 "--milestones decreasing" '--milestones must increase' -- \
  train --scheduler multistep --milestones 3,2 --epochs 5 "${FAST[@]}"
expect_error 2 "--milestones past --epochs" '--milestones' '--epochs 2' -- \
  train --scheduler multistep --milestones 2 --epochs 2 "${FAST[@]}"
expect_error 2 "--gamma without step or multistep" '--gamma' '--scheduler' -- \
  train --scheduler cosine --gamma 0.5 "${FAST[@]}"
expect_error 2 "--gamma 0" '--gamma' -- train --scheduler step --step-size 1 --gamma 0 "${FAST[@]}"
expect_error 2 "--warmup-epochs >= --epochs" '--warmup-epochs 2' '--epochs 2' -- \
  train --warmup-epochs 2 --epochs 2 "${FAST[@]}"
expect_error 2 "--warmup-epochs -1" '--warmup-epochs' -- train --warmup-epochs -1 "${FAST[@]}"
expect_error 2 "--augment crop,bogus" '--augment' 'bogus' -- train --augment crop,bogus "${FAST[@]}"
expect_error 2 "--augment none,flip" '--augment' 'none' -- train --augment none,flip "${FAST[@]}"
expect_error 2 "--crop-padding without crop" '--crop-padding' '--augment crop' -- \
  train --augment flip --crop-padding 2 "${FAST[@]}"
expect_error 2 "--crop-padding 0" '--crop-padding' -- train --augment crop --crop-padding 0 "${FAST[@]}"
expect_error 2 "--label-smoothing 1" '--label-smoothing' '\[0, 1\)' -- train --label-smoothing 1 "${FAST[@]}"
expect_error 2 "--label-smoothing -0.1" '--label-smoothing' -- train --label-smoothing -0.1 "${FAST[@]}"
expect_error 2 "--grad-clip 0" '--grad-clip' -- train --grad-clip 0 "${FAST[@]}"
expect_error 2 "--nesterov with adam" '--nesterov' '--optimizer adam' -- train --nesterov --optimizer adam "${FAST[@]}"
expect_error 2 "--nesterov with adamw (finetune)" '--nesterov' '--optimizer adamw' -- \
  finetune --weights "$TEST_DATA/small_cnn_pt.safetensors" --nesterov --optimizer adamw "${FAST[@]}"
expect_error 2 "--nesterov with --momentum 0" '--nesterov' '--momentum' -- train --nesterov --momentum 0 "${FAST[@]}"
expect_error 2 "--val-split 1.5" '--val-split' '1.5' -- train --val-split 1.5 "${FAST[@]}"
expect_error 2 "--val-split 0" '--val-split' -- train --val-split 0 "${FAST[@]}"
expect_error 2 "--save-best without --val-split" '--save-best' '--val-split' -- \
  train --save-best "$TMP/best.safetensors" "${FAST[@]}"
expect_error 2 "--save-best without --val-split (finetune)" '--save-best' '--val-split' -- \
  finetune --weights "$TEST_DATA/small_cnn_pt.safetensors" --save-best "$TMP/best.safetensors" "${FAST[@]}"
expect_error 1 "--save-best into a missing folder" '--save-best' 'does not exist' -- \
  train --val-split 0.1 --save-best "$TMP/no/best.safetensors" "${FAST[@]}"
expect_error 1 "--step-metrics into a missing folder" '--step-metrics' 'does not exist' -- \
  train --step-metrics "$TMP/no/steps.csv" "${FAST[@]}"
[[ ! -e $TMP/best.safetensors ]] || fail "a refused run left $TMP/best.safetensors behind"

# ---- each option on a tiny run: 2 epochs of 8 steps (256 images, batch 32)
for sched in "step --step-size 1 --gamma 0.5" "multistep --milestones 1" cosine onecycle; do
  # shellcheck disable=SC2086  # the words of $sched are separate flags
  wick_ok "--scheduler $sched" train --scheduler $sched --epochs 2 --json --metrics "$TMP/m.csv" "${FAST[@]}"
  expect_eq "--scheduler $sched: metrics CSV header" \
    "epoch,steps,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds,lr" "$(head -n 1 "$TMP/m.csv")"
  json_field lr >/dev/null || fail "--scheduler $sched: --json has no lr"
done
lr=$(json_field lr)  # onecycle's last step runs at lr / 25 / 1e4
awk -v v="$lr" 'BEGIN { exit !(v > 1.9e-7 && v < 2.1e-7) }' || fail "onecycle's last lr: expected 2e-7, got $lr"

wick_ok "--warmup-epochs with cosine, per-step CSV" train --scheduler cosine --warmup-epochs 1 --epochs 2 \
  --step-metrics "$TMP/steps.csv" "${FAST[@]}"
expect_eq "--step-metrics header" "step,epoch,lr,loss,acc" "$(head -n 1 "$TMP/steps.csv")"
expect_eq "--step-metrics lines (header + 16 steps)" 17 "$(wc -l <"$TMP/steps.csv")"
expect_eq "the warm-up's first lr is lr / 100" "0.0005" "$(sed -n 2p "$TMP/steps.csv" | cut -d, -f3)"
expect_eq "the cosine starts at --lr after the warm-up" "0.05" "$(sed -n 10p "$TMP/steps.csv" | cut -d, -f3)"

wick_ok "--augment crop,flip" train --augment crop,flip --crop-padding 2 --max-steps 4 --save "$TMP/a1.safetensors" "${FAST[@]}"
wick_ok "--augment crop,flip again" train --augment crop,flip --crop-padding 2 --max-steps 4 --save "$TMP/a2.safetensors" \
  "${FAST[@]}"
wick_ok "no augmentation" train --max-steps 4 --save "$TMP/a0.safetensors" "${FAST[@]}"
wick_ok "--flush-denormal" train --flush-denormal --max-steps 4 --json "${FAST[@]}"
wick compare "$TMP/a1.safetensors" "$TMP/a2.safetensors" --rtol 0 --atol 0
[[ $RC -eq 0 ]] || fail "--augment with the same --seed: expected the same weights (compare exited $RC)"
wick compare "$TMP/a1.safetensors" "$TMP/a0.safetensors" --rtol 0 --atol 0
[[ $RC -eq 1 ]] || fail "--augment: expected other weights than without augmentation (compare exited $RC)"
for one in crop flip; do
  wick_ok "--augment $one alone" train --augment "$one" --max-steps 2 "${FAST[@]}"
done

wick_ok "--label-smoothing, --grad-clip, --nesterov" train --label-smoothing 0.1 --grad-clip 1 --nesterov --max-steps 4 \
  --json "${FAST[@]}"
json_field train_loss >/dev/null || fail "--label-smoothing: --json has no train_loss"

wick_ok "--val-split with --save-best" train --val-split 0.25 --save-best "$TMP/best.safetensors" --epochs 2 --json \
  --metrics "$TMP/v.csv" --plot "$TMP/v.svg" "${FAST[@]}"
for key in val_loss val_acc best_epoch lr; do
  json_field "$key" >/dev/null || fail "--val-split --save-best: --json has no $key"
done
expect_eq "--val-split: metrics CSV header" \
  "epoch,steps,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds,val_loss,val_acc" "$(head -n 1 "$TMP/v.csv")"
expect_eq "--val-split 0.25 of 256: 6 steps of 32 per epoch" "12" "$(tail -n 1 "$TMP/v.csv" | cut -d, -f2)"
grep -q '>validation<' "$TMP/v.svg" || fail "--val-split --plot: no validation curve"
wick_ok "eval of the --save-best file" eval --weights "$TMP/best.safetensors" --data synthetic --test-limit 64 --json
json_field test_acc >/dev/null || fail "eval of the --save-best file printed no test_acc"
wick_ok "inspect of the --save-best file" inspect "$TMP/best.safetensors"
grep -q 'BatchNorm2dReLU' "$OUT" && fail "--save-best wrote the fused training architecture"

wick_ok "finetune with --val-split, --save-best and a schedule" finetune --weights "$TEST_DATA/small_cnn_pt.safetensors" \
  --val-split 0.25 --save-best "$TMP/ft_best.safetensors" --scheduler cosine --augment flip --epochs 2 "${FAST[@]}"
[[ -s $TMP/ft_best.safetensors ]] || fail "finetune --save-best wrote no file"
finish
