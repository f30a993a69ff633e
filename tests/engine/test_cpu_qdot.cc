// The cpu backend's integer products (`--compute q8`, engine/backends/cpu/qdot.h) on every ISA
// level this machine supports: activation quantization (scales, rounding bound, block sums),
// each block type's dot products against the double-precision dot of the dequantized operands
// (weights by the exact dequantize_row, activations as d * q), the levels agreeing bit for bit,
// NaN propagation (the avx512 levels run 512-bit bodies that keep the 256-bit accumulation
// order), and the backend's q8 matmul against `ref` within the bound the activation
// rounding allows. Also the ISA level parsing (engine/backends/cpu_isa.h).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
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
#endif

using namespace sb;

TEST_CASE("cpu isa: level names parse, unknown ones fail, the best level is available", "[backend][unit]") {
  for (cpu::Isa l : {cpu::Isa::Avx2, cpu::Isa::AvxVnni, cpu::Isa::Avx512, cpu::Isa::Avx512Vnni, cpu::Isa::Avx512Bf16})
    CHECK(cpu::parse_isa(cpu::isa_name(l)) == l);
  CHECK_THROWS_AS(cpu::parse_isa("avx9"), Error);
  CHECK(cpu::isa_available(cpu::best_isa()));
  // levels are cumulative where they nest
  if (cpu::isa_available(cpu::Isa::Avx512Vnni)) CHECK(cpu::isa_available(cpu::Isa::Avx512));
  if (cpu::isa_available(cpu::Isa::Avx512)) CHECK(cpu::isa_available(cpu::Isa::Avx2));
  for (cpu::Isa l : cpu::available_isas()) CHECK(cpu::isa_available(l));
}

#if SPARKBENCH_WITH_DNNL

namespace {

struct QType {
  GgmlType type;
  std::vector<size_t> f16_fields;  // byte offsets of the f16 scales in one block
};

const std::vector<QType>& qtypes() {
  static const std::vector<QType> v = {
      {GgmlType::Q8_0, {offsetof(BlockQ8_0, d)}},
      {GgmlType::Q4_0, {offsetof(BlockQ4_0, d)}},
      {GgmlType::Q4_1, {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)}},
      {GgmlType::Q5_0, {offsetof(BlockQ5_0, d)}},
      {GgmlType::Q5_1, {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)}},
      {GgmlType::IQ4_NL, {offsetof(BlockIQ4_NL, d)}},
      {GgmlType::Q2_K, {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)}},
      {GgmlType::Q3_K, {offsetof(BlockQ3_K, d)}},
      {GgmlType::Q4_K, {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)}},
      {GgmlType::Q5_K, {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)}},
      {GgmlType::Q6_K, {offsetof(BlockQ6_K, d)}},
      {GgmlType::IQ4_XS, {offsetof(BlockIQ4_XS, d)}},
  };
  return v;
}

// Random bytes (every quant, scale and min pattern, Q8_0's -128 included) with moderate f16
// scales of random sign.
std::vector<uint8_t> random_weights(const QType& c, int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t bb = size_t(ggml_block_bytes(c.type)), nb = size_t(rows * cols / ggml_block_size(c.type));
  std::vector<uint8_t> out(nb * bb);
  for (auto& byte : out) byte = uint8_t(rng());
  std::uniform_real_distribution<float> e(-12.0f, -8.0f);
  for (size_t i = 0; i < nb; ++i)
    for (size_t off : c.f16_fields) {
      const uint16_t h = f32_to_f16(std::exp2(e(rng)) * (rng() & 1 ? -1.0f : 1.0f));
      std::memcpy(out.data() + i * bb + off, &h, 2);
    }
  return out;
}

// The activation row as the kernels see it (d * q), checking the quantization on the way:
// |x - d q| <= d / 2 (+ rounding), s = d * sum(q), bsums = sums of 16 quants.
std::vector<double> dequant_act(GgmlType t, const uint8_t* xq, const float* x, int64_t k) {
  std::vector<double> out(static_cast<size_t>(k));
  if (cpu::q8_act_kind(t) == 1) {
    const auto* b = reinterpret_cast<const cpu::Q8A*>(xq);
    for (int64_t i = 0; i < k / kQK; ++i) {
      int sum = 0;
      for (int e = 0; e < kQK; ++e) {
        const double v = double(b[i].d) * b[i].qs[e], xv = x[i * kQK + e];
        REQUIRE(std::fabs(v - xv) <= b[i].d * 0.5001 + 1e-7);
        REQUIRE(b[i].qs[e] >= -127);
        out[size_t(i * kQK + e)] = v;
        sum += b[i].qs[e];
      }
      REQUIRE(b[i].s == b[i].d * float(sum));
    }
  } else {
    const auto* b = reinterpret_cast<const cpu::Q8KA*>(xq);
    for (int64_t i = 0; i < k / kQK_K; ++i)
      for (int g = 0; g < kQK_K / 16; ++g) {
        int sum = 0;
        for (int e = 0; e < 16; ++e) {
          const int j = 16 * g + e;
          const double v = double(b[i].d) * b[i].qs[j], xv = x[i * kQK_K + j];
          REQUIRE(std::fabs(v - xv) <= b[i].d * 0.5001 + 1e-7);
          out[size_t(i * kQK_K + j)] = v;
          sum += b[i].qs[j];
        }
        REQUIRE(b[i].bsums[g] == sum);
      }
  }
  return out;
}

}  // namespace

TEST_CASE("cpu qdot: integer products of every block type on every ISA level", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t N = 19;
  // K = 544: an odd number of 32-value blocks (the 512-bit bodies' tail block)
  for (const int64_t K : {int64_t(512), int64_t(544)})
    for (const auto& c : qtypes()) {
      if (K % ggml_block_size(c.type) != 0) continue;
      const auto w = random_weights(c, N, K, uint64_t(c.type) * 31 + 1);
      const size_t rb = size_t(ggml_row_bytes(c.type, K));
      std::vector<float> wf(size_t(N * K));
      for (int64_t n = 0; n < N; ++n) dequantize_row(c.type, w.data() + size_t(n) * rb, wf.data() + n * K, K);
      for (int64_t M : {1, 3, 4, 6}) {
        auto x = test::randn(size_t(M * K), 9 + uint64_t(M), 2.0f);
        x[5] = 40.0f;  // one block with a large value
        std::vector<float> first;
        for (cpu::Isa isa : cpu::available_isas()) {
          INFO(ggml_type_name(uint32_t(c.type)) << " M=" << M << " isa " << cpu::isa_name(isa));
          const auto& kern = cpu::qdot_kernels(isa);
          CHECK(kern.isa == (isa == cpu::Isa::Avx512Bf16 ? cpu::Isa::Avx512Vnni : isa));
          const size_t xb = cpu::q8_act_row_bytes(c.type, K);
          std::vector<uint8_t> xq(size_t(M) * xb);
          for (int64_t r = 0; r < M; ++r) kern.quantize(c.type, x.data() + r * K, xq.data() + size_t(r) * xb, K);
          // y starts at 1 and accumulates, with a bias
          std::vector<float> y(static_cast<size_t>(M * N), 1.0f), bias(static_cast<size_t>(N));
          for (int64_t n = 0; n < N; ++n) bias[size_t(n)] = 0.25f * float(n);
          kern.gemm(c.type, w.data(), rb, K, xq.data(), xb, M, y.data(), N, 0, 7, bias.data(), true);
          kern.gemm(c.type, w.data(), rb, K, xq.data(), xb, M, y.data(), N, 7, N, bias.data(), true);
          double worst = 0;
          for (int64_t r = 0; r < M; ++r) {
            const auto xd = dequant_act(c.type, xq.data() + size_t(r) * xb, x.data() + r * K, K);
            for (int64_t n = 0; n < N; ++n) {
              double want = 0, mag = 0;
              for (int64_t e = 0; e < K; ++e) {
                want += double(wf[size_t(n * K + e)]) * xd[size_t(e)];
                mag += std::fabs(double(wf[size_t(n * K + e)]) * xd[size_t(e)]);
              }
              want += 1.0 + bias[size_t(n)];
              const double got = y[size_t(r * N + n)];
              REQUIRE(std::isfinite(got));
              worst = std::max(worst, std::fabs(got - want) / (mag + 1.0));
            }
          }
          CHECK(worst <= 1e-5);  // f32 scale products, f32 accumulation across blocks
          if (first.empty())
            first = y;
          else
            CHECK(std::memcmp(first.data(), y.data(), y.size() * 4) == 0);  // levels agree exactly
        }
      }
    }
}

TEST_CASE("cpu qdot: a NaN or Inf activation gives NaN outputs", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t K = 256;
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_K}) {
    const QType c = t == GgmlType::Q8_0 ? qtypes()[0] : qtypes()[8];
    const auto w = random_weights(c, 1, K, 3);
    for (float bad : {NAN, INFINITY}) {
      for (cpu::Isa isa : cpu::available_isas()) {
        const auto& kern = cpu::qdot_kernels(isa);
        auto x = test::randn(size_t(K), 4);
        x[100] = bad;
        std::vector<uint8_t> xq(cpu::q8_act_row_bytes(t, K));
        kern.quantize(t, x.data(), xq.data(), K);
        float y = 0;
        kern.gemm(t, w.data(), size_t(ggml_row_bytes(t, K)), K, xq.data(), xq.size(), 1, &y, 1, 0, 1, nullptr, false);
        INFO(ggml_type_name(uint32_t(t)) << " " << bad << " " << cpu::isa_name(isa));
        CHECK(std::isnan(y));
      }
    }
  }
}

TEST_CASE("cpu backend: --compute q8 matmul against ref within the activation rounding bound", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  auto ref = create_backend("ref");
  auto cpu = create_backend("cpu", {.threads = 2, .compute = ComputeType::Q8});
  CHECK(cpu->describe().find("compute q8") != std::string::npos);
  CHECK(cpu->describe().find(std::string("isa ") + cpu::isa_name(cpu::active_isa())) != std::string::npos);
  for (const auto& c : qtypes()) {
    const int64_t K = 512, N = 37;
    const auto w = random_weights(c, N, K, 77);
    const size_t rb = size_t(ggml_row_bytes(c.type, K));
    std::vector<float> wf(size_t(N * K));
    for (int64_t n = 0; n < N; ++n) dequantize_row(c.type, w.data() + size_t(n) * rb, wf.data() + n * K, K);
    WeightSource src{"w", c.type, N, K, w.data()};
    for (int64_t M : {1, 5, 40}) {  // decode, decode with several rows, prompt
      const auto xv = test::randn(size_t(M * K), 11);
      std::vector<float> out[2];
      Backend* bs[2] = {ref.get(), cpu.get()};
      for (int i = 0; i < 2; ++i) {
        auto wt = bs[i]->load_weight(src);
        Tensor x = test::make(*bs[i], M, K, xv), y = bs[i]->alloc(M, N, DType::F32);
        bs[i]->matmul(x, *wt, y, nullptr, false);
        out[i] = test::get(*bs[i], y);
      }
      const int64_t blk = cpu::q8_act_kind(c.type) == 1 ? kQK : kQK_K;
      bool ok = true;
      for (int64_t r = 0; r < M && ok; ++r)
        for (int64_t n = 0; n < N; ++n) {
          // each activation moves by at most amax(block) / 254
          double bound = 1e-4;
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
            INFO(ggml_type_name(uint32_t(c.type))
                 << " M=" << M << " r=" << r << " n=" << n << " ref " << a << " q8 " << g << " bound " << bound);
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
