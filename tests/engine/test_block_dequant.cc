// dequantize_row for the llama.cpp block types Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K..Q6_K, IQ4_XS
// (and, at the end, files of those types with bad rows or cut blocks):
// blocks are packed here by this test's own encoder, written from the layouts in ggml's
// ggml-common.h (bit positions of every quant, scale and min), from chosen integer quants,
// scales and mins; the decoded values must equal the formula computed here. Scales are powers
// of two and quants small integers, so every expected value is exact and compared with ==.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/half.h"
#include "engine/core/mmap_file.h"
#include "engine/gguf/ggml_types.h"
#include "engine/gguf/gguf.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

// ggml's kvalues_iq4nl, restated here so that the header's copy is checked too.
constexpr int kIQ4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

struct Logical {            // one block's content before packing
  float d = 0, dmin = 0;    // f16-exact
  std::vector<int> sc, mn;  // sub-block scales / mins (as stored: unsigned, bias not removed)
  std::vector<int> q;       // quants as stored (unsigned)
};

std::mt19937 rng(1234);
int rnd(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
float pow2(int e) { return std::ldexp(1.0f, e); }

Logical make(int n, int nsub, int qmax, int scmax, int mnmax, int scmin = 0) {
  Logical L;
  L.d = pow2(rnd(-8, -2)) * (rnd(0, 1) ? 1.0f : -1.0f);
  L.dmin = pow2(rnd(-9, -3));
  for (int i = 0; i < nsub; ++i) {
    L.sc.push_back(rnd(scmin, scmax));
    L.mn.push_back(rnd(0, mnmax));
  }
  for (int i = 0; i < n; ++i) L.q.push_back(rnd(0, qmax));
  // The extremes of every field appear at least once.
  L.q[0] = 0;
  L.q[n - 1] = qmax;
  L.sc[0] = scmax;
  if (nsub > 1) L.sc[nsub - 1] = scmin;
  L.mn[0] = mnmax;
  return L;
}

// ---- encoders, one per type: ggml's layouts ----

void put16(uint16_t& dst, float v) { dst = f32_to_f16(v); }

BlockQ4_1 enc_q4_1(const Logical& L) {
  BlockQ4_1 b{};
  put16(b.d, L.d);
  put16(b.m, L.dmin);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(L.q[j] | L.q[j + 16] << 4);
  return b;
}
template <class B>
void enc_q5_bits(B& b, const Logical& L) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t((L.q[j] & 15) | (L.q[j + 16] & 15) << 4);
  for (int j = 0; j < 32; ++j) qh |= uint32_t(L.q[j] >> 4) << j;
  std::memcpy(b.qh, &qh, 4);  // little-endian u32, as ggml stores it
}
BlockQ5_0 enc_q5_0(const Logical& L) {
  BlockQ5_0 b{};
  put16(b.d, L.d);
  enc_q5_bits(b, L);
  return b;
}
BlockQ5_1 enc_q5_1(const Logical& L) {
  BlockQ5_1 b{};
  put16(b.d, L.d);
  put16(b.m, L.dmin);
  enc_q5_bits(b, L);
  return b;
}
BlockIQ4_NL enc_iq4_nl(const Logical& L) {
  BlockIQ4_NL b{};
  put16(b.d, L.d);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(L.q[j] | L.q[j + 16] << 4);
  return b;
}
// Q2_K / Q3_K: element e = 128 h + 32 s + l lives in bits 2s..2s+1 of qs[32 h + l].
BlockQ2_K enc_q2_k(const Logical& L) {
  BlockQ2_K b{};
  put16(b.d, L.d);
  put16(b.dmin, L.dmin);
  for (int e = 0; e < 256; ++e) b.qs[32 * (e / 128) + e % 32] |= uint8_t((L.q[e] & 3) << (2 * ((e / 32) % 4)));
  for (int s = 0; s < 16; ++s) b.scales[s] = uint8_t(L.sc[s] | L.mn[s] << 4);
  return b;
}
BlockQ3_K enc_q3_k(const Logical& L) {
  BlockQ3_K b{};
  put16(b.d, L.d);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, s = (e / 32) % 4, l = e % 32;
    b.qs[32 * h + l] |= uint8_t((L.q[e] & 3) << (2 * s));
    b.hmask[l] |= uint8_t((L.q[e] >> 2) << (4 * h + s));
  }
  for (int j = 0; j < 16; ++j) {
    const int v = L.sc[j];
    if (j < 8)
      b.scales[j] |= uint8_t(v & 15);
    else
      b.scales[j - 8] |= uint8_t((v & 15) << 4);
    b.scales[8 + j % 4] |= uint8_t((v >> 4) << (2 * (j / 4)));
  }
  return b;
}
void enc_k_scales(uint8_t* s, const Logical& L) {
  for (int j = 0; j < 4; ++j) {
    s[j] = uint8_t(L.sc[j] | (L.sc[j + 4] >> 4) << 6);
    s[j + 4] = uint8_t(L.mn[j] | (L.mn[j + 4] >> 4) << 6);
    s[j + 8] = uint8_t((L.sc[j + 4] & 15) | (L.mn[j + 4] & 15) << 4);
  }
}
// Q4_K / Q5_K: element e = 64 c + 32 hi + l is nibble hi of qs[32 c + l]; Q5_K's fifth bit is
// bit e / 32 of qh[l].
BlockQ4_K enc_q4_k(const Logical& L) {
  BlockQ4_K b{};
  put16(b.d, L.d);
  put16(b.dmin, L.dmin);
  enc_k_scales(b.scales, L);
  for (int e = 0; e < 256; ++e) b.qs[32 * (e / 64) + e % 32] |= uint8_t(L.q[e] << (4 * ((e / 32) % 2)));
  return b;
}
BlockQ5_K enc_q5_k(const Logical& L) {
  BlockQ5_K b{};
  put16(b.d, L.d);
  put16(b.dmin, L.dmin);
  enc_k_scales(b.scales, L);
  for (int e = 0; e < 256; ++e) {
    b.qs[32 * (e / 64) + e % 32] |= uint8_t((L.q[e] & 15) << (4 * ((e / 32) % 2)));
    b.qh[e % 32] |= uint8_t((L.q[e] >> 4) << (e / 32));
  }
  return b;
}
// Q6_K: element e = 128 h + 32 r + l: nibble r / 2 of ql[64 h + 32 (r % 2) + l], top two bits at
// bit 2 r of qh[32 h + l]; int8 scale per 16 elements.
BlockQ6_K enc_q6_k(const Logical& L) {
  BlockQ6_K b{};
  put16(b.d, L.d);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = (e / 32) % 4, l = e % 32;
    b.ql[64 * h + 32 * (r % 2) + l] |= uint8_t((L.q[e] & 15) << (4 * (r / 2)));
    b.qh[32 * h + l] |= uint8_t((L.q[e] >> 4) << (2 * r));
  }
  for (int s = 0; s < 16; ++s) b.scales[s] = int8_t(L.sc[s]);
  return b;
}
BlockIQ4_XS enc_iq4_xs(const Logical& L) {
  BlockIQ4_XS b{};
  put16(b.d, L.d);
  for (int ib = 0; ib < 8; ++ib) {
    b.scales_l[ib / 2] |= uint8_t((L.sc[ib] & 15) << (4 * (ib % 2)));
    b.scales_h |= uint16_t((L.sc[ib] >> 4) << (2 * ib));
    for (int j = 0; j < 16; ++j) b.qs[16 * ib + j] = uint8_t(L.q[32 * ib + j] | L.q[32 * ib + j + 16] << 4);
  }
  return b;
}

// Decodes `blocks` (nb blocks of `type`) with dequantize_row and compares every element with
// want(block, element).
template <class B, class F>
void check_blocks(GgmlType type, const std::vector<B>& blocks, const std::vector<Logical>& logical, F want) {
  const int bs = int(ggml_block_size(type));
  REQUIRE(ggml_type_supported(uint32_t(type)));
  REQUIRE(ggml_block_bytes(type) == int64_t(sizeof(B)));
  std::vector<float> y(blocks.size() * size_t(bs), std::nanf(""));
  dequantize_row(type, blocks.data(), y.data(), int64_t(y.size()));
  int bad = 0;
  for (size_t i = 0; i < blocks.size(); ++i)
    for (int e = 0; e < bs; ++e) {
      const double w = want(logical[i], e);
      const float got = y[i * size_t(bs) + size_t(e)];
      if (!(double(got) == w) && bad++ < 5) {
        INFO(ggml_type_name(uint32_t(type)) << " block " << i << " element " << e);
        CHECK(double(got) == w);
      }
    }
  INFO(ggml_type_name(uint32_t(type)));
  CHECK(bad == 0);
}

template <class B, class Enc, class F>
void run_type(GgmlType type, int n, int nsub, int qmax, int scmax, int mnmax, int scmin, Enc enc, F want) {
  std::vector<Logical> logical;
  std::vector<B> blocks;
  for (int i = 0; i < 3; ++i) {  // three blocks: block strides are checked too
    logical.push_back(make(n, nsub, qmax, scmax, mnmax, scmin));
    blocks.push_back(enc(logical.back()));
  }
  check_blocks(type, blocks, logical, want);
}

}  // namespace

TEST_CASE("block dequant: 32-element types Q4_1, Q5_0, Q5_1, IQ4_NL decode hand-packed blocks", "[gguf][quant][unit]") {
  run_type<BlockQ4_1>(GgmlType::Q4_1, 32, 1, 15, 0, 0, 0, enc_q4_1, [](const Logical& L, int e) { return double(L.d) * L.q[e] + L.dmin; });
  run_type<BlockQ5_0>(GgmlType::Q5_0, 32, 1, 31, 0, 0, 0, enc_q5_0, [](const Logical& L, int e) { return double(L.d) * (L.q[e] - 16); });
  run_type<BlockQ5_1>(GgmlType::Q5_1, 32, 1, 31, 0, 0, 0, enc_q5_1, [](const Logical& L, int e) { return double(L.d) * L.q[e] + L.dmin; });
  run_type<BlockIQ4_NL>(GgmlType::IQ4_NL, 32, 1, 15, 0, 0, 0, enc_iq4_nl,
                        [](const Logical& L, int e) { return double(L.d) * kIQ4[L.q[e]]; });
}

TEST_CASE("block dequant: K-quants and IQ4_XS decode hand-packed super-blocks", "[gguf][quant][unit]") {
  run_type<BlockQ2_K>(GgmlType::Q2_K, 256, 16, 3, 15, 15, 0, enc_q2_k,
                      [](const Logical& L, int e) { return double(L.d) * L.sc[e / 16] * L.q[e] - double(L.dmin) * L.mn[e / 16]; });
  run_type<BlockQ3_K>(GgmlType::Q3_K, 256, 16, 7, 63, 0, 0, enc_q3_k,
                      [](const Logical& L, int e) { return double(L.d) * (L.sc[e / 16] - 32) * (L.q[e] - 4); });
  run_type<BlockQ4_K>(GgmlType::Q4_K, 256, 8, 15, 63, 63, 0, enc_q4_k,
                      [](const Logical& L, int e) { return double(L.d) * L.sc[e / 32] * L.q[e] - double(L.dmin) * L.mn[e / 32]; });
  run_type<BlockQ5_K>(GgmlType::Q5_K, 256, 8, 31, 63, 63, 0, enc_q5_k,
                      [](const Logical& L, int e) { return double(L.d) * L.sc[e / 32] * L.q[e] - double(L.dmin) * L.mn[e / 32]; });
  run_type<BlockQ6_K>(GgmlType::Q6_K, 256, 16, 63, 127, 0, -128, enc_q6_k,
                      [](const Logical& L, int e) { return double(L.d) * L.sc[e / 16] * (L.q[e] - 32); });
  run_type<BlockIQ4_XS>(GgmlType::IQ4_XS, 256, 8, 15, 63, 0, 0, enc_iq4_xs,
                        [](const Logical& L, int e) { return double(L.d) * (L.sc[e / 32] - 32) * kIQ4[L.q[e]]; });
}

TEST_CASE("block dequant: single hand-computed values pin the nibble and bit order", "[gguf][quant][unit]") {
  // Q4_1: d = 0.5, m = -1; qs[0] = 0x21: element 0 = 1 * 0.5 - 1, element 16 = 2 * 0.5 - 1.
  BlockQ4_1 a{};
  a.d = f32_to_f16(0.5f);
  a.m = f32_to_f16(-1.0f);
  a.qs[0] = 0x21;
  float y[256];
  dequantize_row(GgmlType::Q4_1, &a, y, 32);
  CHECK(y[0] == -0.5f);
  CHECK(y[16] == 0.0f);
  CHECK(y[1] == -1.0f);
  // Q5_0: d = 1; qh bit 17 set, qs[1] = 0x30: element 17 = (3 | 16) - 16 = 3, element 1 = -16.
  BlockQ5_0 b{};
  b.d = f32_to_f16(1.0f);
  b.qh[2] = 0x02;
  b.qs[1] = 0x30;
  dequantize_row(GgmlType::Q5_0, &b, y, 32);
  CHECK(y[17] == 3.0f);
  CHECK(y[1] == -16.0f);
  // Q4_K: d = 1, dmin = 0; scale of sub-block 5 (elements 160..191) = 33: low nibble in byte 9,
  // top two bits (0b10) in bits 6..7 of byte 1. qs[32 * 2 + 3] high nibble 7 -> element 163.
  BlockQ4_K c{};
  c.d = f32_to_f16(1.0f);
  c.dmin = f32_to_f16(0.0f);
  c.scales[9] = 0x01;
  c.scales[1] = 0x80;
  c.qs[67] = 0x70;
  dequantize_row(GgmlType::Q4_K, &c, y, 256);
  CHECK(y[163] == 33.0f * 7.0f);
  CHECK(y[131] == 0.0f);  // low nibble, sub-block 4, scale 0
  // Q6_K: d = 2, scales[15] = -3 (elements 240..255); element 255 = 128 + 96 + 31: high nibble
  // of ql[64 + 32 + 31] = 0xf0, qh[32 + 31] bits 6..7 = 0b01 -> q = 15 | 16 = 31 - 32 = -1.
  BlockQ6_K d{};
  d.d = f32_to_f16(2.0f);
  d.scales[15] = -3;
  d.ql[127] = 0xf0;
  d.qh[63] = 0x40;
  dequantize_row(GgmlType::Q6_K, &d, y, 256);
  CHECK(y[255] == 2.0f * -3.0f * -1.0f);
  CHECK(y[254] == 192.0f);  // stored quant 0 -> -32, times 2 * -3
}

namespace {

const GgmlType kNewBlockTypes[] = {GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::IQ4_NL, GgmlType::Q2_K,
                                   GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,   GgmlType::IQ4_XS};

// A file holding one tensor 't' of `type`, 2 blocks per row, 3 rows, as the last thing in the file.
std::vector<uint8_t> one_tensor_file(GgmlType type) {
  GgufWriter w;
  const int64_t bs = ggml_block_size(type);
  std::vector<uint8_t> data(size_t(ggml_row_bytes(type, 2 * bs) * 3), 0);
  w.add_tensor("t", type, {2 * bs, 3}, data);
  return w.serialize();
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::parse(bytes.data(), bytes.size(), "bad.gguf");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("block types: a row that is not whole blocks, or a cut last block, is one line naming file and tensor", "[gguf][quant][unit]") {
  for (GgmlType type : kNewBlockTypes) {
    const std::string tn = ggml_type_name(uint32_t(type));
    INFO(tn);
    const auto good = one_tensor_file(type);
    {  // it parses, and its data ends where the tensor's last block ends (plus alignment padding)
      auto f = GgufFile::parse(good.data(), good.size(), "good.gguf");
      const auto& t = f->tensors().at(0);
      CHECK(t.type == type);
      CHECK(t.nbytes == uint64_t(ggml_block_bytes(type) * 6));
      // the last block, cut in half: past the end of the file
      const size_t end = size_t(f->data_offset() + t.offset + t.nbytes);
      REQUIRE(end <= good.size());
      std::vector<uint8_t> cut(good.begin(), good.begin() + long(end - size_t(ggml_block_bytes(type) / 2)));
      const std::string err = parse_error(cut);
      CHECK(err.rfind("bad.gguf: tensor 't' data ends past end of file", 0) == 0);
      CHECK(err.find('\n') == std::string::npos);
    }
    {  // row length one block plus 16 values
      // layout: header(24) + name (8 + 1) + n_dims(4) + dim0(8) + ...
      auto b = good;
      const uint64_t bad_row = uint64_t(ggml_block_size(type)) + 16;
      std::memcpy(b.data() + 24 + 9 + 4, &bad_row, 8);
      const std::string err = parse_error(b);
      CHECK(err == "bad.gguf: tensor 't': row length " + std::to_string(bad_row) + " is not a multiple of the " + tn + " block size");
    }
  }
}

TEST_CASE("block types: a truncated K-quant file is one error line from the CLI, no crash", "[gguf][quant][cli]") {
  const auto good = one_tensor_file(GgmlType::Q6_K);
  const std::string path = test::temp_dir("block-cut") + "/cut-q6_k.gguf";
  write_file_atomic(path, good.data(), good.size() - 200);  // inside the tensor's second-to-last block
  auto r = test::run_cli({"model", "info", path});
  CHECK(r.exit_code == 1);
  CHECK(r.signal == 0);
  CHECK(r.err.find(path + ": tensor 't' data ends past end of file") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("block types: model synth with a readable type that has no quantizer is an error line, not an abort", "[gguf][quant][cli]") {
  // q3_k is read (ggml_type_from_name knows it); whether or not quantize_row writes it, the
  // command must end normally: a written file, or one error line.
  const std::string path = test::temp_dir("synth-q3k") + "/m.gguf";
  auto r = test::run_cli({"model", "synth", "--preset", "codex-spark-mini", "--dtype", "q3_k", "-o", path});
  INFO(r.err);
  CHECK(r.signal == 0);
  if (r.exit_code != 0) {
    CHECK(r.exit_code == 1);
    CHECK(r.err.rfind("error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}
