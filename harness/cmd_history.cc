// `sparkbench history`: one metric over the runs of the results database, with change points
// marked (reports/history.h). Exit status: 0, or 2 on any error (like compare).
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "engine/core/error.h"
#include "harness/commands.h"
#include "reports/compare.h"
#include "reports/history.h"

namespace sb::cli {

namespace {

constexpr const char* kHistoryFooter = R"(Prints the metric's value in every complete run (oldest first; one series per task and
variant) with the level of a piecewise-constant fit and its change points marked "<- step". NAME is
a metric (acc, pass@1, exact_match, ppl...) or a bench test (pp128, tg32: mean tokens/s).

Steps: the fit minimises the sum of absolute deviations from each segment's median plus a penalty
per segment (asv's approach), penalty = --penalty * sigma * ln(n), where sigma is the larger of the
series' robust noise (median absolute successive difference) and the median positive standard
error of the points (below 8 points the standard errors alone, when known), so moves within the
values' own uncertainty are not marked. See docs/COMPARE.md.

Exit status: 0, or 2 on an error (unreadable database, unknown metric).)";

}  // namespace

void add_history_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("history", "A metric over runs (or commits) with change points marked");
  static std::string db = "sparkbench.db";
  static history::Options o;
  static bool json = false;
  cmd->add_option("--db", db, "Results database")->capture_default_str();
  cmd->add_option("--metric", o.metric, "Metric name (acc, pass@1, ppl...) or bench test (tg32)")->required();
  cmd->add_option("--task", o.task, "Only this task (default: one series per task and variant with the metric)");
  cmd->add_option("--variant", o.variant, "Only runs of this variant");
  cmd->add_option("--label", o.label, "Only runs with this label");
  cmd->add_flag("--all-runs", o.include_incomplete, "Include runs that did not complete (interrupted, failed)");
  cmd->add_option("--limit", o.limit, "The most recent N runs of each series (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--penalty", o.gamma, "Step penalty factor: higher marks fewer steps")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_flag("--json", json, "Print the series as JSON");
  cmd->footer(kHistoryFooter);
  cmd->callback([] {
    run_with_status_2_on_error([]() -> int {
      auto store = compare::open_existing(db);
      const history::History h = history::build(*store, o, db);
      if (json)
        std::printf("%s\n", history::to_json(h).dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      else
        std::fputs(history::format_table(h).c_str(), stdout);
      return 0;
    });
  });
}

}  // namespace sb::cli
