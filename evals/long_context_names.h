// Metric names of the long-context task (evals/long_context.h) and their directions: the one
// place that defines them. Header-only (no link dependency) so that the reports library, which
// charts and compares these metrics, parses exactly what the task writes.
//
//   metric                       meaning                                                    better
//   acc                          retrieval accuracy over every scored passkey and multikey  higher
//                                item (Wilson 95% interval); the task's primary metric
//   passkey_acc, multikey_acc    the same per retrieval kind                                higher
//   passkey_acc@L=1024,d=50      accuracy of one (length, depth) cell, Wilson interval      higher
//   multikey_acc@L=1024,d=50     (L: context length in the model's tokens; d: needle
//                                depth in percent of the haystack)
//   effective_ctx                longest grid length L such that every length up to L       higher
//                                scores within `effective_threshold` of the shortest
//                                length's accuracy (0 when the shortest length scores
//                                below `effective_min_acc`); tokens
//   loss@pos=64-127              mean log-loss (nats/token) of the tokens at positions      lower
//                                64..127 of the loss-by-position texts (t interval over
//                                texts)
//   loss                         mean log-loss over all positions of those texts            lower
//   skipped                      items that do not fit the model's context (or are too      lower
//                                short for the prompt), never truncated
// The directions are declared in evals/metric_registry.cc (cells and buckets resolve to their
// base names there); compare, history and report read them from the stored rows.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace sb::long_context {

inline constexpr const char* kSuite = "long-context";  // the bundled suite's name

inline std::string cell_metric(const std::string& kind, int64_t length, int depth) {
  return kind + "_acc@L=" + std::to_string(length) + ",d=" + std::to_string(depth);
}
inline std::string loss_metric(int64_t pos_lo, int64_t pos_hi) {
  return "loss@pos=" + std::to_string(pos_lo) + "-" + std::to_string(pos_hi);
}

struct CellName {
  std::string kind;  // "passkey" | "multikey"
  int64_t length = 0;
  int depth = 0;
};
// The parts of a cell metric name; nullopt for any other name.
inline std::optional<CellName> parse_cell_metric(const std::string& m) {
  const size_t at = m.find("_acc@L=");
  const size_t comma = m.find(",d=");
  if (at == std::string::npos || comma == std::string::npos || comma < at) return std::nullopt;
  CellName c;
  c.kind = m.substr(0, at);
  const std::string l = m.substr(at + 7, comma - at - 7), d = m.substr(comma + 3);
  if (c.kind.empty() || l.empty() || d.empty() || l.find_first_not_of("0123456789") != std::string::npos ||
      d.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  c.length = std::strtoll(l.c_str(), nullptr, 10);
  c.depth = std::atoi(d.c_str());
  return c;
}
// [lo, hi] of a loss@pos=LO-HI name; nullopt for any other name.
inline std::optional<std::pair<int64_t, int64_t>> parse_loss_metric(const std::string& m) {
  if (m.rfind("loss@pos=", 0) != 0) return std::nullopt;
  const std::string r = m.substr(9);
  const size_t dash = r.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 >= r.size()) return std::nullopt;
  const std::string a = r.substr(0, dash), b = r.substr(dash + 1);
  if (a.find_first_not_of("0123456789") != std::string::npos || b.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::make_pair(std::strtoll(a.c_str(), nullptr, 10), std::strtoll(b.c_str(), nullptr, 10));
}

}  // namespace sb::long_context
