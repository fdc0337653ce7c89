#!/usr/bin/env bash
# Every error path of the wick command line: bad usage exits 2, failures exit 1, each with one line
# on stderr (no stack trace) and no partial output file left behind.
# Run: bash tests/cli/errors.sh <wick binary> <tests/data dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Small, fast runs on generated data.
FAST=(--data synthetic --max-steps 2 --train-limit 256 --test-limit 50 --quiet)

# ---- bad usage: exit 2
expect_error 2 "unknown subcommand" 'unknown subcommand' 'frobnicate' 'train' -- frobnicate
expect_error 2 "no subcommand" 'subcommand' --
expect_error 2 "unknown flag" '--bogus' -- train --bogus
expect_error 2 "unknown eval flag" '--epochs' -- eval --weights "$TEST_DATA/small_cnn_pt.safetensors" --epochs 3
expect_error 2 "--epochs 0" '--epochs: must be a positive number, got 0' -- train --epochs 0 "${FAST[@]}"
expect_error 2 "--epochs not a number" '--epochs: expected a number, got "two"' -- train --epochs two "${FAST[@]}"
expect_error 2 "--batch-size -1" '--batch-size: must be a positive number, got -1' -- train --batch-size -1 "${FAST[@]}"
expect_error 2 "--batch-size 0 for eval" 'batch-size' -- eval --weights "$TEST_DATA/small_cnn_pt.safetensors" --batch-size 0
expect_error 2 "--lr -0.1" 'lr' -- train --lr -0.1 "${FAST[@]}"
expect_error 2 "--optimizer foo" 'optimizer' 'foo' -- train --optimizer foo "${FAST[@]}"
expect_error 2 "--bn foo" 'bn' 'foo' -- finetune --weights "$TEST_DATA/small_cnn_pt.safetensors" --bn foo "${FAST[@]}"
expect_error 2 "--threads -2" '--threads: must be zero or more, got -2' -- train --threads -2 "${FAST[@]}"
expect_error 2 "finetune without --weights" 'weights' -- finetune "${FAST[@]}"
expect_error 2 "eval of a missing file" 'weights|exist' -- eval --weights "$TMP/nope.safetensors"
expect_error 2 "--init of a missing file" 'init|exist' -- train --init "$TMP/nope.safetensors" "${FAST[@]}"
expect_error 2 "inspect of a missing file" 'exist' -- inspect "$TMP/nope.safetensors"
expect_error 2 "compare without a second file" 'b|required' -- compare "$TEST_DATA/small_cnn_pt.safetensors"
expect_error 2 "compare --rtol -1" 'rtol' -- compare "$TEST_DATA/small_cnn_pt.safetensors" \
  "$TEST_DATA/small_cnn_pt.safetensors" --rtol -1

# ---- missing data: exit 1
mkdir -p "$TMP/empty"
expect_error 1 "--data mnist without --data-dir" 'mnist' 'data-dir' -- train --data mnist --max-steps 1 --quiet
expect_error 1 "--data-dir of an empty folder" 'cannot find' 'empty' -- \
  train --data fashion-mnist --data-dir "$TMP/empty" --max-steps 1 --quiet
expect_error 1 "eval with --data-dir of an empty folder" 'cannot find' -- \
  eval --weights "$TEST_DATA/small_cnn_pt.safetensors" --data-dir "$TMP/empty"
expect_error 1 "--data folder:/nonexistent" 'folder' '/nonexistent' -- \
  train --data folder:/nonexistent --max-steps 1 --quiet
# A 1x1 24-bit BMP (14-byte file header, 40-byte info header, one padded pixel row).
bmp() {
  mkdir -p "$(dirname "$1")"
  printf 'BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\x01\0\0\0\x01\0\0\0\x01\0\x18\0\0\0\0\0\x04\0\0\0\x13\x0b\0\0\x13\x0b\0\0\0\0\0\0\0\0\0\0\x80\x40\x20\0' >"$1"
}
for c in cat dog; do bmp "$TMP/pets/train/$c/a.bmp"; done
for c in cat zebra; do bmp "$TMP/pets/test/$c/a.bmp"; done
expect_error 1 "train and test class folders that differ" 'different classes' 'only in training: dog' 'only in test: zebra' -- \
  train --data "folder:$TMP/pets" --max-steps 1 --quiet
mkdir -p "$TMP/pets/test/dog" && cp "$TMP/pets/test/cat/a.bmp" "$TMP/pets/test/dog/" && rm -r "$TMP/pets/test/zebra"
wick_ok "train on matching class folders" train --data "folder:$TMP/pets" --image-size 8 --max-steps 1 --quiet
expect_error 1 "--data cifar10 of an empty folder" 'cifar|test_batch' -- \
  train --data cifar10 --data-dir "$TMP/empty" --max-steps 1 --quiet
expect_error 1 "unknown --data" 'unknown --data' 'imagenet' -- train --data imagenet --max-steps 1 --quiet
printf 'not gzip data at all' >"$TMP/fake.gz"
mkdir -p "$TMP/badfashion"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  cp "$TMP/fake.gz" "$TMP/badfashion/$f.gz"
done
expect_error 1 "Fashion-MNIST files that are not IDX" 't10k' -- \
  eval --weights "$TEST_DATA/small_cnn_pt.safetensors" --data-dir "$TMP/badfashion"

# ---- corrupt or mismatched weights: exit 1
head -c 3000 /dev/urandom >"$TMP/garbage.safetensors"
printf '\xff\xff\xff\xff\xff\xff\xff\x7f{}' >"$TMP/hugeheader.safetensors"
head -c 100000 "$TEST_DATA/small_cnn_pt.safetensors" >"$TMP/truncated.safetensors"
: >"$TMP/empty.safetensors"
for f in garbage hugeheader truncated empty; do
  expect_error 1 "eval of a $f weights file" "$f.safetensors" -- \
    eval --weights "$TMP/$f.safetensors" --data synthetic --test-limit 50
  expect_error 1 "inspect of a $f weights file" "$f.safetensors" -- inspect "$TMP/$f.safetensors"
done
# A BatchNorm buffer with no elements is shown, not a crash.
header='{"bn.running_mean":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'
{ printf "\\x$(printf %02x ${#header})\\x00\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$header"; } >"$TMP/emptystat.safetensors"
wick_ok "inspect of a zero-element running_mean" inspect "$TMP/emptystat.safetensors"
grep -q 'BatchNorm bn:' "$OUT" || fail "inspect: expected the BatchNorm line of an empty running_mean"
expect_error 1 "train --init from a truncated file" 'truncated.safetensors' -- \
  train --init "$TMP/truncated.safetensors" "${FAST[@]}"
expect_error 1 "finetune from a garbage file" 'garbage.safetensors' -- \
  finetune --weights "$TMP/garbage.safetensors" "${FAST[@]}"
expect_error 1 "fold-bn of a truncated file" 'truncated.safetensors' -- \
  fold-bn --weights "$TMP/truncated.safetensors" --out "$TMP/folded.safetensors"
[[ ! -e $TMP/folded.safetensors ]] || fail "fold-bn of a truncated file left $TMP/folded.safetensors behind"

# A PyTorch file (no architecture in it) read as the wrong --model.
expect_error 1 "small-cnn weights given as --model mlp" 'model mlp' -- \
  eval --weights "$TEST_DATA/small_cnn_pt.safetensors" --model mlp --data synthetic --test-limit 50
expect_error 1 "small-cnn weights given as --model mlp to train --init" 'model mlp' -- \
  train --init "$TEST_DATA/small_cnn_pt.safetensors" --model mlp "${FAST[@]}"
expect_error 1 "unknown --model" 'resnet' -- train --model resnet "${FAST[@]}"

# A tiny fake CIFAR-10 (3x32x32 images, 10 test and 10 training records per batch file) for weights
# of a 1-channel 28x28 model.
mkdir -p "$TMP/cifar"
for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
  for label in 0 1 2 3 4 5 6 7 8 9; do
    printf "\\x0$label"
    head -c 3072 /dev/zero | tr '\0' '\200'
  done >"$TMP/cifar/$f.bin"
done
expect_error 1 "PyTorch small-cnn weights on CIFAR-10" '0\.weight|shape' -- \
  eval --weights "$TEST_DATA/small_cnn_pt.safetensors" --data cifar10 --data-dir "$TMP/cifar"

# A wick mlp file (with its architecture) and a wick small-cnn file, used on the wrong data.
wick train --model mlp "${FAST[@]}" --save "$TMP/mlp.safetensors"
[[ $RC -eq 0 && -s $TMP/mlp.safetensors ]] || { show_output; die "could not train an mlp to test with (status $RC)"; }
wick train "${FAST[@]}" --save "$TMP/cnn.safetensors"
[[ $RC -eq 0 && -s $TMP/cnn.safetensors ]] || { show_output; die "could not train a small-cnn to test with (status $RC)"; }
expect_error 1 "wick small-cnn weights on CIFAR-10" 'conv|channel|shape' -- \
  eval --weights "$TMP/cnn.safetensors" --data cifar10 --data-dir "$TMP/cifar"
expect_error 1 "wick mlp weights on CIFAR-10" '784|3072|shape' -- \
  eval --weights "$TMP/mlp.safetensors" --data cifar10 --data-dir "$TMP/cifar"
expect_error 1 "finetune of a wick mlp on CIFAR-10" '784|3072|shape' -- \
  finetune --weights "$TMP/mlp.safetensors" --data cifar10 --data-dir "$TMP/cifar" --max-steps 1 --quiet

# ---- outputs that cannot be written: exit 1 before any training, nothing left behind
LOUD=(--data synthetic --max-steps 2 --train-limit 256 --test-limit 50)
# no_training WHAT: the last run stopped before training (no epoch or fine-tuning lines on stdout).
no_training() {
  if grep -qE '^epoch|fine-tuning|^training ' "$OUT"; then fail "$1: expected the check before training, but it trained"; show_output; fi
}
expect_error 1 "a last step that diverges" 'diverged by step 1' 'test loss' -- \
  train --data synthetic --train-limit 256 --test-limit 50 --lr 1e30 --max-steps 1 --save "$TMP/diverged.safetensors"
[[ ! -e $TMP/diverged.safetensors ]] || fail "a diverged run saved $TMP/diverged.safetensors"
expect_error 1 "--save into a folder that takes no files" '--save' '/proc' 'cannot create files' -- \
  train "${LOUD[@]}" --save /proc/model.safetensors
no_training "--save into a folder that takes no files"
expect_error 1 "--metrics into a folder that takes no files" '--metrics' '/proc' 'cannot create files' -- \
  train "${LOUD[@]}" --metrics /proc/log.csv
expect_error 1 "--save into a missing folder" '--save' 'nosuchdir' 'does not exist' -- \
  train "${LOUD[@]}" --save "$TMP/nosuchdir/out.safetensors"
no_training "--save into a missing folder"
[[ ! -e $TMP/nosuchdir ]] || fail "--save into a missing folder created $TMP/nosuchdir"
mkdir -p "$TMP/outdir/taken.safetensors"
expect_error 1 "--save over a folder" '--save' 'taken.safetensors' 'folder' -- \
  train "${LOUD[@]}" --save "$TMP/outdir/taken.safetensors"
no_training "--save over a folder"
expect_error 1 "--metrics into a missing folder" '--metrics' 'nosuchdir' -- train "${LOUD[@]}" --metrics "$TMP/nosuchdir/m.csv"
no_training "--metrics into a missing folder"
expect_error 1 "--plot into a missing folder" '--plot' 'nosuchdir' -- train "${LOUD[@]}" --plot "$TMP/nosuchdir/p.svg"
no_training "--plot into a missing folder"
expect_error 1 "fold-bn --out into a missing folder" '--out' 'nosuchdir' -- \
  fold-bn --weights "$TEST_DATA/small_cnn_pt.safetensors" --out "$TMP/nosuchdir/f.safetensors"
expect_error 1 "finetune --save into a missing folder" '--save' 'nosuchdir' -- \
  finetune --weights "$TMP/mlp.safetensors" "${LOUD[@]}" --save "$TMP/nosuchdir/ft.safetensors"
no_training "finetune --save into a missing folder"
left=$(find "$TMP" -name '*.tmp*')
[[ -z $left ]] || fail "temporary files were left behind: $left"
[[ -z $(ls -A "$TMP/outdir/taken.safetensors") ]] || fail "--save over a folder wrote into it"

# ---- compare: different keys or shapes are errors
expect_error 1 "compare of files with different tensors" 'different tensors' -- \
  compare "$TMP/mlp.safetensors" "$TEST_DATA/small_cnn_pt.safetensors"
wick train --data cifar10 --data-dir "$TMP/cifar" --max-steps 1 --quiet --save "$TMP/cnn_rgb.safetensors"
[[ $RC -eq 0 ]] || { show_output; die "could not train a 3-channel small-cnn to test with (status $RC)"; }
expect_error 1 "compare of files with different shapes" '"0\.weight"' 'shape \[32, 3, 3, 3\]' -- \
  compare "$TMP/cnn_rgb.safetensors" "$TMP/cnn.safetensors"

# bn-lab
expect_error 2 "bn-lab unknown experiment" 'nope' 'modes' -- bn-lab nope
expect_error 2 "bn-lab --plot on an experiment without a picture" 'modes draws no picture' -- \
  bn-lab modes --plot "$TMP/modes.svg"
expect_error 1 "bn-lab --plot into a missing folder" '--plot' '/nonexistent/dir' -- \
  bn-lab running-stats --plot /nonexistent/dir/x.svg

# ---- a batch that cannot fit in memory is refused before training, not found by the OOM killer
if [[ -f $FASHION/train-images-idx3-ubyte.gz ]]; then
  expect_error 1 "--batch-size 60000 of resnet56" '--batch-size 60000: a training step would need about [0-9.]+ GiB' \
    'largest batch that fits is about [0-9]+' -- train --model resnet56 --batch-size 60000 --max-steps 1 --quiet
fi

finish
