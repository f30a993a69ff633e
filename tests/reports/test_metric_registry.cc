// evals/metric_registry: lookup by exact and base name, run-time declarations, and the property
// the registry exists for: for every declared metric, compare, report and history read the same
// direction from the stored rows and call the same change a regression (or an improvement).
// Rows without a declaration (old stores) are shown and never called a regression.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/core/error.h"
#include "evals/metric_registry.h"
#include "harness/runner.h"
#include "reports/compare.h"
#include "reports/history.h"
#include "reports/report_data.h"
#include "reports/store.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

// A concrete name for a declaration ("pass@*" -> "pass@5").
std::string instance(const MetricInfo& m) {
  if (!m.name.empty() && m.name.back() == '*') return m.name.substr(0, m.name.size() - 1) + "5";
  return m.name;
}

// Two complete runs of task "t", the metric moving from `a` to `b` with a small stderr.
std::string two_runs(const std::string& tag, const std::string& metric, double a, double b, bool declared) {
  const std::string db = test::temp_dir(tag) + "/m.db";
  auto st = Store::open(db);
  for (double v : {a, b}) {
    RunInfo info;
    info.config_json = R"({"kv_type":"f32","compute":"f32"})";
    const int64_t id = st->begin_run(info);
    MetricRow r = declared ? cli::metric_row("t", metric, v, 0.005, std::nullopt, std::nullopt, 400)
                           : MetricRow{"t", metric, v, 0.005, std::nullopt, std::nullopt, 400};
    st->add_metric(id, r);
    st->finish_run(id, "complete");
  }
  return db;
}

struct Verdicts {
  Direction compare_dir, report_dir, history_dir;
  compare::Status compare_status;
  bool report_regression, history_regression;
};

Verdicts judge(const std::string& db, const std::string& metric) {
  Verdicts v{};
  auto st = compare::open_existing(db);
  const auto r = compare::compare(compare::load_run(*st, *st->get_run(1)), compare::load_run(*st, *st->get_run(2)), compare::Options{});
  REQUIRE(r.rows.size() == 1);
  v.compare_dir = r.rows[0].direction;
  v.compare_status = r.rows[0].status;
  report::Options ro;
  ro.trends = {"t:" + metric};
  const auto d = report::load_report(*st, db, ro);
  REQUIRE(d.trends.size() == 1);
  REQUIRE(d.trends[0].series.size() == 1);
  REQUIRE(d.trends[0].series[0].points.size() == 2);
  v.report_dir = d.trends[0].direction;
  v.report_regression = d.trends[0].series[0].points[1].regression;
  history::Options ho;
  ho.metric = metric;
  const auto h = history::build(*st, ho, db);
  REQUIRE(h.series.size() == 1);
  v.history_dir = h.series[0].direction;
  for (const auto& s : h.series[0].steps) v.history_regression = v.history_regression || s.regression;
  return v;
}

}  // namespace

TEST_CASE("metric registry: exact, base-name and prefix lookup", "[metrics][unit]") {
  REQUIRE(lookup_metric("acc"));
  CHECK(lookup_metric("acc")->direction == Direction::higher);
  CHECK(lookup_metric("acc")->primary);
  CHECK(lookup_metric("acc[history]") == lookup_metric("acc"));  // per-group name
  CHECK(lookup_metric("pass@1")->primary);
  REQUIRE(lookup_metric("pass@10"));
  CHECK(lookup_metric("pass@10")->name == "pass@*");
  CHECK_FALSE(lookup_metric("pass@10")->primary);
  CHECK(lookup_metric("distinct_3")->name == "distinct_*");
  CHECK(lookup_metric("rms_dp")->direction == Direction::lower);  // closer to the base model is better
  CHECK(lookup_metric("ppl[wiki]")->direction == Direction::lower);
  CHECK_FALSE(lookup_metric("zeta"));
  CHECK_FALSE(lookup_metric("[acc]"));
  const MetricInfo z = describe_metric("zeta");
  CHECK(z.name == "zeta");
  CHECK(z.direction == Direction::unknown);
  CHECK(describe_metric("acc[x]").name == "acc[x]");
  CHECK(describe_metric("acc[x]").direction == Direction::higher);
  CHECK(metric_base_name("passkey_acc@4096") == "passkey_acc");
  CHECK(metric_base_name("acc[g]") == "acc");
  CHECK(metric_base_name("f1") == "f1");
}

TEST_CASE("metric registry: declarations at run time", "[metrics][unit]") {
  declare_metric({"test_registry_acc", Direction::higher, "fraction", 0, 1, Aggregation::mean, IntervalKind::wilson, false, "test"});
  REQUIRE(lookup_metric("test_registry_acc@4096"));
  CHECK(lookup_metric("test_registry_acc@4096")->direction == Direction::higher);
  // The same name again with another direction is refused.
  CHECK_THROWS_AS(declare_metric({"test_registry_acc", Direction::lower}), Error);
  CHECK(lookup_metric("test_registry_acc")->direction == Direction::higher);
}

TEST_CASE("metric registry: every declaration is complete", "[metrics][unit]") {
  for (const auto& m : all_metrics()) {
    INFO(m.name);
    CHECK(m.direction != Direction::unknown);
    CHECK_FALSE(m.unit.empty());
    CHECK(m.lo < m.hi);
    CHECK_FALSE(m.description.empty());
    CHECK(lookup_metric(instance(m)) != nullptr);
  }
}

TEST_CASE("metric registry: compare, report and history agree on every metric's direction", "[metrics][unit]") {
  int n = 0;
  for (const auto& m : all_metrics()) {
    const std::string name = instance(m);
    INFO(name);
    // 0.5 -> 0.3: a drop, far beyond both thresholds and 2 sigma.
    const auto v = judge(two_runs("registry-" + std::to_string(n++), name, 0.5, 0.3, true), name);
    CHECK(v.compare_dir == m.direction);
    CHECK(v.report_dir == m.direction);
    CHECK(v.history_dir == m.direction);
    const bool regression = m.direction == Direction::higher;
    CHECK((v.compare_status == compare::Status::regression) == regression);
    CHECK((v.compare_status == compare::Status::improvement) == !regression);
    CHECK(v.report_regression == regression);
  }
  CHECK(n >= 20);
}

TEST_CASE("metric registry: rows without a declaration are shown, never called a regression", "[metrics][unit]") {
  const auto v = judge(two_runs("registry-unknown", "acc", 0.5, 0.3, false), "acc");
  CHECK(v.compare_dir == Direction::unknown);
  CHECK(v.compare_status == compare::Status::warn);
  CHECK(v.report_dir == Direction::unknown);
  CHECK_FALSE(v.report_regression);
  CHECK(v.history_dir == Direction::unknown);
  CHECK_FALSE(v.history_regression);
}
