// What `sparkbench report` reads from the database (reports/report_data.h): run selection,
// configurations, latency sources, the Pareto frontier, budgets and the regression rule.
#include <catch2/catch.hpp>

#include "engine/core/error.h"
#include "reports/report_data.h"
#include "tests/reports/report_test_util.h"
#include "tests/test_support.h"

using namespace sb;
using namespace sb::report;

namespace {

const SuiteView& suite(const ReportData& d, const std::string& name) {
  for (const auto& s : d.suites)
    if (s.suite == name) return s;
  FAIL("no suite " << name);
  throw 0;
}

const ScatterPoint* point_of(const ReportData& d, const SuiteView& s, const std::string& variant) {
  for (const auto& p : s.points)
    if (d.configs[p.score.config].variant == variant) return &p;
  return nullptr;
}

std::string variant_of(const ReportData& d, const SuiteView& s, int point) { return d.configs[s.points[point].score.config].variant; }

}  // namespace

TEST_CASE("report rules: Pareto frontier of latency and score", "[report][unit]") {
  // (latency, score)
  const std::vector<std::pair<double, double>> pts{{4, 0.30}, {6, 0.39}, {10, 0.40}, {5, 0.20}, {6, 0.35}, {12, 0.40}, {3, 0.10}};
  CHECK(pareto_front(pts, Direction::higher) == std::vector<int>{6, 0, 1, 2});
  // lower is better (e.g. perplexity): the lowest values win
  const std::vector<std::pair<double, double>> ppl{{4, 30}, {6, 20}, {10, 25}, {8, 12}};
  CHECK(pareto_front(ppl, Direction::lower) == std::vector<int>{0, 1, 3});
  // identical points count once; NaNs are ignored
  CHECK(pareto_front({{1, 1}, {1, 1}, {std::nan(""), 5}}, Direction::higher) == std::vector<int>{0});
  CHECK(pareto_front({}, Direction::higher).empty());
  // direction unknown (a row written before schema version 3): no frontier at all
  CHECK(pareto_front(pts, Direction::unknown).empty());
}

TEST_CASE("report rules: best configuration under a latency budget", "[report][unit]") {
  const std::vector<std::pair<double, double>> pts{{4, 0.30}, {6, 0.39}, {10, 0.40}, {5, 0.20}, {5.5, 0.39}};
  CHECK(best_under_budget(pts, 3.9, Direction::higher) == -1);
  CHECK(best_under_budget(pts, 4, Direction::higher) == 0);  // the budget itself is allowed
  CHECK(best_under_budget(pts, 5.9, Direction::higher) == 4);
  CHECK(best_under_budget(pts, 6, Direction::higher) == 4);  // tie on score: the faster one
  CHECK(best_under_budget(pts, 100, Direction::higher) == 2);
  CHECK(best_under_budget({{4, 30}, {6, 20}}, 10, Direction::lower) == 1);
  CHECK(best_under_budget(pts, 100, Direction::unknown) == -1);
}

TEST_CASE("report rules: the 2-sigma regression rule", "[report][unit]") {
  std::vector<TrendPoint> p(4);
  p[0].run = 1, p[0].value = 0.50, p[0].sigma = 0.02;
  p[1].run = 2, p[1].value = 0.45, p[1].sigma = 0.02;  // drop 0.05 < 2*sqrt(0.0008) = 0.0566
  p[2].run = 3, p[2].value = 0.38, p[2].sigma = 0.02;  // drop 0.07 > 0.0566
  p[3].run = 4, p[3].value = 0.10;                     // no sigma: not judged
  regression_rule_2sigma(p, Direction::higher);
  CHECK_FALSE(p[0].regression);
  CHECK_FALSE(p[1].regression);
  CHECK(p[2].regression);
  CHECK(p[2].why.find("run 2") != std::string::npos);
  CHECK_FALSE(p[3].regression);
  // lower is better: an increase is the regression
  std::vector<TrendPoint> l(2);
  l[0].value = 10, l[0].sigma = 0.1;
  l[1].value = 11, l[1].sigma = 0.1;
  regression_rule_2sigma(l, Direction::lower);
  CHECK(l[1].regression);
  l[1].regression = false;
  regression_rule_2sigma(l, Direction::higher);  // the same numbers are an improvement when higher is better
  CHECK_FALSE(l[1].regression);
  regression_rule_2sigma(l, Direction::unknown);  // never judged
  CHECK_FALSE(l[1].regression);
}

TEST_CASE("report rules: the primary metric is the one the rows flag", "[report][unit]") {
  auto row = [](const char* m, bool primary) {
    MetricRow r;
    r.metric = m;
    r.primary = primary;
    return r;
  };
  CHECK(primary_metric({row("pass@10", false), row("pass@1", true)}) == "pass@1");
  CHECK(primary_metric({row("acc_norm", false), row("macro_f1", false), row("acc", true)}) == "acc");
  CHECK(primary_metric({row("zeta", false), row("alpha", false)}) == "zeta");  // none flagged (old rows): the first
  CHECK(primary_metric({}).empty());
}

TEST_CASE("report data: suites and latencies and frontier and budgets from a database", "[report][unit]") {
  const auto db = test::make_report_db(test::temp_dir("report-data") + "/r.db");
  auto store = Store::open(db.path);
  Options opt;
  opt.budgets_ms = {5, 7, 3};
  const ReportData d = load_report(*store, db.path, opt);

  // every complete run, not the failed one
  CHECK(d.run(db.failed) == nullptr);
  CHECK(d.run(db.f32_old) != nullptr);
  CHECK(d.run(db.kernels) != nullptr);
  CHECK(d.runs.size() == 11);
  CHECK(d.any_synthetic);  // the f32 bench run
  // six configurations; the three f32 runs are one
  REQUIRE(d.configs.size() == 6);
  CHECK(d.run(db.f32_old)->config == d.run(db.f32)->config);
  CHECK(d.configs[d.run(db.q4)->config].label == "q4_0 \xC2\xB7 tiny-llama \xC2\xB7 cpu");

  REQUIRE(d.suites.size() == 3);
  const auto& code = suite(d, "code-python");
  CHECK(code.metric == "pass@1");
  REQUIRE(code.points.size() == 4);
  const auto* f32 = point_of(d, code, "f32");
  REQUIRE(f32);
  CHECK(f32->score.run == db.f32);  // the newest run of the configuration
  CHECK(f32->score.value == Approx(0.40));
  CHECK(f32->latency.source == "samples");
  CHECK(f32->latency.ms == Approx(10.0));  // the 1-token and untimed samples are not counted
  CHECK(f32->latency.n == 4);
  REQUIRE(f32->latency.sigma);
  CHECK(*f32->latency.sigma == Approx(std::sqrt(2.0 / 3.0) / 2).epsilon(1e-6));
  CHECK(point_of(d, code, "q8_0")->latency.ms == Approx(6.0));
  CHECK(point_of(d, code, "q4_0")->latency.ms == Approx(4.0));
  CHECK(point_of(d, code, "prune:0.5")->latency.ms == Approx(5.0));
  // frontier: q4_0 -> q8_0 -> f32; prune is dominated by q4_0
  REQUIRE(code.frontier.size() == 3);
  CHECK(variant_of(d, code, code.frontier[0]) == "q4_0");
  CHECK(variant_of(d, code, code.frontier[1]) == "q8_0");
  CHECK(variant_of(d, code, code.frontier[2]) == "f32");
  CHECK_FALSE(point_of(d, code, "prune:0.5")->pareto);
  // budgets, sorted: 3 -> nothing, 5 -> q4_0, 7 -> q8_0
  REQUIRE(code.budgets.size() == 3);
  CHECK(code.budgets[0].budget_ms == 3);
  CHECK(code.budgets[0].point == -1);
  CHECK(variant_of(d, code, code.budgets[1].point) == "q4_0");
  CHECK(variant_of(d, code, code.budgets[2].point) == "q8_0");
  CHECK_FALSE(code.budgets[1].automatic);
  // every metric of the runs behind the points
  CHECK(code.all_metrics.size() == 8);

  // sentiment: bf16 has no generation samples and takes its latency from its bench run
  const auto& sent = suite(d, "sentiment");
  CHECK(sent.metric == "acc");
  const auto* bf16 = point_of(d, sent, "bf16");
  REQUIRE(bf16);
  CHECK(bf16->latency.source == "bench");
  CHECK(bf16->latency.bench_run == db.bench_bf16);
  CHECK(bf16->latency.bench_test == "pp64+tg32");
  CHECK(bf16->latency.ms == Approx(7.5));
  CHECK_FALSE(bf16->pareto);  // q8_0 is faster and better
  REQUIRE(sent.unplotted.size() == 1);
  CHECK(sent.unplotted[0].run == db.nolat);
  CHECK(sent.unplotted[0].value == Approx(0.60));
}

TEST_CASE("report data: automatic budgets are the frontier latencies", "[report][unit]") {
  const auto db = test::make_report_db(test::temp_dir("report-budgets") + "/r.db");
  auto store = Store::open(db.path);
  const ReportData d = load_report(*store, db.path, {});
  const auto& qa = suite(d, "qa");
  CHECK(qa.metric == "exact_match");
  REQUIRE(qa.frontier.size() == 2);  // f32's newest qa score (0.30) is dominated
  REQUIRE(qa.budgets.size() == 2);
  for (size_t i = 0; i < qa.budgets.size(); ++i) {
    CHECK(qa.budgets[i].automatic);
    CHECK(qa.budgets[i].point == qa.frontier[i]);
    CHECK(qa.budgets[i].budget_ms == qa.points[qa.frontier[i]].latency.ms);
  }
}

TEST_CASE("report data: trends mark the qa drop of the newest f32 run", "[report][unit]") {
  const auto db = test::make_report_db(test::temp_dir("report-trends") + "/r.db");
  auto store = Store::open(db.path);
  const ReportData d = load_report(*store, db.path, {});
  // default trends: each suite's primary metric, then latency
  REQUIRE(d.trends.size() == 4);
  CHECK(d.trends.back().task == "latency");
  CHECK(d.trends.back().direction == Direction::lower);
  const Trend* qa = nullptr;
  for (const auto& t : d.trends)
    if (t.task == "qa") qa = &t;
  REQUIRE(qa);
  CHECK(qa->metric == "exact_match");
  const TrendSeries* f32 = nullptr;
  for (const auto& s : qa->series)
    if (d.configs[s.config].variant == "f32") f32 = &s;
  REQUIRE(f32);
  REQUIRE(f32->points.size() == 3);
  CHECK(f32->points[0].run == db.f32_old);
  CHECK(f32->points[0].commit == "1111111");
  CHECK_FALSE(f32->points[1].regression);  // 0.50 -> 0.49
  CHECK(f32->points[2].regression);        // 0.49 -> 0.30
  CHECK(f32->points[2].value == Approx(0.30));
  int flagged = 0;
  for (const auto& t : d.trends)
    for (const auto& s : t.series)
      for (const auto& p : s.points) flagged += p.regression;
  CHECK(flagged == 1);
  // the rule is swappable
  Options strict;
  strict.regression_rule = [](std::vector<TrendPoint>& pts, Direction) {
    for (auto& p : pts) p.regression = true;
  };
  const ReportData all = load_report(*store, db.path, strict);
  CHECK(all.trends.front().series.front().points.front().regression);
}

TEST_CASE("report data: speed and kernel rows", "[report][unit]") {
  const auto db = test::make_report_db(test::temp_dir("report-speed") + "/r.db");
  auto store = Store::open(db.path);
  const ReportData d = load_report(*store, db.path, {});
  REQUIRE(d.speed.size() == 6);
  CHECK(d.speed[0].run == db.bench_bf16);
  CHECK(d.speed[0].row.test == "pp64");
  CHECK(d.speed[0].row.avg_ts == 812.5);
  CHECK(d.kernels_run == db.kernels);
  REQUIRE(d.kernels.size() == 2);  // the mean rows only
  CHECK(d.kernels[0].name == "BM_Matmul/f32/M:1");
  CHECK(d.kernels[0].real_time_ns == 50000);
  REQUIRE(d.kernels[0].pct_peak_bw);
  CHECK(*d.kernels[0].pct_peak_bw == 62.5);
  CHECK(*d.kernels[0].pct_peak_flops == 7.5);
  CHECK_FALSE(d.kernels[1].pct_peak_flops);
}

TEST_CASE("report data: --run and --since select runs and bad references name the file", "[report][unit]") {
  const auto db = test::make_report_db(test::temp_dir("report-select") + "/r.db");
  auto store = Store::open(db.path);
  Options o;
  o.runs = {std::to_string(db.q8) + ".." + std::to_string(db.prune), "broken"};  // a range and a label
  ReportData d = load_report(*store, db.path, o);
  REQUIRE(d.runs.size() == 4);
  CHECK(d.run(db.failed) != nullptr);  // named runs are shown whatever their status
  CHECK(d.run(db.f32) == nullptr);

  Options since_run;
  since_run.since = std::to_string(db.bf16);
  d = load_report(*store, db.path, since_run);
  CHECK(d.runs.front().rec.id == db.bf16);

  Options since_commit;
  since_commit.since = "3333333";
  d = load_report(*store, db.path, since_commit);
  CHECK(d.runs.front().rec.id == db.f32);

  Options since_date;
  since_date.since = "2999-01-01";
  d = load_report(*store, db.path, since_date);
  CHECK(d.runs.empty());

  Options bad;
  bad.runs = {"no-such-label"};
  CHECK_THROWS_WITH(load_report(*store, db.path, bad), Catch::Contains(db.path) && Catch::Contains("no-such-label"));
  Options bad_since;
  bad_since.since = "zzz";
  CHECK_THROWS_WITH(load_report(*store, db.path, bad_since), Catch::Contains(db.path) && Catch::Contains("--since"));
  Options bad_metric;
  bad_metric.primary["qa"] = "bleu";
  CHECK_THROWS_WITH(load_report(*store, db.path, bad_metric), Catch::Contains("bleu"));
  Options bad_trend;
  bad_trend.trends = {"qa"};
  CHECK_THROWS_WITH(load_report(*store, db.path, bad_trend), Catch::Contains("TASK:METRIC"));
  Options bad_budget;
  bad_budget.budgets_ms = {-1};
  CHECK_THROWS_AS(load_report(*store, db.path, bad_budget), sb::Error);
}

TEST_CASE("report data: --metric and --latency bench change what is plotted", "[report][unit]") {
  const auto db = test::make_report_db(test::temp_dir("report-opts") + "/r.db");
  auto store = Store::open(db.path);
  Options o;
  o.primary["qa"] = "f1";
  o.latency_source = "bench";
  const ReportData d = load_report(*store, db.path, o);
  const auto& qa = suite(d, "qa");
  CHECK(qa.metric == "f1");
  // only f32 has a bench run among the qa configurations
  REQUIRE(qa.points.size() == 1);
  CHECK(qa.points[0].latency.source == "bench");
  CHECK(qa.points[0].latency.bench_run == db.bench_f32);
  CHECK(qa.points[0].latency.ms == Approx(9.5));
  CHECK(qa.unplotted.size() == 3);
}

TEST_CASE("store: sample_timings averages the TPOT of timed multi-token samples per task", "[report][store][unit]") {
  auto store = Store::open(test::temp_dir("report-timings") + "/t.db");
  RunInfo info;
  info.kind = "eval";
  const int64_t run = store->begin_run(info);
  auto row = [](const std::string& task, int i, std::optional<double> tpot, int64_t n_gen, std::optional<double> ttft) {
    SampleRow s;
    s.task = task;
    s.sample_id = task + "/" + std::to_string(i);
    s.tpot_ms = tpot;
    s.ttft_ms = ttft;
    s.n_gen_tokens = n_gen;
    return s;
  };
  store->add_samples(run, {row("b", 0, 2.0, 5, 10.0), row("b", 1, 4.0, 9, std::nullopt), row("b", 2, 6.0, 2, 30.0),
                           row("b", 3, 100.0, 1, 1.0),         // one token: TPOT undefined, not counted
                           row("b", 4, std::nullopt, 9, 5.0),  // not timed
                           row("a", 0, 7.0, 3, 1.0)});
  const auto t = store->sample_timings(run);
  REQUIRE(t.size() == 2);
  CHECK(t[0].task == "a");
  CHECK(t[0].n == 1);
  CHECK(t[0].tpot_sd_ms == 0);
  CHECK(t[1].task == "b");
  CHECK(t[1].n == 3);
  CHECK(t[1].tpot_mean_ms == Approx(4.0));
  CHECK(t[1].tpot_sd_ms == Approx(2.0));
  CHECK(t[1].n_ttft == 2);
  CHECK(t[1].ttft_mean_ms == Approx(20.0));
  CHECK(store->sample_timings(run + 1).empty());
}
