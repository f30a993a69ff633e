#include "engine/generate/perplexity.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace sb {

double log_prob(const float* logits, int64_t n_vocab, int32_t target) {
  double mx = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) mx = std::max(mx, double(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i]) - mx);
  return double(logits[target]) - mx - std::log(sum);
}

namespace {

void finish(PerplexityResult& r) {
  const double n = double(r.token_nll.size());
  if (n == 0) fail("perplexity: nothing was scored");
  double sum = 0, sum2 = 0;
  for (double v : r.token_nll) {
    sum += v;
    sum2 += v * v;
  }
  r.n_scored = int64_t(n);
  r.mean_nll = sum / n;
  const double var = n > 1 ? std::max(0.0, (sum2 / n - r.mean_nll * r.mean_nll) * n / (n - 1)) : 0.0;
  r.nll_stderr = std::sqrt(var / n);
  r.ppl = std::exp(r.mean_nll);
  r.ppl_stderr = r.ppl * r.nll_stderr;
}

double running(const std::vector<double>& nll) {
  double s = 0;
  for (double v : nll) s += v;
  return std::exp(s / double(nll.size()));
}

}  // namespace

PerplexityResult perplexity(Context& ctx, const Tokenizer& tok, const std::string& text, PplProtocol protocol, int64_t n_ctx,
                            const std::function<void(int64_t, int64_t)>& on_chunk, const ScoredRowFn& on_scored) {
  const int64_t V = ctx.model().config().n_vocab;
  if (n_ctx < 8) fail("perplexity: context ", n_ctx, " is too small (at least 8)");
  if (n_ctx > ctx.n_ctx()) fail("perplexity: context ", n_ctx, " exceeds the model context ", ctx.n_ctx());
  std::vector<int32_t> ids = tok.encode(text, true);
  PerplexityResult r;
  r.n_tokens = int64_t(ids.size());
  std::vector<float> logits;
  if (protocol == PplProtocol::LlamaCpp) {
    const int64_t n_chunk = r.n_tokens / n_ctx;
    if (n_chunk == 0) fail("perplexity: the text has ", r.n_tokens, " tokens, fewer than one chunk of ", n_ctx);
    r.n_chunks = n_chunk;
    for (int64_t c = 0; c < n_chunk; ++c) {
      std::vector<int32_t> chunk(ids.begin() + c * n_ctx, ids.begin() + (c + 1) * n_ctx);
      if (tok.bos_id() >= 0) chunk[0] = tok.bos_id();
      ctx.rewind(0);
      ctx.eval(chunk.data(), n_ctx, true, logits);
      for (int64_t j = n_ctx / 2; j <= n_ctx - 2; ++j) {
        r.token_nll.push_back(-log_prob(logits.data() + j * V, V, ids[size_t(c * n_ctx + j + 1)]));
        if (on_scored) on_scored(logits.data() + j * V, ids[size_t(c * n_ctx + j + 1)]);
      }
      r.running_ppl.push_back(running(r.token_nll));
      if (on_chunk) on_chunk(c + 1, n_chunk);
    }
  } else {
    if (r.n_tokens < 2) fail("perplexity: the text has no tokens to score");
    const int64_t stride = std::max<int64_t>(1, n_ctx / 2);
    int64_t scored_to = 0;  // predictions of tokens 1..scored_to are done
    std::vector<int64_t> starts;
    for (int64_t s = 0;; s += stride) {
      starts.push_back(s);
      if (s + n_ctx >= r.n_tokens) break;
    }
    r.n_chunks = int64_t(starts.size());
    for (size_t w = 0; w < starts.size(); ++w) {
      const int64_t s = starts[w], e = std::min(r.n_tokens, s + n_ctx);
      ctx.rewind(0);
      ctx.eval(ids.data() + s, e - s, true, logits);
      // row j predicts token s + j + 1
      for (int64_t j = 0; s + j + 1 < e; ++j) {
        const int64_t target = s + j + 1;
        if (target <= scored_to) continue;
        r.token_nll.push_back(-log_prob(logits.data() + j * V, V, ids[size_t(target)]));
        if (on_scored) on_scored(logits.data() + j * V, ids[size_t(target)]);
        scored_to = target;
      }
      r.running_ppl.push_back(running(r.token_nll));
      if (on_chunk) on_chunk(int64_t(w) + 1, r.n_chunks);
    }
  }
  finish(r);
  if (protocol == PplProtocol::Sliding && !text.empty()) {
    double total = 0;
    for (double v : r.token_nll) total += v;
    r.bits_per_byte = total / std::log(2.0) / double(text.size());
  }
  return r;
}

}  // namespace sb
