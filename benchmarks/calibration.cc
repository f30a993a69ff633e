#include "benchmarks/calibration.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#if SPARKBENCH_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

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
#if SPARKBENCH_WITH_DNNL
  p.f32_flops = matmul_peak(dnnl::memory::data_type::f32, seconds);
  p.bf16_flops = matmul_peak(dnnl::memory::data_type::bf16, seconds);
  p.s8_ops = matmul_peak(dnnl::memory::data_type::s8, seconds);
#endif
  return p;
}

}  // namespace sb::bench
