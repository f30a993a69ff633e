// CUDA op microbenchmarks at the Codex-Spark shapes (width 512, 16 heads of 32, FFN 2048, vocab
// 32000): matmul at M = 1, 32, 512 for every weight type (f32 compute) and for 16-bit tensor-core
// GEMMs (bf16 compute), int8 weights (cuda/matmul_int8), attention (decode and prefill) at
// contexts 128, 512, 2048, and the row-wise ops. Each op goes through the public Backend
// interface; the time is taken with CUDA events around `reps` back-to-back launches on the
// backend's stream (UseManualTime, time per
// launch). Weights and KV caches are cycled through enough copies to exceed twice the L2 cache,
// so the bytes come from HBM as in a real decode step, not from L2.
// Counters: bytes_per_second (SetBytesProcessed), FLOP/s, pct_peak_bw and pct_peak_flops against
// the GPU's peaks: H100 SXM 3.35 TB/s HBM3, 989 TFLOP/s dense bf16, 67 TFLOP/s f32; H200 4.8 TB/s
// with the same compute; H100 PCIe 2.0 TB/s, 756 / 51 TFLOP/s; other GPUs: bandwidth from the
// memory clock and bus width, no FLOP percentages.
#include "benchmarks/kernels_cuda.h"

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/cuda_check.h"
#include "engine/compress/quantize.h"
#include "engine/core/error.h"
#include "engine/gguf/ggml_types.h"

namespace sb::bench {
namespace {

using benchmark::Counter;

struct GpuPeaks {
  std::string name;
  double bw = 0;    // bytes/s
  double bf16 = 0;  // dense FLOP/s
  double f32 = 0;   // FLOP/s (CUDA cores)
  int64_t l2_bytes = 0;
};
GpuPeaks g_gpu;
bool g_short = false;

GpuPeaks detect_gpu() {
  GpuPeaks p;
  int dev = 0;
  cudaGetDevice(&dev);
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, dev) == cudaSuccess) p.name = prop.name;
  int clk_khz = 0, bus_bits = 0, l2 = 0;
  cudaDeviceGetAttribute(&clk_khz, cudaDevAttrMemoryClockRate, dev);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev);
  cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev);
  p.l2_bytes = l2 > 0 ? l2 : (50 << 20);
  const double bw_attr = 2.0 * double(clk_khz) * 1e3 * double(bus_bits) / 8.0;
  if (p.name.find("H200") != std::string::npos) {
    p.bw = 4.8e12, p.bf16 = 989e12, p.f32 = 67e12;
  } else if (p.name.find("H100") != std::string::npos) {
    if (p.name.find("PCIe") != std::string::npos)
      p.bw = 2.0e12, p.bf16 = 756e12, p.f32 = 51e12;
    else
      p.bw = 3.35e12, p.bf16 = 989e12, p.f32 = 67e12;
  } else {
    p.bw = bw_attr;
  }
  return p;
}

// Backends live for the whole process (never destroyed: the CUDA runtime may be torn down
// before static destructors run).
Backend& backend(ComputeType c) {
  static Backend* f32 = nullptr;
  static Backend* bf16 = nullptr;
  Backend*& b = c == ComputeType::BF16 ? bf16 : f32;
  if (!b) {
    BackendOptions o;
    o.compute = c;
    b = create_backend("cuda", o).release();
  }
  return *b;
}

cudaStream_t stream_of(Backend& b) { return static_cast<cudaStream_t>(cuda_stream_of(b)); }

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

Tensor filled(Backend& b, int64_t rows, int64_t cols, uint64_t seed, float scale = 1.0f) {
  Tensor t = b.alloc(rows, cols, DType::F32);
  auto v = randn(size_t(rows * cols), seed, scale);
  b.upload(t, v.data());
  return t;
}

std::vector<uint8_t> quantized(GgmlType t, const std::vector<float>& w, int64_t rows, int64_t cols) {
  std::vector<uint8_t> q(size_t(ggml_row_bytes(t, cols) * rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, w.data() + r * cols, q.data() + size_t(r * ggml_row_bytes(t, cols)), cols);
  return q;
}

// Copies of a `bytes`-sized operand needed to exceed twice the L2 cache (1 .. max_copies).
int copies_for(double bytes, int max_copies) {
  const double want = 2.0 * double(g_gpu.l2_bytes) / std::max(bytes, 1.0);
  return std::clamp(int(std::ceil(want)), 1, max_copies);
}

// Runs op(r) for r = 0 .. reps - 1 between two events per iteration; iteration time = per launch.
template <class F>
void timed(benchmark::State& st, Backend& b, int reps, F&& op) {
  cudaStream_t s = stream_of(b);
  struct Events {
    cudaEvent_t e0 = nullptr, e1 = nullptr;
    ~Events() {
      if (e0) cudaEventDestroy(e0);
      if (e1) cudaEventDestroy(e1);
    }
  } ev;
  SB_CUDA_CHECK(cudaEventCreate(&ev.e0));
  SB_CUDA_CHECK(cudaEventCreate(&ev.e1));
  for (int r = 0; r < reps; ++r) op(r);  // warm-up (first-use allocations, cuBLAS heuristics)
  b.synchronize();
  for (auto _ : st) {
    SB_CUDA_CHECK(cudaEventRecord(ev.e0, s));
    for (int r = 0; r < reps; ++r) op(r);
    SB_CUDA_CHECK(cudaEventRecord(ev.e1, s));
    SB_CUDA_CHECK(cudaEventSynchronize(ev.e1));
    float ms = 0;
    SB_CUDA_CHECK(cudaEventElapsedTime(&ms, ev.e0, ev.e1));
    st.SetIterationTime(double(ms) / 1e3 / reps);
  }
}

void roofline(benchmark::State& st, double bytes, double flops, double peak_flops) {
  st.SetBytesProcessed(int64_t(bytes) * int64_t(st.iterations()));
  if (flops > 0) st.counters["FLOP/s"] = Counter(flops, Counter::kIsIterationInvariantRate);
  if (g_gpu.bw > 0) st.counters["pct_peak_bw"] = Counter(bytes / g_gpu.bw * 100.0, Counter::kIsIterationInvariantRate);
  if (flops > 0 && peak_flops > 0) st.counters["pct_peak_flops"] = Counter(flops / peak_flops * 100.0, Counter::kIsIterationInvariantRate);
}

// Runs `body` and turns an sb::Error into a skipped benchmark with the message.
template <class F>
void guarded(benchmark::State& st, F&& body) {
  try {
    body();
  } catch (const Error& e) {
    st.SkipWithError(e.what());
  }
}

struct Proj {
  const char* name;
  int64_t n, k;
};

const std::vector<float>& proj_weights(const Proj& p) {
  static std::map<std::string, std::vector<float>> cache;
  auto it = cache.find(p.name);
  if (it == cache.end()) it = cache.emplace(p.name, randn(size_t(p.n * p.k), 1, 0.05f)).first;
  return it->second;
}

void register_matmul(const char* family, ComputeType compute, const std::vector<GgmlType>& types, const std::vector<int64_t>& ms,
                     const std::vector<Proj>& projs) {
  for (const auto& p : projs)
    for (GgmlType t : types)
      for (int64_t m : ms) {
        const std::string name =
            std::string("cuda/") + family + "/" + p.name + "/" + ggml_type_name(uint32_t(t)) + "/M:" + std::to_string(m);
        benchmark::RegisterBenchmark(name.c_str(),
                                     [=](benchmark::State& st) {
                                       guarded(st, [&] {
                                         Backend& b = backend(compute);
                                         auto q = quantized(t, proj_weights(p), p.n, p.k);
                                         std::vector<std::unique_ptr<Weight>> ws;
                                         ws.push_back(b.load_weight({"w", t, p.n, p.k, q.data()}));
                                         const double wbytes = double(ws[0]->bytes());
                                         const int copies = copies_for(wbytes, 256);
                                         while (int(ws.size()) < copies) ws.push_back(b.load_weight({"w", t, p.n, p.k, q.data()}));
                                         Tensor x = filled(b, m, p.k, 2), y = b.alloc(m, p.n, DType::F32);
                                         timed(st, b, copies, [&](int r) { b.matmul(x, *ws[size_t(r)], y); });
                                         const double flops = 2.0 * double(m) * double(p.n) * double(p.k);
                                         roofline(st, wbytes + double(m * (p.k + p.n) * 4), flops,
                                                  compute == ComputeType::BF16 ? g_gpu.bf16 : g_gpu.f32);
                                         st.counters["weight_copies"] = copies;
                                       });
                                     })
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
      }
}

// The int8 variant's weights (WeightFormat::Int8PerChannel): the timed product includes the
// per-token activation quantization (fused into one launch for M <= 8). FLOP/s counts the
// integer multiply-adds; the f32 peak is the reference (dp4a runs on the CUDA cores).
void register_matmul_int8(const std::vector<int64_t>& ms, const std::vector<Proj>& projs) {
  for (const auto& p : projs)
    for (int64_t m : ms) {
      const std::string name = std::string("cuda/matmul_int8/") + p.name + "/int8/M:" + std::to_string(m);
      benchmark::RegisterBenchmark(
          name.c_str(),
          [=](benchmark::State& st) {
            guarded(st, [&] {
              Backend& b = backend(ComputeType::F32);
              auto q = compress::quantize_int8(proj_weights(p).data(), p.n, p.k);
              const WeightSource src{"w", GgmlType::F32, p.n, p.k, q.q.data(), WeightFormat::Int8PerChannel, q.scales.data()};
              std::vector<std::unique_ptr<Weight>> ws;
              ws.push_back(b.load_weight(src));
              const double wbytes = double(ws[0]->bytes());
              const int copies = copies_for(wbytes, 256);
              while (int(ws.size()) < copies) ws.push_back(b.load_weight(src));
              Tensor x = filled(b, m, p.k, 2), y = b.alloc(m, p.n, DType::F32);
              timed(st, b, copies, [&](int r) { b.matmul(x, *ws[size_t(r)], y); });
              roofline(st, wbytes + double(m * (p.k + p.n) * 4), 2.0 * double(m) * double(p.n) * double(p.k), g_gpu.f32);
              st.counters["weight_copies"] = copies;
            });
          })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
}

void register_attention() {
  const std::vector<int64_t> ctxs = g_short ? std::vector<int64_t>{128} : std::vector<int64_t>{128, 512, 2048};
  for (int64_t ctx : ctxs)
    for (bool prefill : {false, true}) {
      if (g_short && prefill) continue;
      const std::string name = "cuda/attention/spark/ctx:" + std::to_string(ctx) + (prefill ? "/prefill" : "/decode");
      benchmark::RegisterBenchmark(name.c_str(),
                                   [=](benchmark::State& st) {
                                     guarded(st, [&] {
                                       Backend& b = backend(ComputeType::F32);
                                       AttentionShape s{16, 16, 32, 32, 10000.0f, RopeStyle::Interleaved};
                                       const double layer_bytes = double(ctx) * 512 * 2 * 2;  // f16 K and V
                                       const int layers = prefill ? 1 : copies_for(layer_bytes, 64);
                                       auto cache = b.create_kv_cache(layers, ctx, 512, DType::F16);
                                       Tensor k = filled(b, ctx, 512, 3), v = filled(b, ctx, 512, 4);
                                       for (int l = 0; l < layers; ++l) b.kv_store(*cache, l, k, v, 0);
                                       const int64_t T = prefill ? ctx : 1, pos0 = prefill ? 0 : ctx - 1;
                                       Tensor q = filled(b, T, 512, 5), out = b.alloc(T, 512, DType::F32);
                                       timed(st, b, layers, [&](int r) { b.attention(q, *cache, r, pos0, s, out); });
                                       // bytes: the f16 K and V once; FLOPs: q.k and p.v (2 * 32 each) per head per (query, key) pair
                                       const double pairs = prefill ? double(ctx) * double(ctx + 1) / 2 : double(ctx);
                                       roofline(st, layer_bytes + double(T) * 512 * 8, pairs * 16 * 32 * 4, g_gpu.f32);
                                       st.counters["kv_copies"] = layers;
                                     });
                                   })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
}

void register_rowwise() {
  const int reps = 20;
  for (int64_t m : {int64_t(1), int64_t(512)}) {
    const std::string M = "/M:" + std::to_string(m);
    benchmark::RegisterBenchmark(("cuda/rmsnorm" + M).c_str(),
                                 [=](benchmark::State& st) {
                                   guarded(st, [&] {
                                     Backend& b = backend(ComputeType::F32);
                                     Tensor x = filled(b, m, 512, 6), w = filled(b, 1, 512, 7), o = b.alloc(m, 512, DType::F32);
                                     timed(st, b, reps, [&](int) { b.rmsnorm(x, w, 1e-5f, o); });
                                     roofline(st, double(m) * 512 * 8, double(m) * 512 * 4, g_gpu.f32);
                                   });
                                 })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("cuda/rope" + M).c_str(),
                                 [=](benchmark::State& st) {
                                   guarded(st, [&] {
                                     Backend& b = backend(ComputeType::F32);
                                     AttentionShape s{16, 16, 32, 32, 10000.0f, RopeStyle::Interleaved};
                                     Tensor x = filled(b, m, 512, 8);
                                     timed(st, b, reps, [&](int) { b.rope(x, 16, s, 100); });
                                     roofline(st, double(m) * 512 * 8, double(m) * 512 * 3, g_gpu.f32);
                                   });
                                 })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("cuda/swiglu" + M).c_str(),
                                 [=](benchmark::State& st) {
                                   guarded(st, [&] {
                                     Backend& b = backend(ComputeType::F32);
                                     Tensor g = filled(b, m, 2048, 9), u = filled(b, m, 2048, 10), o = b.alloc(m, 2048, DType::F32);
                                     timed(st, b, reps, [&](int) { b.swiglu(g, u, o); });
                                     roofline(st, double(m) * 2048 * 12, double(m) * 2048 * 6, g_gpu.f32);
                                   });
                                 })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("cuda/embed" + M).c_str(),
                                 [=](benchmark::State& st) {
                                   guarded(st, [&] {
                                     Backend& b = backend(ComputeType::F32);
                                     auto table = quantized(GgmlType::F16, randn(size_t(32000) * 512, 11, 0.02f), 32000, 512);
                                     auto w = b.load_weight({"emb", GgmlType::F16, 32000, 512, table.data()});
                                     std::vector<int32_t> ids(static_cast<size_t>(m));
                                     for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7919) % 32000);
                                     Tensor x = b.alloc(m, 512, DType::F32);
                                     // includes the host -> device copy of the ids, as in a real step
                                     timed(st, b, reps, [&](int) { b.embed(*w, ids.data(), m, x); });
                                     roofline(st, double(m) * 512 * 6, 0, 0);
                                   });
                                 })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("cuda/kv_store" + M).c_str(),
                                 [=](benchmark::State& st) {
                                   guarded(st, [&] {
                                     Backend& b = backend(ComputeType::F32);
                                     auto cache = b.create_kv_cache(1, 2048, 512, DType::F16);
                                     Tensor k = filled(b, m, 512, 12), v = filled(b, m, 512, 13);
                                     timed(st, b, reps, [&](int) { b.kv_store(*cache, 0, k, v, 0); });
                                     roofline(st, double(m) * 512 * 2 * (4 + 2), 0, 0);
                                   });
                                 })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("cuda/argmax/V:32000",
                               [=](benchmark::State& st) {
                                 guarded(st, [&] {
                                   Backend& b = backend(ComputeType::F32);
                                   Tensor l = filled(b, 1, 32000, 14);
                                   int32_t id = 0;
                                   // synchronous: kernel + 4-byte copy back, i.e. what a greedy decode step pays
                                   timed(st, b, 1, [&](int) { b.argmax_rows(l, &id); });
                                   roofline(st, 32000.0 * 4, 0, 0);
                                 });
                               })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace

void register_cuda_kernels(bool short_run) {
  std::string why;
  if (!cuda_device_available(&why)) {
    std::fprintf(stderr, "note: CUDA kernel benchmarks not registered: no CUDA device (%s)\n", why.c_str());
    return;
  }
  g_short = short_run;
  g_gpu = detect_gpu();
  benchmark::AddCustomContext("gpu_name", g_gpu.name);
  benchmark::AddCustomContext("gpu_peak_bw_bytes_per_s", std::to_string(g_gpu.bw));
  benchmark::AddCustomContext("gpu_peak_bf16_flops", std::to_string(g_gpu.bf16));
  benchmark::AddCustomContext("gpu_peak_f32_flops", std::to_string(g_gpu.f32));
  benchmark::AddCustomContext("gpu_l2_bytes", std::to_string(g_gpu.l2_bytes));
  std::vector<Proj> projs{{"attn_qkvo", 512, 512}, {"ffn_gate_up", 2048, 512}, {"ffn_down", 512, 2048}, {"output", 32000, 512}};
  std::vector<int64_t> ms{1, 32, 512};
  std::vector<GgmlType> types{GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0};
  if (g_short) {
    projs = {{"attn_qkvo", 512, 512}, {"ffn_down", 512, 2048}};
    ms = {1, 32};
    types = {GgmlType::F16, GgmlType::Q8_0};
  }
  register_matmul("matmul", ComputeType::F32, types, ms, projs);
  // 16-bit tensor-core GEMMs (f32 weights are converted to bf16 at load; q8_0 is dequantized
  // to bf16 per call); M = 1 stays on the GEMV.
  register_matmul("matmul_bf16", ComputeType::BF16, {GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0},
                  g_short ? std::vector<int64_t>{32} : std::vector<int64_t>{32, 512}, projs);
  register_matmul_int8(ms, projs);
  register_attention();
  register_rowwise();
}

}  // namespace sb::bench
