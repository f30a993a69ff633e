// Statistics for compare/history; see reports/stats.h for the definitions.
#include "reports/stats.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>

namespace sb::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// log C(n, k)
double log_choose(double n, double k) { return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1); }

// SplitMix64: a small, fully specified generator, so bootstrap results are the same everywhere
// (std::uniform_int_distribution is implementation-defined).
struct SplitMix64 {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-40 for the n used here).
  size_t below(size_t n) { return size_t((unsigned __int128)next() * n >> 64); }
};

// Percentile of sorted values, linear interpolation between order statistics (type 7).
double percentile_sorted(const std::vector<double>& s, double q) {
  if (s.empty()) return kNaN;
  const double pos = q * double(s.size() - 1);
  const size_t i = size_t(std::floor(pos));
  if (i + 1 >= s.size()) return s.back();
  return s[i] + (pos - double(i)) * (s[i + 1] - s[i]);
}

}  // namespace

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double normal_quantile(double p) {
  if (!(p > 0 && p < 1)) return p == 0 ? -std::numeric_limits<double>::infinity() : p == 1 ? std::numeric_limits<double>::infinity() : kNaN;
  double lo = -40, hi = 40;
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (normal_cdf(mid) < p)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

double median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  const size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + long(h), v.end());
  const double upper = v[h];
  if (v.size() % 2) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + long(h));
  return 0.5 * (lower + upper);
}

double binomial_half_cdf(int64_t k, int64_t n) {
  if (k < 0) return 0;
  if (k >= n) return 1;
  // log-sum-exp of log C(n, i) - n log 2 over i = 0..k
  std::vector<double> terms;
  terms.reserve(size_t(k) + 1);
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i <= k; ++i) {
    terms.push_back(log_choose(double(n), double(i)) - double(n) * std::log(2.0));
    mx = std::max(mx, terms.back());
  }
  double s = 0;
  for (double t : terms) s += std::exp(t - mx);
  return std::min(1.0, std::exp(mx + std::log(s)));
}

double mcnemar_exact_p(int64_t b, int64_t c) {
  const int64_t n = b + c;
  if (n <= 0) return 1;
  return std::min(1.0, 2.0 * binomial_half_cdf(std::min(b, c), n));
}

PairedDiff paired_pass_fail(int64_t b, int64_t c, int64_t n, double alpha) {
  PairedDiff r;
  r.n = n;
  if (n <= 0) return r;
  const double dn = double(n);
  r.mean = double(c - b) / dn;
  const double var_n = std::max(0.0, double(b + c) - double(c - b) * double(c - b) / dn);
  const double se = std::sqrt(var_n) / dn;
  const double z = normal_quantile(1 - alpha / 2);
  r.lo = r.mean - z * se;
  r.hi = r.mean + z * se;
  r.p = mcnemar_exact_p(b, c);
  return r;
}

PairedDiff paired_bootstrap(const std::vector<double>& baseline, const std::vector<double>& candidate, double alpha, int resamples,
                            uint64_t seed) {
  PairedDiff r;
  const size_t n = std::min(baseline.size(), candidate.size());
  r.n = int64_t(n);
  if (n == 0) return r;
  std::vector<double> d(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    d[i] = candidate[i] - baseline[i];
    sum += d[i];
  }
  r.mean = sum / double(n);
  double scale = 0;
  for (double x : d) scale = std::max(scale, std::fabs(x));
  if (scale == 0 || resamples <= 0) {  // all differences zero: nothing varies
    r.lo = r.hi = r.mean;
    r.p = 1;
    return r;
  }
  SplitMix64 rng{seed};
  std::vector<double> means(static_cast<size_t>(resamples));
  const double tol = 1e-12 * scale;
  int64_t extreme = 0;
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += d[rng.below(n)];
    m = s / double(n);
    if (std::fabs(m - r.mean) >= std::fabs(r.mean) - tol) ++extreme;
  }
  std::sort(means.begin(), means.end());
  r.lo = percentile_sorted(means, alpha / 2);
  r.hi = percentile_sorted(means, 1 - alpha / 2);
  r.p = std::min(1.0, double(1 + extreme) / double(1 + resamples));
  return r;
}

MannWhitney mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y) {
  MannWhitney r;
  const size_t n1 = x.size(), n2 = y.size();
  if (n1 == 0 || n2 == 0) return r;
  // Pooled ranks with ties averaged.
  std::vector<std::pair<double, int>> all;
  for (double v : x) all.push_back({v, 0});
  for (double v : y) all.push_back({v, 1});
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const size_t n = all.size();
  double r1 = 0, tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) ++j;
    const double t = double(j - i);
    const double rank = 0.5 * (double(i + 1) + double(j));  // average of ranks i+1..j
    for (size_t k = i; k < j; ++k)
      if (all[k].second == 0) r1 += rank;
    if (j - i > 1) {
      ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  r.u = r1 - double(n1) * double(n1 + 1) / 2;
  const double mu = double(n1) * double(n2) / 2;
  if (!ties && n1 <= 50 && n2 <= 50) {
    // Exact null distribution: N(u; a, b) arrangements of a x's and b y's with U = u satisfy
    // N(u; a, b) = N(u - b; a - 1, b) + N(u; a, b - 1) (is the largest value an x or a y?).
    const size_t umax = n1 * n2;
    std::vector<std::vector<double>> prev(n1 + 1), cur(n1 + 1);
    for (size_t a = 0; a <= n1; ++a) prev[a] = {1.0};  // b = 0: U is 0
    for (size_t b = 1; b <= n2; ++b) {
      cur[0] = {1.0};
      for (size_t a = 1; a <= n1; ++a) {
        std::vector<double> f(a * b + 1, 0.0);
        for (size_t u = 0; u < prev[a].size(); ++u) f[u] += prev[a][u];
        for (size_t u = 0; u < cur[a - 1].size(); ++u) f[u + b] += cur[a - 1][u];
        cur[a] = std::move(f);
      }
      std::swap(prev, cur);
    }
    const std::vector<double>& counts = prev[n1];
    double total = 0;
    for (double c : counts) total += c;
    const size_t u_lo = size_t(std::llround(std::min(r.u, double(umax) - r.u)));
    double tail = 0;
    for (size_t u = 0; u <= u_lo && u < counts.size(); ++u) tail += counts[u];
    r.p = std::min(1.0, 2 * tail / total);
    r.exact = true;
    return r;
  }
  const double dn = double(n);
  const double var = double(n1) * double(n2) / 12 * ((dn + 1) - tie_term / (dn * (dn - 1)));
  if (var <= 0) {
    r.p = 1;
    return r;
  }
  const double z = std::max(0.0, std::fabs(r.u - mu) - 0.5) / std::sqrt(var);
  r.p = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return r;
}

double mann_whitney_min_p(size_t n1, size_t n2) {
  if (n1 == 0 || n2 == 0) return 1;
  return std::min(1.0, 2.0 * std::exp(-log_choose(double(n1 + n2), double(n1))));
}

double successive_difference_sigma(const std::vector<double>& y) {
  if (y.size() < 2) return 0;
  std::vector<double> d;
  for (size_t i = 0; i + 1 < y.size(); ++i) d.push_back(std::fabs(y[i + 1] - y[i]));
  return 1.4826 * median(d) / std::sqrt(2.0);
}

std::vector<size_t> detect_steps(const std::vector<double>& y, double penalty, std::vector<double>* levels) {
  const size_t n = y.size();
  std::vector<size_t> steps;
  if (levels) levels->assign(n, kNaN);
  if (n == 0) return steps;
  // best[j]: minimal cost of y[0..j); start[j]: where the last segment of that fit begins.
  std::vector<double> best(n + 1, std::numeric_limits<double>::infinity());
  std::vector<size_t> start(n + 1, 0);
  best[0] = 0;
  for (size_t i = 0; i < n; ++i) {
    // Extend a segment starting at i one point at a time, keeping its median with two heaps
    // (lower half: max-heap, upper half: min-heap) and their sums, so the L1 cost is O(log n).
    std::priority_queue<double> lower;
    std::priority_queue<double, std::vector<double>, std::greater<double>> upper;
    double sum_lower = 0, sum_upper = 0;
    for (size_t j = i; j < n; ++j) {
      const double v = y[j];
      if (lower.empty() || v <= lower.top()) {
        lower.push(v);
        sum_lower += v;
      } else {
        upper.push(v);
        sum_upper += v;
      }
      if (lower.size() > upper.size() + 1) {
        const double t = lower.top();
        lower.pop();
        sum_lower -= t;
        upper.push(t);
        sum_upper += t;
      } else if (upper.size() > lower.size()) {
        const double t = upper.top();
        upper.pop();
        sum_upper -= t;
        lower.push(t);
        sum_lower += t;
      }
      const double m = lower.top();
      const double cost = std::max(0.0, (m * double(lower.size()) - sum_lower) + (sum_upper - m * double(upper.size())));
      const double total = best[i] + cost + penalty;
      if (total < best[j + 1]) {
        best[j + 1] = total;
        start[j + 1] = i;
      }
    }
  }
  for (size_t j = n; j > 0; j = start[j]) {
    if (start[j] > 0) steps.push_back(start[j]);
    if (levels) {
      std::vector<double> seg(y.begin() + long(start[j]), y.begin() + long(j));
      const double m = median(seg);
      for (size_t k = start[j]; k < j; ++k) (*levels)[k] = m;
    }
  }
  std::reverse(steps.begin(), steps.end());
  return steps;
}

double step_penalty(const std::vector<double>& y, double noise_floor, double gamma) {
  // With few points the successive differences are too few for a robust estimate (in 3 points
  // one step is half of them), so a known noise floor is used alone below kMinPointsForData.
  constexpr size_t kMinPointsForData = 8;
  double sigma = std::isfinite(noise_floor) && noise_floor > 0 ? noise_floor : 0.0;
  if (sigma == 0 || y.size() >= kMinPointsForData) sigma = std::max(sigma, successive_difference_sigma(y));
  const double med = median(y);
  sigma = std::max(sigma, 1e-9 * std::max(1.0, std::isfinite(med) ? std::fabs(med) : 1.0));
  return gamma * sigma * std::log(double(std::max<size_t>(y.size(), 2)));
}

}  // namespace sb::stats
