// TrainModel<T>: a llama-family decoder held as host parameters of type T (float for training,
// double for gradient checks), with a forward pass that saves its activations and a backward
// pass that accumulates the gradient of every parameter.
//
// Supported: arch llama (adjacent-pair RoPE, optional rope_freqs.weight and linear rope
// scaling) and qwen3 (NeoX RoPE, per-head q/k RMS norm), any GQA grouping, tied or separate
// output, and NeoX RoPE on a llama config (set rope_style) for tests. Other variations
// (biases, soft-caps, sliding windows, GeGLU, sandwich norms, fused tensors, embedding scale)
// are refused with sb::Error naming the file. The forward pass equals the engine's ref backend
// (f32 KV cache) within rounding: tested in tests/engine/test_train_model.cc.
//
// Parameters are a flat list of named tensors in GGUF naming and shape (ne[0] fastest), so the
// optimizer, gradient clipping, finite-difference checks and the GGUF writer iterate one list.
// Gradients have the same layout (grads()[i] belongs to params()[i]); forward_backward ADDS
// into them (gradient accumulation): call zero_grad() before a new step.
// Activations are kept for one sequence at a time (no recomputation yet): memory is
// O(n_layer * (T * width + n_head * T^2)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/config.h"
#include "engine/train/loss.h"

namespace sb {
class GgufFile;
}

namespace sb::train {

template <class T>
struct ParamTensor {
  std::string name;
  std::vector<int64_t> ne;  // GGUF shape, ne[0] fastest
  std::vector<T> w;
  bool matrix() const { return ne.size() == 2 && ne[0] > 1 && ne[1] > 1; }
};

template <class T>
class TrainModel {
 public:
  // Reads every tensor as f32 (dequantizing quantized types). Throws sb::Error as above.
  static TrainModel from_gguf(const GgufFile& f);
  // A random model of config c (weights ~ N(0, std^2), norms 1 + N(0, jitter^2)); for tests.
  static TrainModel random(const ModelConfig& c, uint64_t seed, double std = 0.2, double norm_jitter = 0.1);
  // Converts the parameters to another precision.
  template <class U>
  TrainModel<U> cast() const;

  const ModelConfig& config() const { return cfg_; }
  ModelConfig& config() { return cfg_; }
  std::vector<ParamTensor<T>>& params() { return p_; }
  const std::vector<ParamTensor<T>>& params() const { return p_; }
  std::vector<std::vector<T>>& grads() { return g_; }
  void zero_grad();
  int64_t n_params() const;

  // Logits (n, n_vocab) of tokens ids[0..n) at positions 0..n-1; saves activations.
  void forward(const int32_t* ids, int64_t n, std::vector<T>& logits);
  // Backpropagates dlogits (n, n_vocab) of the last forward(); adds into grads().
  void backward(const T* dlogits);
  // forward + loss + backward of one sequence: next-token CE on targets (alpha = 0, teacher
  // null) or distill_loss against the teacher's top-k rows. The loss gradient is scaled by
  // `weight` (1 / micro-batches for accumulation). Returns the (unweighted) loss.
  double forward_backward(const int32_t* ids, const int32_t* targets, int64_t n, const TopK* teacher, double tau,
                          double alpha, double weight);

  int64_t tok_embd = -1, output_norm = -1, output = -1;  // indices into params()
  struct LayerIx {
    int64_t attn_norm, wq, wk, wv, wo, ffn_norm, gate, up, down, q_norm = -1, k_norm = -1;
  };
  std::vector<LayerIx> layers;
  std::vector<float> rope_freqs;  // constant (not trained), empty if none

 private:
  template <class U>
  friend class TrainModel;
  void index();
  void check_supported(const std::string& where) const;
  ModelConfig cfg_;
  std::vector<ParamTensor<T>> p_;
  std::vector<std::vector<T>> g_;
  // saved activations of the last forward
  struct LayerAct {
    std::vector<T> x_in, rstd1, h1, q_pre, q_rstd, k_pre, k_rstd, q, k, v, probs, att, x_mid, rstd2, h2, gate, up,
        act;
  };
  std::vector<int32_t> ids_;
  int64_t n_ = 0;
  std::vector<LayerAct> act_;
  std::vector<T> x_final_, rstd_f_, h_f_;
};

}  // namespace sb::train
