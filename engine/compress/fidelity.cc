#include "engine/compress/fidelity.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/generate/perplexity.h"

namespace sb::compress {
namespace {

// log-softmax of n logits, in double, written as float; returns the argmax.
int64_t log_softmax(const float* x, int64_t n, std::vector<double>& out) {
  out.resize(size_t(n));
  int64_t best = 0;
  double mx = x[0];
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > mx) mx = x[i], best = i;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - mx);
  const double lse = mx + std::log(sum);
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(x[i]) - lse;
  return best;
}

double quantile(std::vector<double> v, double q) {  // linear interpolation between order statistics
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(pos), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

}  // namespace

FidelityReference fidelity_reference(Context& ctx, const Tokenizer& tok, const std::string& text, int64_t n_ctx) {
  FidelityReference ref;
  ref.n_vocab = ctx.model().config().n_vocab;
  ref.n_ctx = n_ctx;
  std::vector<double> lp;
  auto r = perplexity(ctx, tok, text, PplProtocol::Sliding, n_ctx, nullptr, [&](const float* logits, int32_t target) {
    log_softmax(logits, ref.n_vocab, lp);
    ref.targets.push_back(target);
    for (double v : lp) ref.logp.push_back(float(v));
  });
  ref.nll = r.token_nll;
  ref.ppl = r.ppl;
  return ref;
}

Fidelity measure_fidelity(const FidelityReference& ref, Context& ctx, const Tokenizer& tok, const std::string& text) {
  const int64_t V = ref.n_vocab;
  if (ctx.model().config().n_vocab != V)
    fail("fidelity: the variant has ", ctx.model().config().n_vocab, " tokens in its vocabulary, the baseline ", V);
  std::vector<double> kld, lp;
  int64_t same = 0;
  double dp2 = 0;
  size_t i = 0;
  auto r = perplexity(ctx, tok, text, PplProtocol::Sliding, ref.n_ctx, nullptr, [&](const float* logits, int32_t target) {
    if (i >= ref.n_scored() || ref.targets[i] != target) fail("fidelity: the variant scored different tokens than the baseline");
    const int64_t top = log_softmax(logits, V, lp);
    const float* b = ref.logp.data() + i * size_t(V);
    double kl = 0;
    int64_t btop = 0;
    for (int64_t k = 0; k < V; ++k) {
      const double pb = std::exp(double(b[k]));
      // both sides rounded to float as the reference is stored: identical models give exactly 0
      kl += pb * (double(b[k]) - double(float(lp[size_t(k)])));
      if (b[k] > b[btop]) btop = k;
    }
    kld.push_back(std::max(0.0, kl));
    same += top == btop;
    const double d = std::exp(lp[size_t(target)]) - std::exp(double(b[target]));
    dp2 += d * d;
    ++i;
  });
  if (i != ref.n_scored()) fail("fidelity: the variant scored ", i, " tokens, the baseline ", ref.n_scored());
  Fidelity f;
  const double n = double(i);
  f.n_tokens = int64_t(i);
  double s = 0, s2 = 0;
  for (double v : kld) s += v, s2 += v * v;
  f.kld_mean = s / n;
  f.kld_mean_stderr = n > 1 ? std::sqrt(std::max(0.0, (s2 / n - f.kld_mean * f.kld_mean) / (n - 1))) : 0;
  f.kld_median = quantile(kld, 0.5);
  f.kld_p99 = quantile(kld, 0.99);
  f.kld_max = *std::max_element(kld.begin(), kld.end());
  const double p = double(same) / n;
  f.same_top1 = 100.0 * p;
  f.same_top1_stderr = 100.0 * std::sqrt(p * (1 - p) / n);
  // PPL ratio: exp of the mean per-token log-ratio, with its standard error by the delta method.
  double d = 0, d2 = 0;
  for (size_t t = 0; t < i; ++t) {
    const double x = r.token_nll[t] - ref.nll[t];
    d += x, d2 += x * x;
  }
  const double md = d / n, sd_mean = n > 1 ? std::sqrt(std::max(0.0, (d2 / n - md * md) / (n - 1))) : 0;
  f.ppl_base = ref.ppl;
  f.ppl = r.ppl;
  f.ppl_ratio = std::exp(md);
  f.ppl_ratio_stderr = f.ppl_ratio * sd_mean;
  f.ppl_delta = f.ppl - f.ppl_base;
  f.ppl_delta_stderr = f.ppl_base * f.ppl_ratio_stderr;
  f.rms_dp = 100.0 * std::sqrt(dp2 / n);
  return f;
}

}  // namespace sb::compress
