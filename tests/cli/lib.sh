# Shared by the CLI test scripts (sourced, not run): argument checks, a temporary directory removed
# on exit, running wick with its stdout/stderr captured, and assertions that say what was expected.
# The scripts are run by ctest as: bash tests/cli/<name>.sh <path of the wick binary> <tests/data dir>
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 WICK_BINARY TEST_DATA_DIR" >&2
  exit 2
fi
WICK=$1
TEST_DATA=$2
if [[ ! -x $WICK ]]; then
  echo "FAIL: $WICK is not an executable (build the wick_cli target first)" >&2
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wick-cli-test.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

FAILURES=0
OUT=$TMP/stdout
ERR=$TMP/stderr
RC=0

# die MESSAGE: stop the script here (later steps depend on this one).
die() {
  echo "FAIL: $*" >&2
  exit 1
}

# fail MESSAGE: record a failure and go on with the next case.
fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

# show_output: what the last run printed, for the log of a failing case.
show_output() {
  echo "  --- stdout (last 10 lines):" >&2
  tail -n 10 "$OUT" | sed 's/^/  | /' >&2 || true
  echo "  --- stderr:" >&2
  sed 's/^/  | /' "$ERR" >&2 || true
}

# wick ARGS...: runs the binary; sets RC and leaves its output in $OUT and $ERR. Never aborts.
wick() {
  RC=0
  "$WICK" "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
}

# need_ok DESCRIPTION COMMAND: stops the script unless the last run (COMMAND, for the log) exited 0.
need_ok() {
  if [[ $RC -ne 0 ]]; then
    echo "FAIL: $1: expected exit status 0, got $RC from: $2" >&2
    show_output
    exit 1
  fi
}

# wick_ok DESCRIPTION ARGS...: runs and stops the script unless the exit status is 0.
wick_ok() {
  local what=$1
  shift
  wick "$@"
  need_ok "$what" "wick $*"
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  [[ $2 == "$3" ]] || fail "$1: expected \"$2\", got \"$3\""
}

# json_field NAME: the number NAME in the last JSON line of $OUT (exits non-zero when absent).
json_field() {
  local line
  line=$(grep '^{' "$OUT" | tail -n 1) || return 1
  [[ $line =~ \"$1\":(-?[0-9][0-9.eE+-]*) ]] || return 1
  echo "${BASH_REMATCH[1]}"
}

# json_values NAME: like json_field, but a list of numbers comes out comma-separated.
json_values() {
  local line
  line=$(grep '^{' "$OUT" | tail -n 1) || return 1
  [[ $line =~ \"$1\":(\[[^]]*\]|-?[0-9][0-9.eE+-]*) ]] || return 1
  local v=${BASH_REMATCH[1]}
  v=${v#[}
  echo "${v%]}"
}

# require_fashion_mnist: exits 77 (ctest: skipped) when Debian's Fashion-MNIST files are missing.
FASHION=/usr/share/datasets/fashion-mnist
require_fashion_mnist() {
  local f
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    if [[ ! -f $FASHION/$f ]]; then
      echo "SKIP: Fashion-MNIST is not installed in $FASHION (apt-get install dataset-fashion-mnist)"
      exit 77
    fi
  done
}

# compare_with_pytorch REF PREFIX WHAT: every line "key value atol rtol" of the file REF whose key
# starts with PREFIX against the last JSON line of $OUT, element by element for lists (value
# comma-separated): |wick - torch| <= atol + rtol * |torch|.
compare_with_pytorch() {
  local ref_file=$1 prefix=$2 what=$3 key ref atol rtol got bad checked=0 failures=$FAILURES
  while read -r key ref atol rtol; do
    [[ $key == "$prefix"* ]] || continue
    checked=$((checked + 1))
    if ! got=$(json_values "$key"); then
      fail "$what: --json has no $key"
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
    [[ -z $bad ]] || fail "$what: $key: $bad (allowed: $atol + $rtol * |PyTorch|)"
  done < <(grep -v '^#' "$ref_file")
  [[ $checked -gt 0 ]] || fail "$what: no reference numbers start with $prefix"
  [[ $FAILURES -gt $failures ]] || echo "ok: $what: $checked numbers match PyTorch"
}

# has_curves SVG WHAT: the --plot file has at least one drawn curve.
has_curves() {
  grep -q '<polyline' "$1" || fail "$2 --plot: no curves in the SVG"
}

# expect_error STATUS DESCRIPTION REGEX... -- ARGS...: runs wick ARGS, then checks the exit status,
# that stderr is exactly one line (status 1: starting "wick: error:", 2: starting "wick: "), that it
# matches every extended REGEX (case-insensitive), and that no crash or stack trace shows.
expect_error() {
  local status=$1 what=$2
  shift 2
  local patterns=()
  while [[ $# -gt 0 && $1 != -- ]]; do
    patterns+=("$1")
    shift
  done
  [[ $# -gt 0 ]] || die "expect_error $what: missing -- before the wick arguments"
  shift
  wick "$@"
  local problems=()
  [[ $RC -eq $status ]] || problems+=("expected exit status $status, got $RC")
  local lines
  lines=$(wc -l <"$ERR")
  [[ -s $ERR && $lines -eq 1 && $(tail -c 1 "$ERR" | od -An -c | tr -d ' ') == '\n' ]] ||
    problems+=("expected exactly one newline-terminated line on stderr, got $lines line(s)")
  local first
  first=$(head -n 1 "$ERR")
  [[ ${#first} -le 500 ]] || problems+=("expected a short line on stderr, got ${#first} characters")
  if [[ $status -eq 1 ]]; then
    [[ $first == "wick: error: "* ]] || problems+=("expected stderr to start with \"wick: error: \"")
  else
    [[ $first == "wick: "* ]] || problems+=("expected stderr to start with \"wick: \"")
  fi
  local p
  for p in "${patterns[@]}"; do
    grep -qiE -- "$p" "$ERR" || problems+=("expected stderr to match /$p/")
  done
  if grep -qiE 'terminate called|Aborted|Segmentation|what\(\)|core dumped|stack trace' "$ERR"; then
    problems+=("stderr shows a crash")
  fi
  if [[ ${#problems[@]} -gt 0 ]]; then
    fail "$what (wick $*):"
    for p in "${problems[@]}"; do echo "  - $p" >&2; done
    show_output
  else
    echo "ok: $what -> $RC: $first"
  fi
}

# expect_line REGEX DESCRIPTION: some stdout line of the last run matches REGEX (extended).
expect_line() {
  grep -qE -- "$1" "$OUT" || { fail "$2: expected a stdout line matching /$1/"; show_output; }
}

# finish: the script's exit status.
finish() {
  if [[ $FAILURES -gt 0 ]]; then
    echo "$FAILURES case(s) failed" >&2
    exit 1
  fi
  echo "all passed"
}
