// history: one metric over runs (`sparkbench history`), with change points marked.
//
// A series is the values of one (task, metric) over the complete runs of one variant, oldest
// first (a variant sweep would otherwise interleave unrelated levels); the metric may also name a bench test (pp128, tg32, ...), whose
// series is its mean tokens/s. Steps are found by stats::detect_steps (an L1 piecewise-constant fit with a penalty per segment, as asv
// does) with the penalty stats::step_penalty(values, noise, gamma), where the noise floor is the median positive standard error of the
// points (stored stderr, or interval / 3.92, or for speed stddev / sqrt(repetitions); a zero one, as for accuracy 1.0, says nothing), so
// moves within the points' own uncertainty are not marked. A step is a regression when the level moves the wrong way for the metric.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/store.h"

namespace sb::history {

struct Options {
  std::string metric;               // metric name (acc, pass@1, ppl...) or a bench test name (tg32)
  std::string task;                 // "" = every task that has the metric (one series per task and variant)
  std::string variant, label;       // only runs with this variant / label ("" = any)
  bool include_incomplete = false;  // also interrupted/failed/running runs
  int limit = 200;                  // the most recent points of each series
  double gamma = 2.0;               // step penalty factor
};

struct Point {
  RunRecord run;
  double value = 0;
  std::optional<double> stderr_;  // uncertainty of the value, when known
  int64_t n = 0;
  double level = 0;   // the fitted segment's level (median)
  bool step = false;  // a new segment begins here
};

struct Step {
  size_t index = 0;  // into points: the first point of the new segment
  int64_t run_id = 0;
  double before = 0, after = 0;  // segment levels
  bool regression = false;       // worse in the series' direction (never when it is unknown)
  bool improvement = false;      // better in the series' direction
};

struct Series {
  std::string task;     // task, or bench configuration for speed
  std::string variant;  // runs of different variants are different series
  std::string metric;
  std::string source;                        // "metric" | "speed"
  Direction direction = Direction::unknown;  // from the metric rows (newest known); speed: higher
  std::vector<Point> points;
  std::vector<Step> steps;
  double penalty = 0;
};

struct History {
  Options options;
  std::vector<Series> series;
};

// Fits levels and marks steps of a series whose points are filled in (pure).
void analyse(Series& s, double gamma);

// Reads the series from the store. Throws sb::Error naming `db_path` when the metric (or task)
// appears in no selected run, listing the metrics that do exist.
History build(Store& store, const Options& o, const std::string& db_path);

std::string format_table(const History& h);
nlohmann::json to_json(const History& h);

}  // namespace sb::history
