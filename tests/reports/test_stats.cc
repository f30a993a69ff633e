// reports/stats: hand-computed values for McNemar, the binomial tail, Mann-Whitney U (scipy's
// documented example and small exact cases), the paired interval and bootstrap, and step
// detection on series with known change points.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "reports/stats.h"

using namespace sb::stats;

TEST_CASE("stats: normal cdf and quantile agree with tables", "[stats][unit]") {
  CHECK(normal_cdf(0) == Approx(0.5));
  CHECK(normal_cdf(1.959963984540054) == Approx(0.975).epsilon(1e-12));
  CHECK(normal_quantile(0.975) == Approx(1.959963984540054).epsilon(1e-10));
  CHECK(normal_quantile(0.5) == Approx(0).margin(1e-12));
  CHECK(normal_quantile(0.05) == Approx(-1.6448536269514722).epsilon(1e-10));
}

TEST_CASE("stats: median of odd and even counts", "[stats][unit]") {
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({4, 1, 3, 2}) == 2.5);
  CHECK(std::isnan(median({})));
}

TEST_CASE("stats: binomial half tail by hand", "[stats][unit]") {
  // P(X <= 2), X ~ Bin(10, 1/2) = (1 + 10 + 45) / 1024
  CHECK(binomial_half_cdf(2, 10) == Approx(56.0 / 1024).epsilon(1e-12));
  CHECK(binomial_half_cdf(0, 1) == Approx(0.5));
  CHECK(binomial_half_cdf(-1, 5) == 0);
  CHECK(binomial_half_cdf(5, 5) == 1);
  // Large n stays finite and symmetric: P(X <= 499) + P(X >= 501) = 1 - P(X = 500)
  const double p500 = std::exp(std::lgamma(1001) - 2 * std::lgamma(501) - 1000 * std::log(2.0));
  CHECK(2 * binomial_half_cdf(499, 1000) + p500 == Approx(1.0).epsilon(1e-9));
}

TEST_CASE("stats: McNemar exact p-values of small tables", "[stats][unit]") {
  // b = 2, c = 8: p = 2 * P(X <= 2 | n = 10, 1/2) = 112 / 1024
  CHECK(mcnemar_exact_p(2, 8) == Approx(0.109375).epsilon(1e-12));
  CHECK(mcnemar_exact_p(8, 2) == Approx(0.109375).epsilon(1e-12));
  // b = 0, c = 6: 2 / 64
  CHECK(mcnemar_exact_p(0, 6) == Approx(0.03125).epsilon(1e-12));
  // b = 1, c = 9: 2 * (1 + 10) / 1024
  CHECK(mcnemar_exact_p(1, 9) == Approx(22.0 / 1024).epsilon(1e-12));
  CHECK(mcnemar_exact_p(5, 5) == 1.0);
  CHECK(mcnemar_exact_p(0, 0) == 1.0);
}

TEST_CASE("stats: paired pass-fail difference and Wald interval", "[stats][unit]") {
  // n = 20, b = 2 (only baseline passed), c = 8: delta 0.3, se = sqrt(10 - 36/20) / 20
  auto d = paired_pass_fail(2, 8, 20, 0.05);
  const double se = std::sqrt(10 - 36.0 / 20) / 20;
  CHECK(d.mean == Approx(0.3));
  CHECK(d.lo == Approx(0.3 - 1.959963984540054 * se).epsilon(1e-9));
  CHECK(d.hi == Approx(0.3 + 1.959963984540054 * se).epsilon(1e-9));
  CHECK(d.p == Approx(0.109375));
  CHECK(d.n == 20);
  auto none = paired_pass_fail(0, 0, 10, 0.05);
  CHECK(none.mean == 0);
  CHECK(none.lo == 0);
  CHECK(none.hi == 0);
  CHECK(none.p == 1);
}

TEST_CASE("stats: paired bootstrap is seeded and finds a consistent shift", "[stats][unit]") {
  std::mt19937 rng(3);
  std::normal_distribution<double> nd(0, 1);
  std::vector<double> a, b, c;
  for (int i = 0; i < 200; ++i) {
    a.push_back(nd(rng));
    b.push_back(a.back() + 0.5 + 0.2 * nd(rng));  // shifted by 0.5
    c.push_back(a.back() + 0.2 * nd(rng));        // not shifted
  }
  auto r1 = paired_bootstrap(a, b, 0.05, 2000, 7), r2 = paired_bootstrap(a, b, 0.05, 2000, 7);
  CHECK(r1.mean == r2.mean);
  CHECK(r1.lo == r2.lo);
  CHECK(r1.hi == r2.hi);
  CHECK(r1.p == r2.p);
  CHECK(r1.mean == Approx(0.5).margin(0.05));
  CHECK(r1.lo < r1.mean);
  CHECK(r1.hi > r1.mean);
  CHECK(r1.lo > 0.4);
  CHECK(r1.hi < 0.6);
  CHECK(r1.p == Approx(1.0 / 2001));  // no resample as extreme as the observed shift
  auto r3 = paired_bootstrap(a, c, 0.05, 2000, 7);
  CHECK(r3.lo < 0);
  CHECK(r3.hi > 0);
  CHECK(r3.p > 0.05);
  auto same = paired_bootstrap(a, a, 0.05);
  CHECK(same.mean == 0);
  CHECK(same.p == 1);
}

TEST_CASE("stats: Mann-Whitney matches scipy's documented example", "[stats][unit]") {
  // scipy.stats.mannwhitneyu docs: males vs females, U1 = 17; exact p = 0.1111 (14 / 126),
  // asymptotic (continuity-corrected) p = 0.11134688653314041.
  const std::vector<double> males{19, 22, 16, 29, 24}, females{20, 11, 17, 12};
  auto r = mann_whitney_u(males, females);
  CHECK(r.u == 17);
  CHECK(r.exact);
  CHECK(r.p == Approx(14.0 / 126).epsilon(1e-12));
  // With a tie (normal approximation, hand-computed with the tie correction): U = 8, p = 0.0219207
  auto t = mann_whitney_u({1, 2, 2, 3, 4, 4, 4, 5}, {3, 4, 5, 5, 6, 6, 7});
  CHECK(!t.exact);
  CHECK(t.u == 8);
  CHECK(t.p == Approx(0.021920655864769528).epsilon(1e-9));
}

TEST_CASE("stats: Mann-Whitney exact tails of fully separated samples", "[stats][unit]") {
  CHECK(mann_whitney_u({1, 2, 3}, {4, 5, 6}).p == Approx(0.1));  // 2 / C(6,3)
  CHECK(mann_whitney_u({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}).p == Approx(2.0 / 252));
  CHECK(mann_whitney_u({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}).u == 25);
  CHECK(mann_whitney_min_p(3, 3) == Approx(0.1));
  CHECK(mann_whitney_min_p(5, 5) == Approx(2.0 / 252));
  CHECK(mann_whitney_min_p(2, 2) == Approx(1.0 / 3));
  CHECK(mann_whitney_min_p(1, 1) == 1);
  // Large samples use the normal approximation; identical values give p = 1.
  std::vector<double> x(60), y(60);
  for (int i = 0; i < 60; ++i) {
    x[size_t(i)] = i;
    y[size_t(i)] = i + 100;
  }
  auto big = mann_whitney_u(x, y);
  CHECK(!big.exact);
  CHECK(big.u == 0);
  CHECK(big.p < 1e-10);
  CHECK(mann_whitney_u({5, 5, 5}, {5, 5, 5}).p == 1);
}

TEST_CASE("stats: step detection on clean and noisy series", "[stats][unit]") {
  // Noise-free: every real change is a step, nothing else.
  std::vector<double> y{0.8, 0.8, 0.8, 0.8, 0.5, 0.5, 0.5, 0.5, 0.5};
  std::vector<double> levels;
  auto s = detect_steps(y, step_penalty(y, 0), &levels);
  REQUIRE(s.size() == 1);
  CHECK(s[0] == 4);
  CHECK(levels[0] == 0.8);
  CHECK(levels[8] == 0.5);
  const std::vector<double> flat(10, 0.7);
  CHECK(detect_steps(flat, step_penalty(flat, 0)).empty());
  // A noise floor as large as the change hides it.
  CHECK(detect_steps(y, step_penalty(y, 0.3)).empty());
  // Noisy series with two steps (seeded Gaussian noise, sigma 1, steps of 6 sigma).
  std::mt19937 rng(11);
  std::normal_distribution<double> nd(0, 1);
  std::vector<double> z;
  for (int i = 0; i < 60; ++i) z.push_back(nd(rng) + (i >= 20 ? 6 : 0) + (i >= 40 ? -6 : 0));
  auto zs = detect_steps(z, step_penalty(z, 0));
  REQUIRE(zs.size() == 2);
  CHECK(zs[0] == 20);
  CHECK(zs[1] == 40);
  // A single outlier is not two steps (the L1 cost absorbs it).
  std::vector<double> o;
  for (int i = 0; i < 30; ++i) o.push_back(nd(rng) + (i == 15 ? 8 : 0));
  CHECK(detect_steps(o, step_penalty(o, 0)).empty());
  // Pure noise: no step.
  std::vector<double> noise;
  for (int i = 0; i < 50; ++i) noise.push_back(10 + nd(rng));
  CHECK(detect_steps(noise, step_penalty(noise, 0)).empty());
  CHECK(detect_steps({}, 1.0).empty());
  CHECK(detect_steps({1.0}, 1.0).empty());
}
