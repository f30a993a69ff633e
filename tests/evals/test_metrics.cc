// Metric definitions against hand-computed values.
#include <catch2/catch.hpp>

#include <cmath>

#include "evals/metrics.h"
#include "evals/pass_at_k.h"

using namespace sb;

TEST_CASE("metrics: pass@k unbiased estimator", "[metrics][unit]") {
  CHECK(pass_at_k(3, 1, 1) == Approx(1.0 / 3));
  CHECK(pass_at_k(3, 1, 2) == Approx(2.0 / 3));
  CHECK(pass_at_k(3, 0, 2) == 0.0);
  CHECK(pass_at_k(5, 4, 2) == 1.0);                        // n - c < k
  CHECK(pass_at_k(10, 3, 5) == Approx(1.0 - 21.0 / 252));  // 1 - C(7,5)/C(10,5)
  CHECK(pass_at_k(200, 1, 100) == Approx(0.5));
  CHECK_THROWS(pass_at_k(3, 1, 4));
}

TEST_CASE("metrics: SQuAD normalization, exact match and token F1", "[metrics][unit]") {
  CHECK(squad_normalize("The  Cat, sat!") == "cat sat");
  CHECK(exact_match("the red ball", {"Red ball."}) == 1.0);
  CHECK(exact_match("red", {"blue", "Red"}) == 1.0);
  CHECK(exact_match("a red ball", {"ball"}) == 0.0);
  // pred "red ball today" vs gold "the red ball": common 2, precision 2/3, recall 2/2
  CHECK(token_f1("red ball today", {"the red ball"}) == Approx(0.8));
  CHECK(token_f1("nothing", {"red ball"}) == 0.0);
  CHECK(token_f1("x", {"y", "x"}) == 1.0);
}

TEST_CASE("metrics: macro-F1", "[metrics][unit]") {
  // label 0: tp 1 fp 1 fn 0 -> 2/3 ; label 1: tp 1 fp 0 fn 1 -> 2/3 ; label 2 absent
  CHECK(macro_f1({0, 0, 1}, {0, 1, 1}, 3) == Approx(2.0 / 3));
  CHECK(macro_f1({0, 1}, {0, 1}, 2) == 1.0);
  CHECK(macro_f1({1, 1}, {0, 0}, 2) == 0.0);
}

TEST_CASE("metrics: distinct-n and repetition rate", "[metrics][unit]") {
  CHECK(distinct_n({"a b a b"}, 1) == Approx(0.5));
  CHECK(distinct_n({"a b", "a c"}, 2) == Approx(1.0));
  CHECK(distinct_n({"a b", "a b"}, 2) == Approx(0.5));
  CHECK(repetition_rate("the cat sat the cat sat") == Approx(1.0 / 4));
  CHECK(repetition_rate("one two three four") == 0.0);
}

TEST_CASE("metrics: mean with standard error, bootstrap and jackknife", "[metrics][unit]") {
  auto m = mean_stat({1, 0, 1, 0});
  CHECK(m.mean == 0.5);
  CHECK(m.stderr_ == Approx(std::sqrt(1.0 / 3 / 4)));
  CHECK(m.ci_low < 0.5);
  CHECK(m.ci_high > 0.5);
  std::vector<double> x{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  auto mean_of = [&](const std::vector<int64_t>& idx) {
    double s = 0;
    for (auto i : idx) s += x[size_t(i)];
    return s / double(idx.size());
  };
  auto [lo, hi] = bootstrap_ci(10, mean_of);
  CHECK(lo < 5.5);
  CHECK(hi > 5.5);
  CHECK(bootstrap_ci(10, mean_of) == std::make_pair(lo, hi));  // seeded
  // jackknife of the mean equals the classical standard error
  CHECK(jackknife_stderr(10, mean_of) == Approx(mean_stat(x).stderr_));
}

TEST_CASE("metrics: Student t quantiles and Wilson intervals against table values", "[metrics][unit]") {
  // Two-sided 95% critical values from the standard t table.
  const std::pair<int64_t, double> table[] = {{1, 12.7062}, {2, 4.3027},  {5, 2.5706},  {10, 2.2281},
                                              {19, 2.0930}, {30, 2.0423}, {120, 1.9799}};
  for (const auto& [df, t] : table) {
    INFO("df " << df);
    CHECK(student_t_quantile(0.975, df) == Approx(t).margin(1e-4));
    CHECK(student_t_quantile(0.025, df) == Approx(-t).margin(1e-4));
  }
  CHECK(student_t_quantile(0.95, 10) == Approx(1.8125).margin(1e-4));
  CHECK(student_t_quantile(0.975, 1000000) == Approx(kZ95).margin(1e-5));
  CHECK(std::isnan(student_t_quantile(0.975, 0)));
  CHECK(std::isnan(student_t_quantile(1.0, 5)));
  // Wilson score intervals worked by hand: centre (p + z^2/2n) / (1 + z^2/n), half-width
  // z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2).
  auto [lo, hi] = wilson_interval(97, 100);
  CHECK(lo == Approx(0.915481).margin(1e-5));
  CHECK(hi == Approx(0.989745).margin(1e-5));
  std::tie(lo, hi) = wilson_interval(66, 66);
  CHECK(lo == Approx(66 / (66 + kZ95 * kZ95)).epsilon(1e-12));
  CHECK(hi == 1.0);
  std::tie(lo, hi) = wilson_interval(0, 30);
  CHECK(lo == 0.0);
  CHECK(hi == Approx(kZ95 * kZ95 / (30 + kZ95 * kZ95)).epsilon(1e-12));
  CHECK(wilson_interval(0, 0) == std::make_pair(0.0, 1.0));
  // proportion_stat takes 0/1 values only; mean_stat clamps into the range it is given
  CHECK_THROWS_WITH(proportion_stat({1, 0.5}), Catch::Contains("not 0 or 1"));
  const MeanStat m = mean_stat({0.9, 1.0, 1.0, 0.2}, kUnitRange);
  CHECK(m.ci_low >= 0.0);
  CHECK(m.ci_high == 1.0);
  const MeanStat u = mean_stat({0.9, 1.0, 1.0, 0.2});
  CHECK(u.ci_high > 1.0);  // unbounded by default: t(3) = 3.1824 times se 0.1936 above 0.775
  CHECK(u.ci_high == Approx(0.775 + 3.18245 * u.stderr_).margin(1e-4));
}
