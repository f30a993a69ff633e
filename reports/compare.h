// compare: regression check between two runs of the results database (`sparkbench compare`).
//
// Rows (decision rules in docs/COMPARE.md):
//  - accuracy, one per (task, metric) present in either run. The task's primary metric (the one
//    whose value is the mean of the per-sample scores, else the task's first metric) is tested on
//    the samples paired by (task, sample_id): McNemar's exact test when every paired score is 0
//    or 1, a paired bootstrap otherwise. Other metrics use a z-test on the two stored standard
//    errors (or intervals) when both runs have one. Metrics whose values both lie in [0, 1] use
//    the absolute threshold (max_accuracy_drop); others (perplexity...) the relative one.
//    Which way is worse comes from the direction stored with the rows (evals/metric_registry.h);
//    a metric whose rows do not say (written before schema version 3) is never a regression or
//    an improvement: it shows as warn when it changed, ok when it did not.
//  - speed, one per bench configuration (test, n_prompt, n_gen, n_depth): Mann-Whitney U on the
//    per-repetition tokens/s, medians compared with a relative threshold and an absolute floor.
//  - kernel, one per Google Benchmark name (`sparkbench ingest`): Mann-Whitney U on the
//    per-repetition real time, relative threshold.
// A row is a regression only when it is significant (p < alpha) AND worse than the threshold;
// improvement likewise; warn when the data cannot decide (too few repetitions, a drop beyond the
// threshold that is not significant or cannot be tested); incomparable when one side is missing
// or nothing pairs. Everything here is pure except compare_runs(), which reads the store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/store.h"

namespace sb::compare {

struct Options {
  double alpha = 0.05;              // significance level of every test
  double max_accuracy_drop = 0.02;  // absolute, for metrics in [0, 1] (acc, pass@1, f1...)
  double max_relative_drop = 0.02;  // relative, for other accuracy metrics (ppl: +2%)
  double max_speed_drop = 0.05;     // relative, speed and kernels (median)
  double speed_floor_ts = 1.0;      // absolute tokens/s a speed drop must also exceed
  int min_repetitions = 3;          // fewer repetitions on either side: warn, never decide
  int bootstrap_resamples = 2000;
  uint64_t seed = 1;                // bootstrap seed
};

enum class Status { ok, regression, improvement, warn, incomparable };
const char* status_name(Status s);

struct Row {
  std::string kind;    // "accuracy" | "speed" | "kernel"
  std::string task;    // task (suite), bench configuration ("pp128 d0") or kernel name
  std::string metric;  // metric name, "t/s", "real_time_ns"
  Direction direction = Direction::unknown;  // accuracy: from the metric rows; speed higher, kernel lower
  std::string unit;    // "" (accuracy), "t/s", "ns"
  std::optional<double> baseline, candidate;  // the values compared (speed: medians)
  std::optional<double> delta;                 // candidate - baseline (paired when tested on samples)
  std::optional<double> rel_delta;             // delta / |baseline|
  std::optional<double> lo, hi;                // interval of delta at 1 - alpha
  std::optional<double> p;                     // two-sided p-value
  std::string test;    // "mcnemar-exact", "paired-bootstrap", "z-stderr", "mann-whitney-exact", "mann-whitney-normal", ""
  int64_t n_baseline = 0, n_candidate = 0;     // items or repetitions on each side
  int64_t n_paired = 0;                        // paired samples (accuracy)
  Status status = Status::ok;
  std::string note;    // why, in words
};

struct Result {
  RunRecord baseline, candidate;
  Options options;
  std::vector<Row> rows;
  std::vector<std::string> warnings;  // run-level: unfinished runs, different suites, same run...
  bool comparable = true;             // false: not one row could be compared
  std::string incomparable_reason;
  int count(Status s) const;
  // 0 no regression, 1 regression, 2 nothing comparable.
  int exit_code() const;
  std::string verdict() const;        // one line: "1 regression, 3 ok, ..."
};

// Everything compare needs from one run.
struct RunData {
  RunRecord run;
  std::vector<MetricRow> metrics;
  std::vector<SampleRow> samples;
  std::vector<SpeedRow> speed;
  std::vector<KernelRow> kernels;
};

// Pure: compares loaded runs.
Result compare(const RunData& baseline, const RunData& candidate, const Options& o);

// Resolves a run reference: a run id, a label (the latest run with it), "latest", or "latest~N"
// (the Nth run before the latest). Throws sb::Error naming the database when nothing matches.
RunRecord resolve_run(Store& store, const std::string& ref, const std::string& db_path);
RunData load_run(Store& store, const RunRecord& run);

// Opens an existing results database (compare and history only read): a missing path or a
// directory is an sb::Error naming the path, instead of a new empty database being created.
std::unique_ptr<Store> open_existing(const std::string& path);

// Renderers. The table is for a terminal (fixed-width text); Markdown is a pull-request comment;
// JUnit XML has one testsuite per kind and one testcase per row (failure = regression,
// skipped = incomparable, warnings in system-out); JSON holds every field.
std::string format_table(const Result& r);
std::string format_markdown(const Result& r);
std::string format_junit(const Result& r);
nlohmann::json to_json(const Result& r);


}  // namespace sb::compare
