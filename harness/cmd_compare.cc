// `sparkbench compare`: regression check between two runs of the results database.
// Exit status: 0 no regression, 1 regression, 2 error (bad options, unreadable database, unknown
// run, runs with nothing in common). Decision rules: reports/compare.h and docs/COMPARE.md.
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "harness/commands.h"
#include "reports/compare.h"

namespace sb::cli {

namespace {

constexpr const char* kCompareFooter =
    R"(RUN is a run id, a label (the latest run with it), 'latest', or 'latest~N' (N runs before the latest).

Accuracy: per task and metric. The task's primary metric (acc, exact_match, pass@1...: the mean of
the per-sample scores) is tested on samples paired by id: McNemar's exact test for pass/fail scores,
a seeded paired bootstrap for graded ones; other metrics by a z-test on their stored standard errors.
Speed (bench) and kernels (ingest): Mann-Whitney U on the repetitions, medians compared.
A row is a REGRESSION only when it is significant (p < --alpha) AND worse than its threshold:
--max-accuracy-drop (absolute) for metrics in [0,1], --max-relative-drop for others (perplexity),
--max-speed-drop (relative) and --speed-floor-ts (absolute) for speed. WARN: the data cannot decide
(fewer than --min-repetitions, or a drop beyond the threshold that is not significant). INCOMPARABLE:
present in only one run. See docs/COMPARE.md.

Exit status: 0 no regression, 1 regression, 2 error or nothing comparable.)";

void write_output(const std::string& path, const std::string& text) { write_file_atomic(path, text.data(), text.size()); }

}  // namespace

void run_with_status_2_on_error(const std::function<int()>& body) {
  int code = 0;
  try {
    code = body();
  } catch (const Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    code = 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    code = 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal: %s\n", e.what());
    code = 2;
  }
  if (code != 0) throw ExitCode{code};
}

void add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "Regression check between two runs (exit 0 ok, 1 regression, 2 error)");
  static std::string db = "sparkbench.db", baseline, candidate = "latest", junit, markdown;
  static bool json = false;
  static compare::Options o;
  cmd->add_option("--db", db, "Results database")->capture_default_str();
  cmd->add_option("--baseline", baseline, "Baseline RUN (id, label, latest, latest~N)")->required();
  cmd->add_option("--candidate", candidate, "Candidate RUN (id, label, latest, latest~N)")->capture_default_str();
  cmd->add_option("--junit", junit, "Also write JUnit XML here (one testcase per task/metric; failure = regression)");
  cmd->add_option("--markdown", markdown, "Also write a Markdown report here (for a pull-request comment)");
  cmd->add_flag("--json", json, "Print the comparison as JSON instead of a table");
  cmd->add_option("--alpha", o.alpha, "Significance level of every test")->capture_default_str()->check(CLI::Range(1e-9, 0.5));
  cmd->add_option("--max-accuracy-drop", o.max_accuracy_drop,
                  "Largest tolerated drop of a metric in [0,1] (absolute, e.g. 0.02 = 2 points)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-relative-drop", o.max_relative_drop,
                  "Largest tolerated relative worsening of other accuracy metrics (ppl: 0.02 = +2%)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-speed-drop", o.max_speed_drop, "Largest tolerated relative slowdown (median tokens/s or kernel time)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--speed-floor-ts", o.speed_floor_ts, "A speed regression must also lose more than this many tokens/s")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-repetitions", o.min_repetitions, "Fewer bench repetitions on either side: warn instead of deciding")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--bootstrap", o.bootstrap_resamples, "Paired bootstrap resamples (graded scores)")
      ->capture_default_str()
      ->check(CLI::Range(100, 1000000));
  cmd->add_option("--seed", o.seed, "Bootstrap seed")->capture_default_str();
  cmd->footer(kCompareFooter);
  cmd->callback([] {
    run_with_status_2_on_error([]() -> int {
      auto store = compare::open_existing(db);
      const RunRecord a = compare::resolve_run(*store, baseline, db);
      const RunRecord b = compare::resolve_run(*store, candidate, db);
      const compare::Result res = compare::compare(compare::load_run(*store, a), compare::load_run(*store, b), o);
      if (!junit.empty()) write_output(junit, compare::format_junit(res));
      if (!markdown.empty()) write_output(markdown, compare::format_markdown(res));
      if (json)
        std::printf("%s\n", compare::to_json(res).dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      else
        std::fputs(compare::format_table(res).c_str(), stdout);
      std::fflush(stdout);
      if (!res.comparable)
        std::fprintf(stderr, "error: %s: runs %lld and %lld cannot be compared: %s\n", db.c_str(), (long long)a.id, (long long)b.id,
                     res.incomparable_reason.c_str());
      return res.exit_code();
    });
  });
}

}  // namespace sb::cli
