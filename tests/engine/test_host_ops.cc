// engine/backends/host.h: the one rope and KV-cache store of the ref and cpu backends, checked
// against the formula itself (the backend-ops tests compare backends with each other, which
// no longer tells anything for code the two share).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "engine/backends/host.h"
#include "engine/core/error.h"

using namespace sb;

namespace {

Tensor filled(int64_t rows, int64_t cols, uint32_t seed) {
  Tensor t = host_tensor(rows, cols, DType::F32);
  for (int64_t i = 0; i < rows * cols; ++i) t.as<float>()[i] = float(std::sin(double(seed) + 0.7 * double(i)));
  return t;
}

}  // namespace

TEST_CASE("host ops: rope rotates the pairs of each style by position * base^(-2i/n_rot)", "[backend][unit]") {
  const int64_t n_heads = 3, head_dim = 8, n_rot = 6, rows = 5, pos0 = 2;
  for (RopeStyle style : {RopeStyle::Interleaved, RopeStyle::NeoX}) {
    AttentionShape s{n_heads, n_heads, head_dim, n_rot, 10000.0f, style};
    s.freq_scale = 0.5f;
    const Tensor in = filled(rows, n_heads * head_dim, 3);
    Tensor x = filled(rows, n_heads * head_dim, 3);
    host_rope("test", x, n_heads, s, pos0, 1);
    double worst = 0;
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t h = 0; h < n_heads; ++h) {
        const float* a = in.as<float>() + t * in.cols() + h * head_dim;
        const float* b = x.as<float>() + t * x.cols() + h * head_dim;
        for (int64_t i = 0; i < n_rot / 2; ++i) {
          const int64_t j = style == RopeStyle::Interleaved ? 2 * i : i;
          const int64_t k = style == RopeStyle::Interleaved ? 2 * i + 1 : i + n_rot / 2;
          const double ang = 0.5 * double(pos0 + t) * std::pow(10000.0, -2.0 * double(i) / double(n_rot));
          const double e0 = a[j] * std::cos(ang) - a[k] * std::sin(ang), e1 = a[j] * std::sin(ang) + a[k] * std::cos(ang);
          const double d = std::max(std::fabs(b[j] - e0), std::fabs(b[k] - e1));
          worst = std::isnan(d) || std::isnan(worst) ? NAN : std::max(worst, d);
        }
        for (int64_t d = n_rot; d < head_dim; ++d) CHECK(b[d] == a[d]);  // past n_rot: untouched
      }
    INFO("style " << int(style));
    CHECK(worst <= 1e-5);  // NaN fails
    // the thread count does not change the result
    Tensor y = filled(rows, n_heads * head_dim, 3);
    host_rope("test", y, n_heads, s, pos0, 2);
    CHECK(std::memcmp(x.as<float>(), y.as<float>(), x.bytes()) == 0);
  }
}

TEST_CASE("host ops: rope refuses freq_factors of the wrong size, naming the backend", "[backend][unit]") {
  AttentionShape s{1, 1, 8, 8, 10000.0f, RopeStyle::NeoX};
  s.freq_factors = host_tensor(1, 3, DType::F32);
  Tensor x = filled(1, 8, 1);
  CHECK_THROWS_WITH(host_rope("cpu", x, 1, s, 0, 1), Catch::Contains("cpu rope: freq_factors has 3 values, expected 4"));
}

TEST_CASE("host ops: kv_store converts rows into the cache at their positions and refuses overflow", "[backend][unit]") {
  HostKvCache cache(2, 4, 3, DType::F16);
  Tensor k = host_tensor(2, 3, DType::F32), v = host_tensor(2, 3, DType::F32);
  for (int i = 0; i < 6; ++i) k.as<float>()[i] = 0.5f * float(i), v.as<float>()[i] = -1.0f - float(i);
  host_kv_store(cache, 1, k, v, 2, to_dtype);
  float back[3];
  from_dtype(DType::F16, cache.k_row(1, 3), back, 3);
  CHECK(back[0] == 1.5f);
  CHECK(back[2] == 2.5f);
  from_dtype(DType::F16, cache.v_row(1, 2), back, 3);
  CHECK(back[1] == -2.0f);
  from_dtype(DType::F16, cache.k_row(0, 2), back, 1);
  CHECK(back[0] == 0.0f);  // another layer: untouched
  CHECK_THROWS_WITH(host_kv_store(cache, 0, k, v, 3, to_dtype), Catch::Contains("KV cache overflow: position 5 > context 4"));
}
