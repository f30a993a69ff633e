#include "engine/train/loss.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/error.h"

namespace sb::train {

TopK top_k(const float* logits, int64_t R, int64_t V, int64_t k) {
  if (k < 1 || k > V) fail("top-k: k = ", k, " must be in 1..", V);
  TopK t;
  t.rows = R;
  t.k = k;
  t.idx.resize(size_t(R * k));
  t.val.resize(size_t(R * k));
  std::vector<int32_t> order(static_cast<size_t>(V));
  for (int64_t r = 0; r < R; ++r) {
    const float* z = logits + r * V;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); });
    for (int64_t i = 0; i < k; ++i) {
      t.idx[size_t(r * k + i)] = order[size_t(i)];
      t.val[size_t(r * k + i)] = z[order[size_t(i)]];
    }
  }
  return t;
}

// Rows run in parallel (OpenMP) when there is enough work; every row's arithmetic is the same
// in any thread, and row losses are summed in row order, so results do not depend on threads.
constexpr int64_t kParallelWork = 1 << 16;

template <class T>
void log_softmax(const T* z, int64_t R, int64_t V, T* out) {
#pragma omp parallel for schedule(static) if (R * V > kParallelWork)
  for (int64_t r = 0; r < R; ++r) {
    const T* zr = z + r * V;
    double mx = -INFINITY;
    for (int64_t v = 0; v < V; ++v) mx = std::max(mx, double(zr[v]));
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(double(zr[v]) - mx);
    const double lse = mx + std::log(sum);
    for (int64_t v = 0; v < V; ++v) out[r * V + v] = T(double(zr[v]) - lse);
  }
}

template <class T>
double cross_entropy(const T* z, int64_t R, int64_t V, const int32_t* targets, double weight, T* dlogits) {
  int64_t n = 0;
  for (int64_t r = 0; r < R; ++r) {
    n += targets[r] >= 0;
    if (targets[r] >= V) fail("cross-entropy: target ", targets[r], " at row ", r, " is outside the vocabulary of ", V);
  }
  if (n == 0) return 0.0;
  std::vector<double> row_loss(static_cast<size_t>(R), 0.0);
#pragma omp parallel if (R * V > kParallelWork)
  {
    std::vector<T> ls(static_cast<size_t>(V));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; ++r) {
      const int32_t y = targets[r];
      if (y < 0) continue;
      log_softmax(z + r * V, 1, V, ls.data());
      row_loss[size_t(r)] = -double(ls[size_t(y)]);
      if (dlogits) {
        T* d = dlogits + r * V;
        for (int64_t v = 0; v < V; ++v) d[v] += T(weight / double(n) * (std::exp(double(ls[size_t(v)])) - (v == y)));
      }
    }
  }
  double loss = 0;
  for (double l : row_loss) loss += l;
  return loss / double(n);
}

template <class T>
double kl_topk(const T* z, int64_t R, int64_t V, const TopK& teacher, double tau, double weight, T* dlogits) {
  if (teacher.rows != R) fail("distillation: teacher has ", teacher.rows, " rows, student ", R);
  if (!(tau > 0)) fail("distillation: temperature must be > 0, got ", tau);
  const int64_t k = teacher.k;
  std::vector<double> row_loss(static_cast<size_t>(R), 0.0);
#pragma omp parallel if (R * V > kParallelWork)
  {
    std::vector<T> zs(static_cast<size_t>(V)), lq(static_cast<size_t>(V));
    std::vector<double> p(static_cast<size_t>(k));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; ++r) {
      for (int64_t v = 0; v < V; ++v) zs[size_t(v)] = T(double(z[r * V + v]) / tau);
      log_softmax(zs.data(), 1, V, lq.data());
      const float* tv = teacher.val.data() + r * k;
      const int32_t* ti = teacher.idx.data() + r * k;
      double mx = -INFINITY, sum = 0;
      for (int64_t i = 0; i < k; ++i) mx = std::max(mx, double(tv[i]) / tau);
      for (int64_t i = 0; i < k; ++i) sum += (p[size_t(i)] = std::exp(double(tv[i]) / tau - mx));
      double kl = 0;
      for (int64_t i = 0; i < k; ++i) {
        p[size_t(i)] /= sum;
        if (p[size_t(i)] > 0) kl += p[size_t(i)] * (std::log(p[size_t(i)]) - double(lq[size_t(ti[i])]));
      }
      row_loss[size_t(r)] = tau * tau * kl;
      if (dlogits) {
        const double g = weight * tau / double(R);
        T* d = dlogits + r * V;
        for (int64_t v = 0; v < V; ++v) d[v] += T(g * std::exp(double(lq[size_t(v)])));
        for (int64_t i = 0; i < k; ++i) d[ti[i]] -= T(g * p[size_t(i)]);
      }
    }
  }
  double loss = 0;
  for (double l : row_loss) loss += l;
  return loss / double(R);
}

template <class T>
double distill_loss(const T* z, int64_t R, int64_t V, const TopK& teacher, const int32_t* targets, double tau, double alpha, double weight,
                    T* dlogits) {
  double loss = 0;
  if (alpha != 0) loss += alpha * kl_topk(z, R, V, teacher, tau, weight * alpha, dlogits);
  if (alpha != 1) loss += (1 - alpha) * cross_entropy(z, R, V, targets, weight * (1 - alpha), dlogits);
  return loss;
}

#define SB_TRAIN_LOSS(T)                                                                    \
  template void log_softmax<T>(const T*, int64_t, int64_t, T*);                             \
  template double cross_entropy<T>(const T*, int64_t, int64_t, const int32_t*, double, T*); \
  template double kl_topk<T>(const T*, int64_t, int64_t, const TopK&, double, double, T*);  \
  template double distill_loss<T>(const T*, int64_t, int64_t, const TopK&, const int32_t*, double, double, double, T*);
SB_TRAIN_LOSS(float)
SB_TRAIN_LOSS(double)

}  // namespace sb::train
