// Facts recorded with every run: host, CPU model, git state of the working directory, tool
// version, and a model file's sha256 (memoized in the results database by path, size and
// modification time, so an 800 MB model is hashed once). new_run_info is the one place a
// stored run's provenance fields are filled; commands add what only they know (backend,
// model, variant, configuration).
#pragma once

#include <string>

namespace sb {
class Store;
struct RunInfo;
}  // namespace sb

namespace sb::cli {

std::string host_name();
std::string cpu_model();
// Commit of the git repository containing the current directory, "" if none.
std::string git_commit(bool* dirty);
std::string tool_version();
std::string model_sha256(const std::string& path, Store* store);
// A run of `kind` labelled `label` with this process's provenance: git commit and dirty flag,
// tool version, host name and CPU model.
RunInfo new_run_info(const std::string& kind, const std::string& label);

}  // namespace sb::cli
