#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test:
#   1. Release build, all tests (ctest);
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build, the [unit] tests (fuzzing included);
#   3. the libFuzzer targets (scripts/fuzz.sh), a bounded time each.
# Tests that need ../shared (models, reference outputs) skip when it is absent; after each ctest
# run, scripts/ctest_skips.sh lists the skipped tests with their reasons.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs="$(nproc 2>/dev/null || echo 2)"
# OpenMP threads of tests running side by side should yield rather than spin.
export OMP_WAIT_POLICY=PASSIVE

echo "== release build"
scripts/build.sh build
echo "== release tests"
(cd build && ctest --output-on-failure -j "$jobs")
scripts/ctest_skips.sh build

echo "== sanitizer build (address, undefined)"
# -O1 -g1 (line tables): what the sanitizers recommend, and much cheaper to compile than -O2 -g.
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" -DSPARKBENCH_SANITIZE=ON \
  -DSPARKBENCH_KERNEL_BENCH=OFF -DSPARKBENCH_CUDA=OFF -DSPARKBENCH_TEST_SPEC="[unit]"
echo "== sanitizer tests ([unit])"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$jobs")
scripts/ctest_skips.sh build-asan

echo "== fuzzing (libFuzzer under ASan + UBSan, ${FUZZ_SECONDS:-20}s per target)"
scripts/fuzz.sh
