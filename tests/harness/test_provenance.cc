// new_run_info: every stored run's provenance comes from this one function.
#include <catch2/catch.hpp>

#include "common/build_info.h"
#include "harness/provenance.h"
#include "reports/store.h"
#include "tests/test_support.h"

namespace sb::cli {

TEST_CASE("new_run_info fills kind, label and this process's provenance", "[unit][provenance]") {
  const RunInfo a = new_run_info("distill", "nightly");
  CHECK(a.kind == "distill");
  CHECK(a.label == "nightly");
  CHECK(a.host == host_name());
  CHECK(a.cpu == cpu_model());
  CHECK(a.tool_version == tool_version());
  bool dirty = false;
  CHECK(a.git_commit == git_commit(&dirty));
  CHECK(a.git_dirty == dirty);
  // fields only the command knows stay at their defaults
  CHECK(a.backend.empty());
  CHECK(a.model_path.empty());
  CHECK(a.threads == 0);
  CHECK(new_run_info("loadgen", "").kind == "loadgen");
}

}  // namespace sb::cli

// The build's commit is taken at build time (common/build_info.h), not when cmake last ran: the
// binary under test names the source tree's current HEAD ("-dirty" when tracked files differ).
TEST_CASE("build_commit names the HEAD the binary was built from", "[unit][provenance]") {
  const std::string head = sb::test::run_process({"git", "-C", SPARKBENCH_SOURCE_DIR, "rev-parse", "--short=12", "HEAD"}).out;
  if (head.size() < 12) {
    sb::test::skip("the source tree is not a git checkout");
    return;
  }
  const std::string commit = sb::build_commit();
  CHECK(commit.substr(0, 12) == head.substr(0, 12));
  CHECK((commit.size() == 12 || commit.substr(12) == "-dirty"));
  CHECK(sb::cli::tool_version().find(commit) != std::string::npos);
}
