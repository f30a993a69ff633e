// report_html: the self-contained HTML report of `sparkbench report`.
//
// One file with inline CSS and inline SVG charts (reports/svg_chart.h): no scripts, no fonts,
// images or style sheets from elsewhere, so it opens from disk and can be attached to CI
// artifacts. The document is also well-formed XML (XHTML-style empty elements), which the tests
// check. Sections, in order: summary (verdicts), best trade-off per suite, accuracy vs latency
// scatter per suite (Pareto frontier highlighted), scores per suite (bars with interval
// whiskers, and every metric in a table), trends (regressions marked), speed, kernels
// (roofline percentages), runs (metadata) and method notes.
#pragma once

#include <string>

#include "reports/report_data.h"
#include "reports/report_text.h"

namespace sb::report {

std::string render_html(const ReportData& d, const RenderOptions& opt = {});

// "code-python" -> "code-python", "a b/c" -> "a-b-c": safe in ids.
std::string slug(const std::string& s);

}  // namespace sb::report
