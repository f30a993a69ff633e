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
// Ops: set_backend picks the implementation (ops_cpu.h): TrainBackend::Ref (default) runs the
// naive reference loops of ops.h (the oracle, and the only choice for T = double);
// TrainBackend::Cpu (float only) runs oneDNN sgemm products and OpenMP-threaded loops, equal to
// Ref within f32 rounding (tests/engine/test_train_cpu.cc).
// Activations are kept for one sequence at a time. Without recomputation the saved state is
// per layer T * (4 width + 2 q_dim + 2 kv_dim + 3 n_ff + 2 + n_head * T) values (plus q/k
// pre-norm copies with q/k norms): O(n_layer * (T * width + n_head * T^2)). With
// set_recompute(true) (activation checkpointing per layer) forward keeps only each layer's
// input (n_layer * T * width values) and backward recomputes one layer's activations at a time
// from it (one layer's worth of scratch, as above with n_layer = 1), for about one more forward
// pass of compute; gradients are the same (bit-identical: the same ops on the same inputs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/config.h"
#include "engine/train/loss.h"
#include "engine/train/ops_cpu.h"

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

  // The ops implementation; threads (Cpu only) sets the OpenMP team size (0 = all cores).
  // Throws sb::Error for Cpu on T = double.
  void set_backend(TrainBackend b, int threads = 0);
  TrainBackend backend() const { return backend_; }
  // Activation recomputation (checkpointing per layer), see the top of this file.
  void set_recompute(bool on) { recompute_ = on; }
  bool recompute() const { return recompute_; }
  // Values held in the saved per-layer activations of the last forward (recomputation scratch
  // not counted): n_layer * n * n_embd with recomputation.
  int64_t saved_activation_values() const;

  // Logits (n, n_vocab) of tokens ids[0..n) at positions 0..n-1; saves activations.
  void forward(const int32_t* ids, int64_t n, std::vector<T>& logits);
  // Backpropagates dlogits (n, n_vocab) of the last forward(); adds into grads().
  void backward(const T* dlogits);
  // forward + loss + backward of one sequence: next-token CE on targets (alpha = 0, teacher
  // null) or distill_loss against the teacher's top-k rows. The loss gradient is scaled by
  // `weight` (1 / micro-batches for accumulation). Returns the (unweighted) loss.
  double forward_backward(const int32_t* ids, const int32_t* targets, int64_t n, const TopK* teacher, double tau, double alpha,
                          double weight);

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
  struct LayerAct;
  // Layer l on x (in place: x becomes the layer's output), saving its activations into a.
  void layer_forward(int64_t l, std::vector<T>& x, LayerAct& a, const RopeTable& rt, double scale);
  ModelConfig cfg_;
  TrainBackend backend_ = TrainBackend::Ref;
  bool recompute_ = false;
  std::vector<ParamTensor<T>> p_;
  std::vector<std::vector<T>> g_;
  // saved activations of the last forward
  struct LayerAct {
    std::vector<T> x_in, rstd1, h1, q_pre, q_rstd, k_pre, k_rstd, q, k, v, probs, att, x_mid, rstd2, h2, gate, up, act;
  };
  std::vector<int32_t> ids_;
  int64_t n_ = 0;
  std::vector<LayerAct> act_;  // with recomputation: x_in only
  LayerAct scratch_;           // with recomputation: the layer being computed
  std::vector<T> x_final_, rstd_f_, h_f_;
  std::vector<T> logits_buf_, dlogits_buf_;  // forward_backward's
  std::vector<T> bwd_[11];                   // backward's gradient buffers
};

// Floating-point operations of one forward + backward pass over n tokens, the count that
// "achieved GFLOP/s" uses: 6 * (parameters of the matrix products, the output projection
// included) * n + causal attention 6 * n_layer * n_head * head_dim * n (n + 1) (the useful
// q.k and p.v work: forward 2 products, backward 4). Norms, softmax and SwiGLU are not counted.
int64_t train_flops(const ModelConfig& c, int64_t n);

}  // namespace sb::train
