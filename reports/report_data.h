// report_data: what `sparkbench report` shows, read from the results database into plain
// structs that the renderers (reports/report_html.h, reports/report_markdown.h) turn into pages.
// Nothing here formats text for a page; everything here is a number, a name or a rule.
//
// Definitions (the report states them too, in its "Method" section):
//  - Configuration: the runs of one (model sha256, variant, backend, threads, KV type, compute).
//    Charts show one mark per configuration: its newest selected eval run that has the metric.
//  - Primary metric of a suite: the metric its rows flag as primary (declared in
//    evals/metric_registry.h and stored with each row), else its first stored metric;
//    overridable. Direction (which way is better) is read from the rows too; a metric whose
//    rows do not say (written before schema version 3) has no Pareto front, no best pick and
//    no regressions.
//  - Latency of an eval run: the mean decode time per output token (TPOT, ms/token) over its
//    generation samples (all tasks of the run; samples with >= 2 generated tokens); when the
//    run has none, the newest complete bench run of the same model, variant and backend gives
//    it (TPOT of a ppP+tgN test, else 1000 / t/s of a tgN test; depth 0 preferred).
//  - Pareto frontier: the points no other point beats on both latency (lower) and score
//    (better, in the metric's direction), ties on both counted once.
//  - Best under a budget: the best-scoring point whose latency is <= the budget (ties: lower
//    latency, then lower run id).
//  - Regressions in trends: regression_rule_2sigma() (swappable through Options).
//
// Failures (an unknown run reference, a bad --since) throw sb::Error naming the database file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reports/store.h"

namespace sb::report {

struct TrendPoint {
  int64_t run = 0;
  std::string commit;  // short git commit of the run ("" unknown)
  double value = 0;
  std::optional<double> sigma;  // standard error of value, when known
  // The interval drawn as the whisker: the stored CI (inside the metric's range), else
  // value +- 1.96 sigma (latency), else none.
  std::optional<double> lo, hi;
  bool regression = false;  // set by the regression rule
  std::string why;          // the rule's explanation when regression is set
};

// Marks regressions in one series (points oldest first) in the metric's direction (never
// called with Direction::unknown).
using RegressionRule = std::function<void(std::vector<TrendPoint>& points, Direction direction)>;

// The default rule: a point is a regression when it is worse than the previous point of the
// same series by more than twice their combined standard error, sqrt(s_prev^2 + s_cur^2).
// Points without a known sigma (on either side) are never marked.
void regression_rule_2sigma(std::vector<TrendPoint>& points, Direction direction);

struct Options {
  // Run references: ids, labels (newest run with it), "latest", or id ranges "A..B". Empty:
  // every complete run. Named runs are shown whatever their status.
  std::vector<std::string> runs;
  // Lower bound: a run reference (that run and later ones), an ISO date (runs started on or
  // after it, e.g. 2024-05-01) or a git commit prefix (runs from the first run at that commit).
  std::string since;
  std::vector<double> budgets_ms;              // latency budgets for the best-trade-off tables (empty: automatic)
  std::vector<std::string> trends;             // "TASK:METRIC" or "latency"; empty: every suite's primary metric + latency
  std::map<std::string, std::string> primary;  // suite -> metric, overriding the stored primary
  std::string latency_source = "auto";         // "auto" (samples, else bench), "samples", "bench"
  RegressionRule regression_rule = regression_rule_2sigma;
};

struct Config {
  std::string key;    // identity (see the header comment)
  std::string label;  // "variant · model · backend" (+ what tells it apart)
  std::string variant, model, backend, model_sha256, kv_type, compute;
  int threads = 0;
  int style = 0;  // chart style (color and shape), stable across the report
};

struct RunView {
  RunRecord rec;
  int config = -1;     // index into ReportData::configs (eval runs), else -1
  std::string commit;  // short commit (+ "-dirty")
  std::string model;   // model file name without directory and .gguf
};

struct Latency {
  double ms = 0;                // decode time per output token
  std::optional<double> sigma;  // standard error of ms
  int64_t n = 0;                // samples or repetitions behind it
  std::string source;           // "samples" | "bench"
  int64_t bench_run = 0;        // the bench run used (source "bench")
  std::string bench_test;       // its test ("pp128+tg32", "tg128")
};

struct Score {
  int64_t run = 0;
  int config = -1;
  std::string task, metric;
  double value = 0;
  std::optional<double> sigma, ci_low, ci_high;
  int64_t n = 0;
  // The interval shown: the stored CI, else value +- 1.96 sigma, else none.
  std::optional<double> lo() const;
  std::optional<double> hi() const;
};

struct ScatterPoint {
  Score score;
  Latency latency;
  bool pareto = false;
};

struct BudgetPick {
  double budget_ms = 0;
  bool automatic = false;  // derived from the frontier rather than given
  int point = -1;          // index into SuiteView::points; -1: nothing fits
};

struct SuiteView {
  std::string suite, metric;
  Direction direction = Direction::unknown;  // from the metric rows
  std::string unit;                          // from the metric rows ("fraction", "ppl", ...; "" unknown)
  std::vector<ScatterPoint> points;          // one per configuration with a latency (config order)
  std::vector<Score> unplotted;              // configurations scored but without any latency
  std::vector<int> frontier;                 // indexes into points, by increasing latency
  std::vector<BudgetPick> budgets;           // by increasing budget
  std::vector<Score> all_metrics;            // every metric of the runs behind the points (and unplotted)
};

struct TrendSeries {
  int config = -1;
  std::vector<TrendPoint> points;  // oldest first
};

struct Trend {
  std::string task, metric, unit;            // task "latency", metric "tpot_ms" for the latency trend
  Direction direction = Direction::unknown;  // from the metric rows (latency: lower)
  std::vector<int64_t> runs;                 // the x axis: every run with a point, in id order
  std::vector<TrendSeries> series;
};

struct SpeedView {
  int64_t run = 0;
  SpeedRow row;
};

struct KernelView {
  int64_t run = 0;
  std::string name, aggregate;
  double real_time_ns = 0, cpu_time_ns = 0;
  int64_t iterations = 0;
  std::optional<double> bytes_per_s, flops_per_s, pct_peak_bw, pct_peak_flops;
};

// A training run in the selection: a `distill` run, or an eval run whose variant has a
// +distill:STEPS step (its student's curve is stored with it). Steps as stored (by step).
struct DistillView {
  int64_t run = 0;
  std::string kind;     // "distill" | "eval"
  std::string variant;  // the student's spec incl. +distill:N ("" for a student file)
  std::string model;    // the teacher's file name
  std::vector<TrainStepRow> steps;
  std::optional<double> kld_before, kld_after;  // metrics of task "distill"
};

struct ReportData {
  std::string db_path;
  std::string generated_at;   // ISO 8601 UTC
  std::string selection;      // how the runs were chosen, in words
  std::vector<RunView> runs;  // the selected runs, by id
  std::vector<Config> configs;
  std::vector<SuiteView> suites;  // by suite name
  std::vector<Trend> trends;
  std::vector<SpeedView> speed;      // rows of the selected bench and loadgen runs
  std::vector<KernelView> kernels;   // rows of the newest selected kernels run
  int64_t kernels_run = 0;           // that run (0 = none)
  int other_kernel_runs = 0;         // selected kernels runs not shown
  std::vector<DistillView> distill;  // selected runs with training steps or distill metrics, by id
  bool any_synthetic = false;        // some selected run used synthetic weights
  std::string latency_source;        // Options::latency_source
  std::vector<double> budgets_ms;    // the explicit budgets (Options::budgets_ms)

  const RunView* run(int64_t id) const;
};

// Reads everything the report shows. `db_path` is used in messages only.
ReportData load_report(Store& store, const std::string& db_path, const Options& opt);

// Rules, exposed for tests and for other reports.
// The suite's primary metric among its rows (any runs, stored order): the first flagged
// primary, else the first row's metric ("" for none). The one rule: `run`'s variant table
// applies it too. (compare's sample-paired metric is another question: the metric whose value
// is the mean of the per-sample scores, reports/compare.h.)
std::string primary_metric(const std::vector<MetricRow>& rows);
// Indexes of the Pareto-optimal points of (latency, score), sorted by increasing latency
// (empty for Direction::unknown).
std::vector<int> pareto_front(const std::vector<std::pair<double, double>>& latency_score, Direction direction);
// The best point with latency <= budget (-1 if none, or for Direction::unknown).
int best_under_budget(const std::vector<std::pair<double, double>>& latency_score, double budget_ms, Direction direction);

}  // namespace sb::report
