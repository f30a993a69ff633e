// report_markdown: the Markdown summary of `sparkbench report`, for CI comments (GitHub-flavoured
// tables). Same content as the HTML report without the charts: verdicts, best trade-off per
// suite, the accuracy/latency table with Pareto marks, every metric, regressions, speed,
// kernels, runs and the method notes.
#pragma once

#include <string>

#include "reports/report_data.h"
#include "reports/report_text.h"

namespace sb::report {

std::string render_markdown(const ReportData& d, const RenderOptions& opt = {});

}  // namespace sb::report
