// Training losses on logits (R rows of V values), each returning the mean loss over rows and
// ADDING its gradient with respect to the logits, times `weight`, into dlogits.
//
// cross_entropy: next-token CE, -log softmax(z)[target]; rows with target < 0 are skipped (and
// not counted in the mean).
// Distillation: the teacher's row is kept as its top-k logits (TopK, k configurable, to bound
// memory); its softened distribution p = softmax(z_t / tau) over those k tokens (renormalized;
// the rest have p = 0). The student's q = softmax(z_s / tau) over the whole vocabulary.
// kl_topk = tau^2 * KL(p || q) = tau^2 * sum_i p_i (log p_i - log q_i) (the tau^2 keeps gradient
// magnitudes comparable across temperatures, as in Hinton et al.); d/dz_s = tau * (q - p).
// distill_loss = alpha * kl_topk + (1 - alpha) * cross_entropy.
#pragma once

#include <cstdint>
#include <vector>

namespace sb::train {

// The k largest logits of each of R rows (ties: lower index first), descending.
struct TopK {
  int64_t rows = 0, k = 0;
  std::vector<int32_t> idx;  // (rows, k)
  std::vector<float> val;    // (rows, k)
};
TopK top_k(const float* logits, int64_t R, int64_t V, int64_t k);

// Row-wise log-softmax into out (R, V); out may alias z.
template <class T>
void log_softmax(const T* z, int64_t R, int64_t V, T* out);

template <class T>
double cross_entropy(const T* z, int64_t R, int64_t V, const int32_t* targets, double weight, T* dlogits);

template <class T>
double kl_topk(const T* z, int64_t R, int64_t V, const TopK& teacher, double tau, double weight, T* dlogits);

template <class T>
double distill_loss(const T* z, int64_t R, int64_t V, const TopK& teacher, const int32_t* targets, double tau, double alpha, double weight,
                    T* dlogits);

}  // namespace sb::train
