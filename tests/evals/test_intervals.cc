// Intervals of the suites' metrics as the tasks aggregate them: proportions get Wilson score
// intervals, other means a Student t interval, and every interval stays inside the metric's
// range. Reference values are worked by hand from the formulas (see the comments).
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "evals/suite.h"
#include "evals/task.h"

using namespace sb;

namespace {

ItemResult mc_row(int pred, int gold) {
  ItemResult r;
  r.extra = {{"pred", pred}, {"pred_norm", pred}, {"gold", gold}};
  return r;
}

}  // namespace

TEST_CASE("intervals: accuracy gets a Wilson score interval inside [0, 1]", "[evals][metrics][unit]") {
  Suite s = load_suite("stories");
  auto task = Task::create(s, {});
  auto acc_of = [&](const std::vector<ItemResult>& rows) {
    for (const auto& m : task->aggregate(rows))
      if (m.metric == "acc") return m;
    FAIL("no acc metric");
    return MetricResult{};
  };
  SECTION("all 66 items correct: the interval is not the point [1, 1]") {
    std::vector<ItemResult> rows(66, mc_row(1, 1));
    const MetricResult m = acc_of(rows);
    CHECK(m.value == 1.0);
    REQUIRE(m.ci_low);
    REQUIRE(m.ci_high);
    // Wilson lower bound with k = n: n / (n + z^2) = 66 / (66 + 1.95996^2) = 0.94500
    CHECK(*m.ci_low == Approx(0.94500).margin(1e-4));
    CHECK(*m.ci_high == 1.0);
  }
  SECTION("97 of 100 correct: the upper bound stays below 1") {
    std::vector<ItemResult> rows(97, mc_row(2, 2));
    for (int k = 0; k < 3; ++k) rows.push_back(mc_row(0, 2));
    const MetricResult m = acc_of(rows);
    CHECK(m.value == Approx(0.97));
    REQUIRE(m.ci_low);
    REQUIRE(m.ci_high);
    // Wilson score interval for 97/100 at 95% (worked by hand): [0.91548, 0.98975]
    CHECK(*m.ci_low == Approx(0.91548).margin(2e-4));
    CHECK(*m.ci_high == Approx(0.98975).margin(2e-4));
    CHECK(*m.ci_high < 1.0);
  }
  SECTION("no item correct: [0, upper] with upper > 0") {
    std::vector<ItemResult> rows(30, mc_row(0, 1));
    const MetricResult m = acc_of(rows);
    CHECK(*m.ci_low == 0.0);
    CHECK(*m.ci_high == Approx(3.84146 / (30 + 3.84146)).margin(1e-4));
  }
}

TEST_CASE("intervals: graded means get a t interval clamped to the metric's range", "[evals][metrics][unit]") {
  Suite s = load_suite("qa");
  auto task = Task::create(s, {});
  // 19 answers with F1 1 and one with F1 0.5: mean 0.975, standard error 0.025; the t interval
  // (19 degrees of freedom, t = 2.0930) reaches 1.027, above the largest possible F1.
  std::vector<ItemResult> rows;
  for (int k = 0; k < 20; ++k) {
    ItemResult r;
    r.extra = {{"em", k == 0 ? 0.0 : 1.0}, {"f1", k == 0 ? 0.5 : 1.0}};
    rows.push_back(r);
  }
  std::map<std::string, MetricResult> m;
  for (const auto& x : task->aggregate(rows)) m[x.metric] = x;
  REQUIRE(m.count("f1"));
  CHECK(m["f1"].value == Approx(0.975));
  REQUIRE(m["f1"].stderr_);
  CHECK(*m["f1"].stderr_ == Approx(0.025));
  REQUIRE(m["f1"].ci_low);
  REQUIRE(m["f1"].ci_high);
  CHECK(*m["f1"].ci_low == Approx(0.975 - 2.0930 * 0.025).margin(1e-4));
  CHECK(*m["f1"].ci_high == 1.0);
  // exact match is a proportion (19/20): Wilson, inside [0, 1]
  REQUIRE(m["exact_match"].ci_high);
  CHECK(*m["exact_match"].ci_high < 1.0);
  CHECK(*m["exact_match"].ci_low > 0.7);
}

TEST_CASE("intervals: dialogue rates stay inside [0, 1]", "[evals][metrics][unit]") {
  Suite s = load_suite("dialogue");
  auto task = Task::create(s, {});
  // Responses that almost never repeat a trigram, all distinct: repetition_rate near 0 and
  // distinct-1/2 near 1, where an unclamped symmetric interval leaves the range.
  std::vector<ItemResult> rows;
  for (int k = 0; k < 40; ++k) {
    ItemResult r;
    r.output = "w" + std::to_string(k) + " x" + std::to_string(k) + " y" + std::to_string(k) + " z" + std::to_string(k);
    if (k == 0) r.output = "a b c a b c a b c";
    r.extra = {{"selected", 0}, {"gold_logprob", -3.0}, {"gold_tokens", 3}};
    rows.push_back(r);
  }
  for (const auto& m : task->aggregate(rows)) {
    INFO(m.metric);
    if (m.metric == "gold_ppl" || m.metric == "invalid") continue;
    REQUIRE(m.ci_low);
    REQUIRE(m.ci_high);
    CHECK(*m.ci_low >= 0.0);
    CHECK(*m.ci_high <= 1.0);
    CHECK(*m.ci_low <= m.value);
    CHECK(*m.ci_high >= m.value);
  }
}
