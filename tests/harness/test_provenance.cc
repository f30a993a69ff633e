// new_run_info: every stored run's provenance comes from this one function.
#include <catch2/catch.hpp>

#include "harness/provenance.h"
#include "reports/store.h"

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
