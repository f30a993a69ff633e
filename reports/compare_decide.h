// compare, the decision half: pairs two runs' rows, tests them and gives each a verdict
// (pure data, no I/O). The rules are in reports/compare.h (the contract) and docs/COMPARE.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
  uint64_t seed = 1;  // bootstrap seed
};

enum class Status { ok, regression, improvement, warn, incomparable };
const char* status_name(Status s);

struct Row {
  std::string kind;                           // "accuracy" | "speed" | "kernel"
  std::string task;                           // task (suite), bench configuration ("pp128 d0") or kernel name
  std::string metric;                         // metric name, "t/s", "real_time_ns"
  Direction direction = Direction::unknown;   // accuracy: from the metric rows; speed higher, kernel lower
  std::string unit;                           // "" (accuracy), "t/s", "ns"
  std::optional<double> baseline, candidate;  // the values compared (speed: medians)
  std::optional<double> delta;                // candidate - baseline (paired when tested on samples)
  std::optional<double> rel_delta;            // delta / |baseline|
  std::optional<double> lo, hi;               // interval of delta at 1 - alpha
  std::optional<double> p;                    // two-sided p-value
  std::string test;  // "mcnemar-exact", "paired-bootstrap", "z-stderr", "mann-whitney-exact", "mann-whitney-normal", ""
  int64_t n_baseline = 0, n_candidate = 0;  // items or repetitions on each side
  int64_t n_paired = 0;                     // paired samples (accuracy)
  Status status = Status::ok;
  std::string note;  // why, in words
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
  std::string verdict() const;  // one line: "1 regression, 3 ok, ..."
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

}  // namespace sb::compare
