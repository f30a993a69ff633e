#include "evals/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "engine/core/error.h"

namespace sb {

MeanStat mean_stat(const std::vector<double>& x, const Range& range) {
  MeanStat m;
  m.n = int64_t(x.size());
  if (x.empty()) return m;
  double s = 0;
  for (double v : x) s += v;
  m.mean = s / double(m.n);
  m.ci_low = m.ci_high = m.mean;
  if (m.n > 1) {
    double ss = 0;
    for (double v : x) ss += (v - m.mean) * (v - m.mean);
    m.stderr_ = std::sqrt(ss / double(m.n - 1) / double(m.n));
    const double t = student_t_quantile(0.975, m.n - 1);
    m.ci_low = m.mean - t * m.stderr_;
    m.ci_high = m.mean + t * m.stderr_;
  }
  std::tie(m.ci_low, m.ci_high) = clamp_interval(m.ci_low, m.ci_high, range);
  return m;
}

MeanStat proportion_stat(const std::vector<double>& x) {
  int64_t k = 0;
  for (double v : x) {
    if (v != 0 && v != 1) fail("proportion_stat: value ", v, " is not 0 or 1");
    k += v == 1;
  }
  MeanStat m = mean_stat(x, kUnitRange);
  if (!x.empty()) std::tie(m.ci_low, m.ci_high) = wilson_interval(k, m.n);
  return m;
}

namespace {

// Continued fraction of the regularized incomplete beta function, evaluated with the modified
// Lentz method (converges quickly for x < (a + 1) / (a + b + 2)).
double beta_continued_fraction(double a, double b, double x) {
  const double tiny = 1e-300;
  auto guard = [&](double v) { return std::fabs(v) < tiny ? tiny : v; };
  double c = 1, d = 1 / guard(1 - (a + b) * x / (a + 1)), h = d;
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));  // even step
    d = 1 / guard(1 + num * d);
    c = guard(1 + num / c);
    h *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));  // odd step
    d = 1 / guard(1 + num * d);
    c = guard(1 + num / c);
    const double step = d * c;
    h *= step;
    if (std::fabs(step - 1) < 1e-15) break;
  }
  return h;
}

// Regularized incomplete beta function I_x(a, b).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

// P(T > t) for Student's t with df degrees of freedom, t >= 0.
double t_upper_tail(double t, double df) { return 0.5 * incomplete_beta(df / 2, 0.5, df / (df + t * t)); }

}  // namespace

double student_t_quantile(double p, int64_t df) {
  if (!(p > 0 && p < 1) || df < 1) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0.5) return 0;
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  const double tail = 1 - p;
  double lo = 0, hi = 1;
  while (t_upper_tail(hi, double(df)) > tail) hi *= 2;  // bracket
  for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    (t_upper_tail(mid, double(df)) > tail ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

std::pair<double, double> wilson_interval(int64_t successes, int64_t n, double z) {
  if (n <= 0) return {0.0, 1.0};
  const double nn = double(n), p = double(successes) / nn, z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  // The bounds touch 0 and 1 exactly when no item / every item succeeded (rounding aside).
  return {successes <= 0 ? 0.0 : std::max(0.0, centre - half), successes >= n ? 1.0 : std::min(1.0, centre + half)};
}

std::pair<double, double> clamp_interval(double lo, double hi, const Range& r) {
  return {std::clamp(lo, r.lo, r.hi), std::clamp(hi, r.lo, r.hi)};
}

int select_choice(const std::vector<double>& scores, int gold) {
  int best = -1;
  for (size_t k = 0; k < scores.size(); ++k) {
    if (!std::isfinite(scores[k])) return -1;
    // Strictly better wins; an equal score replaces the gold (and only the gold).
    if (best < 0 || scores[k] > scores[size_t(best)] || (scores[k] == scores[size_t(best)] && best == gold)) best = int(k);
  }
  return best;
}

std::string squad_normalize(const std::string& s) {
  std::string lower;
  for (unsigned char c : s) {
    if (std::ispunct(c)) continue;
    lower += char(std::tolower(c));
  }
  std::istringstream in(lower);
  std::string w, out;
  while (in >> w) {
    if (w == "a" || w == "an" || w == "the") continue;
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

double exact_match(const std::string& pred, const std::vector<std::string>& golds) {
  const std::string p = squad_normalize(pred);
  for (const auto& g : golds)
    if (squad_normalize(g) == p) return 1.0;
  return 0.0;
}

double token_f1(const std::string& pred, const std::vector<std::string>& golds) {
  auto toks = [](const std::string& s) {
    std::vector<std::string> t;
    std::istringstream in(squad_normalize(s));
    std::string w;
    while (in >> w) t.push_back(w);
    return t;
  };
  const auto p = toks(pred);
  double best = 0;
  for (const auto& g : golds) {
    const auto gt = toks(g);
    if (p.empty() || gt.empty()) {
      best = std::max(best, p.empty() && gt.empty() ? 1.0 : 0.0);
      continue;
    }
    std::map<std::string, int> count;
    for (const auto& w : gt) ++count[w];
    int common = 0;
    for (const auto& w : p)
      if (count[w]-- > 0) ++common;
    if (common == 0) continue;
    const double prec = double(common) / double(p.size()), rec = double(common) / double(gt.size());
    best = std::max(best, 2 * prec * rec / (prec + rec));
  }
  return best;
}

double macro_f1(const std::vector<int>& pred, const std::vector<int>& gold, int n_labels) {
  double sum = 0;
  int counted = 0;
  for (int l = 0; l < n_labels; ++l) {
    int tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < pred.size(); ++i) {
      if (pred[i] == l && gold[i] == l)
        ++tp;
      else if (pred[i] == l)
        ++fp;
      else if (gold[i] == l)
        ++fn;
    }
    if (tp + fp + fn == 0) continue;
    sum += tp == 0 ? 0.0 : 2.0 * tp / double(2 * tp + fp + fn);
    ++counted;
  }
  return counted ? sum / counted : 0.0;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) {
    for (auto& c : w) c = char(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(w);
  }
  return out;
}

double distinct_n(const std::vector<std::string>& responses, int n) {
  std::set<std::vector<std::string>> uniq;
  int64_t total = 0;
  for (const auto& r : responses) {
    const auto w = words(r);
    for (size_t i = 0; i + size_t(n) <= w.size(); ++i) {
      uniq.insert(std::vector<std::string>(w.begin() + long(i), w.begin() + long(i) + n));
      ++total;
    }
  }
  return total ? double(uniq.size()) / double(total) : 0.0;
}

double repetition_rate(const std::string& response) {
  const auto w = words(response);
  if (w.size() < 3) return 0.0;
  std::set<std::vector<std::string>> seen;
  int repeated = 0, total = 0;
  for (size_t i = 0; i + 3 <= w.size(); ++i) {
    std::vector<std::string> g(w.begin() + long(i), w.begin() + long(i) + 3);
    if (!seen.insert(g).second) ++repeated;
    ++total;
  }
  return double(repeated) / double(total);
}

double jackknife_stderr(int64_t n, const std::function<double(const std::vector<int64_t>&)>& stat) {
  if (n < 2) return 0.0;
  std::vector<double> theta;
  std::vector<int64_t> idx;
  for (int64_t leave = 0; leave < n; ++leave) {
    idx.clear();
    for (int64_t k = 0; k < n; ++k)
      if (k != leave) idx.push_back(k);
    theta.push_back(stat(idx));
  }
  double mean = 0;
  for (double t : theta) mean += t;
  mean /= double(n);
  double ss = 0;
  for (double t : theta) ss += (t - mean) * (t - mean);
  return std::sqrt(double(n - 1) / double(n) * ss);
}

std::pair<double, double> bootstrap_ci(int64_t n, const std::function<double(const std::vector<int64_t>&)>& stat, int resamples,
                                       uint64_t seed) {
  if (n == 0) return {0, 0};
  std::mt19937_64 rng(seed);
  std::vector<double> vals;
  vals.reserve(size_t(resamples));
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int r = 0; r < resamples; ++r) {
    for (auto& i : idx) i = int64_t(rng() % uint64_t(n));
    vals.push_back(stat(idx));
  }
  std::sort(vals.begin(), vals.end());
  auto at = [&](double q) { return vals[std::min(vals.size() - 1, size_t(q * double(vals.size())))]; };
  return {at(0.025), at(0.975)};
}

}  // namespace sb
