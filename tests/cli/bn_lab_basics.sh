#!/usr/bin/env bash
# wick bn-lab's modes, running-stats, momentum-convention, batch-size, no-grad-trap and myths: each
# exits 0 (its verdict holds) and its --json numbers match PyTorch 1.13's from the same inputs
# (tools/golden/bn_lab_basics.py writes tests/data/bn_lab_basics.txt: "key value atol rtol" lines),
# |wick - torch| <= atol + rtol * |torch|. running-stats also writes its --plot SVG.
# Run: bash tests/cli/bn_lab_basics.sh <wick binary> <tests/data dir>   (exit 77: no Fashion-MNIST)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_fashion_mnist
REF=$TEST_DATA/bn_lab_basics.txt
[[ -f $REF ]] || die "missing $REF (run /usr/bin/python3 tools/golden/bn_lab_basics.py)"

compare() { compare_with_pytorch "$REF" "$@"; }

wick_ok "bn-lab modes" bn-lab modes --json
compare modes_ modes
wick_ok "bn-lab running-stats" bn-lab running-stats --json --plot "$TMP/running_stats.svg"
compare rs_ running-stats
has_curves "$TMP/running_stats.svg" running-stats
wick_ok "bn-lab momentum-convention" bn-lab momentum-convention --json
compare mc_ momentum-convention
wick_ok "bn-lab batch-size" bn-lab batch-size --json
compare bs_ batch-size
wick_ok "bn-lab no-grad-trap" bn-lab no-grad-trap --json
compare ng_ no-grad-trap
wick_ok "bn-lab myths" bn-lab myths --json
compare myth_ myths
finish
