// report_text: wording and number formatting shared by the HTML and Markdown reports, so both
// say the same thing in the same words (verdicts, method notes, units).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/report_data.h"

namespace sb::report {

struct RenderOptions {
  std::string title = "sparkbench report";
  bool log_latency = false;  // log10 latency axes (scatter x, latency trend y)
};

namespace text {

std::string num(double v, int sig = 4);                  // compact number ("0.4231", "12.5")
std::string ms(double v);                                // milliseconds, 3 significant digits
std::string ms_or_dash(const std::optional<double>& v);  // ms(*v), or "-" when absent
std::string interval(const Score& s);                    // "[0.351, 0.492]" or "" when none
std::string score(const Score& s);                       // "0.4231 [0.351, 0.492]"
std::string bytes(double b);                             // "123.4 MiB"
std::string duration_ns(double ns);                      // "12.3 µs"
std::string rate(double per_s, const char* unit);        // "12.3 G<unit>/s" with SI prefixes
// Axis title for a metric from its stored declaration: "pass@1 (fraction of items, higher is
// better)", "ppl (ppl, lower is better)", "x (direction unknown)".
std::string metric_title(const std::string& metric, Direction direction, const std::string& unit);
extern const char* const kLatencyTitle;  // "decode latency, TPOT (ms/token)"
// Where a latency came from: "mean over 120 generation samples" / "bench run 7 (pp128+tg32)".
std::string latency_source(const Latency& l);
// Label of a configuration ("(unknown)" when out of range).
std::string config_label(const ReportData& d, int config);
// "r12 · abc1234" for trend axes.
std::string run_tick(const ReportData& d, int64_t run);

// One sentence per suite (and one for regressions, one for synthetic weights): the key verdicts.
std::vector<std::string> verdicts(const ReportData& d);
// Budget column text: "≤ 7.93 ms/token".
std::string budget(const BudgetPick& b);
// The method notes (how latency, accuracy, the frontier and regressions are defined).
std::vector<std::string> method_notes(const ReportData& d);
// A trend's title: "qa: exact_match" / "decode latency (TPOT, ms/token)".
std::string trend_title(const Trend& t);
// Regressed points of every trend, with the previous point of their series.
struct RegressionRow {
  const Trend* trend;
  int config;
  TrendPoint prev, cur;
};
std::vector<RegressionRow> regressions(const ReportData& d);

}  // namespace text
}  // namespace sb::report
