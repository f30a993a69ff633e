// Model: the weights of a Llama-family decoder prepared on one backend, and Context: one
// sequence's KV cache and activations, which runs the forward pass.
//
// Model::load reads a GGUF file (kept memory-mapped; weights that need no repacking are used
// in place) and hands every matrix to the backend once. A WeightTransform can replace weight
// data on the way in (compression variants); replaced data is owned by the Model.
// Context::eval runs a batch of tokens at the current position through all layers: the prompt
// as matrix-matrix products in chunks of n_batch rows, then one token per step. Exceeding the
// context is an sb::Error (a sliding window masks attention but the cache still holds every
// position).
// Several sequences in one forward pass (continuous batching): BatchContext in
// engine/model/batch.h; both run the layers of engine/model/forward.h.
// Threading: a Model may be shared by several Contexts used one at a time (the backend is not
// re-entrant); a Context is used from one thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/config.h"

namespace sb {

// Given the file's weight, returns the source to load instead (or the same). `keep` receives
// buffers the new source points into (host_alloc'd, so a backend may read them in place); the
// Model keeps them alive.
using WeightTransform = std::function<WeightSource(const WeightSource& src, std::vector<std::shared_ptr<void>>& keep)>;

// One layer's weights. Fused file tensors (phi3's attn_qkv / gate+up ffn_up) are loaded as
// row slices into wq/wk/wv and w_gate/w_up, so every architecture runs the same matmuls.
struct LayerWeights {
  std::unique_ptr<Weight> wq, wk, wv, wo, w_gate, w_up, w_down;
  Tensor attn_norm, ffn_norm;
  Tensor bq, bk, bv;                     // empty unless the model has Q/K/V biases
  Tensor q_norm, k_norm;                 // (1, head_dim), qwen3 only
  Tensor post_attn_norm, post_ffn_norm;  // gemma2 only
};

class Model {
 public:
  static std::unique_ptr<Model> load(std::shared_ptr<const GgufFile> file, Backend& backend, const WeightTransform& transform = nullptr);
  static std::unique_ptr<Model> load(const std::string& path, Backend& backend, const WeightTransform& transform = nullptr);

  const ModelConfig& config() const { return cfg_; }
  const GgufFile& file() const { return *file_; }
  std::shared_ptr<const GgufFile> file_ptr() const { return file_; }
  Backend& backend() const { return backend_; }
  // Bytes of weights as the backend holds them (repacked layouts and extra copies included).
  size_t weight_bytes() const;
  // Bytes of the weight matrices in their loaded format (Weight::format_bytes: an int8 variant
  // counts one byte per weight plus its scales): the model's size in reports.
  size_t matrix_bytes() const;
  // Layers may be skipped (layer pruning): indices of the layers the forward pass runs.
  const std::vector<int64_t>& active_layers() const { return active_; }
  void set_active_layers(std::vector<int64_t> layers);

  const Weight& tok_embd() const { return *tok_embd_; }
  const Weight& output() const { return *output_; }
  const Tensor& output_norm() const { return output_norm_; }
  // rope_freqs.weight (1, n_rot / 2), empty when the file has none.
  const Tensor& rope_freqs() const { return rope_freqs_; }
  // The attention geometry and variations of layer l (rope scaling, window, soft-cap).
  AttentionShape attention_shape(int64_t l) const;
  const LayerWeights& layer(int64_t i) const { return layers_[size_t(i)]; }

 private:
  Model(std::shared_ptr<const GgufFile> f, Backend& b) : file_(std::move(f)), backend_(b) {}
  // Sum of `bytes` over every weight matrix the model holds.
  size_t sum_weights(size_t (Weight::*bytes)() const) const;
  std::shared_ptr<const GgufFile> file_;
  Backend& backend_;
  ModelConfig cfg_;
  std::unique_ptr<Weight> tok_embd_, output_;
  Tensor output_norm_, rope_freqs_;
  std::vector<LayerWeights> layers_;
  std::vector<int64_t> active_;
  std::vector<std::shared_ptr<void>> owned_;
};

struct ContextOptions {
  int64_t n_ctx = 0;      // 0 = the model's context length
  int64_t n_batch = 512;  // rows per forward chunk during prompt processing
  DType kv_type = DType::F16;
  // Let the backend record a single-token step once and replay it (CUDA graphs; other
  // backends ignore this). Results are the same either way.
  bool step_graphs = true;
};

class Context {
 public:
  Context(const Model& model, const ContextOptions& opt = {});
  // Runs ids[0..n) at positions pos() .. pos() + n - 1. If all_logits, `logits` receives n rows
  // of n_vocab values; otherwise only the last row. Advances pos() by n.
  void eval(const int32_t* ids, int64_t n, bool all_logits, std::vector<float>& logits);
  // Like eval, but `logits` receives rows [first_row, n) (first_row == n: none).
  void eval_rows(const int32_t* ids, int64_t n, int64_t first_row, std::vector<float>& logits);
  // Like eval of the last row, but returns its greedy next token (argmax, ties to the lowest id)
  // instead of the logits; a device backend picks it without copying the logits to the host.
  int32_t eval_greedy(const int32_t* ids, int64_t n);
  int64_t pos() const { return pos_; }
  int64_t n_ctx() const { return n_ctx_; }
  // Forgets positions >= pos (the cache keeps what came before), e.g. to reuse a shared prefix.
  void rewind(int64_t pos);
  const Model& model() const { return model_; }
  // Analysis hook (layer-importance ranking for layer pruning): when set, eval calls
  // f(layer, T, C, in, out) after every layer with the chunk's hidden states (T, C) before and
  // after that layer (host copies, valid during the call). Costs two downloads per layer.
  using LayerObserver = std::function<void(int64_t layer, int64_t T, int64_t C, const float* in, const float* out)>;
  void set_layer_observer(LayerObserver f) { observer_ = std::move(f); }
  size_t kv_bytes() const { return kv_->bytes(); }
  DType kv_type() const { return kv_->dtype(); }

 private:
  // Runs T tokens; writes logits of chunk rows [out_from, T) to logits_out (none if out_from >= T),
  // or with argmax_out instead, the greedy token of each of those rows.
  void forward_chunk(const int32_t* ids, int64_t T, int64_t out_from, float* logits_out, int32_t* argmax_out = nullptr);
  void check_eval(const int32_t* ids, int64_t n) const;
  const Model& model_;
  int64_t n_ctx_, n_batch_;
  int64_t pos_ = 0;
  std::unique_ptr<KvCache> kv_;
  std::vector<AttentionShape> shapes_;  // per layer
  // activations for up to n_batch rows
  Tensor x_, h_, q_, k_, v_, att_, gate_, up_, logits_;
  // recorded decode step (Backend::run_step_graph) and the layers it was recorded with
  bool step_graphs_ = true;
  std::unique_ptr<StepGraph> graph_;
  std::vector<int64_t> graph_layers_;
  LayerObserver observer_;
};

}  // namespace sb
