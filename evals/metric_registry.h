// metric_registry: every metric sparkbench writes, declared once: its name, direction (which
// way is better), unit, range of values, how items aggregate into it, what interval comes with
// it, and whether it is its suite's primary (headline) metric. The runner stores direction,
// unit and primary with each metric row (docs/SCHEMA.md), so compare, history and report read
// them from the data and never guess from the name.
//
// Adding a metric: add one line to kMetrics in metric_registry.cc (or call declare_metric() at
// start-up for a metric defined outside this library). A test walks the table and checks that
// report and compare agree on every metric's direction.
//
// Names: lookup() matches an exact name first, then the metric's base name, so per-group and
// per-cell variants resolve to their base declaration without being declared themselves:
//   "acc[history]" -> "acc"            (a bracketed group after the base name)
//   "passkey_acc@4096" -> "passkey_acc" (an `@` cell after the base name)
//   "pass@10" -> "pass@*", "distinct_3" -> "distinct_*" (a declaration ending in `*` matches
//                                          any name that starts with what precedes the `*`)
// A name that resolves to nothing is unknown: describe() gives direction unknown, which
// readers show but never call a regression.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/metric_direction.h"

namespace sb {

// How item results become the metric.
enum class Aggregation {
  mean,      // mean of per-item values (a rate when the values are 0/1)
  corpus,    // computed over all items together (perplexity from summed log-probabilities, distinct-n)
  count,     // a count of items (invalid)
  quantile,  // a quantile or maximum over tokens (kld_p99, kld_max)
};
// What uncertainty accompanies the value.
enum class IntervalKind {
  none,       // no interval
  student_t,  // stderr + Student t interval (mean_stat)
  wilson,     // Wilson score interval for a proportion (proportion_stat)
  bootstrap,  // percentile bootstrap over items
  jackknife,  // jackknife stderr with a normal interval
  normal,     // stderr only, normal approximation
};

struct MetricInfo {
  std::string name;  // exact name, or a prefix ending in '*'
  Direction direction = Direction::unknown;
  std::string unit;  // "fraction", "ppl", "bits/byte", "%", "nats", "items", ...
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  Aggregation aggregation = Aggregation::mean;
  IntervalKind interval = IntervalKind::none;
  bool primary = false;  // the headline metric of the suites that report it
  std::string description;
};

// The declaration `name` resolves to (see above), or nullptr.
const MetricInfo* lookup_metric(std::string_view name);
// The declaration for `name` with `name` filled in as given; an undeclared name gets direction
// unknown, no unit, primary false.
MetricInfo describe_metric(std::string_view name);
// Every declaration, in declaration order.
std::vector<MetricInfo> all_metrics();
// Declares a metric at run time (e.g. a suite defined outside evals/). Throws sb::Error when
// the name is already declared with a different direction.
void declare_metric(const MetricInfo& m);

// The base name lookup falls back to: "acc[x]" -> "acc", "passkey_acc@4096" -> "passkey_acc";
// the name itself when it has neither.
std::string metric_base_name(std::string_view name);

const char* aggregation_name(Aggregation a);
const char* interval_name(IntervalKind k);

}  // namespace sb
