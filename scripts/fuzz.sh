#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang under ASan + UBSan in build-fuzz/ and runs
# each for a bounded time: first over its committed regression inputs
# (tests/fuzz/regressions/<target>/, inputs that once crashed, each committed with its fix),
# then fuzzing from its seeds (tests/fuzz/seeds/<target>/) for FUZZ_SECONDS (default 20), FUZZ_JOBS
# (default: the core count) targets at a time, each printed whole from build-fuzz/logs/<target>.log when it ends.
# A crash leaves its input in build-fuzz/artifacts/<target>/ and fails the script.
#   scripts/fuzz.sh [target ...]        (targets: gguf tokenizer jsonl suite http)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(gguf tokenizer jsonl suite http)
cxx="${FUZZ_CXX:-clang++-14}"
cc="${FUZZ_CC:-clang-14}"
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz: $cxx not found (scripts/setup.sh installs clang-14 and libfuzzer-14-dev)" >&2
  exit 1
fi
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DSPARKBENCH_FUZZ=ON -DSPARKBENCH_TESTS=OFF \
  -DSPARKBENCH_KERNEL_BENCH=OFF -DSPARKBENCH_CUDA=OFF -DSPARKBENCH_DNNL=OFF -DSPARKBENCH_UNITY=ON >/dev/null
ninja -C build-fuzz $(printf 'fuzz-%s ' "${targets[@]}")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}"
mkdir -p build-fuzz/logs
# Replays a target's regression inputs, then fuzzes it from its seeds; output goes to its log.
fuzz_one() {
  local t="$1"
  local exe="build-fuzz/tests/fuzz/fuzz-$t"
  local reg="tests/fuzz/regressions/$t"
  local art="build-fuzz/artifacts/$t/"
  local corpus="build-fuzz/corpus/$t"
  mkdir -p "$art" "$corpus"
  # The GGUF target starts from a real model when ../shared has one (not committed: 1 MB).
  if [[ $t == gguf && -f ../shared/models/stories260K.gguf && ! -f "$corpus/stories260K.gguf" ]]; then
    cp ../shared/models/stories260K.gguf "$corpus/"
  fi
  shopt -s nullglob
  local inputs=("$reg"/*)
  shopt -u nullglob
  if [[ ${#inputs[@]} -gt 0 ]]; then
    echo "== fuzz-$t: ${#inputs[@]} regression inputs"
    "$exe" -artifact_prefix="$art" "${inputs[@]}" || return $?
  fi
  echo "== fuzz-$t: ${seconds}s"
  local max_len=65536
  [[ $t == gguf ]] && max_len=1200000
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -artifact_prefix="$art" \
    -print_final_stats=1 "$corpus" "tests/fuzz/seeds/$t"
}
# Each fuzzer is one process on one core: up to `jobs` targets run side by side (FUZZ_JOBS=1 runs them in turn).
# A target's log is printed whole when it ends, so outputs never interleave.
declare -A pid_target=()
failed=()
reap() {
  local pid rc=0
  wait -n -p pid "${!pid_target[@]}" || rc=$?
  local t="${pid_target[$pid]}"
  unset "pid_target[$pid]"
  cat "build-fuzz/logs/$t.log"
  if [[ $rc -ne 0 ]]; then
    echo "fuzz-$t: FAILED (exit $rc); its crashing input is in build-fuzz/artifacts/$t/" >&2
    failed+=("$t")
  fi
}
for t in "${targets[@]}"; do
  while [[ ${#pid_target[@]} -ge $jobs ]]; do reap; done
  fuzz_one "$t" >"build-fuzz/logs/$t.log" 2>&1 &
  pid_target[$!]="$t"
done
while [[ ${#pid_target[@]} -gt 0 ]]; do reap; done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: crash or failure in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crash in ${targets[*]} (${seconds}s each, $jobs at a time)"
