#include "benchmarks/calibration.h"

#include <omp.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#if SPARKBENCH_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include "engine/backends/cpu_isa.h"
#include "engine/backends/host.h"

namespace sb::bench {

size_t dram_bytes() {
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);  // 0 or -1 where unknown
  return std::max<size_t>(size_t(512) << 20, l3 > 0 ? 2 * size_t(l3) : 0);
}

namespace {

using clk = std::chrono::steady_clock;

double dram_read(int threads, double seconds) {
  const size_t n = dram_bytes() / sizeof(float);
  auto mem = host_alloc(n * sizeof(float));
  float* a = static_cast<float*>(mem.get());
#pragma omp parallel for num_threads(threads)
  for (size_t i = 0; i < n; ++i) a[i] = float(i & 1023);
  double best = 0;
  const auto end = clk::now() + std::chrono::duration<double>(seconds);
  volatile float sink = 0;
  do {
    const auto t0 = clk::now();
    float total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total)
    for (size_t i = 0; i < n; i += 16) {  // one load per 64-byte line is enough to stream it
      total += a[i];
    }
    sink = sink + total;
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    best = std::max(best, double(n * sizeof(float)) / s);
  } while (clk::now() < end);
  return best;
}

#if defined(__x86_64__)
// `iters` steps of 12 independent FMA chains (enough to fill two FMA ports of 4-cycle latency).
__attribute__((target("avx512f"))) float chains512(long iters) {
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
  __m512 a[12];
  for (auto& v : a) v = _mm512_set1_ps(1.0f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (auto& v : a) v = _mm512_fmadd_ps(v, b, c);
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx2,fma"))) float chains256(long iters) {
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
  __m256 a[12];
  for (auto& v : a) v = _mm256_set1_ps(1.0f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (auto& v : a) v = _mm256_fmadd_ps(v, b, c);
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

double fma_peak(int threads, double seconds) {
  const cpu::Isa isa = cpu::active_isa();
  if (isa == cpu::Isa::None) return 0;
  const bool wide = isa >= cpu::Isa::Avx512;
  const long iters = 4 << 20;  // ~25 ms a thread at 3 GHz
  const double flops = double(iters) * 12 * (wide ? 16 : 8) * 2 * threads;
  double best = 0;
  volatile float sink = 0;
  const auto end = clk::now() + std::chrono::duration<double>(seconds);
  do {
    const auto t0 = clk::now();
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += wide ? chains512(iters) : chains256(iters);
    sink = sink + total;
    best = std::max(best, flops / std::chrono::duration<double>(clk::now() - t0).count());
  } while (clk::now() < end);
  return best;
}
#else
double fma_peak(int, double) { return 0; }
#endif

#if SPARKBENCH_WITH_DNNL
double matmul_peak(dnnl::memory::data_type wt, double seconds) {
  using namespace dnnl;
  using tag = memory::format_tag;
  try {
    engine eng(engine::kind::cpu, 0);
    stream s(eng);
    const int64_t M = 1024, K = 2048, N = 2048;
    const auto st = wt == memory::data_type::s8 ? memory::data_type::u8 : wt;
    const auto dt = wt == memory::data_type::s8 ? memory::data_type::s32 : memory::data_type::f32;
    auto pd = matmul::primitive_desc(
        matmul::desc(memory::desc({M, K}, st, tag::ab), memory::desc({K, N}, wt, tag::any), memory::desc({M, N}, dt, tag::ab)), eng);
    matmul prim(pd);
    memory src(pd.src_desc(), eng), w(pd.weights_desc(), eng), dst(pd.dst_desc(), eng);
    std::memset(src.get_data_handle(), 0, pd.src_desc().get_size());
    std::memset(w.get_data_handle(), 0, pd.weights_desc().get_size());
    prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}});
    s.wait();
    double best = 0;
    const auto end = clk::now() + std::chrono::duration<double>(seconds);
    do {
      const auto t0 = clk::now();
      prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}});
      s.wait();
      best = std::max(best, 2.0 * double(M * N * K) / std::chrono::duration<double>(clk::now() - t0).count());
    } while (clk::now() < end);
    return best;
  } catch (const dnnl::error&) {
    return 0;  // oneDNN has no implementation of this dtype on this CPU: peak unknown (0 = not reported)
  }
}
#endif

}  // namespace

Peaks measure_peaks(int threads, double seconds) {
  Peaks p;
  p.dram_bytes_per_s = dram_read(threads, seconds);
  p.fma_f32_flops = fma_peak(threads, seconds);
#if SPARKBENCH_WITH_DNNL
  p.f32_flops = matmul_peak(dnnl::memory::data_type::f32, seconds);
  p.bf16_flops = matmul_peak(dnnl::memory::data_type::bf16, seconds);
  p.s8_ops = matmul_peak(dnnl::memory::data_type::s8, seconds);
#endif
  return p;
}

}  // namespace sb::bench
