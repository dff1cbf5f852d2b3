#!/usr/bin/env bash
# How many non-test source files name each op constant (IR_OP_X, or its row OP(X, ...)):
# the measure of "an op is defined once" (issue: one op table drives every phase).
#   tools/op_spread.sh [REV]    REV: a git revision (default: the work tree)
# Prints the distribution (files -> ops) and the median.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-}
grep_src() { if [ -n "$rev" ]; then git grep -l -w -E "$1" "$rev" -- '*.c' '*.h' '*.def' ':!tests' | sed "s/^$rev://"; else git grep -l -w -E "$1" -- '*.c' '*.h' '*.def' ':!tests'; fi; }
if [ -n "$rev" ]; then def=$(git show "$rev:ir/ops.def"); else def=$(cat ir/ops.def); fi
ops=$(sed -n -E 's/^OP\(([A-Z0-9_]+),.*/\1/p' <<<"$def")
declare -A hist
counts=()
for e in $ops; do
  n=$( { grep_src "IR_OP_$e" || true; } | { grep -v "^ir/ops.def$" || true; } | wc -l)
  n=$((n + 1))   # its row
  counts+=("$n")
  hist[$n]=$(( ${hist[$n]:-0} + 1 ))
  [ "${VERBOSE:-0}" = 1 ] && echo "$e $n"
done
echo "files naming an op -> number of ops"
for k in $(printf '%s\n' "${!hist[@]}" | sort -n); do echo "  $k: ${hist[$k]}"; done
sorted=($(printf '%s\n' "${counts[@]}" | sort -n))
echo "ops: ${#sorted[@]}, median files per op: ${sorted[$(( ${#sorted[@]} / 2 ))]}, max: ${sorted[-1]}"
