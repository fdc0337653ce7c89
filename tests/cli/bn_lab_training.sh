#!/usr/bin/env bash
# wick bn-lab's experiments that train: each exits 0 (its verdict holds) and writes its --plot SVG.
# fine-tune and fold start from PyTorch's small-cnn (--weights small_cnn_pt_trained.safetensors) and their --json numbers match PyTorch 1.13's from the same inputs (tools/golden/bn_lab_training.py
# writes tests/data/bn_lab_training.txt: "key value atol rtol" lines, value a comma-separated list
# for tensors), |wick - torch| <= atol + rtol * |torch| element by element. small-batch trains three
# models from scratch with thousands of tiny steps and has no PyTorch numbers (float rounding grows
# into different weights); it and alternatives (32 training runs, about a minute) run only when
# WICK_SANITIZED is unset. init-scale (ten deep MLPs, 300 steps each, some diverging on purpose),
# sync-bn (4 simulated processes x 4 images), precise-bn (EMA against recomputed statistics, six
# runs), covariate-shift (BN with shifting noise after it, BN, no normalization), inside (per-layer
# statistics of a deep MLP with and without BN; its step-1 numbers are PyTorch's too) and alternatives (BN, GN, LN, none at batch 2-128)
# are checked by their verdicts for seed 0 (they hold for seeds 0-4, docs/batchnorm.md). About two
# minutes in Release.
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
# verdict_holds NAME KEY: bn-lab NAME exits 0 (its verdict holds), its --json has KEY, its --plot
# SVG has curves.
verdict_holds() {
  wick_ok "bn-lab $1" bn-lab "$1" --json --plot "$TMP/$1.svg"
  json_values "$2" >/dev/null || fail "$1: --json has no $2"
  plotted "$1"
  echo "ok: $1: verdict holds"
}
verdict_holds init-scale init_bn_s4_acc
verdict_holds sync-bn sync_bn_sync_acc
verdict_holds precise-bn precise_b128_m001_precise_acc
verdict_holds covariate-shift shift_noisy_bn_acc
verdict_holds inside inside_bn_layer6_late_update_ratio
compare inside_ inside
if [[ -z ${WICK_SANITIZED:-} ]]; then
  verdict_holds small-batch small_batch_b2_eval_acc
  verdict_holds alternatives alt_mlp_b2_batch_acc
else
  echo "skip: small-batch, alternatives (WICK_SANITIZED is set)"
fi
finish
