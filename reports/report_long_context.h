// report_long_context: the long-context section of `sparkbench report` (suite `long-context`,
// evals/long_context.h; metric names in evals/long_context_names.h).
//
// Per configuration (its newest selected run with the suite, as in the other sections):
//  - a heatmap per retrieval kind (passkey, multikey): one column per context length, one row
//    per needle depth, cell colour = accuracy (light = 0, dark blue = 1), the value printed in the
//    cell ("-" where the cell has no scored item); every cell is a <rect class="cell"> with
//    data-kind, data-length, data-depth, data-value (exact), data-n, data-lo and data-hi;
//  - overall accuracy, effective context and skipped items;
// and one loss-by-position chart (reports/svg_chart.h, log position axis, 95% whiskers) with a
// line per configuration. Markdown gets the same numbers as compact tables.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "reports/report_data.h"

namespace sb::report {

struct LongContextView {
  int config = -1;
  int64_t run = 0;
  std::vector<std::string> kinds;                                   // retrieval kinds present
  std::vector<int64_t> lengths;                                     // ascending
  std::vector<int> depths;                                          // ascending
  std::map<std::tuple<std::string, int64_t, int>, Score> cells;     // (kind, length, depth)
  std::vector<std::pair<std::pair<int64_t, int64_t>, Score>> loss;  // by position bucket, ascending
  std::optional<Score> acc, effective_ctx, skipped;
};

// One view per configuration that has long-context metrics (configuration order).
std::vector<LongContextView> long_context_views(const ReportData& d);

// The heatmap of one kind as an <svg> element.
std::string long_context_heatmap_svg(const ReportData& d, const LongContextView& v, const std::string& kind);
// The HTML <section id="long-context"> ("" when no configuration has the suite).
std::string long_context_html(const ReportData& d);
// The Markdown section ("" when no configuration has the suite).
std::string long_context_markdown(const ReportData& d);

}  // namespace sb::report
