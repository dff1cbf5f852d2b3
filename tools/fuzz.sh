#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang + ASan + UBSan) and runs each in turn.
#   tools/fuzz.sh DURATION [TARGET...]
#     DURATION  per target: seconds (60), or with a unit: 30m, 2h
#     TARGET    fuzz_model fuzz_compile fuzz_external fuzz_tensor_pb fuzz_tensor_npy (default: all)
# First every input under tests/fuzz/regressions/TARGET/ runs once (each is a fixed
# finding), then the fuzzer runs from the seeds (tests/fuzz/corpus/) plus the corpus it
# grew in earlier runs (build-fuzz/corpus/TARGET/, kept). A finding is written to
# build-fuzz/findings/TARGET/ and fails the run: fix it, then copy the input into
# tests/fuzz/regressions/TARGET/ so it stays fixed.
# Exit 77 with "SKIP: reason" when no clang with libFuzzer is installed
# (tools/install-deps.sh installs clang-19). Environment: ONNXC_BUILD_FUZZ (build-fuzz),
# ONNXC_JOBS (2), CC (clang-19, else clang).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dur=${1:-}
if [ -z "$dur" ]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
shift
case "$dur" in
  *h) secs=$(( ${dur%h} * 3600 )) ;;
  *m) secs=$(( ${dur%m} * 60 )) ;;
  *s) secs=${dur%s} ;;
  *) secs=$dur ;;
esac
all="fuzz_model fuzz_compile fuzz_external fuzz_tensor_pb fuzz_tensor_npy"
targets=${*:-$all}
bdir=${ONNXC_BUILD_FUZZ:-build-fuzz}
jobs=${ONNXC_JOBS:-2}

cc=${CC:-}
if [ -z "$cc" ]; then
  for c in clang-19 clang; do command -v "$c" >/dev/null 2>&1 && { cc=$c; break; }; done
fi
if [ -z "$cc" ]; then
  echo "SKIP: no clang found (tools/install-deps.sh installs clang-19)"
  exit 77
fi
probe=$(mktemp -d)
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' > "$probe/p.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1; then
  echo "SKIP: $cc cannot build a libFuzzer program ($(head -1 "$probe/log")); install libclang-rt-19-dev"
  rm -rf "$probe"
  exit 77
fi
rm -rf "$probe"

echo "fuzz: building $targets with $cc in $bdir"
mkdir -p "$bdir"
if ! CC=$cc cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONNXC_FUZZ=ON \
     -DONNXC_TESTS=OFF -DONNXC_WERROR=ON >"$bdir/fuzz-configure.log" 2>&1; then
  cat "$bdir/fuzz-configure.log"
  echo "0 passed, 1 failed"
  exit 1
fi
# shellcheck disable=SC2086
if ! cmake --build "$bdir" -j"$jobs" --target $targets >"$bdir/fuzz-build.log" 2>&1; then
  tail -30 "$bdir/fuzz-build.log"
  echo "0 passed, 1 failed"
  exit 1
fi

seeds_of() {
  case "$1" in
    fuzz_model|fuzz_compile) echo model ;;
    fuzz_external) echo external ;;
    *) echo "${1#fuzz_}" ;;
  esac
}
dict_of() {
  case "$1" in
    fuzz_tensor_npy) echo tests/fuzz/npy.dict ;;
    fuzz_tensor_pb) echo "" ;;
    *) echo tests/fuzz/onnx.dict ;;
  esac
}

# Its own options, not the caller's (tools/test.sh exports ones meant for the unit tests).
export ASAN_OPTIONS=${ONNXC_FUZZ_ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
pass=0 fail=0
summary=()
for t in $targets; do
  exe="$bdir/$t"
  corpus="$bdir/corpus/$t"
  found="$bdir/findings/$t"
  mkdir -p "$corpus" "$found"
  log="$bdir/fuzz-$t.log"
  reg="tests/fuzz/regressions/$t"
  if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
    if ! "$exe" -runs=1 "$reg"/* >"$log.regressions" 2>&1; then
      tail -40 "$log.regressions"
      summary+=("$t: FAILED: a regression input fails again ($log.regressions)")
      fail=$((fail + 1))
      continue
    fi
  fi
  dict=$(dict_of "$t")
  args=(-max_total_time="$secs" -timeout=30 -rss_limit_mb=3072 -malloc_limit_mb=2048
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$found/")
  [ -n "$dict" ] && args+=(-dict="$dict")
  echo "fuzz: $t for ${secs} s"
  t0=$(date +%s)
  "$exe" "${args[@]}" "$corpus" "tests/fuzz/corpus/$(seeds_of "$t")" >"$log" 2>&1
  rc=$?
  el=$(( $(date +%s) - t0 ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -oE '(DONE|#[0-9]+) +[A-Z]* +cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 |
        sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)/cov \1 ft \2 corpus \3/')
  line="$t: ${execs:-?} execs in ${el} s, ${cov:-no stats}"
  if [ $rc = 0 ]; then
    pass=$((pass + 1))
    summary+=("$line: ok")
  else
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | head -5
    fail=$((fail + 1))
    summary+=("$line: FINDING (see $log, input in $found/)")
  fi
done
echo
echo "=== fuzz summary ($secs s per target) ==="
for s in "${summary[@]}"; do echo "  $s"; done
echo "fuzz: $pass passed, $fail failed"
[ $fail = 0 ]
