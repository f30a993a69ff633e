// The fused layer blocks of the backend interface (Backend::attention_block: rope, KV store,
// attention and the output projection; Backend::feed_forward: gate/up, activation, down):
// the default (ref: the ops in sequence) against the ops called one by one; the cpu backend's
// one-region decode versions against the same ops called one by one on the cpu backend (bit for
// bit: same kernels, same per-element arithmetic) and against ref (within the f32 / q8
// tolerances), for the kernel families they fuse (f32 and q8 compute on GGUF weights, int8
// per-channel weights) and the shapes they fall back on (prompt rows, mixed families or
// formats); with int8 weights a NaN input counts as 0 (the int8 contract, sb::quantize_row_s8).
// The [cpu_fused_isa] cases run at one ISA level; the [unit] case re-runs them
// in a child process at every level this CPU has (SPARKBENCH_CPU_ISA, read once per process).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/compress/quantize.h"
#include "engine/core/error.h"
#include "engine/gguf/ggml_types.h"
#include "tests/engine/backend_test_util.h"
#include "tests/test_support.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu_isa.h"
#include "tests/engine/isa_children.h"
#endif

using namespace sb;

namespace {

// A weight as GGUF type t, or (int8) in the int8 per-channel format quantized from those values.
struct HostWeight {
  GgmlType type;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  bool int8 = false;
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

HostWeight host_weight(GgmlType t, int64_t rows, int64_t cols, uint64_t seed, bool int8 = false) {
  HostWeight w{t, rows, cols, {}};
  const auto f = test::randn(size_t(rows * cols), seed, 0.05f);
  if (int8) {
    auto m = compress::quantize_int8(f.data(), rows, cols);
    w.int8 = true;
    w.bytes.assign(reinterpret_cast<const uint8_t*>(m.q.data()), reinterpret_cast<const uint8_t*>(m.q.data()) + m.q.size());
    w.scales = std::move(m.scales);
  } else if (t == GgmlType::F32) {
    w.bytes.resize(f.size() * 4);
    std::memcpy(w.bytes.data(), f.data(), w.bytes.size());
  } else {
    w.bytes = test::quantized(t, f, rows, cols);
  }
  return w;
}

// ---- feed_forward ----

struct FfnCase {
  const char* name;
  ComputeType compute;
  GgmlType gate, up, down;
  bool geglu;
  double ref_tol;            // max_rel_err of x against ref
  unsigned int8 = 0;         // weights in the int8 format (quantized from the type's values): 1 gate, 2 up, 4 down
  int64_t C = 256, F = 768;  // 768: three 256-blocks, split unevenly over two threads
};

// x after feed_forward (fused) or after the ops it stands for (one by one), from x0.
std::vector<float> run_ffn(Backend& b, const FfnCase& c, int64_t M, int64_t C, int64_t F, const std::vector<float>& hv,
                           const std::vector<float>& x0, bool fused) {
  const HostWeight hg = host_weight(c.gate, F, C, 1, c.int8 & 1), hu = host_weight(c.up, F, C, 2, c.int8 & 2),
                   hd = host_weight(c.down, C, F, 3, c.int8 & 4);
  auto wg = b.load_weight(hg.source()), wu = b.load_weight(hu.source()), wd = b.load_weight(hd.source());
  Tensor h = test::make(b, M, C, hv), x = test::make(b, M, C, x0), g = b.alloc(M, F, DType::F32), u = b.alloc(M, F, DType::F32);
  if (fused) {
    b.feed_forward(h, *wg, *wu, *wd, c.geglu, g, u, x);
  } else {
    const Backend::MatmulOut gu[2] = {{wg.get(), &g, nullptr}, {wu.get(), &u, nullptr}};
    b.matmul_multi(h, gu, 2);
    if (c.geglu)
      b.geglu(g, u, g);
    else
      b.swiglu(g, u, g);
    b.matmul(g, *wd, x, nullptr, true);
  }
  return test::get(b, x);
}

const std::vector<FfnCase>& ffn_cases() {
  static const std::vector<FfnCase> cases = {
      {"f32 compute, F16", ComputeType::F32, GgmlType::F16, GgmlType::F16, GgmlType::F16, false, 1e-5},
      {"f32 compute, Q4_K + Q6_K down, geglu", ComputeType::F32, GgmlType::Q4_K, GgmlType::Q4_K, GgmlType::Q6_K, true, 1e-5},
      {"q8 compute, Q4_0", ComputeType::Q8, GgmlType::Q4_0, GgmlType::Q4_0, GgmlType::Q4_0, false, 0.05},
      {"q8 compute, Q8_0, geglu", ComputeType::Q8, GgmlType::Q8_0, GgmlType::Q8_0, GgmlType::Q8_0, true, 0.05},
      {"q8 compute, Q4_K + Q6_K down", ComputeType::Q8, GgmlType::Q4_K, GgmlType::Q4_K, GgmlType::Q6_K, false, 0.05},
      {"q8 compute, Q4_0 + Q6_K down (mixed activation blocks)", ComputeType::Q8, GgmlType::Q4_0, GgmlType::Q4_0, GgmlType::Q6_K, false,
       0.05},
      {"q8 compute, Q4_K + F16 down (not fused)", ComputeType::Q8, GgmlType::Q4_K, GgmlType::Q4_K, GgmlType::F16, false, 0.05},
      // int8: 200 inputs (rows padded to 224), 744 hidden (a partial 16-row chunk, padded to 768)
      {"int8, f32 compute", ComputeType::F32, GgmlType::F32, GgmlType::F32, GgmlType::F32, false, 1e-3, 7, 200, 744},
      {"int8, q8 compute, geglu", ComputeType::Q8, GgmlType::F16, GgmlType::F16, GgmlType::F16, true, 1e-3, 7, 200, 744},
      {"int8 gate/up + F16 down (not fused)", ComputeType::F32, GgmlType::F32, GgmlType::F32, GgmlType::F16, false, 1e-3, 3, 256, 744},
  };
  return cases;
}

// ---- attention_block ----

struct AttnCase {
  const char* name;
  ComputeType compute;
  GgmlType wo;
  DType kv;
  int64_t n_head, n_head_kv, head_dim, n_rot;
  RopeStyle style;
  float softcap;
  int64_t window;
  double ref_tol;     // max_rel_err against ref: the attention op test's bounds for the KV type (f32), the matmul_multi test's (q8)
  bool int8 = false;  // wo in the int8 format
  int64_t C = 96;     // wo's rows (x's width)
};

AttentionShape attn_shape(const AttnCase& c) {
  AttentionShape s;
  s.n_head = c.n_head;
  s.n_head_kv = c.n_head_kv;
  s.head_dim = c.head_dim;
  s.n_rot = c.n_rot;
  s.rope_style = c.style;
  s.softcap = c.softcap;
  s.window = c.window;
  return s;
}

// Two consecutive calls (rows [pos0, pos0 + T) then [pos0 + T, pos0 + 2T)) after a prefix of
// pos0 stored positions, so the second reads what the first stored. Returns x, q and att of both.
std::vector<std::vector<float>> run_attn(Backend& b, const AttnCase& c, int64_t T, int64_t pos0, bool fused) {
  const AttentionShape s = attn_shape(c);
  const int64_t qd = c.n_head * c.head_dim, kd = c.n_head_kv * c.head_dim, C = c.C;
  const HostWeight hw = host_weight(c.wo, C, qd, 7, c.int8);
  auto wo = b.load_weight(hw.source());
  auto cache = b.create_kv_cache(2, pos0 + 2 * T, kd, c.kv);
  if (pos0 > 0) {  // the prefix, through the plain store
    Tensor k = test::make(b, pos0, kd, test::randn(size_t(pos0 * kd), 8)), v = test::make(b, pos0, kd, test::randn(size_t(pos0 * kd), 9));
    b.kv_store(*cache, 1, k, v, 0);
  }
  std::vector<std::vector<float>> out;
  Tensor x = test::make(b, T, C, test::randn(size_t(T * C), 10, 0.1f));
  for (int step = 0; step < 2; ++step) {
    const int64_t p = pos0 + step * T;
    Tensor q = test::make(b, T, qd, test::randn(size_t(T * qd), 11 + uint64_t(step)));
    Tensor k = test::make(b, T, kd, test::randn(size_t(T * kd), 13 + uint64_t(step)));
    Tensor v = test::make(b, T, kd, test::randn(size_t(T * kd), 15 + uint64_t(step)));
    Tensor att = b.alloc(T, qd, DType::F32);
    if (fused) {
      b.attention_block(q, k, v, *cache, 1, p, s, att, *wo, x);
    } else {
      b.rope(q, c.n_head, s, p);
      b.rope(k, c.n_head_kv, s, p);
      b.kv_store(*cache, 1, k, v, p);
      b.attention(q, *cache, 1, p, s, att);
      b.matmul(att, *wo, x, nullptr, true);
    }
    out.push_back(test::get(b, x));
    out.push_back(test::get(b, q));
    out.push_back(test::get(b, att));
  }
  return out;
}

const std::vector<AttnCase>& attn_cases() {
  static const std::vector<AttnCase> cases = {
      {"q8, Q4_0 wo, f16 KV, GQA 8/2, interleaved", ComputeType::Q8, GgmlType::Q4_0, DType::F16, 8, 2, 32, 32, RopeStyle::Interleaved, 0, 0,
       0.05},
      {"q8, Q6_K wo, f32 KV, 4/4, neox, partial rope", ComputeType::Q8, GgmlType::Q6_K, DType::F32, 4, 4, 64, 32, RopeStyle::NeoX, 0, 0,
       0.05},
      {"f32, F16 wo, bf16 KV, 6/3, window, softcap", ComputeType::F32, GgmlType::F16, DType::BF16, 6, 3, 32, 32, RopeStyle::NeoX, 30.0f, 5,
       1e-2},
      {"f32, Q8_0 wo, f16 KV, 16/16 (spark-like)", ComputeType::F32, GgmlType::Q8_0, DType::F16, 16, 16, 32, 32, RopeStyle::Interleaved, 0,
       0, 1e-3},
      {"int8 wo, q8 compute, f16 KV, GQA 6/2, 20-dim heads (120 inputs, padded), 88 rows, partial rope", ComputeType::Q8, GgmlType::F32,
       DType::F16, 6, 2, 20, 16, RopeStyle::NeoX, 0, 0, 1e-2, true, 88},
      {"int8 wo, f32 compute, f32 KV, GQA 8/2, interleaved", ComputeType::F32, GgmlType::F16, DType::F32, 8, 2, 32, 32,
       RopeStyle::Interleaved, 0, 0, 1e-2, true},
  };
  return cases;
}

}  // namespace

TEST_CASE("backend: default feed_forward and attention_block equal their ops in sequence; shape errors", "[backend][unit]") {
  auto ref = create_backend("ref");
  for (const FfnCase& c : {ffn_cases()[0], ffn_cases()[4]}) {
    const int64_t M = 2, C = 256, F = 512;
    const auto hv = test::randn(size_t(M * C), 4), x0 = test::randn(size_t(M * C), 5, 0.1f);
    const auto a = run_ffn(*ref, c, M, C, F, hv, x0, true), b = run_ffn(*ref, c, M, C, F, hv, x0, false);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
  }
  for (const AttnCase& c : attn_cases()) {
    INFO(c.name);
    const auto a = run_attn(*ref, c, 2, 3, true), b = run_attn(*ref, c, 2, 3, false);
    for (size_t i = 0; i < a.size(); ++i) CHECK(std::memcmp(a[i].data(), b[i].data(), a[i].size() * 4) == 0);
  }
  const HostWeight hw = host_weight(GgmlType::F32, 64, 32, 1), hd = host_weight(GgmlType::F32, 32, 48, 2);
  auto w = ref->load_weight(hw.source()), d = ref->load_weight(hd.source());
  Tensor h = ref->alloc(1, 32, DType::F32), x = ref->alloc(1, 32, DType::F32), g = ref->alloc(1, 64, DType::F32),
         u = ref->alloc(1, 64, DType::F32);
  CHECK_THROWS_WITH(ref->feed_forward(h, *w, *w, *d, false, g, u, x), Catch::Contains("feed_forward: down is 32 x 48 for 64 hidden"));
  AttentionShape s;
  s.n_head = 2;
  s.n_head_kv = 1;
  s.head_dim = 16;
  s.n_rot = 16;
  auto cache = ref->create_kv_cache(1, 4, 16, DType::F32);
  Tensor q = ref->alloc(1, 32, DType::F32), k = ref->alloc(1, 16, DType::F32), v = ref->alloc(1, 16, DType::F32),
         att = ref->alloc(1, 32, DType::F32);
  auto wo = ref->load_weight(host_weight(GgmlType::F32, 32, 32, 3).source());
  CHECK_THROWS_WITH(ref->attention_block(q, k, v, *cache, 0, 4, s, att, *wo, x),
                    Catch::Contains("attention_block: positions 4 .. 4 outside"));
}

#if SPARKBENCH_WITH_DNNL

TEST_CASE("cpu fused blocks at the active ISA level: equal to the op sequence, match ref", "[cpu_fused_isa][backend]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  auto ref = create_backend("ref");
  for (const FfnCase& c : ffn_cases()) {
    auto cpu = create_backend("cpu", {.threads = 2, .compute = c.compute});
    const int64_t C = c.C, F = c.F;
    for (int64_t M : {1, 3, 8, 12}) {  // decode sizes (fused) and a prompt size (the sequence)
      INFO(c.name << " M=" << M << " " << cpu->describe());
      const auto hv = test::randn(size_t(M * C), 20 + uint64_t(M)), x0 = test::randn(size_t(M * C), 30 + uint64_t(M), 0.1f);
      const auto fused = run_ffn(*cpu, c, M, C, F, hv, x0, true), seq = run_ffn(*cpu, c, M, C, F, hv, x0, false);
      const auto want = run_ffn(*ref, c, M, C, F, hv, x0, false);
      CHECK(std::memcmp(fused.data(), seq.data(), fused.size() * 4) == 0);
      CHECK(test::max_rel_err(want, fused) <= c.ref_tol);  // NaN fails
    }
  }
  for (const AttnCase& c : attn_cases()) {
    auto cpu = create_backend("cpu", {.threads = 2, .compute = c.compute});
    for (int64_t T : {1, 3, 12}) {  // 12: over the decode size (the sequence)
      for (int64_t pos0 : {0, 7, 40}) {
        INFO(c.name << " T=" << T << " pos0=" << pos0 << " " << cpu->describe());
        const auto fused = run_attn(*cpu, c, T, pos0, true), seq = run_attn(*cpu, c, T, pos0, false);
        const auto want = run_attn(*ref, c, T, pos0, false);
        for (size_t i = 0; i < fused.size(); ++i) {
          INFO("output " << i << " (x, q, att per call)");
          CHECK(std::memcmp(fused[i].data(), seq[i].data(), fused[i].size() * 4) == 0);
          CHECK(test::max_rel_err(want[i], fused[i]) <= c.ref_tol);
        }
      }
    }
  }
}

TEST_CASE("cpu fused blocks with int8 weights: a NaN input counts as 0 (the int8 contract)", "[cpu_fused_isa][backend]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  auto cpu = create_backend("cpu", {.threads = 2});
  // feed_forward: a NaN in h (row 1, after that row's largest value in the same 8-lane slot)
  {
    const FfnCase& c = ffn_cases()[7];  // int8, f32 compute
    REQUIRE(c.int8 == 7);
    const int64_t M = 2, C = c.C, F = c.F;
    auto hv = test::randn(size_t(M * C), 40);
    hv[size_t(C + 3)] = 9.0f;  // the row's largest
    hv[size_t(C + 3 + 64)] = NAN;
    auto h0 = hv;
    h0[size_t(C + 3 + 64)] = 0.0f;
    const auto x0 = test::randn(size_t(M * C), 41, 0.1f);
    const auto nan = run_ffn(*cpu, c, M, C, F, hv, x0, true), seq = run_ffn(*cpu, c, M, C, F, hv, x0, false),
               zero = run_ffn(*cpu, c, M, C, F, h0, x0, true);
    CHECK(std::memcmp(nan.data(), seq.data(), nan.size() * 4) == 0);
    CHECK(std::memcmp(nan.data(), zero.data(), nan.size() * 4) == 0);
    CHECK(std::all_of(nan.begin(), nan.end(), [](float v) { return std::isfinite(v); }));
  }
  // attention_block: a NaN in v of KV head 0 makes att NaN for its query heads; wo reads them as 0
  {
    const AttnCase& c = attn_cases()[5];  // int8 wo, f32 compute, GQA 8/2
    REQUIRE(c.int8);
    const AttentionShape s = attn_shape(c);
    const int64_t T = 2, pos0 = 5, qd = c.n_head * c.head_dim, kd = c.n_head_kv * c.head_dim;
    const HostWeight hw = host_weight(c.wo, c.C, qd, 7, true);
    auto wo = cpu->load_weight(hw.source());
    const auto x0 = test::randn(size_t(T * c.C), 42, 0.1f);
    auto vv = test::randn(size_t(T * kd), 43);
    vv[size_t(kd + 5)] = NAN;  // row 1, KV head 0
    auto run = [&](bool fused, std::vector<float>* att_out) {
      auto cache = cpu->create_kv_cache(1, pos0 + T, kd, c.kv);
      Tensor pk = test::make(*cpu, pos0, kd, test::randn(size_t(pos0 * kd), 44)),
             pv = test::make(*cpu, pos0, kd, test::randn(size_t(pos0 * kd), 45));
      cpu->kv_store(*cache, 0, pk, pv, 0);
      Tensor q = test::make(*cpu, T, qd, test::randn(size_t(T * qd), 46)), k = test::make(*cpu, T, kd, test::randn(size_t(T * kd), 47)),
             v = test::make(*cpu, T, kd, vv), att = cpu->alloc(T, qd, DType::F32), x = test::make(*cpu, T, c.C, x0);
      if (fused) {
        cpu->attention_block(q, k, v, *cache, 0, pos0, s, att, *wo, x);
      } else {
        cpu->rope(q, c.n_head, s, pos0);
        cpu->rope(k, c.n_head_kv, s, pos0);
        cpu->kv_store(*cache, 0, k, v, pos0);
        cpu->attention(q, *cache, 0, pos0, s, att);
        cpu->matmul(att, *wo, x, nullptr, true);
      }
      if (att_out) *att_out = test::get(*cpu, att);
      return test::get(*cpu, x);
    };
    std::vector<float> att;
    const auto fused = run(true, &att), seq = run(false, nullptr);
    CHECK(std::memcmp(fused.data(), seq.data(), fused.size() * 4) == 0);
    const int64_t group = c.n_head / c.n_head_kv;  // query heads 0 .. group - 1 read KV head 0
    for (int64_t h = 0; h <= group; ++h) CHECK(std::isnan(att[size_t(qd + h * c.head_dim + 5)]) == (h < group));
    for (float& a : att) a = std::isnan(a) ? 0.0f : a;
    Tensor a0 = test::make(*cpu, T, qd, att), xz = test::make(*cpu, T, c.C, x0);
    cpu->matmul(a0, *wo, xz, nullptr, true);
    const auto zero = test::get(*cpu, xz);
    CHECK(std::memcmp(fused.data(), zero.data(), fused.size() * 4) == 0);
    CHECK(std::all_of(fused.begin(), fused.end(), [](float v) { return std::isfinite(v); }));
  }
}

TEST_CASE("cpu fused blocks at every ISA level this CPU has (child processes)", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  test::run_tag_at_every_level("[cpu_fused_isa]");
}

// Run by the next case in a child process with SPARKBENCH_CPU_STATS=1 (hidden otherwise): one
// feed_forward and two attention_block calls at decode size, int8 weights, sizes that take both
// threads; the backend prints its region count at exit.
TEST_CASE("cpu int8 fused blocks, run once (regions counted by the parent)", "[.cpu_int8_regions][backend]") {
  auto cpu = create_backend("cpu", {.threads = 2});
  const FfnCase& f = ffn_cases()[7];
  const AttnCase& a = attn_cases()[5];
  REQUIRE((f.int8 == 7 && a.int8));
  const auto x = run_ffn(*cpu, f, 1, f.C, f.F, test::randn(size_t(f.C), 50), test::randn(size_t(f.C), 51, 0.1f), true);
  const auto y = run_attn(*cpu, a, 1, 64, true);
  CHECK(std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); }));
  CHECK(std::all_of(y[0].begin(), y[0].end(), [](float v) { return std::isfinite(v); }));
}

TEST_CASE("cpu int8 weights take the fused blocks, with or without their oneDNN copy (region count)", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const std::string self = test::self_exe();
  // fused: one region per block call (1 feed_forward + 2 attention_block); the op sequence at
  // these sizes runs other counts. SPARKBENCH_CPU_INT8=avx2: no oneDNN s8 copy (`packed`), which
  // the default has on VNNI CPUs.
  for (const char* env : {"SPARKBENCH_CPU_INT8=avx2", "SPARKBENCH_CPU_FUSE=1", "SPARKBENCH_CPU_FUSE=0"}) {
    INFO(env);
    const auto r = test::run_process({"env", "SPARKBENCH_CPU_STATS=1", env, self, "[cpu_int8_regions]"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const bool three = r.err.find("cpu backend: 3 parallel regions") != std::string::npos;
    CHECK(three == (std::string(env) != "SPARKBENCH_CPU_FUSE=0"));
  }
}

#endif
