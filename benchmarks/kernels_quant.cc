// quant/*: the cpu backend's int8, q8_0 and q4_0 matrix products at the Codex-Spark shapes, and
// the choice behind q8_0/q4_0 prefill:
//   quant/gemm/<proj>/<kind>/M:<m>       backend matmul (int8 includes activation quantization)
//   quant/prefill/<kind>/<strategy>/M:<m> the cpu backend's three ways (SPARKBENCH_CPU_QPREFILL)
//   to multiply M > 8 rows by block weights:
//       onednn_tiles  the default: ~512 KiB tiles of weight rows dequantized, each multiplied by
//                     one oneDNN f32 matmul into a column slice of y
//       avx2_tiles    16-row tiles dequantized per thread + this project's AVX2 FMA kernel
//       expand        the whole matrix expanded to f32 per call, then one oneDNN matmul
// Counters: FLOP/s (2*M*N*K), bytes/s (weights as stored + activations).
#include "benchmarks/kernels_quant.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/compress/quantize.h"
#include "engine/gguf/ggml_types.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu/kernels.h"
#endif

namespace sb::bench {

#if SPARKBENCH_WITH_DNNL
namespace {

using benchmark::Counter;

std::vector<float> randn(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

struct Proj {
  const char* name;
  int64_t n, k;
};

void counters(benchmark::State& st, double weight_bytes, int64_t m, int64_t n, int64_t k) {
  st.SetBytesProcessed(int64_t(weight_bytes + double(m * (k + n)) * 4) * int64_t(st.iterations()));
  st.counters["FLOP/s"] = Counter(2.0 * double(m) * double(n) * double(k), Counter::kIsIterationInvariantRate);
}

std::unique_ptr<Backend> cpu_backend(int threads, const char* qprefill) {
  if (qprefill) ::setenv("SPARKBENCH_CPU_QPREFILL", qprefill, 1);
  auto b = create_backend("cpu", {.threads = threads});
  if (qprefill) ::unsetenv("SPARKBENCH_CPU_QPREFILL");
  return b;
}

void gemm(benchmark::State& st, const Proj p, const std::string kind, int64_t m, int threads) {
  auto b = cpu_backend(threads, nullptr);
  auto wf = randn(size_t(p.n * p.k), 1, 0.05f);
  std::vector<uint8_t> q;
  compress::Int8Matrix i8;
  WeightSource src{"w", GgmlType::F32, p.n, p.k, nullptr};
  double wbytes = 0;
  if (kind == "int8") {
    i8 = compress::quantize_int8(wf.data(), p.n, p.k);
    src.data = i8.q.data();
    src.format = WeightFormat::Int8PerChannel;
    src.scales = i8.scales.data();
    wbytes = double(p.n * p.k + p.n * 4);
  } else {
    src.type = *ggml_type_from_name(kind);
    q = compress::from_f32(src.type, wf.data(), p.n, p.k);
    src.data = q.data();
    wbytes = double(q.size());
  }
  auto w = b->load_weight(src);
  Tensor x = b->alloc(m, p.k, DType::F32), y = b->alloc(m, p.n, DType::F32);
  auto xv = randn(size_t(m * p.k), 2, 1.0f);
  b->upload(x, xv.data());
  for (auto _ : st) b->matmul(x, *w, y);
  counters(st, wbytes, m, p.n, p.k);
}

}  // namespace

void register_quant_kernels(bool short_mode, int threads) {
  if (!cpu::cpu_supported()) return;
  std::vector<Proj> projs{{"attn_qkvo", 512, 512}, {"ffn_gate_up", 2048, 512}, {"ffn_down", 512, 2048}};
  std::vector<std::string> kinds{"f32", "int8", "q8_0", "q4_0"};
  std::vector<int64_t> ms{1, 32, 128};
  if (short_mode) {
    projs = {{"attn_qkvo", 512, 512}};
    kinds = {"int8", "q4_0"};
    ms = {1, 32};
  }
  for (const auto& p : projs)
    for (const auto& k : kinds)
      for (int64_t m : ms)
        benchmark::RegisterBenchmark(("quant/gemm/" + std::string(p.name) + "/" + k + "/M:" + std::to_string(m)).c_str(),
                                     [=](benchmark::State& st) { gemm(st, p, k, m, threads); })
            ->Unit(benchmark::kMicrosecond);
  const Proj pf = short_mode ? Proj{"attn_qkvo", 512, 512} : Proj{"ffn_gate_up", 2048, 512};
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0}) {
    const std::string tn = ggml_type_name(uint32_t(t));
    for (int64_t m : short_mode ? std::vector<int64_t>{32} : std::vector<int64_t>{32, 128, 512}) {
      const std::string M = "/M:" + std::to_string(m);
      for (const char* strategy : {"onednn_tiles", "avx2_tiles", "expand"}) {
        if (short_mode && std::string(strategy) != "onednn_tiles") continue;
        benchmark::RegisterBenchmark(("quant/prefill/" + tn + "/" + strategy + M).c_str(), [=](benchmark::State& st) {
          auto b = cpu_backend(threads, strategy);
          auto wf = randn(size_t(pf.n * pf.k), 1, 0.05f);
          auto q = compress::from_f32(t, wf.data(), pf.n, pf.k);
          auto w = b->load_weight({"w", t, pf.n, pf.k, q.data()});
          Tensor x = b->alloc(m, pf.k, DType::F32), y = b->alloc(m, pf.n, DType::F32);
          auto xv = randn(size_t(m * pf.k), 2, 1.0f);
          b->upload(x, xv.data());
          for (auto _ : st) b->matmul(x, *w, y);
          counters(st, double(q.size()), m, pf.n, pf.k);
        })->Unit(benchmark::kMicrosecond);
      }
    }
  }
}

#else
void register_quant_kernels(bool, int) {}
#endif

}  // namespace sb::bench
