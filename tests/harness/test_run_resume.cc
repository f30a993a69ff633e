// resume_matching_run: which stored run --resume continues (harness/run_resume.h).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness/run_resume.h"
#include "reports/store.h"
#include "tests/reports/test_store_util.h"

namespace sb::cli {

namespace {
int64_t add_run(Store& st, const nlohmann::json& config, const std::string& status) {
  RunInfo info;
  info.config_json = config.dump();
  const int64_t id = st.begin_run(info);
  if (status != "running") st.finish_run(id, status);
  return id;
}
}  // namespace

TEST_CASE("resume_matching_run reopens the failed run whose configuration matches, ignoring backend_info", "[unit][resume]") {
  auto st = Store::open(sb::test::db_path("run-resume"));
  const nlohmann::json want = {{"suite", "stories"}, {"seed", 1}};
  nlohmann::json other = want;
  other["seed"] = 2;
  nlohmann::json with_info = want;
  with_info["backend_info"] = "cpu avx512vnni, 2 threads";
  add_run(*st, other, "failed");   // another configuration
  add_run(*st, want, "complete");  // finished: not resumable
  const int64_t id = add_run(*st, with_info, "failed");
  CHECK(resume_matching_run(*st, want, "x.db") == id);
  bool running = false;
  for (const auto& r : st->list_runs())
    if (r.id == id) running = r.status == "running";
  CHECK(running);
  // now running: nothing left to resume with this configuration
  try {
    resume_matching_run(*st, want, "x.db");
    FAIL("expected an error");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("x.db: no interrupted run with this configuration to resume") != std::string::npos);
  }
}

}  // namespace sb::cli
