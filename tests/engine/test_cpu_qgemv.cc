// The cpu backend's row-interleaved decode GEMV (`--compute q8`, engine/backends/cpu/qgemv.h)
// on every ISA level this machine supports, for the 32-element types and the K-quants: the
// packed form (scales and quants where the layout says), the levels where the backend takes it, products for M in {1, 2, 3, 4, 7} and N not
// a multiple of 16 against the double-precision dot of the dequantized operands, levels agreeing bit for bit, a NaN / Inf weight scale
// confined to its row, NaN activations, and the backend's q8 decode (plain and fused matmul_multi) against `ref` within the activation
// rounding bound, with the GEMV on and off (SPARKBENCH_CPU_QGEMV=0).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iterator>
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
#include "engine/backends/cpu/qgemv.h"

using namespace sb;

namespace {

const GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                           GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

bool is_k(GgmlType t) { return t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == GgmlType::Q6_K; }
bool has_min(GgmlType t) { return t == GgmlType::Q4_1 || t == GgmlType::Q5_1 || t == GgmlType::Q4_K || t == GgmlType::Q5_K; }
bool has_qh(GgmlType t) { return t == GgmlType::Q5_0 || t == GgmlType::Q5_1; }
// Byte offset of the f16 scale (d) in a block; the min (dmin) follows it for the min types.
size_t scale_at(GgmlType t) { return t == GgmlType::Q6_K ? offsetof(BlockQ6_K, d) : 0; }
// Activation block length (Q8A: 32; Q8KA for the K-quants: 256).
int64_t act_block(GgmlType t) { return is_k(t) ? kQK_K : kQK; }
// Element e of a quantized activation row, dequantized.
double act_value(GgmlType t, const uint8_t* row, int64_t e) {
  if (is_k(t)) {
    const auto* x = reinterpret_cast<const cpu::Q8KA*>(row);
    return double(x[e / kQK_K].d) * x[e / kQK_K].qs[e % kQK_K];
  }
  const auto* x = reinterpret_cast<const cpu::Q8A*>(row);
  return double(x[e / kQK].d) * x[e / kQK].qs[e % kQK];
}

// Random quant bytes (and random K-quant sub-block scales) with moderate f16 scales (and mins)
// of random sign.
std::vector<uint8_t> random_weights(GgmlType t, int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t bb = size_t(ggml_block_bytes(t)), nb = size_t(rows * cols / ggml_block_size(t));
  std::vector<uint8_t> out(nb * bb);
  for (auto& byte : out) byte = uint8_t(rng());
  std::uniform_real_distribution<float> e(-12.0f, -8.0f);
  for (size_t i = 0; i < nb; ++i)
    for (size_t off = 0; off < (has_min(t) ? 4u : 2u); off += 2) {
      const uint16_t h = f32_to_f16(std::exp2(e(rng)) * (rng() & 1 ? -1.0f : 1.0f));
      std::memcpy(out.data() + i * bb + scale_at(t) + off, &h, 2);
    }
  return out;
}
std::vector<uint8_t> pack(GgmlType t, const std::vector<uint8_t>& w, int64_t n, int64_t k) {
  const int64_t groups = (n + cpu::kGemvRows - 1) / cpu::kGemvRows;
  std::vector<uint8_t> packed(cpu::qgemv_packed_bytes(t, n, k));
  REQUIRE(packed.size() == size_t(groups * cpu::kGemvRows) * size_t(ggml_row_bytes(t, k)));
  // the groups in two calls, as threads split them
  cpu::qgemv_pack(t, w.data(), size_t(ggml_row_bytes(t, k)), n, k, packed.data(), 0, 1);
  cpu::qgemv_pack(t, w.data(), size_t(ggml_row_bytes(t, k)), n, k, packed.data(), 1, groups);
  return packed;
}

TEST_CASE("cpu qgemv: the packed layout holds each row's scales and quants where the header says", "[backend][unit]") {
  const int64_t K = 96, N = 21;
  for (GgmlType t : kTypes) {
    if (is_k(t)) continue;  // next test case
    const auto w = random_weights(t, N, K, 7);
    const auto packed = pack(t, w, N, K);
    const size_t bb = size_t(ggml_block_bytes(t)), qb = t == GgmlType::Q8_0 ? 32 : 16, hdr = bb - qb, rec = size_t(cpu::kGemvRows) * bb,
                 nb = size_t(K / kQK);
    for (int64_t n = 0; n < 32; ++n)
      for (size_t b = 0; b < nb; ++b) {
        const uint8_t* r = packed.data() + (size_t(n / cpu::kGemvRows) * nb + b) * rec;
        const size_t l = size_t(n % cpu::kGemvRows);
        const uint8_t* src = w.data() + size_t(n) * nb * bb + b * bb;
        // header fields: d (and m) 16 x 2 bytes each, qh 16 x 4 bytes; padding rows zero
        const size_t dm = has_min(t) ? 2 : 1;
        for (size_t f = 0; f < dm; ++f)
          for (size_t j = 0; j < 2; ++j) CHECK(r[32 * f + 2 * l + j] == (n < N ? src[2 * f + j] : 0));
        if (has_qh(t))
          for (size_t j = 0; j < 4; ++j) CHECK(r[32 * dm + 4 * l + j] == (n < N ? src[2 * dm + j] : 0));
        if (n >= N && (t != GgmlType::Q4_0 && t != GgmlType::Q8_0)) continue;  // padding quants unspecified
        for (size_t j = 0; j < qb; ++j) {
          const uint8_t got = r[cpu::kGemvRows * hdr + (j / 4) * 4 * cpu::kGemvRows + 4 * l + j % 4];
          const uint8_t want = n < N ? src[hdr + j] : (t == GgmlType::Q8_0 ? 0 : 0x88);
          CHECK(got == uint8_t(want + (t == GgmlType::Q8_0 ? 128 : 0)));
        }
      }
  }
}

TEST_CASE("cpu qgemv: where the backend takes the GEMV (qgemv_pays)", "[backend][unit]") {
  using cpu::Isa;
  for (Isa isa : {Isa::Avx2, Isa::AvxVnni, Isa::Avx512, Isa::Avx512Vnni, Isa::Avx512Bf16}) {
    INFO(cpu::isa_name(isa));
    const bool vnni = isa == Isa::AvxVnni || isa == Isa::Avx512Vnni || isa == Isa::Avx512Bf16;
    const bool wide = isa == Isa::Avx512 || isa == Isa::Avx512Vnni || isa == Isa::Avx512Bf16;
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1}) CHECK(cpu::qgemv_pays(t, isa));
    CHECK(cpu::qgemv_pays(GgmlType::Q8_0, isa) == vnni);
    for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) CHECK(cpu::qgemv_pays(t, isa) == wide);
    for (GgmlType t : {GgmlType::F16, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::IQ4_XS}) CHECK_FALSE(cpu::qgemv_pays(t, isa));
  }
}

TEST_CASE("cpu qgemv: K-quant records hold each row's fields and quants where the header says", "[backend][unit]") {
  const int64_t K = 512, N = 21, nb = K / kQK_K;  // a padded second group
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    INFO(ggml_type_name(uint32_t(t)));
    const auto w = random_weights(t, N, K, 17);
    const auto packed = pack(t, w, N, K);
    const size_t bb = size_t(ggml_block_bytes(t)), rec = size_t(cpu::kGemvRows) * bb;
    for (int64_t n = 0; n < 32; ++n)
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* r = packed.data() + (size_t(n / cpu::kGemvRows * nb + b)) * rec;
        const size_t l = size_t(n % cpu::kGemvRows);
        const uint8_t* src = w.data() + size_t(n * nb + b) * bb;
        // lane l of the 16 x 4-byte vector at `at`, byte j
        auto lane = [&](size_t at, size_t j) { return r[at + 4 * l + j]; };
        if (t != GgmlType::Q6_K) {
          const size_t qs_at = t == GgmlType::Q5_K ? 768 : 256;
          for (size_t j = 0; j < 2; ++j) {
            CHECK(r[2 * l + j] == (n < N ? src[j] : 0));           // d
            CHECK(r[32 + 2 * l + j] == (n < N ? src[2 + j] : 0));  // dmin
          }
          if (n >= N) continue;
          for (size_t i = 0; i < 12; ++i) CHECK(lane(64 + 64 * (i / 4), i % 4) == src[4 + i]);  // scales
          if (t == GgmlType::Q5_K)
            for (size_t i = 0; i < 32; ++i) CHECK(lane(256 + 64 * (i / 4), i % 4) == src[16 + i]);  // qh
          const size_t qs_src = t == GgmlType::Q5_K ? 48 : 16;
          for (size_t i = 0; i < 128; ++i) CHECK(lane(qs_at + 64 * (i / 4), i % 4) == src[qs_src + i]);
          continue;
        }
        for (size_t j = 0; j < 2; ++j) CHECK(r[2 * l + j] == (n < N ? src[offsetof(BlockQ6_K, d) + j] : 0));
        if (n >= N) continue;
        BlockQ6_K blk;
        std::memcpy(&blk, src, sizeof(blk));
        for (int j = 0; j < 16; ++j) CHECK(int8_t(r[32 + 16 * j + l]) == blk.scales[j]);
        // each quant, from the record as the header describes it, against ggml's layout
        for (int e = 0; e < kQK_K; ++e) {
          const int c = (e % 128) / 4, v = (e % 64) / 4, i = e / 64;
          const int lo = (lane(288 + 64 * size_t(c), size_t(e % 4)) >> (e < 128 ? 0 : 4)) & 15;
          const int hi = (lane(288 + 2048 + 64 * size_t(v), size_t(e % 4)) >> (2 * i)) & 3;
          const int h = e / 128, q4 = (e % 128) / 32, p = e % 32;
          const int want = ((blk.ql[64 * h + 32 * (q4 % 2) + p] >> (4 * (q4 / 2))) & 15) | (((blk.qh[32 * h + p] >> (2 * q4)) & 3) << 4);
          if ((lo | hi << 4) != want) {
            INFO("row " << n << " block " << b << " element " << e);
            CHECK((lo | hi << 4) == want);
          }
        }
      }
  }
}

// The GEMV of weights w (N x K, type t) by the M activation rows x on every ISA level: each
// against the double-precision dot of the dequantized operands, the levels bit for bit alike.
void check_levels(GgmlType t, const std::vector<uint8_t>& w, int64_t N, int64_t K, int64_t M, const std::vector<float>& x) {
  const size_t rb = size_t(ggml_row_bytes(t, K));
  std::vector<float> wf(size_t(N * K));
  for (int64_t n = 0; n < N; ++n) dequantize_row(t, w.data() + size_t(n) * rb, wf.data() + n * K, K);
  const auto packed = pack(t, w, N, K);
  const int64_t groups = (N + cpu::kGemvRows - 1) / cpu::kGemvRows, nb = K / kQK;
  const size_t xb = cpu::q8_act_row_bytes(t, K);
  std::vector<float> first;
  for (cpu::Isa isa : cpu::available_isas()) {
    INFO(ggml_type_name(uint32_t(t)) << " M=" << M << " isa " << cpu::isa_name(isa));
    std::vector<uint8_t> xq(size_t(M) * xb);
    for (int64_t r = 0; r < M; ++r) cpu::qdot_kernels(isa).quantize(t, x.data() + r * K, xq.data() + size_t(r) * xb, K);
    std::vector<int32_t> sums(size_t(M * nb));
    cpu::qgemv_act_sums(t, xq.data(), xb, M, K, sums.data());
    // y starts at 1 and accumulates, with a bias; the groups in two calls
    std::vector<float> y(size_t(M * N), 1.0f), bias(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) bias[size_t(n)] = 0.25f * float(n);
    const auto& kern = cpu::qgemv_kernels(isa);
    kern.gemv(t, packed.data(), N, K, xq.data(), xb, sums.data(), M, y.data(), N, 0, 2, bias.data(), true);
    kern.gemv(t, packed.data(), N, K, xq.data(), xb, sums.data(), M, y.data(), N, 2, groups, bias.data(), true);
    double worst = 0;
    for (int64_t r = 0; r < M; ++r) {
      const uint8_t* xr = xq.data() + size_t(r) * xb;
      for (int64_t n = 0; n < N; ++n) {
        double want = 0, mag = 0;
        for (int64_t e = 0; e < K; ++e) {
          const double xd = act_value(t, xr, e);
          want += double(wf[size_t(n * K + e)]) * xd;
          mag += std::fabs(double(wf[size_t(n * K + e)]) * xd);
        }
        want += 1.0 + bias[size_t(n)];
        const double err = std::fabs(double(y[size_t(r * N + n)]) - want) / (mag + 1.0);
        if (!(err <= worst)) worst = err;  // a NaN error sticks
      }
    }
    CHECK(worst <= 1e-5);  // f32 scale products, f32 accumulation across blocks
    if (first.empty())
      first = y;
    else
      CHECK(std::memcmp(first.data(), y.data(), y.size() * 4) == 0);  // levels agree exactly
  }
}

}  // namespace

TEST_CASE("cpu qgemv: decode products of every packed type on every ISA level, M = 1..4 and 7", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t K = 512, N = 51;  // N % 16 != 0: a padded last group
  for (GgmlType t : kTypes) {
    REQUIRE(cpu::qgemv_supported(t));
    const auto w = random_weights(t, N, K, uint64_t(t) * 13 + 1);
    for (int64_t M : {1, 2, 3, 4, 7}) {
      auto x = test::randn(size_t(M * K), 31 + uint64_t(M), 2.0f);
      x[9] = 40.0f;  // one block with a large value
      check_levels(t, w, N, K, M, x);
    }
  }
}

// The largest integer sums a block can produce: every quant at its top value (all bits set: Q4
// nibbles 15, Q5 31, Q8_0 -1) times activations all +127 or all -127 (constant rows), where
// partial sums kept in 16 bits (the non-VNNI levels) are closest to overflowing.
TEST_CASE("cpu qgemv: extreme quants times full-scale activations, every level", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t K = 256, N = 20;
  for (GgmlType t : kTypes) {
    auto w = random_weights(t, N, K, uint64_t(t) * 7 + 3);
    const size_t bb = size_t(ggml_block_bytes(t)), keep = scale_at(t) + (has_min(t) ? 4u : 2u);
    for (size_t i = 0; i < w.size(); ++i)
      if (i % bb >= keep || i % bb < scale_at(t)) w[i] = 0xff;  // everything but the f16 scale (and min)
    for (float sign : {1.0f, -1.0f}) {
      INFO("activations " << sign);
      check_levels(t, w, N, K, 2, std::vector<float>(size_t(2 * K), sign));
    }
  }
}

TEST_CASE("cpu qgemv: a non-finite weight scale or min stays in its row; a NaN activation gives NaN in its row", "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  const int64_t K = 1024, N = 40, M = 3, nb = K / kQK;
  for (GgmlType t : kTypes) {
    const size_t rb = size_t(ggml_row_bytes(t, K)), bb = size_t(ggml_block_bytes(t)), d = scale_at(t);
    for (float bad : {NAN, INFINITY}) {
      auto w = random_weights(t, N, K, 5);
      const uint16_t h = f32_to_f16(bad);
      std::memcpy(w.data() + 17 * rb + 3 * bb + d, &h, 2);                      // row 17, block 3: scale
      if (has_min(t)) std::memcpy(w.data() + 33 * rb + 1 * bb + d + 2, &h, 2);  // row 33, block 1: min
      const auto packed = pack(t, w, N, K);
      auto x = test::randn(size_t(M * K), 8);
      x[2 * K + 50] = bad;  // activation row 2
      const size_t xb = cpu::q8_act_row_bytes(t, K);
      for (cpu::Isa isa : cpu::available_isas()) {
        INFO(ggml_type_name(uint32_t(t)) << " " << bad << " " << cpu::isa_name(isa));
        std::vector<uint8_t> xq(size_t(M) * xb);
        for (int64_t r = 0; r < M; ++r) cpu::qdot_kernels(isa).quantize(t, x.data() + r * K, xq.data() + size_t(r) * xb, K);
        std::vector<int32_t> sums(size_t(M * nb));
        cpu::qgemv_act_sums(t, xq.data(), xb, M, K, sums.data());
        std::vector<float> y(size_t(M * N), 0.0f);
        cpu::qgemv_kernels(isa).gemv(t, packed.data(), N, K, xq.data(), xb, sums.data(), M, y.data(), N, 0, 3, nullptr, false);
        for (int64_t r = 0; r < M; ++r)
          for (int64_t n = 0; n < N; ++n) {
            const float v = y[size_t(r * N + n)];
            if (r == 2)
              CHECK(std::isnan(v));
            else if (n == 17 || (n == 33 && has_min(t)))
              CHECK(!std::isfinite(v));  // Inf scale: +-Inf or NaN (Inf * 0 quants), never finite
            else
              CHECK(std::isfinite(v));
          }
      }
    }
  }
}

TEST_CASE("cpu backend: --compute q8 decode (row-interleaved GEMV, and with SPARKBENCH_CPU_QGEMV=0 the qdot kernel) against ref",
          "[backend][unit]") {
  if (!cpu::isa_available(cpu::Isa::Avx2)) {
    std::printf("SKIPPED: this CPU lacks AVX2\n");
    return;
  }
  ::setenv("SPARKBENCH_CPU_QGEMV", "2", 1);
  CHECK_THROWS_AS(create_backend("cpu", {.threads = 2, .compute = ComputeType::Q8}), Error);
  ::setenv("SPARKBENCH_CPU_QGEMV", "0", 1);
  auto off = create_backend("cpu", {.threads = 2, .compute = ComputeType::Q8});
  ::unsetenv("SPARKBENCH_CPU_QGEMV");
  CHECK(off->describe().find("row-interleaved GEMV") == std::string::npos);
  auto ref = create_backend("ref");
  ::setenv("SPARKBENCH_CPU_FUSE", "2", 1);  // the fusion switch is read by the same rule
  CHECK_THROWS_AS(create_backend("cpu", {.threads = 2, .compute = ComputeType::Q8}), Error);
  ::unsetenv("SPARKBENCH_CPU_FUSE");
  auto on = create_backend("cpu", {.threads = 2, .compute = ComputeType::Q8});
  const std::string desc = on->describe(), tag = "row-interleaved GEMV (";
  REQUIRE(desc.find(tag) != std::string::npos);
  // it names exactly the types the backend takes the GEMV for at its level
  const std::string listed =
      desc.substr(desc.find(tag) + tag.size(), desc.find(" repacked)", desc.find(tag)) - desc.find(tag) - tag.size());
  for (GgmlType t :
       {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    INFO(listed << " " << ggml_type_name(uint32_t(t)));
    CHECK((("/" + listed + "/").find("/" + ggml_type_name(uint32_t(t)) + "/") != std::string::npos) ==
          cpu::qgemv_pays(t, cpu::active_isa()));
  }
  for (Backend* cpu : {on.get(), off.get()})
    for (GgmlType t : kTypes) {
      // two weights sharing x (the fused matmul_multi path) and one alone (matmul); K large
      // enough that the products run on both threads
      const int64_t K = 2048, N0 = 300, N1 = 45;
      const auto w0 = random_weights(t, N0, K, 91), w1 = random_weights(t, N1, K, 92);
      const size_t rb = size_t(ggml_row_bytes(t, K));
      std::vector<float> wf(size_t((N0 + N1) * K));
      for (int64_t n = 0; n < N0; ++n) dequantize_row(t, w0.data() + size_t(n) * rb, wf.data() + n * K, K);
      for (int64_t n = 0; n < N1; ++n) dequantize_row(t, w1.data() + size_t(n) * rb, wf.data() + (N0 + n) * K, K);
      for (int64_t M : {1, 3, 8}) {
        const auto xv = test::randn(size_t(M * K), 13 + uint64_t(M));
        std::vector<float> out[2][3];
        Backend* bs[2] = {ref.get(), cpu};
        for (int i = 0; i < 2; ++i) {
          auto wt0 = bs[i]->load_weight({"w0", t, N0, K, w0.data()});
          auto wt1 = bs[i]->load_weight({"w1", t, N1, K, w1.data()});
          Tensor x = test::make(*bs[i], M, K, xv), y0 = bs[i]->alloc(M, N0, DType::F32), y1 = bs[i]->alloc(M, N1, DType::F32),
                 y2 = bs[i]->alloc(M, N0, DType::F32);
          const Backend::MatmulOut outs[2] = {{wt0.get(), &y0, nullptr}, {wt1.get(), &y1, nullptr}};
          bs[i]->matmul_multi(x, outs, 2);
          bs[i]->matmul(x, *wt0, y2, nullptr, false);
          out[i][0] = test::get(*bs[i], y0);
          out[i][1] = test::get(*bs[i], y1);
          out[i][2] = test::get(*bs[i], y2);
        }
        for (int j = 0; j < 3; ++j) {
          const int64_t N = j == 1 ? N1 : N0, woff = j == 1 ? N0 : 0;
          bool ok = true;
          for (int64_t r = 0; r < M && ok; ++r)
            for (int64_t n = 0; n < N; ++n) {
              double bound = 1e-4;  // each activation moves by at most amax(its block) / 254
              for (int64_t b0 = 0; b0 < K; b0 += act_block(t)) {
                double amax = 0, wsum = 0;
                for (int64_t e = b0; e < b0 + act_block(t); ++e) {
                  amax = std::max(amax, std::fabs(double(xv[size_t(r * K + e)])));
                  wsum += std::fabs(double(wf[size_t((woff + n) * K + e)]));
                }
                bound += wsum * amax / 254.0 * 1.001;
              }
              const double a = out[0][j][size_t(r * N + n)], g = out[1][j][size_t(r * N + n)];
              if (!(std::fabs(a - g) <= bound)) {
                INFO(cpu->describe() << " " << ggml_type_name(uint32_t(t)) << " M=" << M << " out " << j << " r=" << r << " n=" << n
                                     << " ref " << a << " q8 " << g << " bound " << bound);
                CHECK(false);
                ok = false;
                break;
              }
            }
          CHECK(ok);
        }
        if (cpu == on.get()) CHECK(out[1][0] == out[1][2]);  // fused and single products agree exactly
      }
    }
}

TEST_CASE("cpu qgemv: the type list is the one these tests cover, and only its types are supported", "[backend][unit]") {
  const auto list = cpu::qgemv_type_list();
  CHECK(std::vector<GgmlType>(list.begin(), list.end()) == std::vector<GgmlType>(std::begin(kTypes), std::end(kTypes)));
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS})
    CHECK_FALSE(cpu::qgemv_supported(t));
}

#endif
