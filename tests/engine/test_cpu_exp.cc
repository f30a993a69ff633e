// cpu/kernels.h's vector exp and the two row ops built on it (softmax, SwiGLU), against double
// precision: the ulp bound the header states, its range edges, and NaN.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#if SPARKBENCH_WITH_DNNL  // the cpu backend's kernels are built only with oneDNN
#include "engine/backends/cpu/kernels.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

// Distance in units in the last place of the float nearest to `want` (want > 0, normal).
double ulps(float got, double want) {
  const float w = float(want);
  const double ulp = double(std::nextafter(w, INFINITY)) - double(w);
  return std::fabs(double(got) - want) / ulp;
}

}  // namespace

TEST_CASE("cpu kernels: exp_row within 2 ulp over its range, with its edges and NaN", "[backend][unit]") {
  if (!cpu::cpu_supported()) return test::skip("this CPU lacks AVX2");
  // every 97th float bit pattern from -87.33 to 88.37 (both signs, every binade in between)
  std::vector<float> x;
  for (uint32_t bits = 0; bits < 0xffffffffu - 97; bits += 97) {
    float v;
    std::memcpy(&v, &bits, 4);
    if (std::isfinite(v) && v >= -87.33f && v <= 88.37f) x.push_back(v);
  }
  REQUIRE(x.size() > 10000000);
  std::vector<float> y(x.size());
  cpu::exp_row(x.data(), y.data(), int64_t(x.size()));
  double worst = 0;
  float at = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double u = ulps(y[i], std::exp(double(x[i])));
    if (!(u <= worst)) worst = u, at = x[i];  // a NaN sticks
  }
  INFO("worst " << worst << " ulp at x = " << at);
  CHECK(worst <= 2.0);
  // edges: exact at 0, the stated limits, infinities and NaN, odd lengths through the scalar tail
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> e = {0.0f, -0.0f, 88.5f, 1000.0f, INFINITY, -87.5f, -1000.0f, -INFINITY, nan, 1.0f, 0.0f};
  std::vector<float> out(e.size());
  cpu::exp_row(e.data(), out.data(), int64_t(e.size()));
  CHECK(out[0] == 1.0f);
  CHECK(out[1] == 1.0f);
  CHECK(out[2] == INFINITY);
  CHECK(out[3] == INFINITY);
  CHECK(out[4] == INFINITY);
  CHECK(out[5] == 0.0f);
  CHECK(out[6] == 0.0f);
  CHECK(out[7] == 0.0f);
  CHECK(std::isnan(out[8]));
  CHECK(ulps(out[9], std::exp(1.0)) <= 2.0);  // the tail (index 8 onwards) takes the same path
  CHECK(out[10] == 1.0f);
}

TEST_CASE("cpu kernels: softmax_row and swiglu_row against double precision", "[backend][unit]") {
  if (!cpu::cpu_supported()) return test::skip("this CPU lacks AVX2");
  for (int64_t n : {1, 7, 8, 9, 64, 1001}) {
    INFO("n = " << n);
    std::vector<float> x(static_cast<size_t>(n)), g(static_cast<size_t>(n)), u(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      x[size_t(i)] = float(12.0 * std::sin(0.37 * double(i) + 1.0));
      g[size_t(i)] = float(30.0 * std::cos(0.11 * double(i)));
      u[size_t(i)] = float(std::sin(0.5 * double(i)) + 0.25);
    }
    std::vector<float> y(static_cast<size_t>(n)), s(static_cast<size_t>(n));
    cpu::softmax_row(x.data(), y.data(), n);
    cpu::swiglu_row(g.data(), u.data(), s.data(), n);
    double mx = x[0], sum = 0, ysum = 0;
    for (float v : x) mx = std::max(mx, double(v));
    for (float v : x) sum += std::exp(double(v) - mx);
    double worst_soft = 0, worst_swiglu = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = double(x[size_t(i)]) - mx, want = std::exp(d) / sum;
      // x - max rounds to f32 (|d| 2^-24 of relative error after exp), exp 2 ulp, 1 / sum and
      // the product one rounding each: within (|d| + 8) 2^-24 of the exact value
      worst_soft = std::max(worst_soft, std::fabs(y[size_t(i)] - want) / want / ((std::fabs(d) + 8) * 0x1p-24));
      ysum += y[size_t(i)];
      const double gd = g[size_t(i)], sw = gd / (1.0 + std::exp(-gd)) * double(u[size_t(i)]);
      worst_swiglu = std::max(worst_swiglu, std::fabs(s[size_t(i)] - sw) / std::max(1e-30, std::fabs(sw)));
    }
    CHECK(worst_soft <= 1.0);
    CHECK(std::fabs(ysum - 1.0) <= 1e-6);
    CHECK(worst_swiglu <= 1e-6);
  }
  // a NaN gate gives a NaN output; a large negative one gives -0 x u, not NaN
  std::vector<float> g = {NAN, -200.0f, 200.0f}, u = {1.0f, 3.0f, 0.5f}, s(3);
  cpu::swiglu_row(g.data(), u.data(), s.data(), 3);
  CHECK(std::isnan(s[0]));
  CHECK(s[1] == 0.0f);
  CHECK(s[2] == 100.0f);
}

#endif
