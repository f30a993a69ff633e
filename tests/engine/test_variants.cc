// Compression variants (engine/compress): spec parsing, quantizers, every variant kind's matmul
// on each backend against the reference, pruning structure, and structured pruning on small
// in-memory models against manually pruned references.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>

#include "engine/backends/backend.h"
#include "engine/backends/host.h"
#include "engine/compress/apply.h"
#include "engine/compress/prune.h"
#include "engine/compress/quantize.h"
#include "engine/compress/variant.h"
#include "engine/core/error.h"
#include "engine/core/half.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "tests/engine/backend_test_util.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu/kernels.h"
#endif

using namespace sb;
using namespace sb::compress;
using sb::test::make;
using sb::test::max_rel_err;
using sb::test::randn;

namespace {

std::string parse_error(const std::string& spec) {
  try {
    parse_variant(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<float> run_matmul(Backend& b, const WeightSource& src, int64_t M, const std::vector<float>& xv, const std::vector<float>* bias,
                              const std::vector<float>* y0) {
  auto w = b.load_weight(src);
  Tensor x = make(b, M, src.cols, xv);
  Tensor y = y0 ? make(b, M, src.rows, *y0) : b.alloc(M, src.rows, DType::F32);
  Tensor bt;
  if (bias) bt = make(b, 1, src.rows, *bias);
  b.matmul(x, *w, y, bias ? &bt : nullptr, y0 != nullptr);
  std::vector<float> out(size_t(M * src.rows));
  b.download(y, out.data());
  return out;
}

// A small Llama-shaped model in memory (no tokenizer): vocab 48, width 64, n_head heads of 16.
struct TinyModel {
  std::vector<uint8_t> bytes;
  std::shared_ptr<const GgufFile> file;
};

TinyModel tiny_model(int64_t n_head, int64_t n_head_kv, int64_t n_layer, uint64_t seed,
                     const std::function<void(const std::string&, std::vector<float>&, int64_t rows, int64_t cols)>& edit = nullptr) {
  const int64_t C = 64, D = 16, F = 96, V = 48;
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("llama.context_length", GgufValue::u32(64));
  w.set("llama.embedding_length", GgufValue::u32(uint32_t(C)));
  w.set("llama.block_count", GgufValue::u32(uint32_t(n_layer)));
  w.set("llama.feed_forward_length", GgufValue::u32(uint32_t(F)));
  w.set("llama.attention.head_count", GgufValue::u32(uint32_t(n_head)));
  w.set("llama.attention.head_count_kv", GgufValue::u32(uint32_t(n_head_kv)));
  w.set("llama.attention.key_length", GgufValue::u32(uint32_t(D)));
  w.set("llama.rope.dimension_count", GgufValue::u32(uint32_t(D)));
  uint64_t s = seed;
  auto mat = [&](const std::string& name, int64_t in, int64_t out, float sd) {
    auto v = randn(size_t(in * out), ++s, sd);
    if (edit) edit(name, v, out, in);
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    w.add_tensor(name, GgmlType::F32, {in, out}, std::move(b));
  };
  auto norm = [&](const std::string& name) {
    std::vector<float> v(static_cast<size_t>(C));
    auto r = randn(size_t(C), ++s, 0.1f);
    for (size_t i = 0; i < v.size(); ++i) v[i] = 1.0f + r[i];
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    w.add_tensor(name, GgmlType::F32, {C}, std::move(b));
  };
  mat("token_embd.weight", C, V, 1.0f);
  norm("output_norm.weight");
  mat("output.weight", C, V, 0.2f);
  for (int64_t l = 0; l < n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight");
    mat(p + "attn_q.weight", C, n_head * D, 0.3f);
    mat(p + "attn_k.weight", C, n_head_kv * D, 0.3f);
    mat(p + "attn_v.weight", C, n_head_kv * D, 0.3f);
    mat(p + "attn_output.weight", n_head * D, C, 0.1f);
    norm(p + "ffn_norm.weight");
    mat(p + "ffn_gate.weight", C, F, 0.2f);
    mat(p + "ffn_up.weight", C, F, 0.2f);
    mat(p + "ffn_down.weight", F, C, 0.1f);
  }
  TinyModel m;
  m.bytes = w.serialize();
  m.file = GgufFile::parse(m.bytes.data(), m.bytes.size(), "tiny.gguf");
  return m;
}

std::vector<float> logits_of(const Model& m, const std::vector<int32_t>& ids) {
  Context ctx(m, {.n_ctx = 64, .kv_type = DType::F32});
  std::vector<float> logits;
  ctx.eval(ids.data(), int64_t(ids.size()), true, logits);
  return logits;
}

}  // namespace

TEST_CASE("variants: spec parsing gives canonical names", "[variants][unit]") {
  CHECK(parse_variant("base").name() == "base");
  CHECK(parse_variant("q4_0").gguf_type() == GgmlType::Q4_0);
  CHECK(parse_variant("int8").weights == WeightKind::Int8);
  CHECK_FALSE(parse_variant("int8").gguf_type());
  CHECK(parse_variant("prune:0.5+q4_0").name() == "q4_0+prune:0.5");
  CHECK(parse_variant("prune24+prune-heads:2+bf16+prune-layers:3").name() == "bf16+prune-layers:3+prune-heads:2+prune24");
  CHECK(parse_variant("prune:0.25").prune_fraction == Approx(0.25));
  CHECK(parse_variant("prune:0").is_base());
  CHECK(parse_variant("prune-layers:4").needs_calibration());
  CHECK_FALSE(parse_variant("prune:0.3").structured());
  CHECK(parse_variant("prune-heads:1").structured());
  auto list = parse_variant_list("f32,bf16,int8,q8_0,q4_0,prune:0.5");
  REQUIRE(list.size() == 6);
  CHECK(list[5].name() == "prune:0.5");
}

TEST_CASE("variants: the distill:STEPS step parses after pruning parts, canonically last", "[variants][distill][unit]") {
  const VariantSpec v = parse_variant("distill:400+prune-layers:1");
  CHECK(v.distills());
  CHECK(v.distill_steps == 400);
  CHECK(v.name() == "prune-layers:1+distill:400");
  CHECK_FALSE(v.is_base());
  CHECK(v.pruning_part().name() == "prune-layers:1");
  CHECK(v.weights_part().is_base());
  const VariantSpec q = parse_variant("prune-layers:1+distill:100+q8_0");
  CHECK(q.name() == "q8_0+prune-layers:1+distill:100");
  CHECK(q.pruning_part().name() == "prune-layers:1");
  CHECK(q.weights_part().name() == "q8_0");
  CHECK(parse_variant("prune24+distill:3").name() == "prune24+distill:3");
  CHECK(parse_variant("prune:0.5+prune-heads:1+distill:7").pruning_part().name() == "prune-heads:1+prune:0.5");
  // names round-trip
  for (const char* s : {"prune-layers:1+distill:400", "q8_0+prune-layers:1+distill:100", "int8+prune-heads:2+distill:1"})
    CHECK(parse_variant(parse_variant(s).name()).name() == s);
  auto list = parse_variant_list("prune-layers:1,prune-layers:1+distill:20");
  REQUIRE(list.size() == 2);
  CHECK_FALSE(list[0].distills());
  CHECK(list[1].distill_steps == 20);
  // applying it outside the harness is refused with one line (it trains a model)
  CHECK_THROWS_WITH(sb::compress::apply_variant(nullptr, list[1], nullptr), Catch::Contains("distill step trains a model"));
}

TEST_CASE("variants: distill:STEPS without a pruning part or a whole number is refused", "[variants][distill][unit]") {
  CHECK(parse_error("q4_0+distill:10").find("'distill:10' needs a pruning part") != std::string::npos);
  CHECK(parse_error("distill:10").find("needs a pruning part") != std::string::npos);
  CHECK(parse_error("prune-layers:1+distill:0").find("'distill:0' needs a positive whole number") != std::string::npos);
  CHECK(parse_error("prune-layers:1+distill:").find("'distill:' needs a positive whole number") != std::string::npos);
  CHECK(parse_error("prune-layers:1+distill:1.5").find("'distill:1.5'") != std::string::npos);
  CHECK(parse_error("prune-layers:1+distill:2+distill:3").find("appears twice") != std::string::npos);
  CHECK(parse_error("base+distill:2").find("cannot be combined") != std::string::npos);
  CHECK(parse_error("prune-layers:1+distil:2").find("is not a known part") != std::string::npos);
}

TEST_CASE("variants: bad specs name the offending part", "[variants][unit]") {
  CHECK(parse_error("q4_0+prun:0.5").find("'prun:0.5' is not a known part") != std::string::npos);
  CHECK(parse_error("f32+q8_0").find("'q8_0' is a second weight type") != std::string::npos);
  CHECK(parse_error("prune:1").find("'prune:1' needs a fraction") != std::string::npos);
  CHECK(parse_error("prune:-0.1").find("'prune:-0.1'") != std::string::npos);
  CHECK(parse_error("prune:abc").find("'prune:abc'") != std::string::npos);
  CHECK(parse_error("prune-heads:0").find("'prune-heads:0' needs a positive whole number") != std::string::npos);
  CHECK(parse_error("prune-layers:2x").find("'prune-layers:2x'") != std::string::npos);
  CHECK(parse_error("prune:0.5+prune24").find("'prune24' is a second unstructured pruning") != std::string::npos);
  CHECK(parse_error("prune-heads:1+prune-heads:2").find("appears twice") != std::string::npos);
  CHECK(parse_error("base+q4_0").find("cannot be combined") != std::string::npos);
  CHECK(parse_error("q4_0+").find("empty part") != std::string::npos);
  CHECK(parse_error("").find("empty variant") != std::string::npos);
  CHECK_THROWS_WITH(parse_variant_list("f32,q4_0,f32"), Catch::Contains("listed twice"));
}

TEST_CASE("variants: quantize round trips stay within their error bounds", "[variants][unit]") {
  const int64_t rows = 24, cols = 256;
  auto w = randn(size_t(rows * cols), 3, 0.05f);
  w[7] = 0.0f;
  w[100] = 0.4f;  // outliers set their block's scale
  w[300] = -0.5f;
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0}) {
    auto q = from_f32(t, w.data(), rows, cols);
    CHECK(q.size() == size_t(ggml_row_bytes(t, cols) * rows));
    auto back = to_f32(t, q.data(), rows, cols);
    CHECK(back[7] == 0.0f);  // zeros stay zero (pruned weights survive quantization)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < cols; b += 32) {
        float amax = 0;
        for (int64_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(w[size_t(r * cols + i)]));
        for (int64_t i = b; i < b + 32; ++i) {
          const float x = w[size_t(r * cols + i)], y = back[size_t(r * cols + i)];
          double bound = 0;
          switch (t) {
            case GgmlType::F16:
              bound = std::fabs(x) * 0x1p-11 + 6e-8;
              break;
            case GgmlType::BF16:
              bound = std::fabs(x) * 0x1p-8;
              break;
            // half a step, plus |q| <= 127 times the f16 rounding of the scale (2^-11 relative)
            case GgmlType::Q8_0:
              bound = amax / 127.0 * (0.5 + 127 * 0x1p-11);
              break;
            // one step: +amax maps to level 15 = 7 steps (the scale is set by the -8 side), plus scale rounding
            case GgmlType::Q4_0:
              bound = amax / 8.0 * (1.0 + 8 * 0x1p-11);
              break;
            default:
              break;
          }
          INFO(ggml_type_name(uint32_t(t)) << " row " << r << " col " << i);
          REQUIRE(std::fabs(x - y) <= bound);
        }
      }
  }
  // int8 per channel: half a step of the row's own scale, scale = max |w| / 127
  auto m = quantize_int8(w.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0;
    for (int64_t i = 0; i < cols; ++i) amax = std::max(amax, std::fabs(w[size_t(r * cols + i)]));
    CHECK(m.scales[size_t(r)] == Approx(amax / 127.0f));
    for (int64_t i = 0; i < cols; ++i) {
      const int q = m.q[size_t(r * cols + i)];
      REQUIRE(q >= -127);
      REQUIRE(q <= 127);
      REQUIRE(std::fabs(w[size_t(r * cols + i)] - m.scales[size_t(r)] * float(q)) <= m.scales[size_t(r)] * 0.5001f);
    }
  }
  CHECK_THROWS_WITH(from_f32(GgmlType::Q4_0, w.data(), 1, 40), Catch::Contains("cannot store rows of 40 values as q4_0"));
}

TEST_CASE("variants: int8 activation quantizer of the cpu kernels is bit-identical to the reference", "[variants][unit]") {
#if SPARKBENCH_WITH_DNNL
  if (!cpu::cpu_supported()) {
    test::skip("this CPU lacks AVX2");
    return;
  }
  for (int64_t n : {1, 31, 32, 64, 172, 2048}) {
    auto x = randn(size_t(n), uint64_t(n), 0.7f);
    for (auto& v : x) v = std::clamp(v, -1.9f, 1.9f);
    if (n >= 32) {
      x[0] = 127.0f / 64.0f;  // amax = 127/64, so x * (127 / amax) = 64 x exactly: ties below
      x[1] = 0.5f / 64.0f;    // 0.5 -> 0
      x[2] = 1.5f / 64.0f;    // 1.5 -> 2
      x[3] = -2.5f / 64.0f;   // -2.5 -> -2
      x[5] = -0.0f;
      x[9] = NAN;  // NaN quantizes to 0 on both sides
    }
    std::vector<int8_t> a(static_cast<size_t>(n)), b(static_cast<size_t>(cpu::int8_padded(n)), 99);
    const float da = quantize_row_s8(x.data(), a.data(), n);
    const float db = cpu::quantize_row_s8(x.data(), b.data(), n, cpu::int8_padded(n));
    INFO("n = " << n);
    CHECK(da == db);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
    if (n >= 32) {
      CHECK(a[0] == 127);
      CHECK(a[1] == 0);
      CHECK(a[2] == 2);
      CHECK(a[3] == -2);
      CHECK(a[9] == 0);
    }
    for (int64_t i = n; i < cpu::int8_padded(n); ++i) CHECK(b[size_t(i)] == 0);
  }
  {  // a NaN after the row's largest value in the same 8-float lane: the largest still counts
    auto x = randn(64, 3, 0.5f);
    x[3] = 9.0f;
    x[19] = NAN;  // lane 3, then x[27], x[35] ... follow in that lane
    std::vector<int8_t> a(64), b(64);
    const float da = quantize_row_s8(x.data(), a.data(), 64), db = cpu::quantize_row_s8(x.data(), b.data(), 64, 64);
    CHECK(da == 9.0f / 127.0f);
    CHECK(db == da);
    CHECK(a == b);
  }
  std::vector<float> zeros(40, 0.0f);
  std::vector<int8_t> q(64, 5);
  CHECK(cpu::quantize_row_s8(zeros.data(), q.data(), 40, 64) == 0.0f);
  CHECK(std::all_of(q.begin(), q.end(), [](int8_t v) { return v == 0; }));
#else
  test::skip("the cpu backend is not compiled in");
#endif
}

TEST_CASE("variants: int8 reference matmul follows its definition and approximates f32", "[variants][unit]") {
  auto ref = create_backend("ref");
  const int64_t M = 5, K = 96, N = 20;
  auto wv = randn(size_t(N * K), 8, 0.1f);
  auto xv = randn(size_t(M * K), 9);
  auto m = quantize_int8(wv.data(), N, K);
  WeightSource s8{"w", GgmlType::F32, N, K, m.q.data(), WeightFormat::Int8PerChannel, m.scales.data()};
  WeightSource f32{"w", GgmlType::F32, N, K, wv.data()};
  auto y8 = run_matmul(*ref, s8, M, xv, nullptr, nullptr);
  auto yf = run_matmul(*ref, f32, M, xv, nullptr, nullptr);
  for (int64_t t = 0; t < M; ++t) {
    std::vector<int8_t> xq(static_cast<size_t>(K));
    const float dx = quantize_row_s8(xv.data() + t * K, xq.data(), K);
    for (int64_t n = 0; n < N; ++n) {
      int64_t acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += int64_t(xq[size_t(k)]) * m.q[size_t(n * K + k)];
      CHECK(y8[size_t(t * N + n)] == Approx(double(acc) * dx * m.scales[size_t(n)]).epsilon(1e-6));
      // against f32: each factor is off by at most half its step, so
      // |y8 - y| <= sum_k |x_k| sw/2 + |w_k| dx/2 + dx sw / 4
      double bound = 0;
      for (int64_t k = 0; k < K; ++k)
        bound += std::fabs(xv[size_t(t * K + k)]) * m.scales[size_t(n)] / 2 + std::fabs(wv[size_t(n * K + k)]) * dx / 2 +
                 dx * m.scales[size_t(n)] / 4;
      CHECK(std::fabs(y8[size_t(t * N + n)] - yf[size_t(t * N + n)]) <= bound * 1.001 + 1e-6);
    }
  }
  // the embedding lookup dequantizes a row
  auto w = ref->load_weight(s8);
  CHECK(w->format() == WeightFormat::Int8PerChannel);
  CHECK(w->bytes() == size_t(N * K + N * 4));
  Tensor x = ref->alloc(1, K, DType::F32);
  int32_t id = 3;
  ref->embed(*w, &id, 1, x);
  std::vector<float> row(static_cast<size_t>(K));
  ref->download(x, row.data());
  for (int64_t k = 0; k < K; ++k) CHECK(row[size_t(k)] == m.scales[3] * float(m.q[size_t(3 * K + k)]));
}

TEST_CASE("variants: every weight kind's matmul on each backend matches the reference", "[variants][backend][unit]") {
  auto ref = create_backend("ref");
  // f32 / f16 / bf16 / q8_0 / q4_0 use the same (dequantize-then-f32) arithmetic as ref: 1e-4.
  // int8 sums exact integers on every backend and differs only in float scaling: 1e-5.
  struct Shape {
    int64_t M, K, N;
  };
  for (auto& dut : test::non_ref_backends()) {
    for (Shape s : {Shape{1, 96, 37}, Shape{3, 64, 20}, Shape{8, 256, 50}, Shape{9, 96, 33}, Shape{13, 160, 70}, Shape{70, 256, 96}}) {
      auto wv = randn(size_t(s.N * s.K), uint64_t(s.M * 7 + s.N), 0.1f);
      auto xv = randn(size_t(s.M * s.K), uint64_t(s.K));
      auto bv = randn(size_t(s.N), 4), yv = randn(size_t(s.M * s.N), 5);
      for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0}) {
        auto q = from_f32(t, wv.data(), s.N, s.K);
        WeightSource src{"w", t, s.N, s.K, q.data()};
        for (bool extra : {false, true}) {
          auto a = run_matmul(*ref, src, s.M, xv, extra ? &bv : nullptr, extra ? &yv : nullptr);
          auto b = run_matmul(*dut, src, s.M, xv, extra ? &bv : nullptr, extra ? &yv : nullptr);
          INFO(dut->name() << " " << ggml_type_name(uint32_t(t)) << " M=" << s.M << " K=" << s.K << " N=" << s.N << " bias+acc=" << extra);
          CHECK(max_rel_err(a, b) <= 1e-4);
        }
      }
      auto m = quantize_int8(wv.data(), s.N, s.K);
      WeightSource s8{"w", GgmlType::F32, s.N, s.K, m.q.data(), WeightFormat::Int8PerChannel, m.scales.data()};
      for (bool extra : {false, true}) {
        auto a = run_matmul(*ref, s8, s.M, xv, extra ? &bv : nullptr, extra ? &yv : nullptr);
        auto b = run_matmul(*dut, s8, s.M, xv, extra ? &bv : nullptr, extra ? &yv : nullptr);
        INFO(dut->name() << " int8 M=" << s.M << " K=" << s.K << " N=" << s.N << " bias+acc=" << extra);
        CHECK(max_rel_err(a, b) <= 1e-5);
      }
    }
    // K not a multiple of 32 (stories260K's ffn_down has K = 172): f16 and int8 (zero padded)
    for (int64_t M : {1, 12}) {
      const int64_t K = 172, N = 24;
      auto wv = randn(size_t(N * K), 21, 0.1f), xv = randn(size_t(M * K), 22);
      auto q = from_f32(GgmlType::F16, wv.data(), N, K);
      WeightSource src{"w", GgmlType::F16, N, K, q.data()};
      CHECK(max_rel_err(run_matmul(*ref, src, M, xv, nullptr, nullptr), run_matmul(*dut, src, M, xv, nullptr, nullptr)) <= 1e-4);
      auto m = quantize_int8(wv.data(), N, K);
      WeightSource s8{"w", GgmlType::F32, N, K, m.q.data(), WeightFormat::Int8PerChannel, m.scales.data()};
      CHECK(max_rel_err(run_matmul(*ref, s8, M, xv, nullptr, nullptr), run_matmul(*dut, s8, M, xv, nullptr, nullptr)) <= 1e-5);
    }
  }
}

TEST_CASE("variants: oneDNN int8 matmul is used only where it is exact", "[variants][backend][unit]") {
#if SPARKBENCH_WITH_DNNL
  // oneDNN sums u8 x s8 pairs in saturating 16-bit arithmetic without VNNI: the cpu backend
  // must refuse SPARKBENCH_CPU_INT8=onednn there and, with VNNI, match the reference.
  ::setenv("SPARKBENCH_CPU_INT8", "onednn", 1);
  std::unique_ptr<Backend> cpu;
  std::string err;
  try {
    cpu = create_backend("cpu", {.threads = 2});
  } catch (const Error& e) {
    err = e.what();
  }
  ::unsetenv("SPARKBENCH_CPU_INT8");
  if (!cpu) {
    // Not a skip: the refusal is what this CPU must do, and it was checked.
    CHECK(err.find("saturates on this CPU (no VNNI)") != std::string::npos);
    test::unsupported("no VNNI here: the oneDNN int8 path was refused as it should be (" + err + "); the matmul is not compared");
    return;
  }
  CHECK(cpu->describe().find("oneDNN u8s8 (VNNI)") != std::string::npos);
  auto ref = create_backend("ref");
  const int64_t M = 40, K = 256, N = 64;
  auto wv = randn(size_t(N * K), 31, 0.1f), xv = randn(size_t(M * K), 32);
  auto m = quantize_int8(wv.data(), N, K);
  WeightSource s8{"w", GgmlType::F32, N, K, m.q.data(), WeightFormat::Int8PerChannel, m.scales.data()};
  auto bv = randn(size_t(N), 33), yv = randn(size_t(M * N), 34);
  CHECK(max_rel_err(run_matmul(*ref, s8, M, xv, &bv, &yv), run_matmul(*cpu, s8, M, xv, &bv, &yv)) <= 1e-5);
#else
  test::skip("the cpu backend is not compiled in");
#endif
}

TEST_CASE("variants: magnitude pruning zeroes exactly the smallest fraction", "[variants][prune][unit]") {
  auto w = randn(1000, 12);
  auto orig = w;
  CHECK(prune_magnitude(w.data(), 1000, 0.37) == 370);
  CHECK(std::count(w.begin(), w.end(), 0.0f) == 370);
  float kept_min = INFINITY, cut_max = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0.0f)
      cut_max = std::max(cut_max, std::fabs(orig[i]));
    else {
      kept_min = std::min(kept_min, std::fabs(w[i]));
      CHECK(w[i] == orig[i]);  // survivors untouched
    }
  }
  CHECK(cut_max <= kept_min);
  CHECK(prune_magnitude(w.data(), 1000, 0.0) == 0);
  // ties: equal magnitudes are cut by position (the count stays exact)
  std::vector<float> same(10, 1.0f);
  CHECK(prune_magnitude(same.data(), 10, 0.5) == 5);
  CHECK(std::count(same.begin(), same.end(), 0.0f) == 5);
}

TEST_CASE("variants: 2:4 pruning keeps the two largest of every four", "[variants][prune][unit]") {
  const int64_t rows = 6, cols = 66;  // 16 full groups and a trailing group of 2 per row
  auto w = randn(size_t(rows * cols), 13);
  auto orig = w;
  const int64_t zeroed = prune_2_4(w.data(), rows, cols);
  CHECK(zeroed == rows * (16 * 2 + 1));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < cols; g += 4) {
      const int64_t len = std::min<int64_t>(4, cols - g);
      int zeros = 0;
      float kept_min = INFINITY, cut_max = 0;
      for (int64_t i = g; i < g + len; ++i) {
        const size_t at = size_t(r * cols + i);
        if (w[at] == 0.0f)
          ++zeros, cut_max = std::max(cut_max, std::fabs(orig[at]));
        else
          kept_min = std::min(kept_min, std::fabs(w[at]));
      }
      CHECK(zeros == len / 2);
      CHECK(cut_max <= kept_min);
    }
}

TEST_CASE("variants: unstructured pruning of a model zeroes the layer matrices only", "[variants][prune][unit]") {
  auto tm = tiny_model(4, 4, 2, 40);
  for (const char* spec : {"prune:0.5", "prune24"}) {
    auto vm = apply_variant(tm.file, parse_variant(spec), nullptr);
    CHECK(vm.file != tm.file);
    CHECK(vm.report.prunable > 0);
    CHECK(double(vm.report.zeroed) / double(vm.report.prunable) == Approx(0.5).margin(0.001));
    bool noted = false;
    for (const auto& n : vm.report.notes) noted |= n.find("changes accuracy only, not speed or model size") != std::string::npos;
    CHECK(noted);
    for (const auto& t : vm.file->tensors()) {
      auto v = vm.file->tensor_f32(t);
      const double zf = double(std::count(v.begin(), v.end(), 0.0f)) / double(v.size());
      INFO(spec << " " << t.name);
      const bool layer_matrix = t.name.rfind("blk.", 0) == 0 && t.ne.size() == 2;
      if (layer_matrix)
        CHECK(zf == Approx(0.5).margin(0.001));
      else
        CHECK(zf == 0.0);
      CHECK(t.ne == tm.file->tensor(t.name)->ne);
    }
    CHECK(vm.file->get_string("sparkbench.variant", "") == spec);
  }
}

TEST_CASE("variants: head pruning equals zeroing the removed heads' output columns", "[variants][prune][unit]") {
  // Removing a head is exact: its only effect is its columns of W_o. So the pruned model (fewer
  // heads, smaller matrices) must reproduce the original with those columns set to zero.
  struct Case {
    int64_t heads, kv, prune;
  };
  for (Case c : {Case{4, 4, 1}, Case{4, 4, 3}, Case{4, 2, 2}}) {
    auto tm = tiny_model(c.heads, c.kv, 2, 50);
    auto vm = apply_variant(tm.file, parse_variant("prune-heads:" + std::to_string(c.prune)), nullptr);
    const ModelConfig pc = ModelConfig::from_gguf(*vm.file);
    CHECK(pc.n_head == c.heads - c.prune);
    CHECK(pc.n_head_kv == c.kv - c.prune / (c.heads / c.kv));
    CHECK(pc.head_dim == 16);
    REQUIRE(vm.report.kept_heads.size() == 2);
    const auto kept = vm.report.kept_heads;
    // the manual reference: same file with the removed heads' W_o columns zeroed
    auto manual = tiny_model(c.heads, c.kv, 2, 50, [&](const std::string& name, std::vector<float>& v, int64_t rows, int64_t cols) {
      if (name.find("attn_output") == std::string::npos) return;
      const int64_t layer = name[4] - '0';
      for (int64_t h = 0; h < c.heads; ++h) {
        if (std::count(kept[size_t(layer)].begin(), kept[size_t(layer)].end(), h)) continue;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t d = 0; d < 16; ++d) v[size_t(r * cols + h * 16 + d)] = 0.0f;
      }
    });
    for (const auto& name : available_backends()) {
      auto b = create_backend(name, {.threads = 2});
      auto pruned = load_variant(vm, *b);
      auto reference = Model::load(manual.file, *b);
      const std::vector<int32_t> ids{1, 5, 9, 20, 33, 47, 2, 8, 8, 15};
      auto a = logits_of(*pruned, ids), r = logits_of(*reference, ids);
      INFO(name << " heads " << c.heads << "/" << c.kv << " prune " << c.prune);
      CHECK(max_rel_err(r, a) < 1e-4);
      CHECK(pruned->weight_bytes() < reference->weight_bytes());
    }
  }
  auto gqa = tiny_model(4, 2, 1, 51);
  CHECK_THROWS_WITH(apply_variant(gqa.file, parse_variant("prune-heads:1"), nullptr), Catch::Contains("N must be a multiple of 2"));
  CHECK_THROWS_WITH(apply_variant(gqa.file, parse_variant("prune-heads:4"), nullptr), Catch::Contains("at least 2 must remain"));
  CHECK_THROWS_WITH(apply_variant(gqa.file, parse_variant("prune-layers:1"), nullptr), Catch::Contains("needs a calibration text"));
}

TEST_CASE("variants: head importance and layer ranking choose the least important", "[variants][prune][unit]") {
  // Head 2 of layer 0 gets tiny W_o columns: it must be the one removed there.
  auto tm = tiny_model(4, 4, 2, 60, [](const std::string& name, std::vector<float>& v, int64_t rows, int64_t cols) {
    if (name != "blk.0.attn_output.weight") return;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t d = 0; d < 16; ++d) v[size_t(r * cols + 2 * 16 + d)] *= 0.01f;
  });
  const ModelConfig c = ModelConfig::from_gguf(*tm.file);
  auto scores = head_importance(*tm.file, c);
  REQUIRE(scores.size() == 2);
  CHECK(std::min_element(scores[0].begin(), scores[0].end()) - scores[0].begin() == 2);
  auto keep = heads_to_keep(scores, c, 1);
  CHECK(keep[0] == std::vector<int64_t>{0, 1, 3});
  CHECK(keep[1].size() == 3);
  CHECK(layers_to_remove({0.5, 0.9, 0.7, 0.95}, 2) == std::vector<int64_t>{1, 3});
  CHECK_THROWS_WITH(layers_to_remove({0.5, 0.9}, 2), Catch::Contains("at least one must remain"));
}

TEST_CASE("variants: type conversion keeps shapes and sets the file type and int8 is a load-time transform", "[variants][unit]") {
  auto tm = tiny_model(4, 4, 1, 70);  // ffn_down has rows of 96 values (3 blocks): fits
  auto vm = apply_variant(tm.file, parse_variant("q4_0"), nullptr);
  CHECK(vm.file->get_int("general.file_type", -1) == 2);
  for (const auto& t : vm.file->tensors()) {
    INFO(t.name);
    CHECK(t.type == (t.ne.size() == 2 ? GgmlType::Q4_0 : GgmlType::F32));
  }
  CHECK(vm.report.fallback.empty());
  // f32 on an f32 model: nothing to do, the base file itself is loaded
  auto same = apply_variant(tm.file, parse_variant("f32"), nullptr);
  CHECK(same.file == tm.file);
  CHECK(same.report.identical_to_base);
  // int8: the file stays, a transform turns matrices into the int8 format at load
  auto i8 = apply_variant(tm.file, parse_variant("int8"), nullptr);
  CHECK(i8.file == tm.file);
  REQUIRE(i8.transform);
  auto ref = create_backend("ref");
  auto m = load_variant(i8, *ref);
  CHECK(m->layer(0).wq->format() == WeightFormat::Int8PerChannel);
  CHECK(m->output().format() == WeightFormat::Int8PerChannel);
  CHECK(m->tok_embd().format() == WeightFormat::Ggml);
  const std::string out = "/nonexistent-dir/x.gguf";
  CHECK_THROWS_WITH(write_variant(tm.file, parse_variant("int8"), nullptr, out), Catch::Contains("int8 is an in-memory format"));
}
