// Optimization: AdamW (decoupled weight decay, Loshchilov & Hutter), a learning-rate schedule
// with linear warm-up then cosine decay, and gradient clipping by global L2 norm.
// Operates on the flat parameter/gradient lists of TrainModel (train_model.h). Weight decay is
// applied to matrices only (ParamTensor::matrix()), not to norm weights. Gradient accumulation
// is TrainModel::forward_backward with weight 1 / micro-batches before one step().
// AdamW's state (step count, moments in double) can be read and restored for checkpoints
// (checkpoint.h): a restored optimizer steps exactly as the one it was saved from.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/train/train_model.h"

namespace sb::train {

struct Schedule {
  double lr = 1e-3;     // peak
  double min_lr = 0.0;  // end of the cosine
  int64_t warmup = 0;   // steps of linear warm-up from lr / warmup to lr
  int64_t total = 1;    // steps in all; cosine from step `warmup` to `total`
  // The learning rate of step s (0-based): (s + 1) / warmup * lr during warm-up, then
  // min_lr + (lr - min_lr) * (1 + cos(pi * progress)) / 2, progress in [0, 1] (clamped).
  double at(int64_t s) const;
};

// Global L2 norm of all gradients; when it exceeds max_norm (> 0), scales them all by
// max_norm / norm. Returns the norm before clipping (NaN if any gradient is NaN: the caller
// must not step on it).
template <class T>
double clip_grad_norm(std::vector<std::vector<T>>& grads, double max_norm);

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

template <class T>
class AdamW {
 public:
  explicit AdamW(const AdamWOptions& o = {}) : o_(o) {}
  // One update of every parameter with the gradients at learning rate lr:
  //   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  w -= lr (mhat / (sqrt(vhat) + eps) + wd w)
  void step(std::vector<ParamTensor<T>>& params, const std::vector<std::vector<T>>& grads, double lr);
  int64_t steps() const { return t_; }
  // The moments per parameter (params()[i] <-> m()[i]); empty before the first step.
  const std::vector<std::vector<double>>& first_moments() const { return m_; }
  const std::vector<std::vector<double>>& second_moments() const { return v_; }
  // Restores a saved state: t steps taken, moments m and v (both empty when t == 0). Throws
  // sb::Error when they disagree in shape; step() checks them against the parameters.
  void restore(int64_t t, std::vector<std::vector<double>> m, std::vector<std::vector<double>> v);

 private:
  AdamWOptions o_;
  int64_t t_ = 0;
  std::vector<std::vector<double>> m_, v_;
};

}  // namespace sb::train
