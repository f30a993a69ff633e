// sparkbench-kernels: every backend op at the Codex-Spark shapes (width 512, 16 heads of 32,
// FFN 2048, vocab 32000), with bytes/s, FLOP/s and percent of this machine's measured peaks
// (pct_peak_bw: bytes moved / DRAM read bandwidth; pct_peak_flops: FLOP/s / oneDNN's best f32
// matmul throughput; pct_fma_peak: FLOP/s / the f32 FMA instruction peak). Calibration runs first (benchmarks calib/*), setup stays outside
// the timed loops, and `--short` runs a small subset quickly (CI). Output: any Google Benchmark format; Training steps (train/*,
// kernels_train.h) report tokens/s and their fraction of the f32 peak.
// `--benchmark_format=json` ingests with `sparkbench ingest --kernels FILE`.
#include <benchmark/benchmark.h>

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "benchmarks/calibration.h"
#include "benchmarks/kernels_cuda.h"
#include "benchmarks/kernels_quant.h"
#include "benchmarks/kernels_train.h"
#include "common/build_info.h"
#include "engine/backends/backend.h"
#include "engine/backends/host.h"
#include "engine/core/omp_env.h"
#include "engine/gguf/ggml_types.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu/kernels.h"
#include "engine/backends/cpu/qdot.h"
#include "engine/backends/cpu/qgemm.h"
#include "engine/backends/cpu/qgemv.h"
#endif

using namespace sb;
using benchmark::Counter;

namespace {

bench::Peaks g_peaks;
bool g_short = false;
int g_threads = 0;

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

std::vector<uint8_t> quantized(GgmlType t, const std::vector<float>& w, int64_t rows, int64_t cols) {
  std::vector<uint8_t> q(size_t(ggml_row_bytes(t, cols) * rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, w.data() + r * cols, q.data() + size_t(r * ggml_row_bytes(t, cols)), cols);
  return q;
}

// A rows x cols block weight: at most 1024 random rows quantized, repeated down the matrix (the
// kernels' speed does not depend on the values; quantizing a DRAM-sized weight would take minutes).
std::vector<uint8_t> slab_quantized(GgmlType t, int64_t rows, int64_t cols) {
  const int64_t slab = std::min<int64_t>(rows, 1024);
  auto q = quantized(t, randn(size_t(slab * cols), 1, 0.05f), slab, cols);
  const size_t rb = size_t(ggml_row_bytes(t, cols));
  q.resize(size_t(rows) * rb);
  for (int64_t r = slab; r < rows; ++r) std::memcpy(q.data() + size_t(r) * rb, q.data() + size_t(r % slab) * rb, rb);
  return q;
}

// Decode at the size it runs at: a weight streamed from DRAM as a model's decode streams its
// layers, 8192 columns and at least 16384 rows, more where the weight would not be twice the
// last-level cache (calibration.h dram_bytes(): an Emerald Rapids VM reports 300 MiB of L3),
// named dram/<rows/1024>k_x_8k. The cache-resident shapes above rank kernels by compute alone
// (a K-quant GEMV 1.3x faster there ran 0.75x from DRAM before it prefetched: cpu/qgemv_impl.inc).
const char* const kDramShape = "dram";
constexpr int64_t kDramRows = 16384, kDramCols = 8192;
int64_t dram_rows(GgmlType t) {
  const auto rb = size_t(ggml_row_bytes(t, kDramCols));
  const int64_t need = int64_t((bench::dram_bytes() + rb - 1) / rb);
  return std::max(kDramRows, (need + 1023) / 1024 * 1024);
}

Tensor filled(Backend& b, int64_t rows, int64_t cols, uint64_t seed) {
  Tensor t = b.alloc(rows, cols, DType::F32);
  auto v = randn(size_t(rows * cols), seed);
  b.upload(t, v.data());
  return t;
}

// Roofline counters: per-iteration work turned into rates and percentages by the framework.
void roofline(benchmark::State& st, double bytes, double flops) {
  st.SetBytesProcessed(int64_t(bytes) * int64_t(st.iterations()));
  if (flops > 0) st.counters["FLOP/s"] = Counter(flops, Counter::kIsIterationInvariantRate);
  if (g_peaks.dram_bytes_per_s > 0)
    st.counters["pct_peak_bw"] = Counter(bytes / g_peaks.dram_bytes_per_s * 100.0, Counter::kIsIterationInvariantRate);
  if (flops > 0 && g_peaks.f32_flops > 0)
    st.counters["pct_peak_flops"] = Counter(flops / g_peaks.f32_flops * 100.0, Counter::kIsIterationInvariantRate);
  if (flops > 0 && g_peaks.fma_f32_flops > 0)
    st.counters["pct_fma_peak"] = Counter(flops / g_peaks.fma_f32_flops * 100.0, Counter::kIsIterationInvariantRate);
}

std::unique_ptr<Backend> make(const std::string& name) {
  BackendOptions o;
  o.threads = g_threads;
  return create_backend(name, o);
}

void register_calibration() {
  benchmark::RegisterBenchmark("calib/dram_read", [](benchmark::State& st) {
    // (Google Benchmark 1.7's DoNotOptimize corrupts doubles it is given by reference under GCC,
    // so the loop only touches a pointer.)
    for (auto _ : st) benchmark::DoNotOptimize(&g_peaks);
    st.counters["bytes_per_second"] = g_peaks.dram_bytes_per_s;
  })->Iterations(1);
  benchmark::RegisterBenchmark("calib/matmul_peak", [](benchmark::State& st) {
    for (auto _ : st) benchmark::DoNotOptimize(&g_peaks);
    st.counters["f32_flops"] = g_peaks.f32_flops;
    st.counters["bf16_flops"] = g_peaks.bf16_flops;
    st.counters["s8_ops"] = g_peaks.s8_ops;
  })->Iterations(1);
  benchmark::RegisterBenchmark("calib/fma_peak", [](benchmark::State& st) {
    for (auto _ : st) benchmark::DoNotOptimize(&g_peaks);
    st.counters["f32_flops"] = g_peaks.fma_f32_flops;
  })->Iterations(1);
}

struct Proj {
  const char* name;
  int64_t n, k;
};

void register_backend(const std::string& be) {
  std::vector<Proj> projs{{"attn_qkvo", 512, 512}, {"ffn_gate_up", 2048, 512}, {"ffn_down", 512, 2048}, {"output", 32000, 512}};
  std::vector<int64_t> ms{1, 32, 512};
  std::vector<GgmlType> types{GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0};
  if (g_short) {
    projs = {{"attn_qkvo", 512, 512}, {"ffn_down", 512, 2048}};
    ms = {1, 32};
    types = {GgmlType::F32, GgmlType::F16, GgmlType::Q4_0};
  }
  for (const auto& p : projs)
    for (GgmlType t : types)
      for (int64_t m : ms) {
        const std::string name = be + "/matmul/" + p.name + "/" + ggml_type_name(uint32_t(t)) + "/M:" + std::to_string(m);
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
          auto b = make(be);
          auto wf = randn(size_t(p.n * p.k), 1, 0.05f);
          auto q = quantized(t, wf, p.n, p.k);
          auto w = b->load_weight({"w", t, p.n, p.k, q.data()});
          Tensor x = filled(*b, m, p.k, 2), y = b->alloc(m, p.n, DType::F32);
          for (auto _ : st) {
            b->matmul(x, *w, y);
            b->synchronize();
          }
          roofline(st, double(q.size()) + double(m * (p.k + p.n) * 4), 2.0 * double(m) * double(p.n) * double(p.k));
        })->Unit(benchmark::kMicrosecond);
      }

  // attention over a KV cache of `ctx` positions (f16 cache): one decode row, or a whole prefill,
  // at the codex-spark shape (16 heads of 32) and the llama-1b one (32 query heads of 64 over 8
  // KV heads)
  struct AttnShape {
    const char* name;
    int64_t heads, kv_heads, dim;
  };
  std::vector<int64_t> ctxs = g_short ? std::vector<int64_t>{128} : std::vector<int64_t>{128, 512, 2048};
  for (const AttnShape& a : {AttnShape{"spark", 16, 16, 32}, AttnShape{"1b", 32, 8, 64}})
    for (int64_t ctx : ctxs)
      for (bool prefill : {false, true}) {
        if (g_short && (prefill || std::string(a.name) != "spark")) continue;
        const std::string name = be + "/attention/" + a.name + "/ctx:" + std::to_string(ctx) + (prefill ? "/prefill" : "/decode");
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
          auto b = make(be);
          AttentionShape s{a.heads, a.kv_heads, a.dim, a.dim, 10000.0f, RopeStyle::Interleaved};
          const int64_t q_dim = a.heads * a.dim, kv_dim = a.kv_heads * a.dim;
          auto cache = b->create_kv_cache(1, ctx, kv_dim, DType::F16);
          Tensor k = filled(*b, ctx, kv_dim, 3), v = filled(*b, ctx, kv_dim, 4);
          b->kv_store(*cache, 0, k, v, 0);
          const int64_t T = prefill ? ctx : 1, pos0 = prefill ? 0 : ctx - 1;
          Tensor q = filled(*b, T, q_dim, 5), out = b->alloc(T, q_dim, DType::F32);
          for (auto _ : st) {
            b->attention(q, *cache, 0, pos0, s, out);
            b->synchronize();
          }
          // bytes: the f16 K and V caches once; FLOPs: q.k and p.v (2 * dim each) per head per (query, key) pair
          const double pairs = prefill ? double(ctx) * double(ctx + 1) / 2 : double(ctx);
          roofline(st, double(ctx) * double(kv_dim) * 2 * 2, pairs * double(a.heads) * double(a.dim) * 4);
        })->Unit(benchmark::kMicrosecond);
      }

  for (int64_t m : {int64_t(1), int64_t(512)}) {
    const std::string M = "/M:" + std::to_string(m);
    benchmark::RegisterBenchmark((be + "/rmsnorm" + M).c_str(), [=](benchmark::State& st) {
      auto b = make(be);
      Tensor x = filled(*b, m, 512, 6), w = filled(*b, 1, 512, 7), o = b->alloc(m, 512, DType::F32);
      for (auto _ : st) b->rmsnorm(x, w, 1e-5f, o), b->synchronize();
      roofline(st, double(m) * 512 * 8, double(m) * 512 * 4);
    });
    benchmark::RegisterBenchmark((be + "/rope" + M).c_str(), [=](benchmark::State& st) {
      auto b = make(be);
      AttentionShape s{16, 16, 32, 32, 10000.0f, RopeStyle::Interleaved};
      Tensor x = filled(*b, m, 512, 8);
      for (auto _ : st) b->rope(x, 16, s, 100), b->synchronize();
      roofline(st, double(m) * 512 * 8, double(m) * 512 * 3);
    });
    benchmark::RegisterBenchmark((be + "/swiglu" + M).c_str(), [=](benchmark::State& st) {
      auto b = make(be);
      Tensor g = filled(*b, m, 2048, 9), u = filled(*b, m, 2048, 10), o = b->alloc(m, 2048, DType::F32);
      for (auto _ : st) b->swiglu(g, u, o), b->synchronize();
      roofline(st, double(m) * 2048 * 12, double(m) * 2048 * 6);
    });
    benchmark::RegisterBenchmark((be + "/embed" + M).c_str(), [=](benchmark::State& st) {
      auto b = make(be);
      auto table = quantized(GgmlType::F16, randn(size_t(32000) * 512, 11, 0.02f), 32000, 512);
      auto w = b->load_weight({"emb", GgmlType::F16, 32000, 512, table.data()});
      std::vector<int32_t> ids(static_cast<size_t>(m));
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7919) % 32000);
      Tensor x = b->alloc(m, 512, DType::F32);
      for (auto _ : st) b->embed(*w, ids.data(), m, x), b->synchronize();
      roofline(st, double(m) * 512 * 6, 0);
    });
  }
}

void register_conversions() {
  const int64_t n = 512 * 2048;
  auto src = randn(size_t(n), 12, 0.05f);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::F16, GgmlType::BF16}) {
    const std::string tn = ggml_type_name(uint32_t(t));
    benchmark::RegisterBenchmark(("convert/quantize/" + tn).c_str(), [=](benchmark::State& st) {
      std::vector<uint8_t> q(size_t(ggml_row_bytes(t, n)));
      for (auto _ : st) quantize_row(t, src.data(), q.data(), n), benchmark::ClobberMemory();
      roofline(st, double(n) * 4 + double(q.size()), 0);
    })->Unit(benchmark::kMicrosecond);
#if SPARKBENCH_WITH_DNNL
    benchmark::RegisterBenchmark(("convert/dequantize/" + tn).c_str(), [=](benchmark::State& st) {
      std::vector<uint8_t> q(size_t(ggml_row_bytes(t, n)));
      quantize_row(t, src.data(), q.data(), n);
      std::vector<float> out(static_cast<size_t>(n));
      const size_t row = size_t(ggml_row_bytes(t, 512));
      for (auto _ : st) cpu::dequantize_rows(t, q.data(), row, 512, 0, 2048, out.data()), benchmark::ClobberMemory();
      roofline(st, double(n) * 4 + double(q.size()), 0);
    })->Unit(benchmark::kMicrosecond);
#endif
  }
#if SPARKBENCH_WITH_DNNL
  for (int64_t len : {int64_t(128), int64_t(2048)}) {
    benchmark::RegisterBenchmark(("cpu/softmax/n:" + std::to_string(len)).c_str(), [=](benchmark::State& st) {
      auto x = randn(size_t(len), 13);
      std::vector<float> y(x.size());
      for (auto _ : st) cpu::softmax_row(x.data(), y.data(), len), benchmark::ClobberMemory();
      roofline(st, double(len) * 8, double(len) * 4);
    });
  }
#endif
}

#if SPARKBENCH_WITH_DNNL
// qdot/<isa>/<shape>/<proj>/<type>/M:m: the `--compute q8` integer products (cpu/qdot.h) on every
// ISA level this CPU has, at the codex-spark and llama-1b projection shapes: activation
// quantization plus the product, split over threads in 16-row chunks as the backend does.
// Bytes: weights as stored + f32 activations in and out; FLOPs 2*M*N*K (pct_peak_flops is
// against the f32 peak, so above 100% is possible for integer products).
void register_qdot() {
  struct Shape {
    const char* shape;
    Proj p;
  };
  std::vector<Shape> projs{{"spark", {"attn_qkvo", 512, 512}}, {"spark", {"ffn_gate_up", 2048, 512}},   {"spark", {"ffn_down", 512, 2048}},
                           {"1b", {"attn_q", 2048, 2048}},     {"1b", {"attn_kv", 512, 2048}},          {"1b", {"ffn_gate_up", 8192, 2048}},
                           {"1b", {"ffn_down", 2048, 8192}},   {kDramShape, {"", kDramRows, kDramCols}}};
  std::vector<GgmlType> types{GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K};
  std::vector<int64_t> ms{1, 128};
  std::vector<cpu::Isa> isas = cpu::available_isas();
  if (g_short) {
    projs = {{"spark", {"ffn_down", 512, 2048}}};
    types = {GgmlType::Q4_0, GgmlType::Q4_K};
    ms = {1};
  }
  for (cpu::Isa isa : isas)
    for (const auto& [shape, p0] : projs)
      for (GgmlType t : types)
        for (int64_t m : ms) {
          const bool dram = std::strcmp(shape, kDramShape) == 0;
          if (dram && m != 1) continue;  // decode only
          const Proj p = dram ? Proj{nullptr, dram_rows(t), kDramCols} : p0;
          const std::string pname = dram ? std::to_string(p.n / 1024) + "k_x_8k" : p.name;
          const std::string name = std::string("qdot/") + cpu::isa_name(isa) + "/" + shape + "/" + pname + "/" +
                                   ggml_type_name(uint32_t(t)) + "/M:" + std::to_string(m);
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
            const auto& kern = cpu::qdot_kernels(isa);
            auto q = slab_quantized(t, p.n, p.k);
            auto x = randn(size_t(m * p.k), 2);
            const size_t xb = cpu::q8_act_row_bytes(t, p.k), rb = size_t(ggml_row_bytes(t, p.k));
            std::vector<uint8_t> xq(size_t(m) * xb);
            std::vector<float> y(size_t(m * p.n));
            const int nt = g_threads > 0 ? g_threads : omp_get_num_procs();
            for (auto _ : st) {
              for (int64_t r = 0; r < m; ++r) kern.quantize(t, x.data() + r * p.k, xq.data() + size_t(r) * xb, p.k);
#pragma omp parallel for schedule(static) num_threads(nt)
              for (int64_t n0 = 0; n0 < p.n; n0 += 16)
                kern.gemm(t, q.data(), rb, p.k, xq.data(), xb, m, y.data(), p.n, n0, std::min<int64_t>(n0 + 16, p.n), nullptr, false);
              benchmark::ClobberMemory();
            }
            roofline(st, double(q.size()) + double(m * (p.k + p.n) * 4), 2.0 * double(m) * double(p.n) * double(p.k));
          })->Unit(benchmark::kMicrosecond);
        }
}

// qgemv/<isa>/<shape>/<proj>/<type>/M:m: the `--compute q8` decode GEMV over row-interleaved
// weights (cpu/qgemv.h) on every ISA level this CPU has, at the qdot shapes (compare with the
// qdot/ entries, the kernel it replaces for decode): activation quantization and block sums plus
// the product, threads splitting the 16-row groups as the backend does. Bytes: the packed
// weights (the source size, padded to whole groups) + f32 activations in and out.
void register_qgemv() {
  struct Shape {
    const char* shape;
    Proj p;
  };
  std::vector<Shape> projs{{"spark", {"attn_qkvo", 512, 512}}, {"spark", {"ffn_gate_up", 2048, 512}},   {"spark", {"ffn_down", 512, 2048}},
                           {"1b", {"attn_q", 2048, 2048}},     {"1b", {"attn_kv", 512, 2048}},          {"1b", {"ffn_gate_up", 8192, 2048}},
                           {"1b", {"ffn_down", 2048, 8192}},   {kDramShape, {"", kDramRows, kDramCols}}};
  std::vector<GgmlType> types{GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_1, GgmlType::Q5_0,
                              GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
  std::vector<int64_t> ms{1, 4};
  if (g_short) {
    projs = {{"spark", {"ffn_down", 512, 2048}}};
    types = {GgmlType::Q4_0};
    ms = {1};
  }
  for (cpu::Isa isa : cpu::available_isas())
    for (const auto& [shape, p0] : projs)
      for (GgmlType t : types)
        for (int64_t m : ms) {
          const bool dram = std::strcmp(shape, kDramShape) == 0;
          if (dram && m != 1) continue;  // decode only
          const Proj p = dram ? Proj{nullptr, dram_rows(t), kDramCols} : p0;
          const std::string pname = dram ? std::to_string(p.n / 1024) + "k_x_8k" : p.name;
          const std::string name = std::string("qgemv/") + cpu::isa_name(isa) + "/" + shape + "/" + pname + "/" +
                                   ggml_type_name(uint32_t(t)) + "/M:" + std::to_string(m);
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
            const auto& qd = cpu::qdot_kernels(isa);
            const auto& kern = cpu::qgemv_kernels(isa);
            auto q = slab_quantized(t, p.n, p.k);
            const size_t rb = size_t(ggml_row_bytes(t, p.k)), xb = cpu::q8_act_row_bytes(t, p.k);
            const int64_t groups = (p.n + cpu::kGemvRows - 1) / cpu::kGemvRows;
            std::vector<uint8_t> packed(cpu::qgemv_packed_bytes(t, p.n, p.k));
            cpu::qgemv_pack(t, q.data(), rb, p.n, p.k, packed.data(), 0, groups);
            auto x = randn(size_t(m * p.k), 2);
            std::vector<uint8_t> xq(size_t(m) * xb);
            std::vector<int32_t> sums(size_t(m * (p.k / kQK)));
            std::vector<float> y(size_t(m * p.n));
            const int nt = g_threads > 0 ? g_threads : omp_get_num_procs();
            for (auto _ : st) {
              for (int64_t r = 0; r < m; ++r) qd.quantize(t, x.data() + r * p.k, xq.data() + size_t(r) * xb, p.k);
              cpu::qgemv_act_sums(t, xq.data(), xb, m, p.k, sums.data());
#pragma omp parallel num_threads(nt)
              {
                const int id = omp_get_thread_num(), nth = omp_get_num_threads();
                kern.gemv(t, packed.data(), p.n, p.k, xq.data(), xb, sums.data(), m, y.data(), p.n, groups * id / nth,
                          groups * (id + 1) / nth, nullptr, false);
              }
              benchmark::ClobberMemory();
            }
            roofline(st, double(packed.size()) + double(m * (p.k + p.n) * 4), 2.0 * double(m) * double(p.n) * double(p.k));
          })->Unit(benchmark::kMicrosecond);
        }
}

// qgemm/<isa>/<shape>/<proj>/<type>/M:m: the `--compute q8` prefill GEMM (cpu/qgemm.h) on every
// ISA level, at the codex-spark and llama-1b shapes: activation quantization plus the blocked
// product on repacked weights, threads over pairs of weight panels as the backend does. Bytes:
// packed weights + f32 activations in and out; FLOPs 2*M*N*K; pct_peak_flops against the f32
// peak and pct_peak_s8 against oneDNN's measured u8 x s8 matmul peak.
void register_qgemm() {
  struct Shape {
    const char* shape;
    Proj p;
  };
  std::vector<Shape> projs{{"spark", {"attn_qkvo", 512, 512}}, {"spark", {"ffn_gate_up", 2048, 512}}, {"spark", {"ffn_down", 512, 2048}},
                           {"1b", {"attn_q", 2048, 2048}},     {"1b", {"attn_kv", 512, 2048}},        {"1b", {"ffn_gate_up", 8192, 2048}},
                           {"1b", {"ffn_down", 2048, 8192}}};
  std::vector<GgmlType> types{GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K};
  std::vector<int64_t> ms{128, 512};
  std::vector<cpu::Isa> isas = cpu::available_isas();
  if (g_short) {
    projs = {{"spark", {"ffn_down", 512, 2048}}};
    types = {GgmlType::Q4_0, GgmlType::Q4_K};
    ms = {128};
  }
  for (cpu::Isa isa : isas)
    for (const auto& [shape, p] : projs)
      for (GgmlType t : types)
        for (int64_t m : ms) {
          const std::string name = std::string("qgemm/") + cpu::isa_name(isa) + "/" + shape + "/" + p.name + "/" +
                                   ggml_type_name(uint32_t(t)) + "/M:" + std::to_string(m);
          benchmark::RegisterBenchmark(name.c_str(),
                                       [=, p = p](benchmark::State& st) {
                                         const auto& kern = cpu::qgemm_kernels(isa);
                                         auto q = quantized(t, randn(size_t(p.n * p.k), 1, 0.05f), p.n, p.k);
                                         const size_t rb = size_t(ggml_row_bytes(t, p.k)), xb = cpu::qgemm_act_row_bytes(p.k);
                                         const int64_t panels = (p.n + kern.lanes - 1) / kern.lanes;
                                         std::vector<uint8_t> packed(kern.packed_bytes(t, p.n, p.k));
                                         kern.pack(t, q.data(), rb, p.n, p.k, packed.data(), 0, panels);
                                         auto x = randn(size_t(m * p.k), 2);
                                         std::vector<uint8_t> xq(size_t(m) * xb);
                                         std::vector<float> y(size_t(m * p.n));
                                         const int nt = g_threads > 0 ? g_threads : omp_get_num_procs();
                                         for (auto _ : st) {
#pragma omp parallel for schedule(static) num_threads(nt)
                                           for (int64_t r = 0; r < m; ++r)
                                             kern.quantize(x.data() + r * p.k, xq.data() + size_t(r) * xb, p.k);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
                                           for (int64_t p0 = 0; p0 < panels; p0 += 2)
                                             kern.gemm(t, packed.data(), p.n, p.k, xq.data(), m, y.data(), p.n, p0,
                                                       std::min<int64_t>(p0 + 2, panels), nullptr, false);
                                           benchmark::ClobberMemory();
                                         }
                                         const double flops = 2.0 * double(m) * double(p.n) * double(p.k);
                                         roofline(st, double(packed.size()) + double(m * (p.k + p.n) * 4), flops);
                                         if (g_peaks.s8_ops > 0)
                                           st.counters["pct_peak_s8"] = benchmark::Counter(flops / g_peaks.s8_ops * 100.0,
                                                                                           benchmark::Counter::kIsIterationInvariantRate);
                                       })
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();  // rates per wall second (the work runs on OpenMP threads)
        }
}

// decode/<shape>/<group>/<type>/<compute>[/m<M>]: M decode rows (M = 1 unless named; f16/bf16
// also at M = 2 and 4) through the cpu backend's fused Backend::matmul_multi, as the forward
// pass issues it (q+k+v sharing x, gate+up sharing x) and the single products after them (o,
// down, the output head), at the codex-spark and llama-1b shapes. f16/bf16 weights also run
// under --compute bf16 (oneDNN bf16 matmuls on weights reordered once at load; needs AVX512-BF16).
// Bytes: the weights as stored (+ f32 x and y); pct_peak_bw is the fraction of the measured
// DRAM read bandwidth, the decode roofline (the weights of one layer do not fit in cache at the
// 1b shape; at the spark shape they partly do, so above 100% is possible there).
void register_decode() {
  struct Group {
    const char* shape;
    const char* name;
    int64_t k;
    std::vector<int64_t> ns;
  };
  std::vector<Group> groups{{"spark", "qkv", 512, {512, 512, 512}},  {"spark", "o", 512, {512}},
                            {"spark", "gate_up", 512, {2048, 2048}}, {"spark", "down", 2048, {512}},
                            {"1b", "qkv", 2048, {2048, 512, 512}},   {"1b", "o", 2048, {2048}},
                            {"1b", "gate_up", 2048, {8192, 8192}},   {"1b", "down", 8192, {2048}},
                            {"1b", "head", 2048, {128256}}};
  std::vector<GgmlType> types{GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K};
  if (g_short) {
    groups = {{"1b", "qkv", 2048, {2048, 512, 512}}};
    types = {GgmlType::F16, GgmlType::Q4_K};
  }
  for (const auto& g : groups)
    for (GgmlType t : types)
      for (ComputeType ct : {ComputeType::F32, ComputeType::Q8, ComputeType::BF16}) {
        const bool half = t == GgmlType::F16 || t == GgmlType::BF16;
        if (ct == ComputeType::Q8 && cpu::q8_act_kind(t) == 0) continue;  // same kernels as f32
        if (ct == ComputeType::BF16 && !half) continue;
        if (std::string(g.name) == "head" && !half) continue;  // the 0.5 GB head: f16/bf16 files only
        for (int64_t m : {1, 2, 4}) {
          if (m > 1 && !(half && ct == ComputeType::F32)) continue;
          const char* cname = ct == ComputeType::Q8 ? "/q8" : ct == ComputeType::BF16 ? "/bf16" : "/f32";
          const std::string name = std::string("decode/") + g.shape + "/" + g.name + "/" + ggml_type_name(uint32_t(t)) + cname +
                                   (m > 1 ? "/m" + std::to_string(m) : std::string());
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
            BackendOptions o;
            o.threads = g_threads;
            o.compute = ct;
            std::unique_ptr<Backend> b;
            try {
              b = create_backend("cpu", o);
            } catch (const std::exception& e) {
              st.SkipWithError(e.what());  // e.g. --compute bf16 without AVX512-BF16
              return;
            }
            std::vector<std::vector<uint8_t>> qs;
            std::vector<std::unique_ptr<Weight>> ws;
            std::vector<Tensor> ys;
            double bytes = double(m * g.k) * 4;
            for (size_t i = 0; i < g.ns.size(); ++i) {
              qs.push_back(quantized(t, randn(size_t(g.ns[i] * g.k), 20 + i, 0.05f), g.ns[i], g.k));
              ws.push_back(b->load_weight({"w", t, g.ns[i], g.k, qs.back().data()}));
              ys.push_back(b->alloc(m, g.ns[i], DType::F32));
              bytes += double(qs.back().size()) + double(m * g.ns[i]) * 4;
            }
            std::vector<Backend::MatmulOut> outs;
            for (size_t i = 0; i < ws.size(); ++i) outs.push_back({ws[i].get(), &ys[i], nullptr});
            Tensor x = filled(*b, m, g.k, 3);
            for (auto _ : st) {
              b->matmul_multi(x, outs.data(), int(outs.size()));
              b->synchronize();
            }
            double flops = 0;
            for (int64_t n : g.ns) flops += 2.0 * double(m * n) * double(g.k);
            roofline(st, bytes, flops);
          })->Unit(benchmark::kMicrosecond);
        }
      }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  sb::bound_openmp_spinning(argv);
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--short") == 0)
      g_short = true;
    else if (std::strncmp(argv[i], "--threads=", 10) == 0)
      g_threads = std::atoi(argv[i] + 10);
    else
      args.push_back(argv[i]);
  }
  static char short_min_time[] = "--benchmark_min_time=0.01";
  bool has_min_time = false;
  for (char* a : args) has_min_time |= std::strncmp(a, "--benchmark_min_time", 20) == 0;
  if (g_short && !has_min_time) args.push_back(short_min_time);
  int n = int(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  const int threads = g_threads > 0 ? g_threads : omp_get_num_procs();
  g_peaks = bench::measure_peaks(threads, g_short ? 0.2 : 1.0);
  benchmark::AddCustomContext("sparkbench_commit", sb::build_commit());
  benchmark::AddCustomContext("threads", std::to_string(threads));
  benchmark::AddCustomContext("peak_dram_bytes_per_s", std::to_string(g_peaks.dram_bytes_per_s));
  benchmark::AddCustomContext("peak_f32_flops", std::to_string(g_peaks.f32_flops));
  benchmark::AddCustomContext("peak_fma_f32_flops", std::to_string(g_peaks.fma_f32_flops));
  benchmark::AddCustomContext("peak_bf16_flops", std::to_string(g_peaks.bf16_flops));
  benchmark::AddCustomContext("peak_s8_ops", std::to_string(g_peaks.s8_ops));
  register_calibration();
  for (const auto& be : available_backends())
    if (be != "ref" && be != "cuda") register_backend(be);
  sb::bench::register_cuda_kernels(g_short);              // cuda/*: timed with CUDA events (kernels_cuda.cc)
  sb::bench::register_quant_kernels(g_short, g_threads);  // quant/*: int8, q8_0, q4_0 (kernels_quant.cc)
  register_conversions();
  sb::bench::register_train_kernels(g_short, g_threads, g_peaks.f32_flops);  // train/*: training steps (kernels_train.cc)
#if SPARKBENCH_WITH_DNNL
  register_qdot();    // qdot/*: --compute q8 integer products per ISA level
  register_qgemm();   // qgemm/*: --compute q8 prefill GEMM per ISA level
  register_qgemv();   // qgemv/*: --compute q8 decode GEMV per ISA level
  register_decode();  // decode/*: fused decode products through the cpu backend
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
