#include "harness/run_resume.h"

#include "engine/core/error.h"
#include "reports/store.h"

namespace sb::cli {

int64_t resume_matching_run(Store& store, const nlohmann::json& config, const std::string& db) {
  nlohmann::json want = config;
  want.erase("backend_info");
  for (const auto& r : store.list_runs(1000)) {
    if (r.status != "interrupted" && r.status != "failed") continue;
    auto stored = nlohmann::json::parse(r.info.config_json);
    stored.erase("backend_info");
    if (stored == want) {
      store.resume_run(r.id);
      return r.id;
    }
  }
  fail(db, ": no interrupted run with this configuration to resume");
}

}  // namespace sb::cli
