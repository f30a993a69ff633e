// `sparkbench report --db FILE -o report.html [--markdown report.md]`: the results database as
// a self-contained HTML page (inline SVG charts) and a Markdown summary for CI comments.
// `sparkbench report --db FILE --samples SUITE [--run REF]` prints instead the stored samples
// of one suite of one run (default: the latest) as JSON lines: id, outcome, score, the full
// prompt text and the output.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "harness/commands.h"
#include "harness/text_format.h"
#include "reports/report_data.h"
#include "reports/report_html.h"
#include "reports/report_markdown.h"
#include "reports/report_text.h"
#include "reports/store.h"

namespace sb::cli {
namespace {

double parse_budget(const std::string& s) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || !(v > 0) || !std::isfinite(v))
    fail("--budget-ms '", s, "': expected a positive number of milliseconds per token");
  return v;
}

nlohmann::json summary_json(const report::ReportData& d, const std::string& html, const std::string& md) {
  nlohmann::json j{{"db", d.db_path},
                   {"html", html},
                   {"markdown", md},
                   {"runs", d.runs.size()},
                   {"configurations", nlohmann::json::array()},
                   {"suites", nlohmann::json::array()},
                   {"regressions", nlohmann::json::array()}};
  for (const auto& c : d.configs)
    j["configurations"].push_back(
        {{"label", c.label}, {"variant", c.variant}, {"model", c.model}, {"backend", c.backend}, {"threads", c.threads}});
  for (const auto& s : d.suites) {
    nlohmann::json js{{"suite", s.suite},
                      {"metric", s.metric},
                      {"direction", direction_name(s.direction)},
                      {"points", nlohmann::json::array()},
                      {"best_under_budget", nlohmann::json::array()}};
    for (const auto& p : s.points)
      js["points"].push_back({{"configuration", report::text::config_label(d, p.score.config)},
                              {"run", p.score.run},
                              {"score", p.score.value},
                              {"tpot_ms", p.latency.ms},
                              {"latency_source", p.latency.source},
                              {"pareto", p.pareto}});
    for (const auto& b : s.budgets)
      js["best_under_budget"].push_back(
          {{"budget_ms", b.budget_ms},
           {"automatic", b.automatic},
           {"configuration",
            b.point < 0 ? nlohmann::json(nullptr) : nlohmann::json(report::text::config_label(d, s.points[b.point].score.config))},
           {"run", b.point < 0 ? nlohmann::json(nullptr) : nlohmann::json(s.points[b.point].score.run)}});
    j["suites"].push_back(js);
  }
  for (const auto& r : report::text::regressions(d))
    j["regressions"].push_back({{"trend", report::text::trend_title(*r.trend)},
                                {"configuration", report::text::config_label(d, r.config)},
                                {"run", r.cur.run},
                                {"previous_run", r.prev.run},
                                {"value", r.cur.value},
                                {"previous_value", r.prev.value}});
  return j;
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "HTML (inline SVG charts) and Markdown reports from the results database");
  static std::string db = "sparkbench.db", html, md, since, latency = "auto", title = "sparkbench report";
  static std::vector<std::string> runs, budgets, trends, metrics;
  static bool log_latency = false, json = false;
  static std::string samples_suite;
  cmd->add_option("--db", db, "Results database")->capture_default_str();
  cmd->add_option("-o,--output", html, "HTML report to write (self-contained: inline SVG and CSS)");
  cmd->add_option("--markdown", md, "Markdown summary to write ('-' = standard output)");
  cmd->add_option("--run", runs, "Runs to include, comma-separated: ids, labels, 'latest', id ranges A..B (default: every complete run)");
  cmd->add_option("--since", since, "Only runs from this one on: a run reference, a date (YYYY-MM-DD) or a git commit prefix");
  cmd->add_option("--budget-ms", budgets, "Latency budgets in ms/token for the best-trade-off tables (comma-separated or repeated)");
  cmd->add_flag("--log-latency", log_latency, "Log scale for latency axes");
  cmd->add_option("--trend", trends, "Trend charts: TASK:METRIC or 'latency' (default: every suite's primary metric and latency)");
  cmd->add_option("--metric", metrics, "Primary metric of a suite, SUITE=METRIC (default: pass@1, acc, exact_match, selection_acc, ...)");
  cmd->add_option("--latency", latency, "Latency source: auto (generation samples, else bench runs), samples or bench")
      ->capture_default_str();
  cmd->add_option("--title", title, "Report title")->capture_default_str();
  cmd->add_flag("--json", json, "Print a JSON summary (per-suite points, best under each budget, regressions) on stdout");
  cmd->add_option("--samples", samples_suite,
                  "Print the stored samples of this suite (id, outcome, score, full prompt, output) as JSON lines, for the run given by "
                  "--run (default: latest)");
  cmd->callback([] {
    if (!samples_suite.empty()) {
      std::error_code ec;
      if (!std::filesystem::exists(db, ec)) fail(db, ": no such results database");
      auto store = Store::open(db);
      const auto refs = split_commas(runs);
      if (refs.size() > 1) fail("report --samples: give one --run (got ", refs.size(), ")");
      const std::string ref = refs.empty() ? "latest" : refs[0];
      auto run = store->find_run(ref);
      if (!run) fail(db, ": no run '", ref, "'");
      const auto rows = store->samples(run->id, samples_suite);
      if (rows.empty()) fail(db, ": run ", run->id, " has no samples of suite '", samples_suite, "'");
      for (const auto& r : rows)
        std::printf("%s\n", nlohmann::json{{"run", run->id},
                                           {"sample_id", r.sample_id},
                                           {"outcome", r.outcome},
                                           {"score", r.score},
                                           {"prompt", r.prompt},
                                           {"output", r.output}}
                                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                .c_str());
      return;
    }
    if (html.empty() && md.empty()) fail("report: nothing to write; give -o FILE.html and/or --markdown FILE.md");
    if (json && md == "-") fail("report: --json and --markdown - both write to standard output; pick one");
    report::Options opt;
    opt.runs = split_commas(runs);
    opt.since = since;
    for (const auto& b : split_commas(budgets)) opt.budgets_ms.push_back(parse_budget(b));
    opt.trends = split_commas(trends);
    for (const auto& m : split_commas(metrics)) {
      const auto eq = m.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == m.size()) fail("--metric '", m, "': expected SUITE=METRIC (e.g. qa=f1)");
      opt.primary[m.substr(0, eq)] = m.substr(eq + 1);
    }
    opt.latency_source = latency;
    // A report reads an existing database: never create an empty one by mistake.
    std::error_code ec;
    if (!std::filesystem::exists(db, ec)) fail(db, ": no such results database (sparkbench run/bench/ingest --db FILE create one)");
    if (std::filesystem::is_directory(db, ec)) fail(db, ": is a directory, not a results database");
    auto store = Store::open(db);
    const report::ReportData data = report::load_report(*store, db, opt);
    report::RenderOptions ro;
    ro.title = title;
    ro.log_latency = log_latency;
    if (!html.empty()) {
      const std::string page = report::render_html(data, ro);
      write_file_atomic(html, page.data(), page.size());
    }
    if (!md.empty()) {
      const std::string text = report::render_markdown(data, ro);
      if (md == "-")
        std::fwrite(text.data(), 1, text.size(), stdout);
      else
        write_file_atomic(md, text.data(), text.size());
    }
    if (json) {
      std::printf("%s\n", summary_json(data, html, md).dump(2).c_str());
    } else if (md != "-") {
      std::printf("report: %zu runs, %zu configurations, %zu suites%s%s%s%s\n", data.runs.size(), data.configs.size(), data.suites.size(),
                  html.empty() ? "" : "; wrote ", html.c_str(), md.empty() ? "" : "; wrote ", md.c_str());
    }
  });
}

}  // namespace sb::cli
