#!/usr/bin/env bash
# examples/classify_image.cpp, end to end: a small-cnn trained briefly on Fashion-MNIST classifies
# one test image written as a PNG (tests/data/images/ankle_boot.png, test image 0) as an ankle
# boot; a missing or corrupt image is a one-line error.
# Run: bash tests/cli/classify_image.sh <wick binary> <tests/data dir> <classify_image binary>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLASSIFY=${3:?usage: classify_image.sh WICK TEST_DATA CLASSIFY_IMAGE}
require_fashion_mnist

wick_ok "train" train --train-limit 4000 --test-limit 500 --epochs 1 --quiet --save "$TMP/m.safetensors"
"$CLASSIFY" "$TMP/m.safetensors" "$TEST_DATA/images/ankle_boot.png" >"$OUT" 2>"$ERR" || fail "classify_image: exit $?"
expect_line "ankle_boot.png: Ankle boot [0-9.]+% [A-Za-z/ -]+ [0-9.]+% [A-Za-z/ -]+ [0-9.]+%$" "classify_image: top-3, an ankle boot first"

RC=0
"$CLASSIFY" "$TMP/m.safetensors" "$TMP/none.png" >"$OUT" 2>"$ERR" || RC=$?
expect_eq "classify_image of a missing file: exit status" 1 "$RC"
grep -q "^classify_image: .*none.png" "$ERR" || fail "classify_image of a missing file: expected its name on stderr, got: $(cat "$ERR")"
head -c 60 "$TEST_DATA/images/ankle_boot.png" >"$TMP/cut.png"
RC=0
"$CLASSIFY" "$TMP/m.safetensors" "$TMP/cut.png" >"$OUT" 2>"$ERR" || RC=$?
expect_eq "classify_image of a truncated PNG: exit status" 1 "$RC"
grep -q "^classify_image: load_image: cannot decode .*cut.png" "$ERR" || fail "classify_image of a truncated PNG: got: $(cat "$ERR")"

finish
