// Shared wording of the reports: see reports/report_text.h.
#include "reports/report_text.h"

#include <cmath>
#include <cstdio>

#include "engine/core/error.h"
#include "reports/svg_chart.h"

namespace sb::report::text {

const char* const kLatencyTitle = "decode latency, TPOT (ms/token)";

std::string num(double v, int sig) { return svg::fmt(v, sig); }

std::string ms(double v) { return svg::fmt(v, 3); }

std::string ms_or_dash(const std::optional<double>& v) { return v ? ms(*v) : "-"; }

std::string interval(const Score& s) {
  auto lo = s.lo(), hi = s.hi();
  if (!lo || !hi) return "";
  return sb::cat("[", num(*lo, 3), ", ", num(*hi, 3), "]");
}

std::string score(const Score& s) {
  const std::string iv = interval(s);
  return num(s.value) + (iv.empty() ? "" : " " + iv);
}

std::string bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (std::fabs(b) >= 1024 && u < 4) b /= 1024, ++u;
  return num(b, 4) + " " + units[u];
}

std::string duration_ns(double ns) {
  if (!std::isfinite(ns)) return "-";
  if (ns < 1e3) return num(ns, 3) + " ns";
  if (ns < 1e6) return num(ns / 1e3, 3) + " \xC2\xB5s";
  if (ns < 1e9) return num(ns / 1e6, 3) + " ms";
  return num(ns / 1e9, 3) + " s";
}

std::string rate(double v, const char* unit) {
  const char* p[] = {"", "k", "M", "G", "T", "P"};
  int i = 0;
  while (std::fabs(v) >= 1000 && i < 5) v /= 1000, ++i;
  return num(v, 3) + " " + p[i] + unit + "/s";
}

std::string metric_title(const std::string& metric, Direction direction, const std::string& unit) {
  const std::string what = unit == "fraction" ? "fraction of items, " : unit.empty() ? "" : unit + ", ";
  if (direction == Direction::unknown) return metric + " (" + what + "direction unknown)";
  return metric + " (" + what + direction_name(direction) + " is better)";
}

std::string latency_source(const Latency& l) {
  if (l.source == "bench") return "bench run " + std::to_string(l.bench_run) + " (" + l.bench_test + ")";
  return "mean over " + std::to_string(l.n) + " generation samples";
}

std::string config_label(const ReportData& d, int config) {
  if (config < 0 || config >= int(d.configs.size())) return "(unknown)";
  return d.configs[config].label;
}

std::string run_tick(const ReportData& d, int64_t run) {
  const RunView* r = d.run(run);
  std::string s = sb::cat("r", run);
  if (r && !r->commit.empty()) s += sb::cat(" \xC2\xB7 ", r->commit);
  return s;
}

std::string budget(const BudgetPick& b) { return "\xE2\x89\xA4 " + ms(b.budget_ms) + " ms/token"; }

std::string trend_title(const Trend& t) {
  if (t.task == "latency") return "decode latency (TPOT, ms/token)";
  return t.task + ": " + t.metric;
}

std::vector<RegressionRow> regressions(const ReportData& d) {
  std::vector<RegressionRow> out;
  for (const auto& t : d.trends)
    for (const auto& s : t.series)
      for (size_t i = 1; i < s.points.size(); ++i)
        if (s.points[i].regression) out.push_back({&t, s.config, s.points[i - 1], s.points[i]});
  return out;
}

std::vector<std::string> verdicts(const ReportData& d) {
  std::vector<std::string> v;
  if (d.any_synthetic)
    v.push_back("Some runs used synthetic weights: their scores measure nothing about a trained model (speed still holds).");
  for (const auto& s : d.suites) {
    std::string line = s.suite + " (" + s.metric + "): ";
    if (s.points.empty()) {
      line += "no configuration has a latency, so there is no trade-off to show (" + std::to_string(s.unplotted.size()) +
              " scored without latency).";
      v.push_back(line);
      continue;
    }
    const auto& best = s.points[s.frontier.back()];
    const auto& fastest = s.points[s.frontier.front()];
    line += "best score " + config_label(d, best.score.config) + " (" + num(best.score.value) + " at " + ms(best.latency.ms) + " ms/token)";
    if (s.frontier.size() > 1)
      line += "; fastest on the frontier " + config_label(d, fastest.score.config) + " (" + num(fastest.score.value) + " at " +
              ms(fastest.latency.ms) + " ms/token); " + std::to_string(s.frontier.size()) + " of " + std::to_string(s.points.size()) +
              " configurations are Pareto-optimal";
    else
      line += s.points.size() == 1 ? std::string(", the only configuration with a latency")
              : s.points.size() == 2
                  ? std::string(", which is also the fastest: it dominates the other configuration")
                  : ", which is also the fastest: it dominates the other " + std::to_string(s.points.size() - 1) + " configurations";
    for (const auto& b : s.budgets) {
      if (b.automatic) continue;
      line += "; under " + ms(b.budget_ms) + " ms/token: " +
              (b.point < 0 ? std::string("nothing fits")
                           : config_label(d, s.points[b.point].score.config) + " (" + num(s.points[b.point].score.value) + ")");
    }
    v.push_back(line + ".");
  }
  const auto regs = regressions(d);
  if (regs.empty()) {
    if (!d.trends.empty()) v.push_back("No regressions: no trend point is worse than its predecessor by more than 2 sigma.");
  } else {
    std::string line = std::to_string(regs.size()) + " regression" + (regs.size() == 1 ? "" : "s") + " flagged:";
    for (size_t i = 0; i < regs.size(); ++i)
      line += (i ? "; " : " ") + trend_title(*regs[i].trend) + " of " + config_label(d, regs[i].config) + " at run " +
              std::to_string(regs[i].cur.run) + " (" + num(regs[i].prev.value) + " \xE2\x86\x92 " + num(regs[i].cur.value) + ")";
    v.push_back(line + ".");
  }
  return v;
}

std::vector<std::string> method_notes(const ReportData& d) {
  std::vector<std::string> n;
  n.push_back(
      "Configuration: the runs of one model (sha256), variant, backend, thread count, KV type and compute type. "
      "Charts show one mark per configuration: its newest selected eval run that has the metric; trends show them all.");
  std::string lat = "Latency: decode time per output token (TPOT, ms/token; MLPerf's (total - TTFT) / (tokens - 1) per request). ";
  if (d.latency_source == "bench")
    lat +=
        "Taken from the newest complete bench run of the same model, variant and backend (TPOT of a ppP+tgN test, else "
        "1000 / (t/s) of a tgN test; depth 0 preferred).";
  else if (d.latency_source == "samples")
    lat +=
        "The mean of the per-request TPOT over the run's generation samples (every task of the run; requests with at "
        "least 2 generated tokens); the interval is \xC2\xB1"
        "1.96 standard errors.";
  else
    lat +=
        "The mean of the per-request TPOT over the run's generation samples (every task of the run; requests with at "
        "least 2 generated tokens) because those were measured in the run itself; for a run without generation samples, "
        "the newest complete bench run of the same model, variant and backend (TPOT of a ppP+tgN test, else 1000 / (t/s) "
        "of a tgN test). Each point's source is listed beside the chart.";
  n.push_back(lat);
  n.push_back(
      "Accuracy: each suite's primary metric (pass@1 for code, acc for multiple choice, exact_match for QA, "
      "selection_acc for dialogue, else the first metric; --metric SUITE=METRIC overrides) with its stored 95% "
      "interval, else \xC2\xB1"
      "1.96 standard errors.");
  n.push_back(
      "Pareto frontier: the configurations that no other one beats on both latency (lower) and score; the dashed "
      "staircase is the best score reachable at each latency. Best under a budget: the best score among "
      "configurations whose latency is at most the budget.");
  n.push_back(
      "Regressions: a trend point is marked when it is worse than the previous run of the same configuration by "
      "more than twice their combined standard error, 2 * sqrt(s_prev^2 + s_cur^2); points without a known "
      "standard error are not judged. This is a screening rule, not a test: see `sparkbench compare` for one.");
  return n;
}

}  // namespace sb::report::text
