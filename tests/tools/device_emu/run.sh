#!/usr/bin/env bash
# Runs the CUDA backend's tests on the CPU, without a GPU: a development aid for reviewing
# kernel indexing, barriers and the graph logic before the (scarce) GPU time.
#
# How: the .cu files are rewritten (kernel<<<grid, block, smem, stream>>>(args) becomes
# emu::launch(kernel, grid, block, smem, stream)(args)) and compiled by g++ against fake CUDA
# headers (include/): a runtime where device memory is host memory, launches run at once (or
# are recorded while a stream is being captured, and replayed by cudaGraphLaunch), cuBLAS
# GemmEx is a plain loop, and every block's threads run as coroutines that switch at
# __syncthreads / __syncwarp / shuffles (a barrier some threads of a block or warp never reach
# aborts with "deadlock"). Launch limits (1024 threads, grid.y <= 65535, dynamic shared memory
# <= 48 KiB unless raised by cudaFuncSetAttribute) and capture rules (no malloc/sync while
# capturing) are checked. Not emulated: races between threads (they run one at a time, in
# order), GPU math library rounding (host expf/sincosf), alignment of vector loads, speed.
#
# Usage: tests/tools/device_emu/run.sh [BUILD_DIR] [Catch2 test spec...]
#   BUILD_DIR: a build with the CUDA backend (nvcc found) whose engine/libsb_engine.a is up to
#   date (default build); the emulated backend is built as the CUDA plugin (build-emu/
#   libsparkbench-cuda.so) and the tests load it through SPARKBENCH_CUDA_PLUGIN. Output: build-emu/.
#   Default spec: "[cuda]" (the stories260K cases take tens of minutes emulated).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
build="${1:-build}"
shift || true
[ $# -eq 0 ] && set -- "[cuda]"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
lib="$build/engine/libsb_engine.a"
[ -f "$lib" ] || { echo "error: $lib not found (build sb_engine in a CUDA-enabled build first)" >&2; exit 1; }
out="$root/build-emu"
mkdir -p "$out/src" "$out/obj"

for f in "$root"/engine/backends/cuda/*.cu; do
  python3 - "$f" "$out/src/$(basename "$f" .cu).cc" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = s.replace('extern __shared__ float smem[];', 'float* smem = emu::dyn_smem();')
out = []
for line in s.split('\n'):
    m = re.match(r'^(\s*(?:case\s+[\w:]*\w:\s*)?)(\S.*?)<<<(.*?)>>>\(', line)
    if m:
        line = m.group(1) + 'emu::launch(' + m.group(2) + ', ' + m.group(3) + ')(' + line[m.end():]
    out.append(line)
open(sys.argv[2], 'w').write('\n'.join(out))
PY
done

dnnl=0
if nm -u "$lib" 2>/dev/null | grep dnnl >/dev/null; then dnnl=1; fi  # (not grep -q: SIGPIPE + pipefail)
cxx=(g++ -std=c++20 -O2 -g -U_FORTIFY_SOURCE -Wall -Wno-unused-parameter -Wno-unknown-pragmas -Wno-unused-variable -fno-strict-aliasing
     -I"$here/include" -I"$here" -I"$root")
defs=(-DSPARKBENCH_WITH_CUDA=1 -DSPARKBENCH_WITH_DNNL=$dnnl "-DSPARKBENCH_SOURCE_DIR=\"$root\"" "-DSPARKBENCH_BINARY_DIR=\"$out\""
      '-DSPARKBENCH_VERSION="emu"' '-DSPARKBENCH_GIT_COMMIT="emu"')
objs=()
compile() {  # SRC OBJ [extra flags]: recompiles when the source or this script's inputs are newer
  local src=$1 obj=$2
  shift 2
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$here/emu_kernel.h" -nt "$obj" ] || [ "$root/engine/backends/backend.h" -nt "$obj" ]; then
    "${cxx[@]}" "$@" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
}
pic=(-fPIC -fvisibility=hidden)
for b in "$out"/src/*.cc; do compile "$b" "$out/obj/$(basename "$b" .cc).o" "${pic[@]}" -include emu_kernel.h; done
for f in engine/backends/cuda/cuda_backend.cc engine/backends/backend.cc engine/backends/host.cc engine/gguf/ggml_types.cc \
         engine/gguf/block_dequant.cc; do
  compile "$root/$f" "$out/obj/plugin_$(basename "$f" .cc).o" "${pic[@]}"
done
compile "$here/emu_runtime.cc" "$out/obj/emu_runtime.o" "${pic[@]}"
"${cxx[@]}" -shared -o "$out/libsparkbench-cuda.so" "${objs[@]}" -lpthread
objs=()
for t in tests/test_main.cc tests/test_support.cc tests/engine/test_cuda_backend.cc tests/engine/test_backend_ops.cc \
         tests/engine/test_model_ref.cc tests/engine/test_backend_blocks.cc; do
  compile "$root/$t" "$out/obj/test_$(basename "$t" .cc).o" "${defs[@]}"
done
libs=(-lpcre2-8 -lcrypto -lpthread -fopenmp -ldl)
[ $dnnl = 1 ] && libs=(-ldnnl "${libs[@]}")
"${cxx[@]}" -o "$out/emu-tests" "${objs[@]}" "$lib" "${libs[@]}"
echo "built $out/emu-tests and $out/libsparkbench-cuda.so; running: $*" >&2
SPARKBENCH_CUDA_PLUGIN="$out/libsparkbench-cuda.so" EMU_STATS=1 "$out/emu-tests" "$@"
