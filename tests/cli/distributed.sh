#!/usr/bin/env bash
# mpirun -np 2 wick train: with --sync-bn, 2 processes x half of a global batch of 64 end 6 steps
# with the weights and BatchNorm buffers of 1 process x 64 (within 1e-5 of each tensor's scale);
# without --sync-bn they differ (printed); two runs on 2 processes give the same bits; one line
# of output from rank 0 only; a batch that does not divide, a command that is not data-parallel,
# and bad data on one rank end the whole job at once with the error.
# Run: bash tests/cli/distributed.sh <wick binary> <tests/data dir> (needs mpirun on the PATH)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# mpi N ARGS...: wick under mpirun -np N; sets RC, output in $OUT and $ERR.
mpi() {
  local n=$1
  shift
  RC=0
  mpirun -np "$n" --oversubscribe "$WICK" "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
}

# mpi_ok DESCRIPTION N ARGS...
mpi_ok() {
  local what=$1
  shift
  mpi "$@"
  need_ok "$what" "mpirun -np $*"
}

# Synthetic images: a diverse batch, so two runs that round differently stay close (on
# Fashion-MNIST the whole-background pixels make some steps amplify a rounding difference;
# docs/distributed.md shows by how much). 6 steps, not more: sums that round differently sooner or
# later flip a near-tie (two max-pooling candidates, or a ReLU input, within a last bit), and from
# then on the runs take different gradients (at 20 steps one did, at step 7).
RUN=(train --data synthetic --train-limit 2048 --test-limit 256 --max-steps 6 --seed 5 --threads 1 --batch-size)
RUN+=(64)  # last, so that a case can replace it

wick_ok "one process, batch 64" "${RUN[@]}" --save "$TMP/one.safetensors"
mpi_ok "2 processes with --sync-bn" 2 "${RUN[@]}" --sync-bn --save "$TMP/sync.safetensors" --json
expect_eq "result lines (rank 0 prints alone)" 1 "$(grep -c '^test accuracy' "$OUT")"
expect_eq "processes in the JSON line" 2 "$(json_field processes)"
mpi_ok "2 processes with --sync-bn, again" 2 "${RUN[@]}" --sync-bn --save "$TMP/sync2.safetensors"
mpi_ok "2 processes without --sync-bn" 2 "${RUN[@]}" --save "$TMP/local.safetensors"

wick compare "$TMP/sync.safetensors" "$TMP/one.safetensors" --rtol 1e-5 --atol 0 --per-tensor
[[ $RC -eq 0 ]] || { fail "--sync-bn on 2 processes vs 1 process after 6 steps: not within 1e-5"; show_output; }
grep '^worst' "$OUT" | sed 's/^/  sync-bn vs one process: /'
wick compare "$TMP/sync.safetensors" "$TMP/sync2.safetensors" --rtol 0 --atol 0
[[ $RC -eq 0 ]] || { fail "two runs on 2 processes are not bit-identical"; show_output; }
# Without SyncBatchNorm each half is normalized by its own statistics: a different computation.
wick compare "$TMP/local.safetensors" "$TMP/one.safetensors" --rtol 1e-3 --atol 0 --per-tensor
[[ $RC -eq 1 ]] || fail "without --sync-bn, 2 processes matched 1 process within 1e-3 (expected them to differ)"
grep '^worst' "$OUT" | sed 's/^/  no sync-bn vs one process: /'

# A checkpointed run on 2 processes, resumed from its next-to-last checkpoint, ends with the bits
# of the uninterrupted run; one process cannot resume it.
mpi_ok "2 processes, checkpointed" 2 "${RUN[@]}" --sync-bn --checkpoint-dir "$TMP/ck" --checkpoint-every 2 \
  --save "$TMP/ck.safetensors"
wick compare "$TMP/ck.safetensors" "$TMP/sync.safetensors" --rtol 0 --atol 0
[[ $RC -eq 0 ]] || { fail "a checkpointed run on 2 processes differs from the same run without checkpoints"; show_output; }
expect_eq "checkpoints kept" "step-4 step-6" "$(ls "$TMP/ck" | sort -t- -k2 -n | xargs)"
rm -rf "$TMP/ck/step-6"
mpi_ok "2 processes, resumed after step 4" 2 train --resume "$TMP/ck" --save "$TMP/resumed.safetensors"
wick compare "$TMP/resumed.safetensors" "$TMP/sync.safetensors" --rtol 0 --atol 0
[[ $RC -eq 0 ]] || { fail "the run resumed on 2 processes differs from the uninterrupted run"; show_output; }
wick train --resume "$TMP/ck"
[[ $RC -eq 1 ]] && grep -q "processes = 2, this run has 1" "$ERR" ||
  { fail "one process resuming a 2-process run: expected exit 1 naming the process count"; show_output; }

# expect_job_error WHAT STATUS PATTERN: the last mpirun ended with STATUS and stderr matches PATTERN.
expect_job_error() {
  [[ $RC -eq $2 ]] || { fail "$1: expected exit status $2, got $RC"; show_output; }
  grep -q -- "$3" "$ERR" || { fail "$1: stderr lacks \"$3\""; show_output; }
}

mpi 2 "${RUN[@]:0:${#RUN[@]}-1}" 63
expect_job_error "a batch that does not divide" 1 "wick: error (process [01] of 2): --batch-size 63 does not divide among 2 processes"
mpi 2 eval --data synthetic --weights "$TEST_DATA/small_cnn_pt.safetensors"
expect_job_error "eval on 2 processes" 2 "wick: only train and finetune run on several processes"

# Rank 1 reads a dataset folder with a broken image; rank 0 is fine and waits for it.
for d in train/a train/b test/a test/b; do
  mkdir -p "$TMP/bad/$d"
  cp "$TEST_DATA/images/ankle_boot.png" "$TMP/bad/$d/"
done
printf 'not a png' >"$TMP/bad/train/b/broken.png"
start=$SECONDS
RC=0
mpirun --oversubscribe -np 1 "$WICK" "${RUN[@]}" : -np 1 "$WICK" "${RUN[@]/synthetic/folder:$TMP/bad}" \
  >"$OUT" 2>"$ERR" </dev/null || RC=$?
expect_job_error "bad data on rank 1" 1 "wick: error (process 1 of 2): .*broken"
((SECONDS - start < 60)) || fail "bad data on rank 1: the job took $((SECONDS - start)) s to end"

((FAILURES == 0)) || exit 1
echo "distributed: all cases passed"
