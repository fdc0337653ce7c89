#!/usr/bin/env bash
# wick bn-lab --report DIR: four experiments (three with charts, one a grid of ten panels) written
# as one page, checked in headless chromium by report_browser.js (no console errors, no requests,
# charts rendered, fits a phone, the numbers equal the same run's --json lines); and the flags' errors. Without chromium or
# tools/browser's npm packages the browser check reports "skipped" (77), unless
# WICK_REQUIRE_BROWSER is set (CI), which makes it a failure.
# Run: bash tests/cli/report.sh <wick binary> <tests/data dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

wick bn-lab modes --report "$TMP/r" --plot "$TMP/x.svg"
expect_eq "--report with --plot: exit status" 2 "$RC"
printf 'a file' >"$TMP/file"
wick bn-lab modes --report "$TMP/file"
expect_eq "--report into a file: exit status" 1 "$RC"
grep -q "^wick: error: --report $TMP/file: cannot create the folder" "$ERR" || { fail "--report into a file: message"; show_output; }
wick bn-lab modes batch-size
expect_eq "two experiments without --report: exit status" 2 "$RC"

NAMES=(modes running-stats inside sync-bn)
wick_ok "bn-lab ${NAMES[*]} --report" bn-lab "${NAMES[@]}" --report "$TMP/report" --json --threads 2
grep '^{' "$OUT" >"$TMP/numbers.jsonl"
[[ -s $TMP/report/index.html ]] || die "no $TMP/report/index.html"
expect_eq "verdicts on the page" ${#NAMES[@]} "$(grep -c "class='verdict'" "$TMP/report/index.html")"

modules=$ROOT/tools/browser/node_modules
if [[ ! -x /usr/bin/chromium || ! -d $modules/playwright-core ]] || ! command -v node >/dev/null; then
  [[ -z ${WICK_REQUIRE_BROWSER:-} ]] || die "WICK_REQUIRE_BROWSER is set but chromium, node or tools/browser's packages are missing"
  echo "report: skipped the browser check (needs /usr/bin/chromium, node and tools/install-deps.sh's tools/browser)"
  ((FAILURES == 0)) || exit 1
  exit 77
fi
NODE_PATH=$modules node "$ROOT/tests/cli/report_browser.js" "$TMP/report/index.html" "$TMP/numbers.jsonl" "${NAMES[@]}" ||
  fail "the report in chromium"

((FAILURES == 0)) || exit 1
echo "report: all cases passed"
