#include "engine/train/optim.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace sb::train {

double Schedule::at(int64_t s) const {
  if (warmup > 0 && s < warmup) return lr * double(s + 1) / double(warmup);
  const int64_t span = std::max<int64_t>(1, total - warmup);
  const double progress = std::clamp(double(s - warmup) / double(span), 0.0, 1.0);
  return min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

template <class T>
double clip_grad_norm(std::vector<std::vector<T>>& grads, double max_norm) {
  double ss = 0;
  for (const auto& g : grads)
    for (T x : g) ss += double(x) * double(x);
  const double norm = std::sqrt(ss);
  if (max_norm > 0 && norm > max_norm) {
    const T k = T(max_norm / norm);
    for (auto& g : grads)
      for (T& x : g) x *= k;
  }
  return norm;
}

template <class T>
void AdamW<T>::step(std::vector<ParamTensor<T>>& params, const std::vector<std::vector<T>>& grads, double lr) {
  if (grads.size() != params.size()) fail("AdamW: ", grads.size(), " gradients for ", params.size(), " parameters");
  if (m_.empty()) {
    for (const auto& p : params) {
      m_.emplace_back(p.w.size(), 0.0);
      v_.emplace_back(p.w.size(), 0.0);
    }
  }
  if (m_.size() != params.size()) fail("AdamW: state of ", m_.size(), " tensors for ", params.size(), " parameters");
  for (size_t i = 0; i < params.size(); ++i)
    if (m_[i].size() != params[i].w.size() || grads[i].size() != params[i].w.size())
      fail("AdamW: ", params[i].name, ": ", params[i].w.size(), " values, ", m_[i].size(), " moments, ", grads[i].size(), " gradients");
  ++t_;
  const double bc1 = 1.0 - std::pow(o_.beta1, double(t_)), bc2 = 1.0 - std::pow(o_.beta2, double(t_));
  for (size_t i = 0; i < params.size(); ++i) {
    auto& w = params[i].w;
    const auto& g = grads[i];
    auto& m = m_[i];
    auto& v = v_[i];
    const double wd = params[i].matrix() ? o_.weight_decay : 0.0;
    for (size_t j = 0; j < w.size(); ++j) {
      const double gj = double(g[j]);
      m[j] = o_.beta1 * m[j] + (1 - o_.beta1) * gj;
      v[j] = o_.beta2 * v[j] + (1 - o_.beta2) * gj * gj;
      const double upd = (m[j] / bc1) / (std::sqrt(v[j] / bc2) + o_.eps) + wd * double(w[j]);
      w[j] = T(double(w[j]) - lr * upd);
    }
  }
}

template <class T>
void AdamW<T>::restore(int64_t t, std::vector<std::vector<double>> m, std::vector<std::vector<double>> v) {
  if (t < 0) fail("AdamW: restored step count ", t, " is negative");
  if (m.size() != v.size()) fail("AdamW: restored moments of ", m.size(), " and ", v.size(), " tensors");
  for (size_t i = 0; i < m.size(); ++i)
    if (m[i].size() != v[i].size()) fail("AdamW: restored tensor ", i, " has ", m[i].size(), " and ", v[i].size(), " moments");
  if ((t == 0) != m.empty()) fail("AdamW: restored step count ", t, " with moments of ", m.size(), " tensors");
  t_ = t;
  m_ = std::move(m);
  v_ = std::move(v);
}

template double clip_grad_norm<float>(std::vector<std::vector<float>>&, double);
template double clip_grad_norm<double>(std::vector<std::vector<double>>&, double);
template class AdamW<float>;
template class AdamW<double>;

}  // namespace sb::train
