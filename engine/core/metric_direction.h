// Direction of a metric: which way is better. Declared per metric by evals/metric_registry.h,
// stored with every metric row (docs/SCHEMA.md, metrics.direction) and read back by compare,
// history and report, which never guess it from the name. `unknown` (a metric nobody
// declared, or a row written before schema version 3) is shown but never called a regression
// or an improvement. Header only: shared by evals (which declares) and reports (which reads).
#pragma once

#include <string_view>

namespace sb {

enum class Direction { unknown, higher, lower };

// "unknown" | "higher" | "lower": the stored spelling.
inline const char* direction_name(Direction d) {
  switch (d) {
    case Direction::higher:
      return "higher";
    case Direction::lower:
      return "lower";
    case Direction::unknown:
      break;
  }
  return "unknown";
}

// The stored spelling back; anything else is unknown.
inline Direction parse_direction(std::string_view s) {
  if (s == "higher") return Direction::higher;
  if (s == "lower") return Direction::lower;
  return Direction::unknown;
}

// True when `candidate` is better than `base` in direction d (never for unknown).
inline bool is_better(double candidate, double base, Direction d) {
  return d == Direction::higher ? candidate > base : d == Direction::lower ? candidate < base : false;
}

}  // namespace sb
