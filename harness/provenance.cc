#include "harness/provenance.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "common/build_info.h"
#include "engine/core/sha256.h"
#include "reports/store.h"

namespace sb::cli {

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  }
  return "unknown";
}

namespace {
std::string run_capture(const char* cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd, "r"), &::pclose);
  if (!p) return "";
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p.get())) out += buf;
  return out;
}
}  // namespace

std::string git_commit(bool* dirty) {
  std::string c = run_capture("git rev-parse HEAD 2>/dev/null");
  while (!c.empty() && (c.back() == '\n' || c.back() == '\r')) c.pop_back();
  if (dirty) *dirty = !c.empty() && !run_capture("git status --porcelain --untracked-files=no 2>/dev/null").empty();
  return c;
}

std::string tool_version() { return std::string(SPARKBENCH_VERSION) + " (" + build_commit() + ")"; }

RunInfo new_run_info(const std::string& kind, const std::string& label) {
  RunInfo info;
  info.kind = kind;
  info.label = label;
  info.git_commit = git_commit(&info.git_dirty);
  info.tool_version = tool_version();
  info.host = host_name();
  info.cpu = cpu_model();
  return info;
}

std::string model_sha256(const std::string& path, Store* store) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sha256_file(path);  // throws with the reason
  const std::string key = "file-sha256:" + path + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
                          std::to_string(st.st_mtim.tv_nsec);
  if (store) {
    if (auto v = store->cache_get(key)) return *v;
  }
  const std::string h = sha256_file(path);
  if (store) store->cache_put(key, h);
  return h;
}

}  // namespace sb::cli
