#!/usr/bin/env bash
# Golden tests: compiles each NAME.onnx in this folder and compares what onnxc says with
# the expectation beside it (see README.md):
#   NAME.ir   the --dump-ir text (stdout) of a model that compiles
#   NAME.err  stderr of a model that must be refused, then a line "[exit N]"
# Prints PASS/FAIL per case (a unified diff under each FAIL) and "N passed, N failed".
#   run_golden.sh [--onnxc PATH] [--update] [NAME...]
# --update rewrites the expectations from what onnxc prints now (a new NAME.onnx with no
# expectation gets .ir if it compiles, .err if not); review the diff before committing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
onnxc="$here/../../build/onnxc" update=0 only=()
while [ $# -gt 0 ]; do
  case $1 in
    --onnxc) onnxc=$2; shift ;;
    --onnxc=*) onnxc=${1#*=} ;;
    --update) update=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "run_golden.sh: unknown option '$1'" >&2; exit 2 ;;
    *) only+=("${1%.onnx}") ;;
  esac
  shift
done
[ -x "$onnxc" ] || { echo "run_golden.sh: no compiler at '$onnxc' (build first, or --onnxc)" >&2; exit 2; }
onnxc=$(cd "$(dirname "$onnxc")" && pwd)/$(basename "$onnxc")
# A fixed target: the dump must not depend on the machine running the suite.
flags=(--dump-ir --emit=llvm --triple x86_64-unknown-linux-gnu --cpu x86-64-v3)
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
cd "$here" || exit 2   # models are named by a relative path, so messages carry no folder
export LC_ALL=C
pass=0 fail=0
for model in *.onnx; do
  name=${model%.onnx}
  if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
  timeout 120 "$onnxc" "$model" "${flags[@]}" -o "$tmp/$name.ll" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ -f "$name.ir" ]; then kind=ir
  elif [ -f "$name.err" ]; then kind=err
  elif [ $update = 1 ]; then kind=$([ $rc = 0 ] && echo ir || echo err)
  else kind=none; fi
  # The actual text: the dump for .ir (with stderr and the exit status when it failed, so
  # the diff shows why), stderr and the exit status for .err. Temporary paths become <tmp>.
  if [ $kind = ir ]; then
    cat "$tmp/out" >"$tmp/actual"
    [ $rc != 0 ] && { cat "$tmp/err"; echo "[exit $rc]"; } >>"$tmp/actual"
  else
    { cat "$tmp/err"; echo "[exit $rc]"; } >"$tmp/actual"
  fi
  text=$(<"$tmp/actual")
  printf '%s\n' "${text//"$tmp"/<tmp>}" >"$tmp/actual"
  if [ $kind = none ]; then
    echo "FAIL $name (no $name.ir or $name.err; run with --update to create one)"
    fail=$((fail + 1))
  elif [ $update = 1 ]; then
    cmp -s "$tmp/actual" "$name.$kind" || echo "updated $name.$kind"
    cp "$tmp/actual" "$name.$kind"
    pass=$((pass + 1))
  elif diff -u --label "$name.$kind (expected)" --label "$name.$kind (actual)" \
      "$name.$kind" "$tmp/actual" >"$tmp/diff"; then
    echo "PASS $name"
    pass=$((pass + 1))
  else
    echo "FAIL $name"
    cat "$tmp/diff"
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
