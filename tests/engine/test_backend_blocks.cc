// The llama.cpp block types (Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K..Q6_K, IQ4_XS) on every compiled
// backend against `ref` (whose dequantize_row is checked bit for bit in test_block_dequant):
// matmul at decode and prompt row counts (each backend's decode kernels, its tiled prefill
// paths) and embedding rows. Weights are random bytes, so every quant, scale and min bit pattern
// occurs, with the f16 block scales set to moderate values (random bytes there would give
// infinities and NaNs).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <random>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "engine/core/half.h"
#include "tests/engine/backend_test_util.h"

using namespace sb;
using sb::test::get;
using sb::test::make;
using sb::test::randn;

namespace {

struct TypeCase {
  GgmlType type;
  std::vector<size_t> f16_fields;  // byte offsets of the f16 scales in one block
};

const std::vector<TypeCase>& block_types() {
  static const std::vector<TypeCase> v = {
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

// rows x cols weights of type c.type: random bytes, f16 scales of magnitude 2^-12 .. 2^-8 with
// random signs (decoded weights stay within +-16: Q6_K's and IQ4_XS's widest products).
std::vector<uint8_t> random_blocks(const TypeCase& c, int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t bb = size_t(ggml_block_bytes(c.type)), nb = size_t(rows * cols / ggml_block_size(c.type));
  std::vector<uint8_t> out(nb * bb);
  for (auto& byte : out) byte = uint8_t(rng());
  std::uniform_real_distribution<float> e(-12.0f, -8.0f);
  for (size_t i = 0; i < nb; ++i)
    for (size_t off : c.f16_fields) {
      const float v = std::exp2(e(rng)) * (rng() & 1 ? -1.0f : 1.0f);
      const uint16_t h = f32_to_f16(v);
      std::memcpy(out.data() + i * bb + off, &h, 2);
    }
  return out;
}

// max |ref - got| / max(1, |ref|), NaN-aware: a non-finite value on either side fails.
double rel_err(const std::vector<float>& ref, const std::vector<float>& got) {
  REQUIRE(ref.size() == got.size());
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    REQUIRE(std::isfinite(ref[i]));
    REQUIRE(std::isfinite(got[i]));
    const double e = std::fabs(double(ref[i]) - got[i]) / std::max(1.0, std::fabs(double(ref[i])));
    if (e > worst) worst = e;
  }
  return worst;
}

// y = x . W^T (+ bias) (+ old y) on ref and dut; returns the relative error.
double matmul_err(Backend& ref, Backend& dut, const TypeCase& c, int64_t M, int64_t K, int64_t N, bool extra) {
  const auto q = random_blocks(c, N, K, uint64_t(K * 7 + N));
  WeightSource src{"w", c.type, N, K, q.data()};
  const auto xv = randn(size_t(M * K), 5), bv = randn(size_t(N), 6), yv = randn(size_t(M * N), 7);
  std::vector<float> r[2];
  Backend* bs[2] = {&ref, &dut};
  for (int i = 0; i < 2; ++i) {
    auto w = bs[i]->load_weight(src);
    Tensor x = make(*bs[i], M, K, xv), y = make(*bs[i], M, N, yv), bt = make(*bs[i], 1, N, bv);
    bs[i]->matmul(x, *w, y, extra ? &bt : nullptr, extra);
    r[i] = get(*bs[i], y);
  }
  return rel_err(r[0], r[1]);
}

// f32 arithmetic in another order (and the "- min" of a decoded weight fused into one FMA).
constexpr double kTol = 1e-4;

}  // namespace

TEST_CASE("backend blocks: matmul of every llama.cpp block type at decode and prompt row counts", "[backend][unit]") {
  auto ref = create_backend("ref");
  for (auto& dut : test::non_ref_backends()) {
    for (const auto& c : block_types()) {
      const bool k_quant = ggml_block_size(c.type) == kQK_K;
      // K: one block row, several (not a multiple of 256 for the 32-element types); N not a
      // multiple of the cpu backend's 16-row chunks.
      const std::vector<int64_t> ks = k_quant ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{32, 352};
      for (int64_t K : ks)
        for (int64_t M : {1, 3, 8, 33}) {
          INFO(dut->name() << " " << ggml_type_name(uint32_t(c.type)) << " M=" << M << " K=" << K << " N=37");
          CHECK(matmul_err(*ref, *dut, c, M, K, 37, M == 3) <= kTol);
        }
      // Big enough for the prompt path (dequantized tiles through oneDNN on cpu, a matmul per
      // row count: a full and a narrower last tile), with and without bias and accumulation.
      for (int64_t M : {40, 70})
        for (bool extra : {true, false}) {
          INFO(dut->name() << " " << ggml_type_name(uint32_t(c.type)) << " prompt M=" << M << " K=512 N=300 bias/accumulate " << extra);
          CHECK(matmul_err(*ref, *dut, c, M, 512, 300, extra) <= kTol);
        }
    }
  }
}

TEST_CASE("backend blocks: cpu prefill alternatives (AVX2 tiles, whole-matrix expansion) decode the block types", "[backend][unit]") {
  const auto names = available_backends();
  if (std::find(names.begin(), names.end(), "cpu") == names.end()) {
    test::skip("cpu backend not compiled in");
    return;
  }
  auto ref = create_backend("ref");
  for (const char* mode : {"avx2_tiles", "expand"}) {
    ::setenv("SPARKBENCH_CPU_QPREFILL", mode, 1);
    std::unique_ptr<Backend> cpu;
    try {
      cpu = create_backend("cpu", {.threads = 2});
    } catch (const Error& e) {
      ::unsetenv("SPARKBENCH_CPU_QPREFILL");
      test::unsupported(std::string("cpu backend unavailable here with SPARKBENCH_CPU_QPREFILL=") + mode + ": " + e.what());
      continue;
    }
    ::unsetenv("SPARKBENCH_CPU_QPREFILL");
    for (const auto& c : block_types()) {
      INFO(mode << " " << ggml_type_name(uint32_t(c.type)));
      CHECK(matmul_err(*ref, *cpu, c, 40, 512, 300, false) <= kTol);
    }
  }
}

TEST_CASE("backend blocks: embedding rows of every block type", "[backend][unit]") {
  auto ref = create_backend("ref");
  for (auto& dut : test::non_ref_backends()) {
    for (const auto& c : block_types()) {
      const int64_t V = 19, C = 512;
      const auto q = random_blocks(c, V, C, 77);
      WeightSource src{"emb", c.type, V, C, q.data()};
      const int32_t ids[4] = {0, 18, 7, 7};
      std::vector<float> r[2];
      Backend* bs[2] = {ref.get(), dut.get()};
      for (int i = 0; i < 2; ++i) {
        auto w = bs[i]->load_weight(src);
        Tensor e = bs[i]->alloc(4, C, DType::F32);
        bs[i]->embed(*w, ids, 4, e);
        r[i] = get(*bs[i], e);
      }
      INFO(dut->name() << " embed " << ggml_type_name(uint32_t(c.type)));
      CHECK(rel_err(r[0], r[1]) <= 1e-6);
      CHECK(r[0][0] != r[0][size_t(C)]);  // different rows decoded differently
    }
  }
}
