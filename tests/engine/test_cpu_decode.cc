// Decode-path pieces of the cpu backend (docs/DESIGN.md, "cpu backend: decode"): the fused
// Backend::matmul_multi (one input, several weights: Q/K/V, gate/up) against the same products
// as separate matmuls (bit for bit: same kernels, x prepared once) and against `ref`, for every
// kernel family it fuses (f32 compute on F32/F16/BF16/block weights, q8 compute with mixed block
// types sharing an activation format, int8 per-channel weights) and the prompt-sized fallback;
// NaN propagation through the fused pass (int8 weights: NaN activations count as 0, their
// documented contract); the f16/bf16 decode kernel against the double dot of the dequantized
// weights; the default matmul_multi (ref) and its shape checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "engine/core/half.h"
#include "engine/gguf/ggml_types.h"
#include "tests/engine/backend_test_util.h"
#include "tests/test_support.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu_isa.h"
#endif

using namespace sb;

namespace {

// A weight of `rows` x `cols` as GGUF type t (or int8 per-channel when int8), its bytes kept
// alive by the caller.
struct TestWeight {
  GgmlType type;
  bool int8 = false;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  WeightSource source() const {
    WeightSource s{"w", type, rows, cols, bytes.data()};
    if (int8) {
      s.format = WeightFormat::Int8PerChannel;
      s.scales = scales.data();
    }
    return s;
  }
};

TestWeight make_weight(GgmlType t, int64_t rows, int64_t cols, uint64_t seed, bool int8 = false) {
  TestWeight w{t, int8, rows, cols, {}, {}};
  const auto f = test::randn(size_t(rows * cols), seed, 0.05f);
  if (int8) {
    w.bytes.resize(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
      float amax = 0;
      for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(f[size_t(r * cols + c)]));
      const float d = amax / 127.0f;
      w.scales.push_back(d);
      for (int64_t c = 0; c < cols; ++c) w.bytes[size_t(r * cols + c)] = uint8_t(int8_t(std::lround(f[size_t(r * cols + c)] / d)));
    }
    return w;
  }
  if (t == GgmlType::F32) {
    w.bytes.resize(f.size() * 4);
    std::memcpy(w.bytes.data(), f.data(), w.bytes.size());
  } else {
    w.bytes = test::quantized(t, f, rows, cols);
  }
  return w;
}

// Runs products of x (M x K) with ws on backend b, fused (matmul_multi) or one matmul each;
// every other product has a bias.
std::vector<std::vector<float>> run_products(Backend& b, const std::vector<TestWeight>& ws, int64_t M, const std::vector<float>& xv,
                                             bool fused) {
  const int64_t K = ws[0].cols;
  std::vector<std::unique_ptr<Weight>> loaded;
  std::vector<Tensor> ys, biases;
  for (size_t i = 0; i < ws.size(); ++i) {
    loaded.push_back(b.load_weight(ws[i].source()));
    ys.push_back(b.alloc(M, ws[i].rows, DType::F32));
    biases.push_back(test::make(b, 1, ws[i].rows, test::randn(size_t(ws[i].rows), 50 + i)));
  }
  Tensor x = test::make(b, M, K, xv);
  std::vector<Backend::MatmulOut> outs;
  for (size_t i = 0; i < ws.size(); ++i) outs.push_back({loaded[i].get(), &ys[i], i % 2 ? &biases[i] : nullptr});
  if (fused) {
    b.matmul_multi(x, outs.data(), int(outs.size()));
  } else {
    for (const auto& o : outs) b.matmul(x, *o.w, *o.y, o.bias, false);
  }
  std::vector<std::vector<float>> out;
  for (auto& y : ys) out.push_back(test::get(b, y));
  return out;
}

struct Case {
  const char* name;
  ComputeType compute;
  std::vector<GgmlType> types;
  bool int8 = false;
  double ref_tol;  // max relative error against ref (q8: activation rounding)
};

}  // namespace

TEST_CASE("backend: default matmul_multi equals separate matmuls; shape errors name the product", "[backend][unit]") {
  auto ref = create_backend("ref");
  const int64_t K = 64;
  const std::vector<TestWeight> ws = {make_weight(GgmlType::F32, 24, K, 1), make_weight(GgmlType::Q8_0, 8, K, 2)};
  const auto xv = test::randn(size_t(3 * K), 3);
  const auto a = run_products(*ref, ws, 3, xv, true), b = run_products(*ref, ws, 3, xv, false);
  for (size_t i = 0; i < ws.size(); ++i) CHECK(std::memcmp(a[i].data(), b[i].data(), a[i].size() * 4) == 0);
  auto w = ref->load_weight(ws[0].source());
  Tensor x = ref->alloc(3, K, DType::F32), bad = ref->alloc(3, 23, DType::F32), good = ref->alloc(3, 24, DType::F32);
  const Backend::MatmulOut outs[2] = {{w.get(), &good, nullptr}, {w.get(), &bad, nullptr}};
  try {
    ref->matmul_multi(x, outs, 2);
    FAIL("no error for a wrong output shape");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("matmul_multi: y 1 is 3 x 23") != std::string::npos);
  }
}

#if SPARKBENCH_WITH_DNNL

TEST_CASE("cpu matmul_multi: fused decode products equal separate matmuls and match ref", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  auto ref = create_backend("ref");
  const std::vector<Case> cases = {
      {"f32 compute, F16", ComputeType::F32, {GgmlType::F16, GgmlType::F16, GgmlType::F16}, false, 1e-5},
      {"f32 compute, BF16", ComputeType::F32, {GgmlType::BF16, GgmlType::BF16}, false, 1e-5},
      {"f32 compute, F32 + Q8_0 + Q4_K", ComputeType::F32, {GgmlType::F32, GgmlType::Q8_0, GgmlType::Q4_K}, false, 1e-5},
      {"q8 compute, Q8_0 + Q4_0 + Q8_0", ComputeType::Q8, {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q8_0}, false, 0.05},
      {"q8 compute, Q4_K + Q6_K", ComputeType::Q8, {GgmlType::Q4_K, GgmlType::Q6_K}, false, 0.05},
      {"q8 compute, Q4_K + F16 (not fused)", ComputeType::Q8, {GgmlType::Q4_K, GgmlType::F16}, false, 0.05},
      {"int8 weights", ComputeType::F32, {GgmlType::F32, GgmlType::F32, GgmlType::F32}, true, 1e-4},
  };
  const int64_t K = 512;
  for (const auto& c : cases) {
    auto cpu = create_backend("cpu", {.threads = 2, .compute = c.compute});
    std::vector<TestWeight> ws;
    // sizes that leave partial 16-row chunks and unequal products
    const int64_t rows[3] = {200, 37, 72};
    for (size_t i = 0; i < c.types.size(); ++i) ws.push_back(make_weight(c.types[i], rows[i], K, 10 + i, c.int8));
    for (int64_t M : {1, 3, 8, 12}) {  // decode sizes (fused) and a prompt size (fallback)
      INFO(c.name << " M=" << M);
      auto xv = test::randn(size_t(M * K), 20 + uint64_t(M));
      const auto fused = run_products(*cpu, ws, M, xv, true);
      const auto sep = run_products(*cpu, ws, M, xv, false);
      const auto want = run_products(*ref, ws, M, xv, false);
      for (size_t i = 0; i < ws.size(); ++i) {
        INFO("product " << i);
        CHECK(std::memcmp(fused[i].data(), sep[i].data(), fused[i].size() * 4) == 0);
        const double err = test::max_rel_err(want[i], fused[i]);
        CHECK(err <= c.ref_tol);  // NaN fails
      }
    }
  }
}

TEST_CASE("cpu matmul_multi: a NaN in x gives NaN in that row of every product (int8: a 0, its contract)", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t K = 256, M = 2;
  for (ComputeType ct : {ComputeType::F32, ComputeType::Q8}) {
    for (bool int8 : {false, true}) {
      auto cpu = create_backend("cpu", {.threads = 2, .compute = ct});
      const std::vector<TestWeight> ws = {make_weight(int8 ? GgmlType::F32 : GgmlType::Q4_K, 64, K, 5, int8),
                                          make_weight(int8 ? GgmlType::F32 : GgmlType::Q6_K, 48, K, 6, int8)};
      auto xv = test::randn(size_t(M * K), 7);
      xv[size_t(K + 17)] = NAN;  // row 1
      const auto out = run_products(*cpu, ws, M, xv, true);
      // int8 activations map a NaN to 0 by contract (sb::quantize_row_s8, engine/backends/host.h)
      auto x0 = xv;
      x0[size_t(K + 17)] = 0.0f;
      const auto zero = run_products(*cpu, ws, M, x0, true);
      for (size_t i = 0; i < ws.size(); ++i) {
        const int64_t N = ws[i].rows;
        INFO("compute " << int(ct) << " int8 " << int8 << " product " << i);
        for (int64_t n = 0; n < N; ++n) {
          REQUIRE(std::isfinite(out[i][size_t(n)]));
          if (int8)
            REQUIRE(out[i][size_t(N + n)] == zero[i][size_t(N + n)]);
          else
            REQUIRE(std::isnan(out[i][size_t(N + n)]));
        }
      }
    }
  }
}

TEST_CASE("cpu decode: f16/bf16 decode products match the double dot", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  auto cpu = create_backend("cpu", {.threads = 1});
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16}) {
    for (int64_t K : {512, 520}) {  // 520: a tail past the 16-value steps
      const int64_t N = 39;
      const TestWeight w = make_weight(t, N, K, 30);
      const auto xv = test::randn(size_t(K), 31);
      std::vector<float> wf(size_t(N * K));
      for (int64_t n = 0; n < N; ++n) dequantize_row(t, w.bytes.data() + size_t(n * ggml_row_bytes(t, K)), wf.data() + n * K, K);
      auto wt = cpu->load_weight(w.source());
      Tensor x = test::make(*cpu, 1, K, xv), y = cpu->alloc(1, N, DType::F32);
      cpu->matmul(x, *wt, y, nullptr, false);
      const auto got = test::get(*cpu, y);
      double worst = 0;
      for (int64_t n = 0; n < N; ++n) {
        double want = 0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
          want += double(wf[size_t(n * K + k)]) * xv[size_t(k)];
          mag += std::fabs(double(wf[size_t(n * K + k)]) * xv[size_t(k)]);
        }
        const double e = std::fabs(got[size_t(n)] - want) / (mag + 1e-30);
        worst = std::isnan(e) || e > worst ? e : worst;  // NaN-aware
      }
      INFO(ggml_type_name(uint32_t(t)) << " K=" << K);
      CHECK(worst <= 1e-6);
      // NaN in x propagates
      auto xn = xv;
      xn[3] = NAN;
      Tensor x2 = test::make(*cpu, 1, K, xn);
      cpu->matmul(x2, *wt, y, nullptr, false);
      for (float v : test::get(*cpu, y)) CHECK(std::isnan(v));
    }
  }
}

#endif
