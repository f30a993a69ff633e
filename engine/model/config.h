// ModelConfig: the hyper-parameters of a Llama-family decoder, read from GGUF metadata
// (`<arch>.block_count`, `<arch>.embedding_length`, ...) or from a named preset.
// Supported architectures, each with the semantics of llama.cpp's graph for it (build_<arch>):
//   llama  - RoPE on adjacent pairs; optional rope_freqs.weight (llama3 per-pair frequency
//            divisors) and `llama.rope.scaling.type` none|linear with `.factor`; GQA; tied or
//            separate output. Covers Llama 2/3.x, Mistral, SmolLM.
//   qwen2  - NeoX RoPE (split halves), Q/K/V biases.
//   qwen3  - NeoX RoPE, per-head RMS norm of q and k before RoPE (attn_q_norm / attn_k_norm,
//            head_dim weights), no biases, head_dim from `attention.key_length`.
//   gemma2 - NeoX RoPE, embeddings scaled by sqrt(n_embd), GeGLU FFN, sandwich norms
//            (post_attention_norm / post_ffw_norm), attention logit soft-cap
//            (`gemma2.attn_logit_softcapping`, default 50) and final logit soft-cap
//            (`gemma2.final_logit_softcapping`, default 30), sliding window
//            (`gemma2.attention.sliding_window`, default 4096) on even layers, queries scaled by
//            1/sqrt(head_dim) (1/sqrt(n_embd / n_head) for the 46-layer 27B, as llama.cpp),
//            output tied to token_embd. Norm weights are used as stored (converters fold
//            gemma's 1 + w into the file).
//   phi3   - NeoX RoPE (partial when rope.dimension_count < head_dim), fused attn_qkv.weight
//            (rows: q, k, v) and fused ffn_up.weight (2 * n_ff rows: gate first, then up),
//            sliding window `phi3.attention.sliding_window` on every layer. LongRoPE factor
//            tensors (rope_factors_long/short) are refused.
// from_gguf() validates values and tensor shapes against each other and throws sb::Error
// naming the file and key on anything inconsistent or unsupported.
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
  int64_t n_ctx = 0;   // training context length
  int64_t n_embd = 0;  // model width
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;      // FFN hidden width
  int64_t head_dim = 0;  // n_embd / n_head unless the file says otherwise
  int64_t n_rot = 0;     // dimensions rotated by RoPE (<= head_dim)
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::Interleaved;
  bool tied_output = false;  // output projection shares token_embd.weight
  bool qkv_bias = false;
  // Architecture variations (see the list above); defaults are plain llama.
  float rope_freq_scale = 1.0f;  // 1 / linear rope scaling factor
  bool rope_freqs = false;       // rope_freqs.weight present (n_rot / 2 divisors)
  bool qk_norm = false;          // qwen3: attn_q_norm / attn_k_norm per head
  bool fused_qkv = false;        // phi3: attn_qkv.weight
  bool fused_gate_up = false;    // phi3: ffn_up.weight holds gate then up
  bool geglu = false;            // gemma2: gelu(gate) * up instead of silu(gate) * up
  bool post_norms = false;       // gemma2: post_attention_norm, post_ffw_norm
  float embd_scale = 0.0f;       // gemma2: sqrt(n_embd); 0 = none
  float attn_scale = 0.0f;       // 0 = 1 / sqrt(head_dim)
  float attn_softcap = 0.0f;     // 0 = none
  float final_softcap = 0.0f;    // 0 = none
  int64_t n_swa = 0;             // sliding window size; 0 = none
  bool swa_even_layers = false;  // gemma2: only layers 0, 2, 4, ... use the window

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
  // The sliding window of layer l (0 = full causal attention).
  int64_t window(int64_t l) const { return n_swa > 0 && (!swa_even_layers || l % 2 == 0) ? n_swa : 0; }
  // The architecture variations in use, one short phrase each (e.g. "rope_freqs",
  // "window 4096 on even layers"), for `model info`; empty for a plain llama.
  std::vector<std::string> features() const;
  // Sets the per-architecture fields from `arch` and the shape (what from_gguf does without a
  // file, with each key's default): used by presets.
  void set_arch_defaults();
  // Parameter count implied by the shapes (embeddings + layers + norms + output).
  int64_t n_params() const;
  // Reads and validates the config of a model file.
  static ModelConfig from_gguf(const GgufFile& f);
};

// A named shape the engine can synthesize (see model/synth.h). The <arch>-tiny presets (one per
// architecture family) draw weights with a larger spread and jittered norm weights, so that
// attention is far from uniform and every tensor visibly matters in a comparison.
struct Preset {
  std::string name;
  std::string description;
  ModelConfig config;
  float init_std = 0.02f;    // spread of the input projections and embeddings
  float norm_jitter = 0.0f;  // norm weights ~ 1 + N(0, norm_jitter^2)
};
const std::vector<Preset>& presets();
// Throws sb::Error listing the known names when `name` is unknown.
const Preset& find_preset(const std::string& name);
// The family preset for `model synth --arch`: "llama3", "qwen3", "gemma2", "phi3" -> "<arch>-tiny".
// Throws sb::Error listing the known families when `arch` is unknown.
const Preset& find_family_preset(const std::string& arch);

}  // namespace sb
