// The cpu backend's blocked prefill GEMM (`--compute q8`, engine/backends/cpu/qgemm.h) on every
// ISA level this machine supports: the packed form against the dequantized weights (lossless
// repack), products against the double-precision dot of the dequantized operands for M in
// {9, 16, 33, 128} and an odd N, levels agreeing bit for bit, NaN / Inf propagation, and the
// backend's q8 prefill against `ref` within the activation rounding bound.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/backends/cpu_isa.h"
#include "engine/core/error.h"
#include "engine/core/half.h"
#include "engine/gguf/ggml_types.h"
#include "tests/engine/backend_test_util.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu/qdot.h"
#include "engine/backends/cpu/qgemm.h"

using namespace sb;

namespace {

// Byte offsets of the f16 scale fields of one block of each packed type.
std::vector<size_t> f16_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q8_0:
      return {offsetof(BlockQ8_0, d)};
    case GgmlType::Q4_0:
      return {offsetof(BlockQ4_0, d)};
    case GgmlType::Q4_1:
      return {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)};
    case GgmlType::Q5_0:
      return {offsetof(BlockQ5_0, d)};
    case GgmlType::Q5_1:
      return {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)};
    case GgmlType::IQ4_NL:
      return {offsetof(BlockIQ4_NL, d)};
    case GgmlType::Q4_K:
      return {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)};
    case GgmlType::Q5_K:
      return {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)};
    case GgmlType::Q6_K:
      return {offsetof(BlockQ6_K, d)};
    default:
      return {};
  }
}
const GgmlType kTypes[] = {GgmlType::Q8_0,   GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                           GgmlType::IQ4_NL, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// Random bytes (every quant, scale and min pattern) with moderate f16 scales of random sign.
std::vector<uint8_t> random_weights(GgmlType t, int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t bb = size_t(ggml_block_bytes(t)), nb = size_t(rows * cols / ggml_block_size(t));
  std::vector<uint8_t> out(nb * bb);
  for (auto& byte : out) byte = uint8_t(rng());
  std::uniform_real_distribution<float> e(-12.0f, -8.0f);
  for (size_t i = 0; i < nb; ++i)
    for (size_t off : f16_fields(t)) {
      const uint16_t h = f32_to_f16(std::exp2(e(rng)) * (rng() & 1 ? -1.0f : 1.0f));
      std::memcpy(out.data() + i * bb + off, &h, 2);
    }
  return out;
}

// The activation row as the kernels see it: d * q per 32-block, checking the row's int sums.
std::vector<double> dequant_act(const uint8_t* xq, int64_t k) {
  const int64_t nb = k / kQK;
  const auto* b = reinterpret_cast<const cpu::Q8A*>(xq);
  const auto* sums = reinterpret_cast<const int32_t*>(xq + size_t(nb) * sizeof(cpu::Q8A));
  std::vector<double> out(static_cast<size_t>(k));
  for (int64_t i = 0; i < nb; ++i)
    for (int g = 0; g < 2; ++g) {
      int s = 0;
      for (int e = 0; e < 16; ++e) {
        s += b[i].qs[16 * g + e];
        out[size_t(i * kQK + 16 * g + e)] = double(b[i].d) * b[i].qs[16 * g + e];
      }
      REQUIRE(sums[2 * i + g] == s);
    }
  return out;
}

}  // namespace

TEST_CASE("cpu qgemm: blocked prefill products of every packed type on every ISA level", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t K = 512, N = 51;  // odd N: a partial panel on every level
  for (GgmlType t : kTypes) {
    REQUIRE(cpu::qgemm_supported(t));
    const auto w = random_weights(t, N, K, uint64_t(t) * 17 + 5);
    const size_t rb = size_t(ggml_row_bytes(t, K));
    std::vector<float> wf(size_t(N * K));
    for (int64_t n = 0; n < N; ++n) dequantize_row(t, w.data() + size_t(n) * rb, wf.data() + n * K, K);
    for (int64_t M : {9, 16, 33, 128}) {
      auto x = test::randn(size_t(M * K), 21 + uint64_t(M), 2.0f);
      x[7] = 40.0f;  // one block with a large value
      const size_t xb = cpu::qgemm_act_row_bytes(K);
      std::vector<float> first;
      for (cpu::Isa isa : cpu::available_isas()) {
        INFO(ggml_type_name(uint32_t(t)) << " M=" << M << " isa " << cpu::isa_name(isa));
        const auto& kern = cpu::qgemm_kernels(isa);
        const int64_t panels = (N + kern.lanes - 1) / kern.lanes;
        std::vector<uint8_t> packed(kern.packed_bytes(t, N, K));
        kern.pack(t, w.data(), rb, N, K, packed.data(), 0, 1);
        kern.pack(t, w.data(), rb, N, K, packed.data(), 1, panels);
        std::vector<uint8_t> xq(size_t(M) * xb);
        for (int64_t r = 0; r < M; ++r) kern.quantize(x.data() + r * K, xq.data() + size_t(r) * xb, K);
        // y starts at 1 and accumulates, with a bias; the panels in two calls (one odd-sized)
        std::vector<float> y(static_cast<size_t>(M * N), 1.0f), bias(static_cast<size_t>(N));
        for (int64_t n = 0; n < N; ++n) bias[size_t(n)] = 0.25f * float(n);
        kern.gemm(t, packed.data(), N, K, xq.data(), M, y.data(), N, 0, 1, bias.data(), true);
        kern.gemm(t, packed.data(), N, K, xq.data(), M, y.data(), N, 1, panels, bias.data(), true);
        double worst = 0;
        bool finite = true;
        for (int64_t r = 0; r < M; ++r) {
          const auto xd = dequant_act(xq.data() + size_t(r) * xb, K);
          for (int64_t e = 0; e < K; ++e) REQUIRE(std::fabs(xd[size_t(e)] - x[size_t(r * K + e)]) <= 0.5 * 40.0 / 127 + 1e-6);
          for (int64_t n = 0; n < N; ++n) {
            double want = 0, mag = 0;
            for (int64_t e = 0; e < K; ++e) {
              want += double(wf[size_t(n * K + e)]) * xd[size_t(e)];
              mag += std::fabs(double(wf[size_t(n * K + e)]) * xd[size_t(e)]);
            }
            want += 1.0 + bias[size_t(n)];
            const double got = y[size_t(r * N + n)];
            finite = finite && std::isfinite(got);
            const double err = std::fabs(got - want) / (mag + 1.0);
            if (!(err <= worst)) worst = err;  // a NaN error sticks
          }
        }
        CHECK(finite);
        CHECK(worst <= 1e-5);  // f32 scale products, f32 accumulation across blocks
        if (first.empty())
          first = y;
        else
          CHECK(std::memcmp(first.data(), y.data(), y.size() * 4) == 0);  // levels agree exactly
      }
    }
  }
}

TEST_CASE("cpu qgemm: a NaN or Inf activation gives NaN outputs in its row only", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t K = 256, N = 20, M = 9;
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
    const auto w = random_weights(t, N, K, 3);
    for (float bad : {NAN, INFINITY}) {
      for (cpu::Isa isa : cpu::available_isas()) {
        const auto& kern = cpu::qgemm_kernels(isa);
        const int64_t panels = (N + kern.lanes - 1) / kern.lanes;
        std::vector<uint8_t> packed(kern.packed_bytes(t, N, K));
        kern.pack(t, w.data(), size_t(ggml_row_bytes(t, K)), N, K, packed.data(), 0, panels);
        auto x = test::randn(size_t(M * K), 4);
        x[5 * K + 100] = bad;
        const size_t xb = cpu::qgemm_act_row_bytes(K);
        std::vector<uint8_t> xq(size_t(M) * xb);
        for (int64_t r = 0; r < M; ++r) kern.quantize(x.data() + r * K, xq.data() + size_t(r) * xb, K);
        std::vector<float> y(size_t(M * N), 0.0f);
        kern.gemm(t, packed.data(), N, K, xq.data(), M, y.data(), N, 0, panels, nullptr, false);
        INFO(ggml_type_name(uint32_t(t)) << " " << bad << " " << cpu::isa_name(isa));
        for (int64_t r = 0; r < M; ++r)
          for (int64_t n = 0; n < N; ++n) CHECK(std::isnan(y[size_t(r * N + n)]) == (r == 5));
      }
    }
  }
}

TEST_CASE(
    "cpu backend: --compute q8 prefill (blocked GEMM, and with SPARKBENCH_CPU_QGEMM=0 the qdot kernel) against "
    "ref within the activation rounding bound",
    "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  ::setenv("SPARKBENCH_CPU_QGEMM", "2", 1);
  CHECK_THROWS_AS(create_backend("cpu", {.threads = 2, .compute = ComputeType::Q8}), Error);
  ::setenv("SPARKBENCH_CPU_QGEMM", "0", 1);
  auto off = create_backend("cpu", {.threads = 2, .compute = ComputeType::Q8});
  ::unsetenv("SPARKBENCH_CPU_QGEMM");
  CHECK(off->describe().find("blocked int8 GEMM") == std::string::npos);
  auto ref = create_backend("ref");
  auto on = create_backend("cpu", {.threads = 2, .compute = ComputeType::Q8});
  CHECK(on->describe().find("blocked int8 GEMM") != std::string::npos);
  for (Backend* cpu : {on.get(), off.get()})
    for (GgmlType t : kTypes) {
      const int64_t K = 512, N = 45;
      const auto w = random_weights(t, N, K, 91);
      const size_t rb = size_t(ggml_row_bytes(t, K));
      std::vector<float> wf(size_t(N * K));
      for (int64_t n = 0; n < N; ++n) dequantize_row(t, w.data() + size_t(n) * rb, wf.data() + n * K, K);
      WeightSource src{"w", t, N, K, w.data()};
      for (int64_t M : {9, 33, 128}) {
        const auto xv = test::randn(size_t(M * K), 13 + uint64_t(M));
        std::vector<float> out[2];
        Backend* bs[2] = {ref.get(), cpu};
        for (int i = 0; i < 2; ++i) {
          auto wt = bs[i]->load_weight(src);
          Tensor x = test::make(*bs[i], M, K, xv), y = bs[i]->alloc(M, N, DType::F32);
          bs[i]->matmul(x, *wt, y, nullptr, false);
          out[i] = test::get(*bs[i], y);
        }
        // activation blocks: 32 values in the GEMM; the qdot kernel's for the type otherwise
        const int64_t blk = cpu == on.get() || cpu::q8_act_kind(t) == 1 ? kQK : kQK_K;
        bool ok = true;
        for (int64_t r = 0; r < M && ok; ++r)
          for (int64_t n = 0; n < N; ++n) {
            double bound = 1e-4;  // each activation moves by at most amax(its block) / 254
            for (int64_t b0 = 0; b0 < K; b0 += blk) {
              double amax = 0, wsum = 0;
              for (int64_t e = b0; e < b0 + blk; ++e) {
                amax = std::max(amax, std::fabs(double(xv[size_t(r * K + e)])));
                wsum += std::fabs(double(wf[size_t(n * K + e)]));
              }
              bound += wsum * amax / 254.0 * 1.001;
            }
            const double a = out[0][size_t(r * N + n)], g = out[1][size_t(r * N + n)];
            if (!(std::fabs(a - g) <= bound)) {
              INFO(cpu->describe() << " " << ggml_type_name(uint32_t(t)) << " M=" << M << " r=" << r << " n=" << n << " ref " << a << " q8 "
                                   << g << " bound " << bound);
              CHECK(false);
              ok = false;
              break;
            }
          }
        CHECK(ok);
      }
    }
}

#endif
