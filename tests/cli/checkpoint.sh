#!/usr/bin/env bash
# wick train --checkpoint-dir / --resume: a run killed with SIGKILL at several points (mid-save
# included) and resumed until it finishes saves the same bytes as the uninterrupted run; SIGINT
# and SIGTERM stop it with a checkpoint (exit 130, 143) and it resumes to the same bytes; resume
# refuses flags that would change the run, in one line.
# Run: bash tests/cli/checkpoint.sh <wick binary> <tests/data dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Augmentation, shuffling, a schedule, momentum and BatchNorm all carry state across steps.
RUN=(--data synthetic --train-limit 1536 --test-limit 200 --batch-size 32 --epochs 3 --seed 4
  --augment crop,flip --scheduler cosine --threads 2 --quiet)
wick_ok "uninterrupted run" train "${RUN[@]}" --save "$TMP/ref.safetensors"

# latest DIR: the newest checkpoint folder's name ("" when none).
latest() { ls "$1" 2>/dev/null | grep -E '^step-[0-9]+$' | sort -t- -k2 -n | tail -n 1 || true; }

# start DIR OUT [FLAGS...]: starts the run in the background (fresh, or resumed when DIR has a
# checkpoint); PID is its process.
start() {
  local dir=$1 out=$2
  shift 2
  if [[ -n $(latest "$dir") ]]; then
    "$WICK" train --resume "$dir" --save "$out" "$@" >"$OUT" 2>"$ERR" </dev/null &
  else
    "$WICK" train "${RUN[@]}" --checkpoint-dir "$dir" --save "$out" "$@" >"$OUT" 2>"$ERR" </dev/null &
  fi
  PID=$!
}

# wait_until COMMAND...: polls COMMAND until it succeeds (true) or the run PID ends (false).
wait_until() {
  local tries
  for ((tries = 0; tries < 600000; tries++)); do
    "$@" && return 0
    kill -0 "$PID" 2>/dev/null || return 1
  done
  return 1
}
# writing DIR: the run PID's checkpoint temporary folder exists in DIR.
writing() { compgen -G "$1/step-*.tmp.$PID" >/dev/null; }
# has_checkpoint DIR: DIR holds a finished checkpoint.
has_checkpoint() { [[ -n $(latest "$1") ]]; }

# ---- SIGKILL: mid-save (while this run's checkpoint temporary folder exists) and at random points
# after a first checkpoint. Temporary folders are named step-N.tmp.<pid>, so a stale one left by an
# earlier kill is not mistaken for this run's.
D=$TMP/killed
kills=0
midsave=0
for attempt in 1 2 3 4 5 6; do
  start "$D" "$TMP/killed.safetensors" --checkpoint-every 1
  if ((attempt <= 3)); then
    wait_until writing "$D" || true  # kill while a checkpoint is being written
  else
    wait_until has_checkpoint "$D" || true
    sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
  fi
  kill -9 "$PID" 2>/dev/null || true
  rc=0
  wait "$PID" 2>/dev/null || rc=$?  # (bash's "Killed" note goes to /dev/null)
  [[ $rc -eq 137 ]] && kills=$((kills + 1)) && writing "$D" && midsave=$((midsave + 1))
  [[ $rc -eq 0 ]] && break
done
((midsave >= 1)) || fail "SIGKILL mid-save: no kill landed while a checkpoint was being written (in 3 tries)"
((kills >= 3)) || fail "SIGKILL: only $kills of the runs were still going when killed"
echo "ok: $kills SIGKILLs, $midsave of them mid-save (a temporary folder was left)"
if [[ ! -s $TMP/killed.safetensors ]]; then
  [[ -n $(latest "$D") ]] || die "SIGKILL: no checkpoint was completed in 6 runs: $(ls "$D")"
  wick_ok "resume after the SIGKILLs" train --resume "$D" --save "$TMP/killed.safetensors"
  expect_line '^test accuracy' "resumed run after SIGKILLs"
fi
cmp -s "$TMP/ref.safetensors" "$TMP/killed.safetensors" ||
  fail "SIGKILL: the resumed run's weights differ from the uninterrupted run's"
[[ -z $(compgen -G "$D/*.tmp.*") ]] || fail "SIGKILL: temporaries left in $D after the run finished: $(ls "$D")"
expect_eq "SIGKILL: checkpoints kept" 2 "$(ls "$D" | grep -cE '^step-[0-9]+$')"

# ---- SIGINT and SIGTERM: finish the step, checkpoint, exit 128 + signal, resume to the same bytes
for sig in INT TERM; do
  D=$TMP/signal_$sig
  start "$D" "$TMP/$sig.safetensors" --checkpoint-every 5
  wait_until has_checkpoint "$D" || die "SIG$sig: the run ended before its first checkpoint"
  kill -"$sig" "$PID"
  rc=0
  wait "$PID" || rc=$?
  want=$((128 + $(kill -l "$sig")))
  expect_eq "SIG$sig exit status" "$want" "$rc"
  grep -qE "^wick: stopped by SIG$sig after step [0-9]+; checkpoint .*step-[0-9]+; continue with: wick train --resume $D\$" "$ERR" ||
    { fail "SIG$sig: no 'stopped by' line naming the checkpoint"; show_output; }
  step=$(grep -oE 'after step [0-9]+' "$ERR" | grep -oE '[0-9]+')
  expect_eq "SIG$sig: the newest checkpoint is the step it stopped after" "step-$step" "$(latest "$D")"
  [[ -e $TMP/$sig.safetensors ]] && fail "SIG$sig: --save was written by an interrupted run"
  wick_ok "resume after SIG$sig (with another --threads)" train --resume "$D" --threads 1 --save "$TMP/$sig.safetensors"
  cmp -s "$TMP/ref.safetensors" "$TMP/$sig.safetensors" ||
    fail "SIG$sig: the resumed run's weights differ from the uninterrupted run's"
done
echo "ok: SIGINT and SIGTERM checkpoint, exit 130/143, and resume to the same bytes"

# ---- resuming a finished run reports it again; flags that would change the run are refused
D=$TMP/signal_INT
wick_ok "resume a finished run" train --resume "$D" --json
expect_line '^test accuracy' "resume of a finished run"
expect_error 2 "--resume with another --lr" 'started without --lr' 'leave --lr 0.1 out' -- train --resume "$D" --lr 0.1
expect_error 2 "--resume with another --epochs" 'started with --epochs 3, not 4' -- train --resume "$D" --epochs 4
expect_error 2 "--resume of an empty folder" '--resume' 'no checkpoint there' -- train --resume "$TMP/nothing"
expect_error 2 "--resume and another --checkpoint-dir" 'different folders' -- \
  train --resume "$D" --checkpoint-dir "$TMP/other"
expect_error 2 "--checkpoint-every without --checkpoint-dir" '--checkpoint-every needs --checkpoint-dir' -- \
  train "${RUN[@]}" --checkpoint-every 3
expect_error 2 "finetune has no --resume" "--resume" -- finetune --weights "$TMP/ref.safetensors" --resume "$D"
newest=$D/$(latest "$D")
echo '{"format": "wick.checkpoint", "version": 1, "options": {}, "settings": "{}", "state": {}}' >"$newest/run.json"
expect_error 1 "--resume of a damaged run.json" 'run.json' '"epoch" is missing' -- train --resume "$D"

finish
