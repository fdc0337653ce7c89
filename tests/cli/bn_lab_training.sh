#!/usr/bin/env bash
# wick bn-lab's small-batch, fine-tune, fold, init-scale, sync-bn, precise-bn and covariate-shift:
# each exits 0 (its verdict holds) and writes its
# --plot SVG. fine-tune and fold start from PyTorch's small-cnn (--weights small_cnn_pt_trained.safetensors)
# and their --json numbers match PyTorch 1.13's from the same inputs (tools/golden/bn_lab_training.py
# writes tests/data/bn_lab_training.txt: "key value atol rtol" lines, value a comma-separated list
# for tensors), |wick - torch| <= atol + rtol * |torch| element by element. small-batch trains three
# models from scratch with thousands of tiny steps and has no PyTorch numbers (float rounding grows
# into different weights): it runs only when WICK_SANITIZED is unset. init-scale (ten deep MLPs,
# 300 steps each, some diverging on purpose), sync-bn (4 simulated processes x 4 images) and
# precise-bn (EMA against recomputed statistics, six runs) and covariate-shift (BN with shifting
# noise after it, BN, no normalization) are checked by their verdicts for seed 0 (they hold for seeds 0-4, docs/batchnorm.md). About a minute in Release.
# Run: bash tests/cli/bn_lab_training.sh <wick binary> <tests/data dir>   (exit 77: no Fashion-MNIST)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_fashion_mnist
REF=$TEST_DATA/bn_lab_training.txt
WEIGHTS=$TEST_DATA/small_cnn_pt_trained.safetensors
[[ -f $REF && -f $WEIGHTS ]] || die "missing $REF or $WEIGHTS (run /usr/bin/python3 tools/golden/bn_lab_training.py)"

compare() { compare_with_pytorch "$REF" "$@"; }
plotted() { has_curves "$TMP/$1.svg" "$1"; }

wick_ok "bn-lab fine-tune" bn-lab fine-tune --weights "$WEIGHTS" --json --plot "$TMP/fine-tune.svg"
compare fine_tune_ fine-tune
plotted fine-tune
wick_ok "bn-lab fold" bn-lab fold --weights "$WEIGHTS" --json --plot "$TMP/fold.svg"
compare fold_ fold
plotted fold
wick_ok "bn-lab init-scale" bn-lab init-scale --json --plot "$TMP/init-scale.svg"
json_values init_bn_s4_acc >/dev/null || fail "init-scale: --json has no init_bn_s4_acc"
plotted init-scale
wick_ok "bn-lab sync-bn" bn-lab sync-bn --json --plot "$TMP/sync-bn.svg"
json_values sync_bn_sync_acc >/dev/null || fail "sync-bn: --json has no sync_bn_sync_acc"
plotted sync-bn
wick_ok "bn-lab precise-bn" bn-lab precise-bn --json --plot "$TMP/precise-bn.svg"
json_values precise_b128_m001_precise_acc >/dev/null || fail "precise-bn: --json has no precise_b128_m001_precise_acc"
plotted precise-bn
wick_ok "bn-lab covariate-shift" bn-lab covariate-shift --json --plot "$TMP/covariate-shift.svg"
json_values shift_noisy_bn_acc >/dev/null || fail "covariate-shift: --json has no shift_noisy_bn_acc"
plotted covariate-shift
if [[ -z ${WICK_SANITIZED:-} ]]; then
  wick_ok "bn-lab small-batch" bn-lab small-batch --json --plot "$TMP/small-batch.svg"
  json_values small_batch_b2_eval_acc >/dev/null || fail "small-batch: --json has no small_batch_b2_eval_acc"
  plotted small-batch
  echo "ok: small-batch: verdict holds"
else
  echo "skip: small-batch (WICK_SANITIZED is set)"
fi
finish
