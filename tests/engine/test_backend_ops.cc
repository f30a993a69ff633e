// Backend consistency (ggml's test-backend-ops idea): every op on every compiled backend is run
// on the same inputs as the `ref` backend and compared with a stated tolerance per dtype.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "tests/engine/backend_test_util.h"

using namespace sb;
using sb::test::get;
using sb::test::make;
using sb::test::max_rel_err;
using sb::test::quantized;
using sb::test::randn;

namespace {

// Tolerances relative to max(1, |ref|): f32 arithmetic differs only in summation order.
constexpr double kTolF32 = 1e-4;

struct Pair {
  std::unique_ptr<Backend> ref, dut;
};

std::vector<std::string> backends_under_test() {
  std::vector<std::string> v;
  for (const auto& b : available_backends())
    if (b != "ref") v.push_back(b);
  return v;
}

// Returns the backends to compare; prints why when only ref exists.
std::vector<Pair> pairs(ComputeType compute = ComputeType::F32) {
  std::vector<Pair> out;
  for (const auto& name : backends_under_test()) {
    BackendOptions opt;
    opt.threads = 2;
    opt.compute = compute;
    try {
      out.push_back({create_backend("ref"), create_backend(name, opt)});
    } catch (const Error& e) {
      test::unsupported("backend " + name + " unavailable here: " + e.what());
    }
  }
  if (out.empty() && compute == ComputeType::F32) test::skip("only the ref backend is usable here");
  return out;
}

void check_matmul(Pair& p, GgmlType type, int64_t M, int64_t K, int64_t N, bool bias, bool acc, double tol) {
  auto wv = randn(size_t(N * K), 11 + uint64_t(M), 0.1f);
  auto q = quantized(type, wv, N, K);
  WeightSource src{"w", type, N, K, q.data()};
  auto xv = randn(size_t(M * K), 5);
  auto bv = randn(size_t(N), 6);
  auto yv = randn(size_t(M * N), 7);
  std::vector<float> results[2];
  Backend* bs[2] = {p.ref.get(), p.dut.get()};
  for (int i = 0; i < 2; ++i) {
    auto w = bs[i]->load_weight(src);
    Tensor x = make(*bs[i], M, K, xv), y = make(*bs[i], M, N, yv), bt = make(*bs[i], 1, N, bv);
    bs[i]->matmul(x, *w, y, bias ? &bt : nullptr, acc);
    results[i] = get(*bs[i], y);
  }
  INFO(p.dut->name() << " matmul " << ggml_type_name(uint32_t(type)) << " M=" << M << " K=" << K << " N=" << N << " bias=" << bias
                     << " acc=" << acc);
  CHECK(max_rel_err(results[0], results[1]) <= tol);
}

}  // namespace

TEST_CASE("backend ops: matmul for every weight type and row count", "[backend][unit]") {
  for (auto& p : pairs()) {
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0}) {
      for (int64_t M : {1, 3, 8, 9, 70}) check_matmul(p, t, M, 256, 96, false, false, kTolF32);
    }
    check_matmul(p, GgmlType::F32, 1, 128, 40, true, true, kTolF32);
    check_matmul(p, GgmlType::F16, 33, 128, 40, true, true, kTolF32);
    check_matmul(p, GgmlType::Q4_0, 20, 64, 17, false, true, kTolF32);
  }
}

TEST_CASE("backend ops: bf16 compute matmul within bf16 tolerance", "[backend][unit]") {
  auto ps = pairs(ComputeType::BF16);
  if (ps.empty()) test::skip("no backend offers bf16 compute on this machine");
  // bf16 keeps 8 significant bits: products of K=256 terms stay within ~4e-2 relative.
  for (auto& p : ps) {
    for (int64_t M : {1, 64}) check_matmul(p, GgmlType::F32, M, 256, 64, true, false, 4e-2);
  }
}

TEST_CASE("backend ops: embed, rmsnorm, swiglu, add", "[backend][unit]") {
  for (auto& p : pairs()) {
    const int64_t V = 50, C = 72, T = 5;
    auto table = randn(size_t(V * C), 1);
    WeightSource src{"emb", GgmlType::F32, V, C, table.data()};
    const int32_t ids[T] = {0, 49, 7, 7, 13};
    auto xv = randn(size_t(T * C), 2), wv = randn(size_t(C), 3), gv = randn(size_t(T * C), 4), uv = randn(size_t(T * C), 8);
    std::vector<float> r[2][4];
    Backend* bs[2] = {p.ref.get(), p.dut.get()};
    for (int i = 0; i < 2; ++i) {
      Backend& b = *bs[i];
      auto emb = b.load_weight(src);
      Tensor e = b.alloc(T, C, DType::F32);
      b.embed(*emb, ids, T, e);
      r[i][0] = get(b, e);
      Tensor x = make(b, T, C, xv), w = make(b, 1, C, wv), out = b.alloc(T, C, DType::F32);
      b.rmsnorm(x, w, 1e-5f, out);
      r[i][1] = get(b, out);
      Tensor g = make(b, T, C, gv), u = make(b, T, C, uv);
      b.swiglu(g, u, out);
      r[i][2] = get(b, out);
      b.add(g, u);
      r[i][3] = get(b, g);
    }
    const char* names[4] = {"embed", "rmsnorm", "swiglu", "add"};
    for (int k = 0; k < 4; ++k) {
      INFO(p.dut->name() << " " << names[k]);
      CHECK(max_rel_err(r[0][k], r[1][k]) <= kTolF32);
    }
  }
}

TEST_CASE("backend ops: rope in both styles", "[backend][unit]") {
  for (auto& p : pairs()) {
    for (RopeStyle style : {RopeStyle::Interleaved, RopeStyle::NeoX}) {
      AttentionShape s{4, 2, 16, 12, 10000.0f, style};  // partial rotation: 12 of 16 dims
      auto xv = randn(size_t(6 * 64), 9);
      std::vector<float> r[2];
      Backend* bs[2] = {p.ref.get(), p.dut.get()};
      for (int i = 0; i < 2; ++i) {
        Tensor x = make(*bs[i], 6, 64, xv);
        bs[i]->rope(x, 4, s, 1000);
        r[i] = get(*bs[i], x);
      }
      INFO(p.dut->name() << " rope style " << int(style));
      CHECK(max_rel_err(r[0], r[1]) <= kTolF32);
      CHECK(r[0] != xv);  // it did rotate
    }
  }
}

TEST_CASE("backend ops: kv_store + causal attention with grouped heads", "[backend][unit]") {
  for (auto& p : pairs()) {
    for (DType kv : {DType::F32, DType::F16, DType::BF16}) {
      AttentionShape s{8, 2, 16, 16, 10000.0f, RopeStyle::Interleaved};
      const int64_t kv_dim = 2 * 16, ctx = 1100;
      std::vector<float> r[2];
      Backend* bs[2] = {p.ref.get(), p.dut.get()};
      for (int i = 0; i < 2; ++i) {
        Backend& b = *bs[i];
        auto cache = b.create_kv_cache(2, ctx, kv_dim, kv);
        // a 13-token "prompt", 2 single steps, then batches of 300 and 20 rows (the cpu backend
        // runs 16 rows and more as matrix products, in blocks of 256 query rows, all KV heads in
        // one product), a step, and 700 rows (past 2^19 scores per block: one KV head at a time)
        int64_t pos = 0;
        std::vector<float> all;
        for (int64_t T : {13, 1, 1, 300, 20, 1, 700}) {
          Tensor q = make(b, T, 8 * 16, randn(size_t(T * 128), 100 + uint64_t(pos)));
          Tensor k = make(b, T, kv_dim, randn(size_t(T * kv_dim), 200 + uint64_t(pos)));
          Tensor v = make(b, T, kv_dim, randn(size_t(T * kv_dim), 300 + uint64_t(pos)));
          Tensor out = b.alloc(T, 128, DType::F32);
          b.kv_store(*cache, 1, k, v, pos);
          b.attention(q, *cache, 1, pos, s, out);
          auto o = get(b, out);
          all.insert(all.end(), o.begin(), o.end());
          pos += T;
        }
        r[i] = all;
      }
      INFO(p.dut->name() << " attention kv " << dtype_name(kv));
      // f16/bf16 caches: both backends round q and probabilities the same way, so only the
      // summation order differs; bf16 products amplify that a little.
      CHECK(max_rel_err(r[0], r[1]) <= (kv == DType::BF16 ? 1e-2 : kTolF32 * 10));
    }
  }
}

TEST_CASE("backend ops: geglu, scale, softcap and per-head rmsnorm", "[backend][unit]") {
  // The ref backend against the formulas, NaN-aware (a NaN fails every comparison).
  {
    auto ref = create_backend("ref");
    const std::vector<float> gv = {0.0f, 1.0f, -1.0f, 3.0f, -12.0f, 0.5f}, uv = {2.0f, 1.0f, 1.0f, 0.5f, 1.0f, -2.0f};
    Tensor g = make(*ref, 1, 6, gv), u = make(*ref, 1, 6, uv), out = ref->alloc(1, 6, DType::F32);
    ref->geglu(g, u, out);
    const auto r = get(*ref, out);
    for (size_t i = 0; i < gv.size(); ++i) {
      const double x = gv[i], want = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * x * (1 + 0.044715 * x * x))) * uv[i];
      INFO("geglu " << x);
      CHECK(std::fabs(r[i] - want) <= 1e-6 * std::max(1.0, std::fabs(want)));
    }
    CHECK(std::fabs(r[1] - 0.841192) < 1e-5);  // gelu(1) in the tanh approximation
    Tensor x = make(*ref, 1, 6, {-100.0f, -1.0f, 0.0f, 0.25f, 2.0f, 1e6f});
    ref->softcap(x, 2.0f);
    const auto c = get(*ref, x);
    for (size_t i = 0; i < c.size(); ++i) CHECK(std::fabs(c[i]) <= 2.0f);
    CHECK(c[2] == 0.0f);
    CHECK(std::fabs(c[3] - 2.0 * std::tanh(0.125)) < 1e-6);
    ref->scale(x, -0.5f);
    CHECK(get(*ref, x)[3] == Approx(-std::tanh(0.125)).epsilon(1e-6));
  }
  for (auto& p : pairs()) {
    const int64_t T = 5, H = 6, D = 32;
    auto gv = randn(size_t(T * 200), 21, 3.0f), uv = randn(size_t(T * 200), 22), xv = randn(size_t(T * H * D), 23, 4.0f);
    auto wv = randn(size_t(D), 24);
    std::vector<float> r[2][4];
    Backend* bs[2] = {p.ref.get(), p.dut.get()};
    for (int i = 0; i < 2; ++i) {
      Backend& b = *bs[i];
      Tensor g = make(b, T, 200, gv), u = make(b, T, 200, uv), out = b.alloc(T, 200, DType::F32);
      b.geglu(g, u, out);
      r[i][0] = get(b, out);
      b.softcap(g, 1.5f);
      r[i][1] = get(b, g);
      b.scale(g, 3.25f);
      r[i][2] = get(b, g);
      // qwen3's q/k norm: the (T, H * D) activations seen as (T * H, D) rows
      Tensor x = make(b, T, H * D, xv), w = make(b, 1, D, wv);
      Tensor heads = x.reshaped(T * H, D);
      b.rmsnorm(heads, w, 1e-6f, heads);
      r[i][3] = get(b, x);
    }
    const char* names[4] = {"geglu", "softcap", "scale", "per-head rmsnorm"};
    for (int k = 0; k < 4; ++k) {
      INFO(p.dut->name() << " " << names[k]);
      CHECK(max_rel_err(r[0][k], r[1][k]) <= kTolF32);
    }
    // each head of each row was normalized on its own: mean square of head / w == 1
    const auto& n = r[0][3];
    for (int64_t h = 0; h < T * H; h += 7) {
      double ss = 0;
      for (int64_t d = 0; d < D; ++d) ss += std::pow(double(n[size_t(h * D + d)]) / double(wv[size_t(d)]), 2);
      CHECK(std::fabs(ss / double(D) - 1.0) < 1e-3);
    }
  }
  auto ref = create_backend("ref");
  Tensor t = ref->alloc(4, 6, DType::F32);
  CHECK_THROWS_AS(t.reshaped(5, 5), Error);
}

TEST_CASE("backend ops: rope with frequency factors and linear scaling", "[backend][unit]") {
  auto ref = create_backend("ref");
  auto xv = randn(size_t(6 * 64), 31);
  // factors of 2 everywhere halve every angle, as a linear scaling factor of 2 does
  for (RopeStyle style : {RopeStyle::Interleaved, RopeStyle::NeoX}) {
    AttentionShape a{4, 4, 16, 16, 500000.0f, style}, b = a;
    a.freq_factors = make(*ref, 1, 8, std::vector<float>(8, 2.0f));
    b.freq_scale = 0.5f;
    Tensor xa = make(*ref, 6, 64, xv), xb = make(*ref, 6, 64, xv);
    ref->rope(xa, 4, a, 777);
    ref->rope(xb, 4, b, 777);
    INFO("style " << int(style));
    CHECK(max_rel_err(get(*ref, xa), get(*ref, xb)) <= 1e-6);
    CHECK(get(*ref, xa) != xv);
  }
  for (auto& p : pairs()) {
    for (RopeStyle style : {RopeStyle::Interleaved, RopeStyle::NeoX}) {
      std::vector<float> r[2];
      Backend* bs[2] = {p.ref.get(), p.dut.get()};
      for (int i = 0; i < 2; ++i) {
        AttentionShape s{4, 2, 16, 12, 500000.0f, style};  // partial rotation, llama3-like factors
        s.freq_factors = make(*bs[i], 1, 6, {1.0f, 1.0f, 1.7f, 4.2f, 8.0f, 8.0f});
        s.freq_scale = 0.25f;
        Tensor x = make(*bs[i], 6, 64, xv);
        bs[i]->rope(x, 4, s, 4000);
        r[i] = get(*bs[i], x);
      }
      INFO(p.dut->name() << " rope with factors, style " << int(style));
      CHECK(max_rel_err(r[0], r[1]) <= kTolF32);
    }
  }
}

TEST_CASE("backend ops: attention with sliding window, soft-cap and query scale", "[backend][unit]") {
  // ref: a window of 1 makes every query see only its own position, so out = v of that row
  {
    auto ref = create_backend("ref");
    AttentionShape s{4, 2, 8, 8, 10000.0f, RopeStyle::NeoX};
    s.window = 1;
    s.softcap = 0.5f;
    auto cache = ref->create_kv_cache(1, 32, 16, DType::F32);
    auto vv = randn(size_t(10 * 16), 41);
    Tensor q = make(*ref, 10, 32, randn(size_t(10 * 32), 42)), k = make(*ref, 10, 16, randn(size_t(10 * 16), 43));
    Tensor v = make(*ref, 10, 16, vv), out = ref->alloc(10, 32, DType::F32);
    ref->kv_store(*cache, 0, k, v, 0);
    ref->attention(q, *cache, 0, 0, s, out);
    const auto o = get(*ref, out);
    for (int64_t t = 0; t < 10; ++t)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t d = 0; d < 8; ++d) REQUIRE(o[size_t(t * 32 + h * 8 + d)] == Approx(vv[size_t(t * 16 + (h / 2) * 8 + d)]).margin(1e-6));
  }
  for (auto& p : pairs()) {
    for (DType kv : {DType::F32, DType::F16}) {
      for (int64_t window : {0, 5, 64}) {
        AttentionShape s{8, 2, 16, 16, 10000.0f, RopeStyle::NeoX};
        s.window = window;
        s.softcap = 2.0f;
        s.attn_scale = 0.3f;
        const int64_t kv_dim = 32, ctx = 400;
        std::vector<float> r[2];
        Backend* bs[2] = {p.ref.get(), p.dut.get()};
        for (int i = 0; i < 2; ++i) {
          Backend& b = *bs[i];
          auto cache = b.create_kv_cache(1, ctx, kv_dim, kv);
          int64_t pos = 0;
          for (int64_t T : {13, 1, 1, 300, 20, 1}) {  // row-at-a-time and matrix-product paths
            Tensor q = make(b, T, 128, randn(size_t(T * 128), 500 + uint64_t(pos), 2.0f));
            Tensor k = make(b, T, kv_dim, randn(size_t(T * kv_dim), 600 + uint64_t(pos), 2.0f));
            Tensor v = make(b, T, kv_dim, randn(size_t(T * kv_dim), 700 + uint64_t(pos)));
            Tensor out = b.alloc(T, 128, DType::F32);
            b.kv_store(*cache, 0, k, v, pos);
            b.attention(q, *cache, 0, pos, s, out);
            auto o = get(b, out);
            r[i].insert(r[i].end(), o.begin(), o.end());
            pos += T;
          }
        }
        INFO(p.dut->name() << " kv " << dtype_name(kv) << " window " << window);
        CHECK(max_rel_err(r[0], r[1]) <= kTolF32 * 10);
      }
    }
  }
}

TEST_CASE("backend ops: unknown backend names list the available ones", "[backend][unit]") {
  try {
    create_backend("tpu");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("available: ref") != std::string::npos);
  }
}
