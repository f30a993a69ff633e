// The host side of the CUDA backend plugin (see engine/backends/cuda/plugin_abi.h): finds
// libsparkbench-cuda.so, loads it once with dlopen, checks its table and forwards the three
// functions declared in engine/backends/cuda/cuda_backend.h. Compiled only into builds that
// build the plugin (SPARKBENCH_WITH_CUDA=1); this file itself uses no CUDA headers.
//
// Where the plugin is looked for, first hit wins:
//   1. $SPARKBENCH_CUDA_PLUGIN (a path to the .so);
//   2. the directory of the running executable, then its ../lib;
//   3. the build tree it was built in (SPARKBENCH_CUDA_PLUGIN_BUILD_PATH).
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/plugin_abi.h"
#include "engine/core/error.h"

namespace sb {
namespace {

constexpr const char* kPluginName = "libsparkbench-cuda.so";

std::string executable_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::filesystem::path(std::string(buf, size_t(n))).parent_path().string();
}

std::vector<std::string> candidate_paths() {
  std::vector<std::string> v;
  if (const char* env = std::getenv("SPARKBENCH_CUDA_PLUGIN"); env && *env) return {env};
  const std::string dir = executable_dir();
  if (!dir.empty()) {
    v.push_back(dir + "/" + kPluginName);
    v.push_back(dir + "/../lib/" + kPluginName);
  }
#ifdef SPARKBENCH_CUDA_PLUGIN_BUILD_PATH
  v.push_back(SPARKBENCH_CUDA_PLUGIN_BUILD_PATH);
#endif
  return v;
}

struct Loaded {
  const CudaPluginV1* table = nullptr;
  std::string error;  // why table is null
};

const Loaded& plugin() {
  static Loaded loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string tried;
    for (const auto& path : candidate_paths()) {
      if (::access(path.c_str(), F_OK) != 0) {
        tried += (tried.empty() ? "" : ", ") + path;
        continue;
      }
      void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        const char* e = ::dlerror();
        loaded.error = cat("cuda: cannot load the CUDA backend plugin: ", e ? e : path);
        return;
      }
      using Entry = const CudaPluginV1* (*)();
      auto entry = reinterpret_cast<Entry>(::dlsym(h, "sparkbench_cuda_plugin_v1"));
      const CudaPluginV1* t = entry ? entry() : nullptr;
      if (!t || t->table_size != sizeof(CudaPluginV1) || t->backend_options_size != sizeof(BackendOptions)) {
        loaded.error = cat("cuda: ", path, " is not a CUDA backend plugin of this build (rebuild it with this sparkbench)");
        return;  // the handle stays open: unloading a library that ran static initializers is riskier
      }
      loaded.table = t;
      return;
    }
    loaded.error = cat("cuda: the CUDA backend plugin ", kPluginName, " was not found (looked in: ", tried,
                       "; set SPARKBENCH_CUDA_PLUGIN to its path)");
  });
  return loaded;
}

}  // namespace

bool cuda_device_available(std::string* why) {
  const Loaded& p = plugin();
  if (!p.table) {
    if (why) *why = p.error;
    return false;
  }
  return p.table->device_available(why);
}

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& opt) {
  const Loaded& p = plugin();
  if (!p.table) fail(p.error);
  std::string error;
  Backend* b = p.table->make_backend(opt, &error);
  if (!b) fail(error);
  return std::unique_ptr<Backend>(b);
}

void* cuda_stream_of(Backend& b) {
  const Loaded& p = plugin();
  return p.table ? p.table->stream_of(b) : nullptr;
}

}  // namespace sb
