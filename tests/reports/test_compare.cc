// reports/compare and reports/history: decisions on runs built in memory (accuracy with paired
// samples, graded scores, stored standard errors, speed repetitions, kernels, incomparable runs),
// the renderers (escaping, JUnit counts) and history series read back from a real SQLite file.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "engine/core/error.h"
#include "harness/runner.h"
#include "reports/compare.h"
#include "reports/history.h"
#include "reports/store.h"
#include "tests/test_support.h"

using namespace sb;
using namespace sb::compare;

namespace {

RunData eval_run(int64_t id, const std::string& task, const std::vector<double>& scores, const std::string& metric = "acc") {
  RunData d;
  d.run.id = id;
  d.run.status = "complete";
  d.run.info.kind = "eval";
  d.run.info.config_json = R"({"suites":[")" + task + R"("]})";
  double s = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    SampleRow r;
    r.task = task;
    r.sample_id = task + "/" + std::to_string(i);
    r.score = scores[i];
    d.samples.push_back(r);
    s += scores[i];
  }
  const double p = scores.empty() ? 0 : s / double(scores.size());
  const double se = scores.size() > 1 ? std::sqrt(p * (1 - p) / double(scores.size() - 1)) : 0.0;
  d.metrics.push_back(cli::metric_row(task, metric, p, se, std::nullopt, std::nullopt, int64_t(scores.size())));
  return d;
}

std::vector<double> pass_fail(int n, int passed) {
  std::vector<double> v(size_t(n), 0.0);
  for (int i = 0; i < passed; ++i) v[size_t(i)] = 1;
  return v;
}

const Row& find_row(const Result& r, const std::string& kind, const std::string& task, const std::string& metric) {
  for (const auto& x : r.rows)
    if (x.kind == kind && x.task == task && x.metric == metric) return x;
  FAIL("no row " << kind << " " << task << " " << metric);
  throw std::logic_error("unreachable");
}

RunData bench_run(int64_t id, const std::vector<double>& ts) {
  RunData d;
  d.run.id = id;
  d.run.status = "complete";
  d.run.info.kind = "bench";
  SpeedRow s;
  s.test = "tg32";
  s.n_gen = 32;
  s.repetitions = int64_t(ts.size());
  s.samples_ts = ts;
  double sum = 0;
  for (double x : ts) sum += x;
  s.avg_ts = sum / double(ts.size());
  d.speed.push_back(s);
  return d;
}

}  // namespace

TEST_CASE("compare: identical runs are ok and exit 0", "[compare][unit]") {
  auto a = eval_run(1, "stories", pass_fail(50, 40)), b = eval_run(2, "stories", pass_fail(50, 40));
  auto r = compare::compare(a, b, Options{});
  REQUIRE(r.rows.size() == 1);
  const auto& row = r.rows[0];
  CHECK(row.status == Status::ok);
  CHECK(row.test == "mcnemar-exact");
  CHECK(row.n_paired == 50);
  CHECK(*row.delta == 0);
  CHECK(*row.p == 1);
  CHECK(r.exit_code() == 0);
  CHECK(r.comparable);
}

TEST_CASE("compare: a significant accuracy drop beyond the threshold is a regression", "[compare][unit]") {
  auto a = eval_run(1, "stories", pass_fail(60, 48)), b = eval_run(2, "stories", pass_fail(60, 20));
  auto r = compare::compare(a, b, Options{});
  const auto& row = find_row(r, "accuracy", "stories", "acc");
  CHECK(row.status == Status::regression);
  CHECK(*row.delta == Approx(-28.0 / 60));
  CHECK(*row.p < 1e-6);  // 28 discordant pairs all one way: 2 / 2^28
  CHECK(*row.lo < *row.delta);
  CHECK(*row.hi > *row.delta);
  CHECK(*row.hi < 0);
  CHECK(r.exit_code() == 1);
  // The other way round it is an improvement.
  auto back = compare::compare(b, a, Options{});
  CHECK(back.rows[0].status == Status::improvement);
  CHECK(back.exit_code() == 0);
}

TEST_CASE("compare: a regression needs both significance and a drop beyond the threshold", "[compare][unit]") {
  // 3 items flip to failing of 10: drop 0.3 (beyond 0.02) but McNemar p = 0.25: warn, not regression.
  auto small_a = eval_run(1, "qa", pass_fail(10, 8)), small_b = eval_run(2, "qa", pass_fail(10, 5));
  auto r1 = compare::compare(small_a, small_b, Options{});
  CHECK(r1.rows[0].status == Status::warn);
  CHECK(r1.rows[0].p.value() == Approx(0.25));
  CHECK(r1.exit_code() == 0);
  // 30 flips in 2000 items: significant (p = 2^-29) but a drop of 0.015 is within 0.02: ok.
  auto big_a = eval_run(1, "qa", pass_fail(2000, 1500)), big_b = eval_run(2, "qa", pass_fail(2000, 1470));
  auto r2 = compare::compare(big_a, big_b, Options{});
  CHECK(r2.rows[0].status == Status::ok);
  CHECK(*r2.rows[0].p < 1e-6);
  CHECK(r2.rows[0].note.find("significant but within") != std::string::npos);
  // Tightening the threshold makes it a regression.
  Options strict;
  strict.max_accuracy_drop = 0.01;
  CHECK(compare::compare(big_a, big_b, strict).rows[0].status == Status::regression);
}

TEST_CASE("compare: graded scores use the paired bootstrap and lower-is-better metrics", "[compare][unit]") {
  std::mt19937 rng(5);
  std::normal_distribution<double> nd(0, 0.3);
  std::vector<double> base, worse;
  for (int i = 0; i < 80; ++i) {
    base.push_back(10 + nd(rng));
    worse.push_back(base.back() * 1.2 + nd(rng) * 0.1);  // perplexity up 20%
  }
  auto a = eval_run(1, "wiki", base, "ppl"), b = eval_run(2, "wiki", worse, "ppl");
  auto r = compare::compare(a, b, Options{});
  const auto& row = find_row(r, "accuracy", "wiki", "ppl");
  CHECK(row.direction == Direction::lower);
  CHECK(row.test == "paired-bootstrap");
  CHECK(row.status == Status::regression);
  CHECK(*row.rel_delta == Approx(0.2).margin(0.02));
  CHECK(*row.lo > 0);
  auto same = compare::compare(a, eval_run(3, "wiki", base, "ppl"), Options{});
  CHECK(same.rows[0].status == Status::ok);
  CHECK(same.exit_code() == 0);
}

TEST_CASE("compare: metrics without samples use their stored standard errors", "[compare][unit]") {
  auto a = eval_run(1, "dialogue", {}), b = eval_run(2, "dialogue", {});
  a.metrics[0] = cli::metric_row("dialogue", "distinct_2", 0.60, 0.01, std::nullopt, std::nullopt, 100);
  b.metrics[0] = cli::metric_row("dialogue", "distinct_2", 0.50, std::nullopt, 0.48, 0.52, 100);  // interval only
  auto r = compare::compare(a, b, Options{});
  const auto& row = find_row(r, "accuracy", "dialogue", "distinct_2");
  CHECK(row.test == "z-stderr");
  CHECK(row.status == Status::regression);
  CHECK(*row.p < 1e-6);
  // No uncertainty at all: a large drop is a warning, never a regression.
  a.metrics[0].stderr_.reset();
  auto r2 = compare::compare(a, b, Options{});
  CHECK(r2.rows[0].status == Status::warn);
  CHECK_FALSE(r2.rows[0].p.has_value());
}

TEST_CASE("compare: runs with no task in common are incomparable and exit 2", "[compare][unit]") {
  auto a = eval_run(1, "qa", pass_fail(10, 5)), b = eval_run(2, "stories", pass_fail(10, 5));
  auto r = compare::compare(a, b, Options{});
  CHECK_FALSE(r.comparable);
  CHECK(r.exit_code() == 2);
  CHECK(r.count(Status::incomparable) == 2);
  CHECK(r.verdict().find("INCOMPARABLE") == 0);
  bool suites_warned = false;
  for (const auto& w : r.warnings) suites_warned |= w.find("different suites") != std::string::npos;
  CHECK(suites_warned);
  // An eval run against a bench run: nothing in common either.
  CHECK(compare::compare(a, bench_run(3, {10, 11, 12}), Options{}).exit_code() == 2);
  // Empty runs.
  RunData e1, e2;
  e1.run.id = 4;
  e2.run.id = 5;
  auto empty = compare::compare(e1, e2, Options{});
  CHECK(empty.exit_code() == 2);
  CHECK(empty.incomparable_reason.find("neither run") != std::string::npos);
}

TEST_CASE("compare: partial overlap pairs what exists and marks the rest", "[compare][unit]") {
  auto a = eval_run(1, "qa", pass_fail(20, 10));
  auto b = eval_run(2, "qa", pass_fail(20, 10));
  b.samples.resize(15);                                  // the candidate has only 15 of the 20 qa samples
  auto extra = eval_run(2, "stories", pass_fail(5, 5));  // and a task the baseline lacks
  b.samples.insert(b.samples.end(), extra.samples.begin(), extra.samples.end());
  b.metrics.push_back(extra.metrics[0]);
  auto r = compare::compare(a, b, Options{});
  CHECK(r.comparable);
  const auto& qa = find_row(r, "accuracy", "qa", "acc");
  CHECK(qa.n_paired == 15);
  CHECK(qa.note.find("15 paired samples") != std::string::npos);
  CHECK(find_row(r, "accuracy", "stories", "acc").status == Status::incomparable);
  CHECK(r.exit_code() == 0);
}

TEST_CASE("compare: a run without stored metrics is compared on its samples", "[compare][unit]") {
  auto a = eval_run(1, "stories", pass_fail(40, 36));
  a.metrics.push_back(cli::metric_row("stories", "acc_norm", 0.8, 0.05, std::nullopt, std::nullopt, 40));
  auto b = eval_run(2, "stories", pass_fail(40, 10));
  b.run.status = "interrupted";  // metrics are stored when a suite finishes
  b.metrics.clear();
  auto r = compare::compare(a, b, Options{});
  const auto& acc = find_row(r, "accuracy", "stories", "acc");
  CHECK(acc.status == Status::regression);
  CHECK(acc.n_paired == 40);
  CHECK(*acc.candidate == Approx(0.25));
  CHECK(acc.note.find("no stored metric in the candidate run") != std::string::npos);
  CHECK(find_row(r, "accuracy", "stories", "acc_norm").status == Status::incomparable);
  bool warned = false;
  for (const auto& w : r.warnings) warned |= w.find("is interrupted") != std::string::npos;
  CHECK(warned);
  CHECK(r.exit_code() == 1);
  // Samples only, nothing pairs: incomparable.
  auto c = eval_run(3, "stories", pass_fail(4, 2)), d = eval_run(4, "stories", pass_fail(4, 2));
  c.metrics.clear();
  d.metrics.clear();
  for (auto& x : d.samples) x.sample_id += "-other";
  auto rc = compare::compare(c, d, Options{});
  REQUIRE(rc.rows.size() == 1);
  CHECK(rc.rows[0].metric == "score");
  CHECK(rc.rows[0].status == Status::incomparable);
  CHECK(rc.exit_code() == 2);
}

TEST_CASE("compare: speed slowdown needs enough repetitions", "[compare][unit]") {
  Options o;
  // 30% slower, 5 repetitions each: exact Mann-Whitney p = 2/252 < 0.05: regression.
  auto a = bench_run(1, {100, 101, 99, 100.5, 99.5}), b = bench_run(2, {70, 71, 69, 70.5, 69.5});
  auto r = compare::compare(a, b, o);
  const auto& row = find_row(r, "speed", "tg32", "t/s");
  CHECK(row.status == Status::regression);
  CHECK(row.test == "mann-whitney-exact");
  CHECK(*row.p == Approx(2.0 / 252));
  CHECK(*row.rel_delta == Approx(-0.3));
  CHECK(r.exit_code() == 1);
  // 2 repetitions: warn (too few), exit 0.
  auto r2 = compare::compare(bench_run(1, {100, 101}), bench_run(2, {70, 71}), o);
  CHECK(r2.rows[0].status == Status::warn);
  CHECK(r2.rows[0].note.find("too few repetitions") != std::string::npos);
  CHECK(r2.exit_code() == 0);
  // 3 each meets --min-repetitions 3 but the exact test cannot reach p < 0.05: still warn.
  auto r3 = compare::compare(bench_run(1, {100, 101, 99}), bench_run(2, {70, 71, 69}), o);
  CHECK(r3.rows[0].status == Status::warn);
  CHECK(r3.rows[0].note.find("smallest possible p") != std::string::npos);
  // Within the relative threshold (3% slower): ok even though significant.
  auto r4 = compare::compare(a, bench_run(2, {97, 98, 96, 97.5, 96.5}), o);
  CHECK(r4.rows[0].status == Status::ok);
  // The absolute floor: 30% of 2 t/s is below a 1 t/s floor.
  auto r5 = compare::compare(bench_run(1, {2.0, 2.01, 1.99, 2.005, 1.995}), bench_run(2, {1.4, 1.41, 1.39, 1.405, 1.395}), o);
  CHECK(r5.rows[0].status == Status::ok);
  o.speed_floor_ts = 0.1;
  auto r6 = compare::compare(bench_run(1, {2.0, 2.01, 1.99, 2.005, 1.995}), bench_run(2, {1.4, 1.41, 1.39, 1.405, 1.395}), o);
  CHECK(r6.rows[0].status == Status::regression);
  // Faster is an improvement.
  CHECK(compare::compare(b, a, Options{}).rows[0].status == Status::improvement);
}

TEST_CASE("compare: kernel times use iteration rows and lower is better", "[compare][unit]") {
  auto kernel_run = [](int64_t id, double base_ns) {
    RunData d;
    d.run.id = id;
    d.run.info.kind = "ingest";
    for (int i = 0; i < 6; ++i) d.kernels.push_back(KernelRow{"BM_Matmul/64", "iteration", "", 1000, base_ns + i, base_ns + i, ""});
    d.kernels.push_back(KernelRow{"BM_Matmul/64", "aggregate", "mean", 1000, base_ns, base_ns, ""});
    return d;
  };
  auto r = compare::compare(kernel_run(1, 1000), kernel_run(2, 1500), Options{});
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].kind == "kernel");
  CHECK(r.rows[0].n_baseline == 6);
  CHECK(r.rows[0].direction == Direction::lower);
  CHECK(r.rows[0].status == Status::regression);
  CHECK(compare::compare(kernel_run(1, 1500), kernel_run(2, 1000), Options{}).rows[0].status == Status::improvement);
}

TEST_CASE("compare: renderers escape names and count failures", "[compare][unit]") {
  auto a = eval_run(1, "a<b>&\"c'|d", pass_fail(60, 50)), b = eval_run(2, "a<b>&\"c'|d", pass_fail(60, 10));
  a.run.info.label = "base\x01line";
  auto r = compare::compare(a, b, Options{});
  REQUIRE(r.exit_code() == 1);
  const std::string x = format_junit(r);
  CHECK(x.find("<?xml version=\"1.0\" encoding=\"UTF-8\"?>") == 0);
  CHECK(x.find("failures=\"1\"") != std::string::npos);
  CHECK(x.find("a&lt;b&gt;&amp;&quot;c&#39;|d") != std::string::npos);
  CHECK(x.find("a<b>") == std::string::npos);
  CHECK(x.find('\x01') == std::string::npos);
  CHECK(x.find("<failure message=\"regression: ") != std::string::npos);
  const std::string md = format_markdown(r);
  CHECK(md.find("a&lt;b&gt;&amp;\"c'\\|d") != std::string::npos);
  CHECK(md.find(":x: regression") != std::string::npos);
  CHECK(md.find("REGRESSION") != std::string::npos);
  const std::string t = format_table(r);
  CHECK(t.find("regression") != std::string::npos);
  CHECK(t.find("REGRESSION: 1 regression") != std::string::npos);
  auto j = to_json(r);
  CHECK(j["exit_code"] == 1);
  CHECK(j["rows"][0]["status"] == "regression");
  CHECK(j["counts"]["regression"] == 1);
  // Incomparable rows are skipped testcases.
  auto inc = compare::compare(eval_run(1, "qa", pass_fail(4, 2)), eval_run(2, "qa2", pass_fail(4, 2)), Options{});
  const std::string xi = format_junit(inc);
  CHECK(xi.find("<skipped message=\"incomparable: task only in the baseline run\"/>") != std::string::npos);
  CHECK(xi.find("errors=\"1\"") != std::string::npos);
}

TEST_CASE("compare: run references resolve ids labels latest and latest~N", "[compare][unit]") {
  auto st = Store::open(":memory:");
  RunInfo i;
  i.label = "main";
  const int64_t r1 = st->begin_run(i);
  i.label = "pr";
  const int64_t r2 = st->begin_run(i);
  i.label = "main";
  const int64_t r3 = st->begin_run(i);
  CHECK(resolve_run(*st, std::to_string(r2), "x.db").id == r2);
  CHECK(resolve_run(*st, "main", "x.db").id == r3);
  CHECK(resolve_run(*st, "latest", "x.db").id == r3);
  CHECK(resolve_run(*st, "latest~2", "x.db").id == r1);
  CHECK_THROWS_WITH(resolve_run(*st, "latest~3", "x.db"), Catch::Contains("x.db: no run 'latest~3'"));
  CHECK_THROWS_WITH(resolve_run(*st, "nope", "x.db"), Catch::Contains("x.db: no run 'nope'"));
  CHECK_THROWS_WITH(resolve_run(*st, "latest~x", "x.db"), Catch::Contains("bad run reference"));
}

TEST_CASE("history: a series read from SQLite marks the step at the right run", "[history][unit]") {
  const std::string db = test::temp_dir("history") + "/h.db";
  std::vector<int64_t> ids;
  {
    auto st = Store::open(db);
    for (int k = 0; k < 12; ++k) {
      RunInfo info;
      info.git_commit = "c" + std::to_string(k);
      const int64_t id = st->begin_run(info);
      ids.push_back(id);
      const double v = k < 7 ? 0.80 + 0.005 * (k % 2) : 0.60 + 0.005 * (k % 2);
      st->add_metric(id, cli::metric_row("stories", "acc", v, 0.01, std::nullopt, std::nullopt, 200));
      st->add_metric(id, cli::metric_row("qa", "acc", 0.3, 0.03, std::nullopt, std::nullopt, 50));
      st->add_metric(id, cli::metric_row("wiki", "ppl", k < 5 ? 12.0 : 15.0, std::nullopt, std::nullopt, std::nullopt, 10));
      st->finish_run(id, "complete");
    }
    for (int k = 0; k < 2; ++k) {  // another variant: its own series, not a step in the first
      RunInfo info;
      info.variant = "q4_0";
      const int64_t id = st->begin_run(info);
      st->add_metric(id, cli::metric_row("stories", "acc", 0.5, 0.01, std::nullopt, std::nullopt, 200));
      st->finish_run(id, "complete");
    }
    const int64_t unfinished = st->begin_run(RunInfo{});
    st->add_metric(unfinished, cli::metric_row("stories", "acc", 0.1, 0.01, std::nullopt, std::nullopt, 200));
    st->finish_run(unfinished, "failed");
  }
  auto st = compare::open_existing(db);
  history::Options o;
  o.metric = "acc";
  auto h = history::build(*st, o, db);
  REQUIRE(h.series.size() == 3);
  CHECK(h.series[2].variant == "q4_0");
  CHECK(h.series[2].points.size() == 2);
  CHECK(h.series[2].steps.empty());
  const auto& s = h.series[0];
  CHECK(s.task == "stories");
  CHECK(s.points.size() == 12);  // the failed run is left out
  REQUIRE(s.steps.size() == 1);
  CHECK(s.steps[0].run_id == ids[7]);
  CHECK(s.steps[0].regression);
  CHECK(s.points[7].step);
  CHECK(h.series[1].task == "qa");
  CHECK(h.series[1].steps.empty());
  o.task = "wiki";
  o.metric = "ppl";
  auto hp = history::build(*st, o, db);
  REQUIRE(hp.series.size() == 1);
  CHECK(hp.series[0].direction == Direction::lower);
  REQUIRE(hp.series[0].steps.size() == 1);
  CHECK(hp.series[0].steps[0].run_id == ids[5]);
  CHECK(hp.series[0].steps[0].regression);  // perplexity went up
  CHECK(history::format_table(hp).find("<- step +3.0000 (+25.0%) regression") != std::string::npos);
  o.include_incomplete = true;
  o.task = "stories";
  o.metric = "acc";
  CHECK(history::build(*st, o, db).series[0].points.size() == 13);
  o.metric = "nope";
  CHECK_THROWS_WITH(history::build(*st, o, db), Catch::Contains("no metric or bench test 'nope'") && Catch::Contains("acc, ppl"));
  o.metric = "acc";
  o.task = "topic";
  CHECK_THROWS_WITH(history::build(*st, o, db), Catch::Contains("has no values for task 'topic'"));
}

TEST_CASE("history: open_existing refuses a missing path instead of creating it", "[history][unit]") {
  const std::string dir = test::temp_dir("hist-missing");
  CHECK_THROWS_WITH(compare::open_existing(dir + "/none.db"), Catch::Contains(dir + "/none.db: cannot open database"));
  CHECK_THROWS_WITH(compare::open_existing(dir), Catch::Contains("is a directory"));
}
