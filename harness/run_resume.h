// --resume for `run` (local and --api): the one rule that picks the stored run to continue.
// A run is resumable when its status is "interrupted" or "failed" and its stored configuration
// equals this invocation's, ignoring "backend_info" (provenance such as the ISA level and
// threads, which may differ between the two processes). The newest such run is reopened
// (Store::resume_run); none is an error naming the database.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace sb {
class Store;
}

namespace sb::cli {

// Reopens the run to resume and returns its id; fails with "<db>: no interrupted run with this
// configuration to resume" when there is none.
int64_t resume_matching_run(Store& store, const nlohmann::json& config, const std::string& db);

}  // namespace sb::cli
