#!/usr/bin/env bash
# wick bn-lab's small-batch, fine-tune and fold: each exits 0 (its verdict holds) and writes its
# --plot SVG. fine-tune and fold start from PyTorch's small-cnn (--weights small_cnn_pt_trained.safetensors)
# and their --json numbers match PyTorch 1.13's from the same inputs (tools/golden/bn_lab_training.py
# writes tests/data/bn_lab_training.txt: "key value atol rtol" lines, value a comma-separated list
# for tensors), |wick - torch| <= atol + rtol * |torch| element by element. small-batch trains three
# models from scratch with thousands of tiny steps and has no PyTorch numbers (float rounding grows
# into different weights): it runs only when WICK_SANITIZED is unset. About a minute in Release.
# Run: bash tests/cli/bn_lab_training.sh <wick binary> <tests/data dir>   (exit 77: no Fashion-MNIST)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FASHION=/usr/share/datasets/fashion-mnist
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  if [[ ! -f $FASHION/$f ]]; then
    echo "SKIP: Fashion-MNIST is not installed in $FASHION (apt-get install dataset-fashion-mnist)"
    exit 77
  fi
done
REF=$TEST_DATA/bn_lab_training.txt
WEIGHTS=$TEST_DATA/small_cnn_pt_trained.safetensors
[[ -f $REF && -f $WEIGHTS ]] || die "missing $REF or $WEIGHTS (run /usr/bin/python3 tools/golden/bn_lab_training.py)"

# json_values KEY: the number, or the comma-separated numbers of the list, under KEY in the last
# JSON line of $OUT.
json_values() {
  local line
  line=$(grep '^{' "$OUT" | tail -n 1) || return 1
  [[ $line =~ \"$1\":(\[[^]]*\]|-?[0-9][0-9.eE+-]*) ]] || return 1
  local v=${BASH_REMATCH[1]}
  v=${v#[}
  echo "${v%]}"
}

# compare PREFIX EXPERIMENT: every reference number whose key starts with PREFIX against the last run.
compare() {
  local prefix=$1 experiment=$2 key ref atol rtol got bad checked=0 failures=$FAILURES
  while read -r key ref atol rtol; do
    [[ $key == "$prefix"* ]] || continue
    checked=$((checked + 1))
    if ! got=$(json_values "$key"); then
      fail "$experiment: --json has no $key"
      continue
    fi
    bad=$(awk -v a="$got" -v b="$ref" -v atol="$atol" -v rtol="$rtol" 'BEGIN {
      n = split(a, x, ","); m = split(b, y, ",")
      if (n != m) { print "expected " m " values, got " n; exit }
      for (i = 1; i <= n; i++) {
        d = x[i] - y[i]; if (d < 0) d = -d; s = y[i] < 0 ? -y[i] : y[i]
        if (d > atol + rtol * s) {
          where = n > 1 ? sprintf("element %d: ", i - 1) : ""
          printf "%s%s, PyTorch %s", where, x[i], y[i]; exit
        }
      }
    }')
    [[ -z $bad ]] || fail "$experiment: $key: $bad (allowed: $atol + $rtol * |PyTorch|)"
  done < <(grep -v '^#' "$REF")
  [[ $checked -gt 0 ]] || fail "$experiment: no reference numbers start with $prefix"
  [[ $FAILURES -gt $failures ]] || echo "ok: $experiment: all $checked reference keys match PyTorch"
}

# plotted EXPERIMENT: the last run's --plot file has curves.
plotted() {
  grep -q '<polyline' "$TMP/$1.svg" || fail "$1 --plot: no curves in the SVG"
}

wick_ok "bn-lab fine-tune" bn-lab fine-tune --weights "$WEIGHTS" --json --plot "$TMP/fine-tune.svg"
compare fine_tune_ fine-tune
plotted fine-tune
wick_ok "bn-lab fold" bn-lab fold --weights "$WEIGHTS" --json --plot "$TMP/fold.svg"
compare fold_ fold
plotted fold
if [[ -z ${WICK_SANITIZED:-} ]]; then
  wick_ok "bn-lab small-batch" bn-lab small-batch --json --plot "$TMP/small-batch.svg"
  json_values small_batch_b2_eval_acc >/dev/null || fail "small-batch: --json has no small_batch_b2_eval_acc"
  plotted small-batch
  echo "ok: small-batch: verdict holds"
else
  echo "skip: small-batch (WICK_SANITIZED is set)"
fi
finish
