// `sparkbench merge --db CENTRAL.db PART.db...`: folds results databases into one (reports/store_merge.h).
#include <cstdio>

#include "engine/core/error.h"
#include "harness/commands.h"
#include "reports/store_merge.h"

namespace sb::cli {

void add_merge_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("merge", "Fold results databases (e.g. from separate CI machines) into one, keyed by run UUID");
  cmd->footer(
      "Runs already in --db (same UUID) are skipped, so merging a part twice adds nothing. Older schemas are\n"
      "upgraded on a private copy (the parts are not written). Each part is merged in one transaction: a part\n"
      "that cannot be read gets one error line and adds nothing; the others are still merged (exit status 1).");
  static std::string db = "sparkbench.db";
  static std::vector<std::string> parts;
  cmd->add_option("--db", db, "Central results database (created if missing)")->capture_default_str();
  cmd->add_option("parts", parts, "Results databases to merge into --db")->required();
  cmd->callback([] {
    int failed = 0;
    for (const auto& p : parts) {
      try {
        const MergeCounts c = merge_store(db, p);
        std::printf("%s: %lld runs added (%lld rows), %lld already present\n", p.c_str(), (long long)c.runs_added, (long long)c.rows_added,
                    (long long)c.runs_present);
      } catch (const Error& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "error: %s\n", e.what());
        ++failed;
      }
    }
    if (failed) throw ExitCode{1};
  });
}

}  // namespace sb::cli
