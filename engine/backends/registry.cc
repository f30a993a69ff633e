// The one place that knows which backends were compiled in (and, for cuda, usable).
#include "engine/backends/backend.h"
#include "engine/backends/ref/ref_backend.h"
#include "engine/core/error.h"

#if SPARKBENCH_WITH_DNNL
#include "engine/backends/cpu/cpu_backend.h"
#endif
#if SPARKBENCH_WITH_CUDA
#include "engine/backends/cuda/cuda_backend.h"
#endif

namespace sb {

std::vector<std::string> available_backends() {
  std::vector<std::string> v{"ref"};
#if SPARKBENCH_WITH_DNNL
  v.push_back("cpu");
#endif
#if SPARKBENCH_WITH_CUDA
  // Listed only with a device present, so that loops over the usable backends (tests, tools)
  // work on GPU-less machines; create_backend("cuda") still explains why it is unusable.
  if (cuda_device_available()) v.push_back("cuda");
#endif
  return v;
}

std::vector<std::string> compiled_backends() {
  std::vector<std::string> v{"ref"};
#if SPARKBENCH_WITH_DNNL
  v.push_back("cpu");
#endif
#if SPARKBENCH_WITH_CUDA
  v.push_back("cuda");
#endif
  return v;
}

std::unique_ptr<Backend> create_backend(const std::string& name, const BackendOptions& opt) {
  if (name == "ref") return make_ref_backend(opt);
#if SPARKBENCH_WITH_DNNL
  if (name == "cpu") return make_cpu_backend(opt);
#endif
#if SPARKBENCH_WITH_CUDA
  if (name == "cuda") return make_cuda_backend(opt);
#endif
  std::string known;
  for (const auto& b : compiled_backends()) known += (known.empty() ? "" : ", ") + b;
  fail("backend '", name, "' is not available in this build (available: ", known, ")");
}

}  // namespace sb
