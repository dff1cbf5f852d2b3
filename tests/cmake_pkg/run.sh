#!/usr/bin/env bash
# onnxc as a user's build sees it: install into a temporary prefix, then
#   - a CMake project (consumer/) finds it with find_package(onnxc CONFIG) and links two
#     models compiled by onnxc_add_model into one program, plus a shared-library and a
#     standalone-program model; outputs are checked against onnxruntime (models.py);
#   - a no-op rebuild runs nothing; touching a model, or rewriting its external-data file,
#     recompiles that model only (and the program then computes with the new weights);
#   - CPU and TARGET reach onnxc (an aarch64 object is built beside the host ones);
#   - the same with the Ninja generator, when ninja is installed;
#   - pkg-config --cflags --libs onnxc builds a program against a generated header;
#   - --emit=static gives one archive a program links with cc alone (EMIT static too);
#   - WEIGHTS file: a static library whose program maps mlp.weights, and a program that
#     maps demo.weights from beside itself; new weights in mlp.bin reach them too;
#   - a moved prefix's onnxc links with that prefix's runtime.
# Prints PASS/FAIL per case, the consumer build's time and "N passed, N failed".
#
#   tests/cmake_pkg/run.sh [--build DIR] [--keep]    (DIR: a built tree, default build)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bdir=$root/build
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) bdir=$(cd "$2" && pwd); shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--build DIR] [--keep]" >&2; exit 2 ;;
  esac
done
py=$root/.venv/bin/python

if ! command -v cmake >/dev/null; then
  echo "SKIP: cmake is not installed; the CMake package cannot be tested"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
if [ ! -x "$bdir/onnxc" ]; then
  echo "cmake_pkg: $bdir/onnxc not found; build first (cmake --build $bdir)" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/onnxc-cmake-pkg.XXXXXX")
if [ $keep = 1 ]; then echo "keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
prefix=$tmp/prefix models=$tmp/models
passed=0 failed=0

# case NAME CMD...: runs CMD (output to the case's log); PASS when it exits 0.
case_() {
  local name=$1; shift
  local log="$tmp/log.$((passed + failed))"
  if "$@" >"$log" 2>&1; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    sed 's/^/    /' "$log" | tail -20
    failed=$((failed + 1))
  fi
}

mtime() { stat -c %Y.%y "$1"; }

install_prefix() {
  cmake --install "$bdir" --prefix "$prefix" || return 1
  local f
  for f in bin/onnxc lib/libonnxc_rt.a include/onnxc/onnxc_rt.h include/onnxc/onnxc_abi.h \
           lib/cmake/onnxc/onnxcConfig.cmake lib/cmake/onnxc/onnxcConfigVersion.cmake \
           lib/pkgconfig/onnxc.pc; do
    [ -f "$prefix/$f" ] || { echo "missing $prefix/$f"; return 1; }
  done
}
case_ "cmake --install puts onnxc, the runtime, headers, CMake package and onnxc.pc under the prefix" install_prefix

make_models() {
  "$py" "$root/tools/make_demo_model.py" "$models/demo" && "$py" "$here/models.py" models "$models"
}
case_ "models: demo CNN and an MLP with external data (mlp.bin)" make_models

# configure_build DIR [cmake args]: configures and builds the consumer, timing both.
configure_build() {
  local dir=$1; shift
  local t0 t1 t2
  t0=$(date +%s.%N)
  cmake -S "$here/consumer" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" -DMODELS_DIR="$models" "$@" || return 1
  t1=$(date +%s.%N)
  cmake --build "$dir" -j2 || return 1
  t2=$(date +%s.%N)
  # awk, not bc: bc is not on a bare Debian.
  awk -v n="$(basename "$dir")" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
    'BEGIN { printf "consumer build (%s): configure %.1f s, build %.1f s\n", n, t1 - t0, t2 - t1 }' | tee -a "$tmp/timings"
}

# Outputs of all three programs against onnxruntime / the demo's reference output.
check_outputs() {
  local dir=$1
  "$dir/consumer" >"$tmp/out.txt" && "$py" "$here/models.py" check "$models" "$tmp/out.txt" all || return 1
  "$dir/consumer_so" >"$tmp/out_so.txt" && "$py" "$here/models.py" check "$models" "$tmp/out_so.txt" mlp || return 1
  "$dir/consumer_static" >"$tmp/out_static.txt" &&
    "$py" "$here/models.py" check "$models" "$tmp/out_static.txt" mlp || return 1
  "$dir/consumer_wfile" "$dir/onnxc/mlp_wfile/mlp.weights" >"$tmp/out_wfile.txt" &&
    "$py" "$here/models.py" check "$models" "$tmp/out_wfile.txt" mlp || return 1
  if "$dir/consumer_wfile" "$dir/onnxc/mlp_wfile/libmlp.a" >/dev/null 2>&1; then
    echo "consumer_wfile ran with a file that is not mlp.weights"; return 1
  fi
  rm -rf "$tmp/exe_out" "$tmp/exe_out_w"
  "$dir/onnxc/demo_exe_wfile/demo" "$models/demo/input_0.pb" -o "$tmp/exe_out_w" &&
    "$py" "$here/models.py" check-pb "$models/demo/output_0.pb" "$tmp/exe_out_w/output_0.pb" || return 1
  "$dir/onnxc/demo_exe/demo_exe" "$models/demo/input_0.pb" -o "$tmp/exe_out" &&
    "$py" "$here/models.py" check-pb "$models/demo/output_0.pb" "$tmp/exe_out/output_0.pb"
}

# noop DIR: a second build compiles, links and writes nothing.
noop() {
  local dir=$1 before after out
  before=$(mtime "$dir/onnxc/demo/demo.o")$(mtime "$dir/onnxc/mlp/mlp.o")$(mtime "$dir/consumer")
  out=$(cmake --build "$dir" -j2 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  after=$(mtime "$dir/onnxc/demo/demo.o")$(mtime "$dir/onnxc/mlp/mlp.o")$(mtime "$dir/consumer")
  [ "$before" = "$after" ] || { echo "an output changed"; return 1; }
  if grep -qE 'onnxc: compiling|Linking|Building' <<<"$out"; then echo "something ran"; return 1; fi
  if [ -f "$dir/build.ninja" ]; then
    out=$(cmake --build "$dir" -- -n 2>&1)
    grep -q 'no work to do' <<<"$out" || { echo "ninja -n: $out"; return 1; }
  fi
}

# rebuilds DIR CHANGED UNCHANGED CMD...: after CMD, the build recompiles model CHANGED
# (its .o is newer and the program relinked) and leaves model UNCHANGED alone.
rebuilds() {
  local dir=$1 yes=$2 no=$3; shift 3
  local y0 n0 p0 out
  y0=$(mtime "$dir/onnxc/$yes/$yes.o") n0=$(mtime "$dir/onnxc/$no/$no.o") p0=$(mtime "$dir/consumer")
  sleep 0.05   # a distinct mtime even on a coarse clock
  "$@" || return 1
  out=$(cmake --build "$dir" -j2 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  [ "$(mtime "$dir/onnxc/$yes/$yes.o")" != "$y0" ] || { echo "$yes.o was not rebuilt"; return 1; }
  [ "$(mtime "$dir/onnxc/$no/$no.o")" = "$n0" ] || { echo "$no.o was rebuilt too"; return 1; }
  [ "$(mtime "$dir/consumer")" != "$p0" ] || { echo "consumer was not relinked"; return 1; }
}

generators=("Unix Makefiles")
if command -v ninja >/dev/null; then
  generators+=("Ninja")
else
  echo "SKIP the Ninja generator: ninja is not installed (the Unix Makefiles pass still runs)"
fi
for gen in "${generators[@]}"; do
  dir=$tmp/consumer-$(tr ' ' '-' <<<"$gen" | tr A-Z a-z)
  g="[$gen]"
  if [ "$gen" = Ninja ]; then
    # The Make pass rewrote mlp.bin: start this pass from the original weights.
    case_ "$g models rewritten" make_models
  fi
  case_ "$g find_package(onnxc) + two onnxc_add_model in one program: configure and build" \
    configure_build "$dir" -G "$gen"
  case_ "$g consumer, consumer_so, consumer_static, consumer_wfile (WEIGHTS file) and demo_exe(_wfile) outputs match onnxruntime" check_outputs "$dir"
  case_ "$g no-op rebuild runs nothing" noop "$dir"
  case_ "$g TARGET aarch64-linux-gnu gives an AArch64 object" \
    bash -c "readelf -h '$dir/onnxc/mlp_arm64/mlp.o' | grep -E 'Machine:.*AArch64'"
  case_ "$g touching demo/model.onnx rebuilds demo only" rebuilds "$dir" demo mlp touch "$models/demo/model.onnx"
  case_ "$g touching the external data mlp.bin rebuilds mlp only" rebuilds "$dir" mlp demo touch "$models/mlp/mlp.bin"
  case_ "$g new weights in mlp.bin (mlp.onnx untouched) rebuild mlp" \
    rebuilds "$dir" mlp demo "$py" "$here/models.py" reweigh "$models"
  case_ "$g the rebuilt programs compute with the new weights" check_outputs "$dir"
  case_ "$g no-op rebuild after the changes runs nothing" noop "$dir"
done

pkgconfig() {
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
  local flags onnxc d=$tmp/pc
  flags=$(pkg-config --cflags --libs onnxc) || return 1
  onnxc=$(pkg-config --variable=onnxc onnxc) || return 1
  echo "pkg-config --cflags --libs onnxc: $flags"
  mkdir -p "$d"
  "$onnxc" "$models/mlp/mlp.onnx" --name mlp -o "$d/mlp.o" || return 1
  # shellcheck disable=SC2086  # the flags are words
  cc -std=c11 -Wall -Werror -DONNXC_ONLY_MLP -I"$d" "$here/consumer/main.c" "$d/mlp.o" $flags \
    -o "$d/prog" || return 1
  "$d/prog" >"$d/out.txt" && "$py" "$here/models.py" check "$models" "$d/out.txt" mlp
}
if command -v pkg-config >/dev/null; then
  case_ "pkg-config --cflags --libs onnxc builds and links a program against a generated header" pkgconfig
else
  echo "SKIP pkg-config is not installed"
fi

# --emit=static: one archive with the runtime inside (not its main), so a program that
# includes only the generated header links with cc alone and gets a thread pool.
static_lib() {
  local d=$tmp/static
  mkdir -p "$d"
  "$prefix/bin/onnxc" "$models/mlp/mlp.onnx" --emit=static --name mlp -o "$d/libmlp.a" || return 1
  [ -f "$d/mlp.h" ] || { echo "no mlp.h beside libmlp.a"; return 1; }
  ar t "$d/libmlp.a" | tee "$d/members"
  grep -qx mlp.o "$d/members" && grep -qx pool.c.o "$d/members" || { echo "model or runtime missing"; return 1; }
  if grep -qx main.c.o "$d/members"; then echo "the runtime's main is in the library"; return 1; fi
  cc -std=c11 -Wall -Werror -DONNXC_ONLY_MLP -DONNXC_HEADER_ONLY -I"$d" "$here/consumer/main.c" \
    "$d/libmlp.a" -lm -lpthread -o "$d/prog" || return 1
  nm "$d/prog" | grep -q ' T onnxc_ctx_create$' || { echo "onnxc_ctx_create not linked"; return 1; }
  "$d/prog" >"$d/out.txt" && "$py" "$here/models.py" check "$models" "$d/out.txt" mlp
}
case_ "--emit=static: cc main.c libmlp.a -lm -lpthread links (runtime and thread pool inside) and matches onnxruntime" static_lib

# The installed onnxc finds the runtime relative to itself: a moved prefix works, and it
# really uses that prefix's library (an empty one there makes the link fail).
moved() {
  local m=$tmp/moved
  cp -a "$prefix" "$m" || return 1
  "$m/bin/onnxc" "$models/demo/model.onnx" --emit=exe -o "$tmp/moved_demo" || return 1
  "$tmp/moved_demo" "$models/demo/input_0.pb" -o "$tmp/moved_out" >/dev/null &&
    "$py" "$here/models.py" check-pb "$models/demo/output_0.pb" "$tmp/moved_out/output_0.pb" || return 1
  rm "$m/lib/libonnxc_rt.a" && ar rc "$m/lib/libonnxc_rt.a" || return 1
  if "$m/bin/onnxc" "$models/demo/model.onnx" --emit=exe -o "$tmp/moved_demo2" 2>"$tmp/moved.err"; then
    echo "linked although $m/lib/libonnxc_rt.a is empty: not the prefix's runtime"
    return 1
  fi
  echo "with an empty runtime: $(cat "$tmp/moved.err")"
}
case_ "a moved prefix's onnxc links --emit=exe with that prefix's runtime" moved

[ -f "$tmp/timings" ] && cat "$tmp/timings"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
