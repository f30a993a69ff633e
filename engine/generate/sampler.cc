#include "engine/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace sb {

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return int32_t(best);
}

namespace {
uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Sampler::Sampler(const SamplerParams& p) : p_(p) {
  uint64_t x = p.seed;
  for (auto& s : s_) s = splitmix(x);
}

double Sampler::uniform() {  // xoshiro256**
  const uint64_t r = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return double(r >> 11) * 0x1.0p-53;
}

int32_t Sampler::sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history) {
  if (p_.temperature <= 0.0f && p_.repeat_penalty == 1.0f) return argmax(logits, n_vocab);
  cand_.resize(size_t(n_vocab));
  for (int64_t i = 0; i < n_vocab; ++i) cand_[size_t(i)] = {logits[i], int32_t(i)};
  if (p_.repeat_penalty != 1.0f && p_.repeat_last_n != 0) {
    const size_t n = p_.repeat_last_n < 0 ? history.size() : std::min(history.size(), size_t(p_.repeat_last_n));
    std::unordered_set<int32_t> seen(history.end() - long(n), history.end());
    for (int32_t id : seen) {
      if (id < 0 || id >= n_vocab) continue;
      float& l = cand_[size_t(id)].first;
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
    }
  }
  // Order: descending logit, ascending id for ties (deterministic).
  auto better = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  if (p_.temperature <= 0.0f) return std::min_element(cand_.begin(), cand_.end(), better)->second;
  size_t keep = cand_.size();
  if (p_.top_k > 0 && size_t(p_.top_k) < keep) {
    keep = size_t(p_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + long(keep), cand_.end(), better);
  } else {
    std::sort(cand_.begin(), cand_.end(), better);
  }
  cand_.resize(keep);
  // softmax at temperature 1 for top-p / min-p filtering (as llama.cpp does before temp)
  std::vector<double> prob(cand_.size());
  const double mx = cand_[0].first;
  double sum = 0;
  for (size_t i = 0; i < cand_.size(); ++i) sum += prob[i] = std::exp(double(cand_[i].first) - mx);
  if (p_.top_p < 1.0f) {
    double cum = 0;
    size_t i = 0;
    for (; i < cand_.size(); ++i) {
      cum += prob[i] / sum;
      if (cum >= p_.top_p) {
        ++i;
        break;
      }
    }
    keep = std::max<size_t>(1, std::min(i, cand_.size()));
    cand_.resize(keep);
  }
  if (p_.min_p > 0.0f) {
    const double thresh = std::log(double(p_.min_p));  // relative to the top logit
    size_t i = 1;
    while (i < cand_.size() && double(cand_[i].first) - mx >= thresh) ++i;
    cand_.resize(i);
  }
  sum = 0;
  prob.resize(cand_.size());
  for (size_t i = 0; i < cand_.size(); ++i) sum += prob[i] = std::exp((double(cand_[i].first) - mx) / p_.temperature);
  double r = uniform() * sum;
  for (size_t i = 0; i < cand_.size(); ++i) {
    r -= prob[i];
    if (r < 0) return cand_[i].second;
  }
  return cand_.back().second;
}

}  // namespace sb
