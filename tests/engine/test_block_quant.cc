// Block quantizers (engine/gguf/block_quant.h): bytes identical to llama-quantize's on the
// ../shared/reference/kquants set, round-trip error per type and its ordering across types,
// and all-zero / constant / tiny / huge inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "engine/gguf/block_quant.h"
#include "engine/gguf/ggml_types.h"
#include "engine/gguf/gguf.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

const GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,   GgmlType::Q2_K,
                           GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS};

std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x, int64_t cols) {
  const int64_t rows = int64_t(x.size()) / cols;
  std::vector<uint8_t> q(size_t(ggml_row_bytes(t, cols) * rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, x.data() + r * cols, q.data() + r * ggml_row_bytes(t, cols), cols);
  return q;
}

std::vector<float> dequantize(GgmlType t, const std::vector<uint8_t>& q, int64_t n, int64_t cols) {
  std::vector<float> y(static_cast<size_t>(n));
  for (int64_t r = 0; r < n / cols; ++r) dequantize_row(t, q.data() + r * ggml_row_bytes(t, cols), y.data() + r * cols, cols);
  return y;
}

// RMS of (y - x) relative to the RMS of x; NaN when any output is not finite.
double rel_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(y[i])) return NAN;
    e += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
    s += double(x[i]) * x[i];
  }
  return std::sqrt(e / s);
}

}  // namespace

TEST_CASE("block quant: every tensor of llama-quantize's kquants files is reproduced byte for byte", "[shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::shared_path("reference/kquants");
  auto base = GgufFile::open(dir + "/kq-base.gguf");
  const char* files[] = {"kq-Q2_K", "kq-Q3_K_M", "kq-Q4_K_M", "kq-Q4_K_S", "kq-Q5_K_M",    "kq-Q6_K",     "kq-Q4_1",
                         "kq-Q5_0", "kq-Q5_1",   "kq-IQ4_NL", "kq-IQ4_XS", "kq-pure-Q4_0", "kq-pure-Q8_0"};
  std::map<std::string, int> tensors_per_type;
  for (const char* f : files) {
    auto q = GgufFile::open(dir + "/" + f + ".gguf");
    for (const auto& t : q->tensors()) {
      if (t.type == GgmlType::F32) continue;
      const GgufTensorInfo* b = base->tensor(t.name);
      REQUIRE(b);
      REQUIRE(b->type == GgmlType::F32);
      const std::vector<float> x = base->tensor_f32(*b);
      const std::vector<uint8_t> ours = quantize(t.type, x, t.ne[0]);
      REQUIRE(ours.size() == t.nbytes);
      // first differing block, for the message
      const int64_t bb = ggml_block_bytes(t.type);
      int64_t first = -1, differing = 0;
      for (int64_t i = 0; i < int64_t(t.nbytes) / bb; ++i) {
        if (std::memcmp(ours.data() + i * bb, q->tensor_data(t) + i * bb, size_t(bb)) != 0) {
          if (first < 0) first = i;
          ++differing;
        }
      }
      INFO(f << " " << t.name << " " << ggml_type_name(uint32_t(t.type)) << ": " << differing << " of " << int64_t(t.nbytes) / bb
             << " blocks differ, first " << first);
      CHECK(differing == 0);
      tensors_per_type[ggml_type_name(uint32_t(t.type))]++;
    }
  }
  // every quantized type of the set was compared
  for (GgmlType t : kTypes) {
    INFO(ggml_type_name(uint32_t(t)));
    CHECK(tensors_per_type[ggml_type_name(uint32_t(t))] > 0);
  }
}

TEST_CASE("block quant: round-trip error per type on gaussian rows, ordered by bits per weight", "[unit]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t cols = 1024, rows = 32;
  std::vector<float> x(size_t(cols * rows));
  for (int64_t r = 0; r < rows; ++r)  // rows of different scales, as weight matrices have
    for (int64_t c = 0; c < cols; ++c) x[size_t(r * cols + c)] = nd(rng) * 0.02f * float(1 + r % 5);
  std::map<GgmlType, double> e;
  for (GgmlType t : kTypes) {
    e[t] = rel_rms_error(x, dequantize(t, quantize(t, x, cols), int64_t(x.size()), cols));
    std::printf("%-7s relative rms error %.5f\n", ggml_type_name(uint32_t(t)).c_str(), e[t]);
    INFO(ggml_type_name(uint32_t(t)));
    CHECK(e[t] > 0);  // NaN fails here too
  }
  // Upper bounds 1.2-1.4x what these quantizers give on this data (a decoding or packing
  // error gives far more): a uniform b-bit grid over ~+-3 sigma has rms error ~ 6 / 2^b / sqrt(12)
  // sigma, the scale searches do better.
  const std::pair<GgmlType, double> bounds[] = {{GgmlType::Q8_0, 0.007},  {GgmlType::Q6_K, 0.025},  {GgmlType::Q5_K, 0.045},
                                                {GgmlType::Q5_1, 0.06},   {GgmlType::Q5_0, 0.06},   {GgmlType::Q4_K, 0.09},
                                                {GgmlType::IQ4_XS, 0.09}, {GgmlType::IQ4_NL, 0.09}, {GgmlType::Q4_1, 0.12},
                                                {GgmlType::Q4_0, 0.12},   {GgmlType::Q3_K, 0.2},    {GgmlType::Q2_K, 0.4}};
  for (const auto& [t, b] : bounds) {
    INFO(ggml_type_name(uint32_t(t)));
    CHECK(e[t] < b);
  }
  // more bits, less error
  CHECK(e[GgmlType::Q6_K] < e[GgmlType::Q5_K]);
  CHECK(e[GgmlType::Q5_K] < e[GgmlType::Q4_K]);
  CHECK(e[GgmlType::Q4_K] < e[GgmlType::Q3_K]);
  CHECK(e[GgmlType::Q3_K] < e[GgmlType::Q2_K]);
  CHECK(e[GgmlType::Q8_0] < e[GgmlType::Q6_K]);
  CHECK(e[GgmlType::Q5_1] < e[GgmlType::Q4_1]);
  CHECK(e[GgmlType::Q5_0] < e[GgmlType::Q4_0]);
  // the fitted scales beat the plain min/max ones at the same bits
  CHECK(e[GgmlType::Q5_K] < e[GgmlType::Q5_1]);
  CHECK(e[GgmlType::Q4_K] < e[GgmlType::Q4_1]);
  CHECK(e[GgmlType::IQ4_NL] < e[GgmlType::Q4_0]);
}

TEST_CASE("block quant: zeros, constants, tiny values and outliers stay finite and close", "[unit]") {
  const int64_t cols = 512;
  for (GgmlType t : kTypes) {
    INFO(ggml_type_name(uint32_t(t)));
    // zeros give exact zeros
    std::vector<float> z(static_cast<size_t>(cols), 0.0f);
    for (float v : dequantize(t, quantize(t, z, cols), cols, cols)) CHECK(v == 0.0f);
    // a constant row comes back within 1% (f16 scales and the level grid)
    for (float c : {0.37f, -1.25f}) {
      std::vector<float> x(size_t(cols), c);
      for (float v : dequantize(t, quantize(t, x, cols), cols, cols)) CHECK(std::fabs(v - c) <= 0.01f * std::fabs(c));
    }
    // tiny values (their f16 scales underflow to 0) in the first half, values of 0.01 scale with one
    // outlier of 50 in the second: all finite; the tiny ones come back as ~0, the outlier within
    // 3%, and blocks that do not hold the outlier keep their resolution. (The values sharing the
    // outlier's block lose theirs: IQ4 has no zero level, so they land on +-d.)
    std::vector<float> x(static_cast<size_t>(cols));
    for (int64_t i = 0; i < cols; ++i) x[size_t(i)] = (i < cols / 2 ? 1e-9f : 0.01f) * float((i * 37) % 17 - 8);
    x[300] = 50.0f;
    const std::vector<float> y = dequantize(t, quantize(t, x, cols), cols, cols);
    const int64_t bs = ggml_block_size(t), o0 = 300 / bs * bs;
    for (int64_t i = 0; i < cols; ++i) {
      INFO("value " << i);
      REQUIRE(std::isfinite(y[size_t(i)]));
      if (i < cols / 2)
        CHECK(std::fabs(y[size_t(i)] - x[size_t(i)]) <= 1e-7);
      else if (i < o0 || i >= o0 + bs)
        CHECK(std::fabs(y[size_t(i)] - x[size_t(i)]) <= 0.02);
    }
    CHECK(std::fabs(y[300] - 50.0f) <= 1.5f);
  }
}
