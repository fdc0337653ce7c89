#!/usr/bin/env bash
# Regenerates the experiment outputs in docs/batchnorm.md: every block between
#   <!-- bn-lab NAME [FLAGS] -->   and   <!-- /bn-lab -->
# is replaced by what `wick bn-lab NAME [FLAGS] --threads 2` prints, so the guide's numbers are
# never typed by hand. Usage: tools/update_bn_doc.sh [path of the wick binary, default build/wick]
set -euo pipefail
cd "$(dirname "$0")/.."
WICK=${1:-build/wick}
DOC=docs/batchnorm.md
[[ -x $WICK ]] || { echo "update_bn_doc: $WICK is not an executable (run make build first)" >&2; exit 1; }

out=$(mktemp "$DOC.XXXXXX")
trap 'rm -f -- "$out"' EXIT
inside=0
while IFS= read -r line || [[ -n $line ]]; do
  if [[ $line =~ ^\<!--\ bn-lab\ ([a-z-]+)(.*)\ --\>$ ]]; then
    name=${BASH_REMATCH[1]}
    read -r -a flags <<<"${BASH_REMATCH[2]}"
    echo "update_bn_doc: running wick bn-lab $name ${flags[*]}" >&2
    printf '%s\n```text\n$ wick bn-lab %s%s\n' "$line" "$name" "${BASH_REMATCH[2]}" >>"$out"
    "$WICK" bn-lab "$name" "${flags[@]}" --threads 2 >>"$out" ||
      { echo "update_bn_doc: wick bn-lab $name failed" >&2; exit 1; }
    printf '```\n' >>"$out"
    inside=1
  elif [[ $line == '<!-- /bn-lab -->' ]]; then
    printf '%s\n' "$line" >>"$out"
    inside=0
  elif [[ $inside == 0 ]]; then
    printf '%s\n' "$line" >>"$out"
  fi
done <"$DOC"
[[ $inside == 0 ]] || { echo "update_bn_doc: a <!-- bn-lab --> block in $DOC is not closed" >&2; exit 1; }
mv -- "$out" "$DOC"
trap - EXIT
