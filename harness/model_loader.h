// Shared model options for the subcommands that run a model (-m/--preset, --backend,
// --threads, --kv-type, --compute, --ctx-size, --batch-size) and the loader behind them.
// A preset name resolves to a synthetic model file cached under the cache directory
// ($SPARKBENCH_CACHE, else $XDG_CACHE_HOME/sparkbench, else ~/.cache/sparkbench), created once
// (under a file lock, written atomically) and reused.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "engine/backends/backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace sb::cli {

struct ModelArgs {
  std::string model;    // GGUF path
  std::string preset;   // or a preset name (synthesized into the cache)
  std::string backend;  // default: cpu when compiled in, else ref
  int threads = 0;
  std::string kv_type = "f16";
  std::string compute = "f32";
  int64_t n_ctx = 0;
  int64_t n_batch = 512;
  int device = 0;  // GPU ordinal (cuda); not an option: MPI ranks pick theirs (harness/mpi_run.h)
};

void add_model_args(CLI::App* cmd, ModelArgs& a);
std::string default_backend();

struct LoadedModel {
  std::string path;
  bool synthetic = false;  // sparkbench.synthetic metadata set (random weights)
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  ContextOptions ctx_opts;
  double load_ms = 0;
};

LoadedModel load_model(const ModelArgs& a);

// The cache directory (created if needed).
std::string cache_dir();
// Path of the cached synthetic model for a preset (dtype f16, given seed), synthesizing it on
// first use. Progress goes to stderr.
std::string cached_preset_model(const std::string& preset, uint64_t seed = 0);

}  // namespace sb::cli
