#include "harness/model_loader.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "engine/core/error.h"
#include "engine/model/synth.h"

namespace sb::cli {

std::string default_backend() {
  for (const auto& b : compiled_backends())
    if (b == "cpu") return b;
  return "ref";
}

void add_model_args(CLI::App* cmd, ModelArgs& a) {
  std::string backends;
  for (const auto& b : compiled_backends()) backends += (backends.empty() ? "" : ", ") + b;
  cmd->add_option("-m,--model", a.model, "GGUF model file");
  cmd->add_option("--preset", a.preset, "Use a synthetic preset model instead (codex-spark, codex-spark-mini), cached after first use");
  a.backend = default_backend();
  cmd->add_option("--backend", a.backend, "Compute backend: " + backends)->capture_default_str();
  cmd->add_option("-t,--threads", a.threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--kv-type", a.kv_type, "KV cache type: f32, f16, bf16")->capture_default_str();
  cmd->add_option("--compute", a.compute,
                  "Matmul arithmetic: f32, bf16, or q8 (cpu: 8-bit activations x block weights in integers, as llama.cpp)")
      ->capture_default_str();
  cmd->add_option("-c,--ctx-size", a.n_ctx, "Context length (0 = the model's)")->capture_default_str();
  cmd->add_option("-b,--batch-size", a.n_batch, "Rows per forward pass during prompt processing")->capture_default_str();
}

std::string cache_dir() {
  namespace fs = std::filesystem;
  fs::path base;
  if (const char* c = std::getenv("SPARKBENCH_CACHE"); c && *c)
    base = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    base = fs::path(x) / "sparkbench";
  else if (const char* h = std::getenv("HOME"); h && *h)
    base = fs::path(h) / ".cache" / "sparkbench";
  else
    base = fs::temp_directory_path() / "sparkbench-cache";
  std::error_code ec;
  fs::create_directories(base, ec);
  if (ec) fail(base.string(), ": cannot create cache directory: ", ec.message());
  return base.string();
}

std::string cached_preset_model(const std::string& preset, uint64_t seed) {
  SynthOptions so;
  so.preset = preset;
  so.seed = seed;
  find_preset(preset);
  // The weights' recipe is versioned with the tool: a new version may synthesize differently.
  const std::string dir = cache_dir() + "/models-" SPARKBENCH_VERSION;
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + synth_file_name(so);
  if (std::filesystem::exists(path)) return path;
  const std::string lock_path = path + ".lock";
  int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) fail(lock_path, ": cannot create lock file");
  ::flock(fd, LOCK_EX);
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "sparkbench: synthesizing %s (synthetic weights, seed %llu) into %s ...\n", preset.c_str(),
                 (unsigned long long)seed, path.c_str());
    synthesize_model(so, path);
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return path;
}

LoadedModel load_model(const ModelArgs& a) {
  if (a.model.empty() == a.preset.empty()) fail("give exactly one of -m MODEL or --preset NAME");
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel lm;
  lm.path = a.model.empty() ? cached_preset_model(a.preset) : a.model;
  BackendOptions bo;
  bo.threads = a.threads;
  bo.device = a.device;
  if (a.compute == "f32")
    bo.compute = ComputeType::F32;
  else if (a.compute == "bf16")
    bo.compute = ComputeType::BF16;
  else if (a.compute == "q8")
    bo.compute = ComputeType::Q8;
  else
    fail("unknown --compute '", a.compute, "' (f32, bf16, q8)");
  if (bo.compute == ComputeType::Q8 && a.backend != "cpu") fail("--compute q8 is implemented by the cpu backend only");
  lm.ctx_opts.kv_type = dtype_from_name(a.kv_type);
  lm.ctx_opts.n_ctx = a.n_ctx;
  lm.ctx_opts.n_batch = a.n_batch;
  if (a.n_batch < 1) fail("--batch-size must be at least 1");
  lm.backend = create_backend(a.backend, bo);
  auto file = GgufFile::open(lm.path);
  lm.synthetic = file->get_bool("sparkbench.synthetic", false);
  lm.tokenizer = Tokenizer::from_gguf(*file);
  lm.model = Model::load(file, *lm.backend);
  if (a.n_ctx > lm.model->config().n_ctx) fail("--ctx-size ", a.n_ctx, " exceeds the model's context length ", lm.model->config().n_ctx);
  lm.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return lm;
}

}  // namespace sb::cli
