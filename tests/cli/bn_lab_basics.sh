#!/usr/bin/env bash
# wick bn-lab's modes, running-stats, momentum-convention, batch-size, no-grad-trap and myths: each
# exits 0 (its verdict holds) and its --json numbers match PyTorch 1.13's from the same inputs
# (tools/golden/bn_lab_basics.py writes tests/data/bn_lab_basics.txt: "key value atol rtol" lines),
# |wick - torch| <= atol + rtol * |torch|. running-stats also writes its --plot SVG.
# Run: bash tests/cli/bn_lab_basics.sh <wick binary> <tests/data dir>   (exit 77: no Fashion-MNIST)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FASHION=/usr/share/datasets/fashion-mnist
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  if [[ ! -f $FASHION/$f ]]; then
    echo "SKIP: Fashion-MNIST is not installed in $FASHION (apt-get install dataset-fashion-mnist)"
    exit 77
  fi
done
REF=$TEST_DATA/bn_lab_basics.txt
[[ -f $REF ]] || die "missing $REF (run /usr/bin/python3 tools/golden/bn_lab_basics.py)"

# compare PREFIX EXPERIMENT: every reference number whose key starts with PREFIX against the last run.
compare() {
  local prefix=$1 experiment=$2 key ref atol rtol got checked=0
  while read -r key ref atol rtol; do
    [[ $key == "$prefix"* ]] || continue
    checked=$((checked + 1))
    if ! got=$(json_field "$key"); then
      fail "$experiment: --json has no $key"
      continue
    fi
    awk -v a="$got" -v b="$ref" -v atol="$atol" -v rtol="$rtol" \
      'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(d <= atol + rtol * m) }' ||
      fail "$experiment: $key = $got, PyTorch $ref (allowed: $atol + $rtol * |PyTorch|)"
  done < <(grep -v '^#' "$REF")
  [[ $checked -gt 0 ]] || fail "$experiment: no reference numbers start with $prefix"
  echo "ok: $experiment: $checked numbers match PyTorch"
}

wick_ok "bn-lab modes" bn-lab modes --json
compare modes_ modes
wick_ok "bn-lab running-stats" bn-lab running-stats --json --plot "$TMP/running_stats.svg"
compare rs_ running-stats
grep -q '<polyline' "$TMP/running_stats.svg" || fail "running-stats --plot: no curves in the SVG"
wick_ok "bn-lab momentum-convention" bn-lab momentum-convention --json
compare mc_ momentum-convention
wick_ok "bn-lab batch-size" bn-lab batch-size --json
compare bs_ batch-size
wick_ok "bn-lab no-grad-trap" bn-lab no-grad-trap --json
compare ng_ no-grad-trap
wick_ok "bn-lab myths" bn-lab myths --json
compare myth_ myths
finish
