// Facts recorded with every run: host, CPU model, git state of the working directory, tool
// version, and a model file's sha256 (memoized in the results database by path, size and
// modification time, so an 800 MB model is hashed once).
#pragma once

#include <string>

namespace sb {
class Store;
}

namespace sb::cli {

std::string host_name();
std::string cpu_model();
// Commit of the git repository containing the current directory, "" if none.
std::string git_commit(bool* dirty);
std::string tool_version();
std::string model_sha256(const std::string& path, Store* store);

}  // namespace sb::cli
