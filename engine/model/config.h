// ModelConfig: the hyper-parameters of a Llama-family decoder, read from GGUF metadata
// (`<arch>.block_count`, `<arch>.embedding_length`, ...) or from a named preset.
// Supported architectures: "llama" (RoPE on adjacent pairs) and "qwen2" (NeoX-style RoPE on
// split halves, Q/K/V biases). from_gguf() validates values and tensor shapes against each other
// and throws sb::Error naming the file and key on anything inconsistent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/rope_style.h"

namespace sb {

class GgufFile;

struct ModelConfig {
  std::string arch = "llama";
  std::string name;
  int64_t n_vocab = 0;
  int64_t n_ctx = 0;       // training context length
  int64_t n_embd = 0;      // model width
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;        // FFN hidden width
  int64_t head_dim = 0;    // n_embd / n_head unless the file says otherwise
  int64_t n_rot = 0;       // dimensions rotated by RoPE (<= head_dim)
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::Interleaved;
  bool tied_output = false;  // output projection shares token_embd.weight
  bool qkv_bias = false;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
  // Parameter count implied by the shapes (embeddings + layers + norms + output).
  int64_t n_params() const;
  // Reads and validates the config of a model file.
  static ModelConfig from_gguf(const GgufFile& f);
};

// A named shape the engine can synthesize (see model/synth.h).
struct Preset {
  std::string name;
  std::string description;
  ModelConfig config;
};
const std::vector<Preset>& presets();
// Throws sb::Error listing the known names when `name` is unknown.
const Preset& find_preset(const std::string& name);

}  // namespace sb
