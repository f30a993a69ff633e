#include "evals/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <sstream>

namespace sb {

MeanStat mean_stat(const std::vector<double>& x) {
  MeanStat m;
  m.n = int64_t(x.size());
  if (x.empty()) return m;
  double s = 0;
  for (double v : x) s += v;
  m.mean = s / double(m.n);
  if (m.n > 1) {
    double ss = 0;
    for (double v : x) ss += (v - m.mean) * (v - m.mean);
    m.stderr_ = std::sqrt(ss / double(m.n - 1) / double(m.n));
  }
  m.ci_low = m.mean - 1.96 * m.stderr_;
  m.ci_high = m.mean + 1.96 * m.stderr_;
  return m;
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
      if (pred[i] == l && gold[i] == l) ++tp;
      else if (pred[i] == l) ++fp;
      else if (gold[i] == l) ++fn;
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

std::pair<double, double> bootstrap_ci(int64_t n, const std::function<double(const std::vector<int64_t>&)>& stat,
                                       int resamples, uint64_t seed) {
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
