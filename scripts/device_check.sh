#!/usr/bin/env bash
# Device check of the CUDA backend, run ON the GPU machine from the repository root after
# scripts/device_prepare.sh ran on the build machine and .devbin, .devlibs and .devshared were
# carried over. Every step has its own timeout, a failed step does not stop the next one, and
# all steps together stay within a budget of BUDGET_S seconds (default 270): a step gets at most
# what is left. Output: at most 8 files in $OUT (default ./device-out):
#   summary.txt        one line per step (exit code, seconds), GPU and library info
#   log.txt            everything the steps printed (stderr included)
#   tests.txt          Catch2 output: the [cuda] cases, then the backend/model cases that now
#                      include cuda (test_backend_ops, test_model_ref)
#   stories.txt        sparkbench generate/logits on stories260K with --backend cuda vs llama.cpp
#   bench_stories.json sparkbench bench on stories260K
#   bench_kquants.jsonl sparkbench bench on three llama.cpp quant files (Q4_K_M, Q6_K, IQ4_XS mixes)
#   bench_spark.jsonl  sparkbench bench on codex-spark f16 (graphs on; graphs off; bf16 compute)
#   kernels.json       sparkbench-kernels --benchmark_filter=^cuda/ (Google Benchmark JSON)
set -u
cd "$(dirname "$0")/.."
root=$PWD
OUT="${OUT:-$root/device-out}"
mkdir -p "$OUT"
budget="${BUDGET_S:-270}"
t_start=$(date +%s)
bin="$root/.devbin"
summary="$OUT/summary.txt"
log="$OUT/log.txt"
: >"$summary"
: >"$log"

# libraries that travel gzipped (libdnnl) are unpacked first
for gz in "$root"/.devlibs/*.gz; do
  [ -f "$gz" ] && gunzip -f "$gz"
done

# ---- environment: our libraries first, then the device's CUDA (cuBLAS comes from there) ----
libs="$root/.devlibs"
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && libs="$libs:$d"
done
if ! ls /usr/local/cuda/lib64/libcublas.so.13* >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q 'libcublas.so.13'; then
  found=$(timeout 20 find / -xdev \( -path /proc -o -path /sys \) -prune -o -name 'libcublas.so.13*' -print 2>/dev/null | head -n 1)
  [ -n "$found" ] && libs="$libs:$(dirname "$found")"
fi
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ldd "$bin/sparkbench-tests" 2>&1 | grep -q "not found"; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$root/.devlibs/fallback"  # libstdc++ / libgcc_s
fi
export SPARKBENCH_SHARED="$root/.devshared"
export SPARKBENCH_BIN="$bin/sparkbench"
export SPARKBENCH_CACHE="${TMPDIR:-/tmp}/sparkbench-cache"
stories="$SPARKBENCH_SHARED/models/stories260K.gguf"
spark="${TMPDIR:-/tmp}/spark-f16.gguf"

left() { echo $((budget - ($(date +%s) - t_start))); }

# step NAME LIMIT_S OUTFILE CMD...: runs CMD with min(LIMIT_S, budget left) seconds, output
# appended to OUTFILE (and a copy of everything to log.txt), records rc and time in summary.txt.
step() {
  local name=$1 limit=$2 outfile=$3
  shift 3
  local rem
  rem=$(left)
  if [ "$rem" -lt 10 ]; then
    echo "SKIP  $name (budget spent)" >>"$summary"
    return
  fi
  [ "$limit" -gt "$rem" ] && limit=$rem
  local t0 rc
  t0=$(date +%s)
  echo "===== $name (limit ${limit}s): $*" >>"$log"
  timeout -k 5 "$limit" "$@" >"$OUT/.step.out" 2>"$OUT/.step.err"
  rc=$?
  cat "$OUT/.step.out" >>"$outfile"
  [ "$outfile" != "$log" ] && { cat "$OUT/.step.out" >>"$log"; }
  cat "$OUT/.step.err" >>"$log"
  [ "$outfile" != "$log" ] && [ -s "$OUT/.step.err" ] && { echo "--- stderr:" >>"$outfile"; tail -n 40 "$OUT/.step.err" >>"$outfile"; }
  rm -f "$OUT/.step.out" "$OUT/.step.err"
  printf '%-5s %-40s rc=%-3s %4ss\n' "$([ $rc -eq 0 ] && echo ok || echo FAIL)" "$name" "$rc" "$(( $(date +%s) - t0 ))" >>"$summary"
}

{
  echo "device check $(date -u +%FT%TZ) commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1 | head -n 5
  ldd "$bin/sparkbench" 2>&1 | grep -E "cuda|cublas|not found" | sed 's/^/  /'
} >>"$summary"
step "nvidia-smi" 20 "$log" nvidia-smi

# 1. the [cuda] test cases (ops vs ref, attention, stories260K vs llama.cpp, the kquants files, graphs vs direct)
step "tests [cuda]" 120 "$OUT/tests.txt" "$bin/sparkbench-tests" "[cuda]" --durations yes
# the variant cases loop over every usable backend, cuda included (int8 weights among them)
step "tests [variants]" 60 "$OUT/tests.txt" "$bin/sparkbench-tests" "[variants]" 
# 2. end to end through the CLI
step "generate stories260K" 30 "$OUT/stories.txt" "$bin/sparkbench" generate -m "$stories" -p "Once upon a time" -n 64 \
  --ignore-eos --json --backend cuda --kv-type f32
plg="${TMPDIR:-/tmp}/cuda-once.kvf32.plg"
step "logits stories260K" 30 "$OUT/stories.txt" "$bin/sparkbench" logits -m "$stories" -p "Once upon a time" -n 64 -o "$plg" \
  --backend cuda --kv-type f32
if command -v python3 >/dev/null 2>&1 && [ -f "$plg" ]; then
  step "logits vs llama.cpp" 20 "$OUT/stories.txt" python3 - "$plg" "$SPARKBENCH_SHARED/reference/stories260k/once_upon_a_time.kvf32.plg" <<'EOF'
import struct, sys
def read(p):
    b = open(p, 'rb').read()
    assert b[:4] == b'PLG1', p
    nv, nr, npr = struct.unpack_from('<III', b, 4)
    off = 16 + 4 * (nr + 1)
    toks = struct.unpack_from('<%di' % (nr + 1), b, 16)
    return nv, nr, toks, struct.unpack_from('<%df' % (nr * nv), b, off)
a, b = read(sys.argv[1]), read(sys.argv[2])
print('tokens equal:', a[2] == b[2], ' rows:', a[1], b[1])
print('max |logit diff| cuda vs llama.cpp (f32 KV): %.3g' % max(abs(x - y) for x, y in zip(a[3], b[3])))
EOF
fi
# 3. speed: stories260K, then codex-spark f16 (96 layers) with graphs on / off and bf16 compute
step "bench stories260K" 40 "$OUT/bench_stories.json" "$bin/sparkbench" bench -m "$stories" -p 128 -n 32 -r 3 --backend cuda \
  --output json
kq="$SPARKBENCH_SHARED/reference/kquants"
for f in kq-Q4_K_M kq-Q6_K kq-IQ4_XS; do  # llama.cpp block types end to end (tiny model: a path check, not a speed figure)
  if [ -f "$kq/$f.gguf" ]; then
    step "bench $f" 20 "$OUT/bench_kquants.jsonl" "$bin/sparkbench" bench -m "$kq/$f.gguf" -p 128 -n 32 -r 2 --backend cuda \
      --output jsonl
  fi
done
step "synth codex-spark f16" 90 "$log" "$bin/sparkbench" model synth --preset codex-spark --dtype f16 -o "$spark"
if [ -f "$spark" ]; then
  step "bench codex-spark graphs on" 60 "$OUT/bench_spark.jsonl" "$bin/sparkbench" bench -m "$spark" -p 128 -n 32 -r 3 \
    --pg 128,32 --backend cuda --output jsonl
  step "bench codex-spark int8" 60 "$OUT/bench_spark.jsonl" "$bin/sparkbench" bench -m "$spark" -p 128,512 -n 32 -r 3 \
    --variant int8 --backend cuda --output jsonl
  step "bench codex-spark int8 two-launch" 40 "$OUT/bench_spark.jsonl" env SPARKBENCH_CUDA_FUSED_INT8=0 "$bin/sparkbench" bench \
    -m "$spark" -p 128 -n 32 -r 3 --variant int8 --backend cuda --output jsonl
  step "bench codex-spark graphs off" 40 "$OUT/bench_spark.jsonl" env SPARKBENCH_CUDA_GRAPHS=0 "$bin/sparkbench" bench -m "$spark" \
    -p 128 -n 32 -r 2 --backend cuda --output jsonl
  step "bench codex-spark bf16" 40 "$OUT/bench_spark.jsonl" "$bin/sparkbench" bench -m "$spark" -p 512 -n 32 -r 2 \
    --compute bf16 --backend cuda --output jsonl
fi
# 4. kernel microbenchmarks (CUDA events)
step "kernels cuda/" 90 "$OUT/kernels.json" "$bin/sparkbench-kernels" --benchmark_filter='^cuda/' \
  --benchmark_min_time=0.002 --benchmark_format=json
# 5. the shared backend/model tests, which now loop over cuda too (lowest priority)
step "tests [backend],[model]" 60 "$OUT/tests.txt" "$bin/sparkbench-tests" "[backend],[model]"

echo "total $(( $(date +%s) - t_start ))s of ${budget}s budget" >>"$summary"
cat "$summary"
