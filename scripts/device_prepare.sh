#!/usr/bin/env bash
# Prepares the GPU device check (scripts/device_check.sh) on the build machine:
#   1. builds ./build-dev (Release, CUDA on, oneDNN off: the GPU image has no libdnnl), or the
#      existing build named by DEV_BUILD (e.g. DEV_BUILD=build: libdnnl then travels gzipped),
#   2. copies the three executables and the CUDA plugin into .devbin/ (debug info stripped),
#   3. copies into .devlibs/ the shared libraries they need that a bare CUDA image may lack
#      (sqlite3, pcre2, Google Benchmark, OpenSSL, zlib, gomp, cudart ...), and libstdc++ /
#      libgcc_s into .devlibs/fallback/ (used only if the device's own are too old);
#      glibc, the driver and cuBLAS (hundreds of MB) are left to the device,
#   4. copies the ../shared files the checks read into .devshared/.
# Then carry .devbin, .devlibs and .devshared (all git-ignored, < 64 MiB together) to the
# device and run scripts/device_check.sh there. Usage: scripts/device_prepare.sh [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${1:-2}"
build="${DEV_BUILD:-build-dev}"
shared="${SPARKBENCH_SHARED:-../shared}"

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPARKBENCH_DNNL=OFF -DSPARKBENCH_CUDA=ON >/dev/null
fi
nice ninja -C "$build" -j "$jobs" sparkbench sparkbench-tests sparkbench-kernels sb_engine_cuda

rm -rf .devbin .devlibs .devshared
mkdir -p .devbin .devlibs/fallback .devshared/models .devshared/reference/stories260k
for exe in harness/sparkbench tests/sparkbench-tests benchmarks/sparkbench-kernels; do
  cp "$build/$exe" .devbin/
  strip --strip-debug ".devbin/$(basename "$exe")"
done
# The CUDA backend plugin: found next to the executables (engine/backends/cuda_plugin.cc).
cp "$build/lib/libsparkbench-cuda.so" .devbin/
strip --strip-debug .devbin/libsparkbench-cuda.so

# Shared libraries: everything ldd resolves except glibc, the dynamic loader and the parts of
# CUDA that must come from the device (driver, cuBLAS).
ldd .devbin/* 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
  while read -r soname path; do
    case "$soname" in
      linux-vdso*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*|libresolv.so*) ;;
      libcuda.so*|libcublas.so*|libcublasLt.so*|libnvidia*) ;;
      libstdc++.so*|libgcc_s.so*) cp -L "$path" ".devlibs/fallback/$soname" ;;
      libdnnl.so*) gzip -c "$path" >".devlibs/$soname.gz" ;;  # 38 MB; device_check.sh unpacks it
      *) cp -L "$path" ".devlibs/$soname" ;;
    esac
  done
if ldd .devbin/* 2>/dev/null | grep -q "not found"; then
  echo "warning: unresolved libraries on this machine:" >&2
  ldd .devbin/* | grep "not found" >&2
fi

if [ -d "$shared" ]; then
  cp "$shared/models/stories260K.gguf" .devshared/models/
  cp "$shared/reference/README.md" .devshared/reference/
  cp "$shared"/reference/stories260k/* .devshared/reference/stories260k/
  if [ -d "$shared/reference/kquants" ]; then  # the quantized files (kq-base.gguf, F32, is not needed)
    mkdir -p .devshared/reference/kquants
    cp "$shared"/reference/kquants/kq-*Q*.gguf "$shared"/reference/kquants/*.txt .devshared/reference/kquants/
  fi
else
  echo "warning: $shared not found: the device check will skip the stories260K tests" >&2
fi

du -sh .devbin .devlibs .devshared
total_kb=$(du -sk .devbin .devlibs .devshared | awk '{s += $1} END {print s}')
if [ "$total_kb" -gt $((62 * 1024)) ]; then
  echo "warning: ${total_kb} KiB to carry; the device run carries at most 64 MiB" >&2
fi
echo "ready: carry .devbin .devlibs .devshared and run scripts/device_check.sh on the GPU machine"
