// The cpu backend's f16/bf16 decode GEMV (engine/backends/cpu/hgemv.h) on every ISA level this
// machine supports: against a double-precision dot of the exactly widened weights for m = 1..6
// and k with every tail shape (whole 64-blocks, extra 16-groups, a scalar remainder), with
// strided x/y, bias and accumulate; the levels agreeing bit for bit; a row's result not depending
// on m (the stated accumulation order is per x row); NaN/Inf propagation.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/backends/cpu_isa.h"
#include "engine/core/half.h"
#include "tests/engine/backend_test_util.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu/hgemv.h"

using namespace sb;

namespace {

// n rows of k half values (f16 or bf16) and their exact f32 values.
void random_rows(bool bf16, int64_t n, int64_t k, uint64_t seed, std::vector<uint16_t>& h, std::vector<float>& f) {
  const auto v = test::randn(size_t(n * k), seed, 0.5f);
  h.resize(v.size());
  f.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    h[i] = bf16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
    f[i] = bf16 ? bf16_to_f32(h[i]) : f16_to_f32(h[i]);
  }
}

}  // namespace

TEST_CASE("cpu hgemv: f16/bf16 decode products on every ISA level against a double dot", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t N = 11;
  for (const bool bf16 : {false, true})
    for (const int64_t K : {int64_t(1), int64_t(15), int64_t(16), int64_t(47), int64_t(64), int64_t(113), int64_t(2048), int64_t(2107)}) {
      std::vector<uint16_t> wh;
      std::vector<float> wf;
      random_rows(bf16, N, K, uint64_t(K) * 7 + bf16, wh, wf);
      const size_t rb = size_t(K) * 2;
      const int64_t ldx = K + 3, ldy = N + 2;
      std::vector<float> bias(static_cast<size_t>(N));
      for (int64_t n = 0; n < N; ++n) bias[size_t(n)] = 0.125f * float(n) - 0.5f;
      const auto x = test::randn(size_t(6 * ldx), uint64_t(K) + 5, 1.0f);
      std::vector<float> single;  // m = 1 results of each x row at the first level
      for (int64_t M = 1; M <= 6; ++M) {
        std::vector<float> first;
        for (cpu::Isa isa : cpu::available_isas()) {
          INFO((bf16 ? "bf16" : "f16") << " K=" << K << " M=" << M << " isa " << cpu::isa_name(isa));
          const auto& kern = cpu::hgemv_kernels(isa);
          // y starts at 1 and accumulates, with a bias, in two row ranges
          std::vector<float> y(static_cast<size_t>(M * ldy), 1.0f);
          kern.gemv(bf16, reinterpret_cast<const uint8_t*>(wh.data()), rb, K, x.data(), ldx, M, y.data(), ldy, 0, 4, bias.data(), true);
          kern.gemv(bf16, reinterpret_cast<const uint8_t*>(wh.data()), rb, K, x.data(), ldx, M, y.data(), ldy, 4, N, bias.data(), true);
          double worst = 0;
          for (int64_t t = 0; t < M; ++t) {
            CHECK(y[size_t(t * ldy + N)] == 1.0f);  // nothing written past the row range
            for (int64_t n = 0; n < N; ++n) {
              double want = 0, mag = 0;
              for (int64_t e = 0; e < K; ++e) {
                want += double(wf[size_t(n * K + e)]) * double(x[size_t(t * ldx + e)]);
                mag += std::fabs(double(wf[size_t(n * K + e)]) * double(x[size_t(t * ldx + e)]));
              }
              want += 1.0 + bias[size_t(n)];
              const double err = std::fabs(double(y[size_t(t * ldy + n)]) - want) / (mag + 1.0);
              REQUIRE(err == err);  // NaN fails
              worst = std::max(worst, err);
            }
          }
          CHECK(worst <= 1e-6);  // f32 accumulation over 64 lanes: ~(K/64 + 22) roundings of 2^-24
          if (first.empty())
            first = y;
          else
            CHECK(std::memcmp(first.data(), y.data(), y.size() * 4) == 0);  // levels agree exactly
        }
        if (M == 1) {
          single = first;
        } else {
          // x row 0 gives the same bits whatever m (rows 1.. use other x rows)
          for (int64_t n = 0; n < N; ++n) CHECK(std::memcmp(&first[size_t(n)], &single[size_t(n)], 4) == 0);
        }
      }
      // every x row alone (m = 1) matches its result within an m = 6 call bit for bit
      std::vector<float> y6(static_cast<size_t>(6 * ldy), 0.0f);
      const auto& top = cpu::hgemv_kernels(cpu::best_isa());
      top.gemv(bf16, reinterpret_cast<const uint8_t*>(wh.data()), rb, K, x.data(), ldx, 6, y6.data(), ldy, 0, N, nullptr, false);
      for (int64_t t = 0; t < 6; ++t) {
        std::vector<float> y1(static_cast<size_t>(N), 0.0f);
        top.gemv(bf16, reinterpret_cast<const uint8_t*>(wh.data()), rb, K, x.data() + t * ldx, ldx, 1, y1.data(), N, 0, N, nullptr, false);
        INFO("K=" << K << " t=" << t);
        CHECK(std::memcmp(y1.data(), y6.data() + t * ldy, size_t(N) * 4) == 0);
      }
    }
}

TEST_CASE("cpu hgemv: a NaN or Inf in x or the weights gives a non-finite output", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t K = 200;  // positions 10 (64-block), 130 (16-group), 199 (scalar tail)
  for (const bool bf16 : {false, true})
    for (int64_t pos : {int64_t(10), int64_t(130), int64_t(199)})
      for (cpu::Isa isa : cpu::available_isas()) {
        INFO((bf16 ? "bf16" : "f16") << " pos " << pos << " isa " << cpu::isa_name(isa));
        const auto& kern = cpu::hgemv_kernels(isa);
        std::vector<uint16_t> wh;
        std::vector<float> wf;
        random_rows(bf16, 1, K, 3, wh, wf);
        for (int64_t M : {1, 4}) {
          auto x = test::randn(size_t(M * K), 4);
          x[size_t((M - 1) * K + pos)] = NAN;
          std::vector<float> y(static_cast<size_t>(M), 0.0f);
          kern.gemv(bf16, reinterpret_cast<const uint8_t*>(wh.data()), size_t(K) * 2, K, x.data(), K, M, y.data(), 1, 0, 1, nullptr, false);
          CHECK(std::isnan(y[size_t(M - 1)]));
          if (M > 1) CHECK(std::isfinite(y[0]));
        }
        // an Inf weight: +-Inf or NaN out, never a finite number
        wh[size_t(pos)] = bf16 ? uint16_t(0x7f80) : uint16_t(0x7c00);
        const auto x = test::randn(size_t(K), 5);
        float y = 0;
        kern.gemv(bf16, reinterpret_cast<const uint8_t*>(wh.data()), size_t(K) * 2, K, x.data(), K, 1, &y, 1, 0, 1, nullptr, false);
        CHECK(!std::isfinite(y));
      }
}

#endif  // SPARKBENCH_WITH_DNNL
