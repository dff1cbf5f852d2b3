#!/bin/bash
# Compiles tests/cuda/cuda_lib_nvcc.cu (every library kernel, identity and bias+ReLU
# epilogues) with nvcc for sm_90 and sm_80, -Werror all-warnings, ptxas -v with spill and
# local-memory warnings; fails on any spill, prints each kernel's registers and shared memory.
# Exit 77 (ctest SKIP) when nvcc is absent.
set -u
src_dir=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
nvcc=${NVCC:-}
[ -z "$nvcc" ] && nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
    echo "SKIP: nvcc not found (set NVCC or put it on PATH)"
    exit 77
fi
filt=$(dirname "$nvcc")/cu++filt
[ -x "$filt" ] || filt=c++filt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for arch in ${ONNXC_NVCC_ARCHS:-sm_90 sm_80}; do
    log=$tmp/$arch.log
    if ! "$nvcc" -std=c++17 -arch="$arch" -I"$src_dir" -Werror all-warnings \
        -Xptxas -v,-warn-spills,-warn-lmem-usage -c "$src_dir/tests/cuda/cuda_lib_nvcc.cu" \
        -o "$tmp/$arch.o" >"$log" 2>&1; then
        cat "$log"
        echo "FAIL: nvcc -arch=$arch"
        status=1
        continue
    fi
    echo "== $arch: registers, shared memory, spills per kernel =="
    awk -v filt="$filt" '
        /Compiling entry function/ { name = $0; sub(/.*function .\047?/, "", name); sub(/\047.*/, "", name) }
        /spill stores/ { st = $5; ld = $9 }
        /Used [0-9]+ registers/ {
            regs = $0; sub(/.*Used /, "", regs); sub(/ registers.*/, "", regs)
            smem = 0; if ($0 ~ /bytes smem/) { smem = $0; sub(/ bytes smem.*/, "", smem); sub(/.*, /, "", smem) }
            cmd = filt " " name; cmd | getline dem; close(cmd)
            sub(/\(.*/, "", dem)
            printf "  %4s regs %6s B smem  spill st/ld %s/%s  %s\n", regs, smem, st, ld, dem
            if (st + 0 > 0 || ld + 0 > 0) bad = 1
        }
        END { exit bad }' "$log" || { echo "FAIL: spills on $arch"; status=1; }
    if grep -qi "warning" "$log"; then
        grep -i warning "$log"
        status=1
    fi
done
[ $status = 0 ] && echo "nvcc check passed"
exit $status
