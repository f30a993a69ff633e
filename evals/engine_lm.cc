#include "evals/engine_lm.h"

#include <algorithm>

#include "engine/core/error.h"
#include "engine/core/sha256.h"
#include "engine/generate/generate.h"
#include "engine/generate/perplexity.h"
#include "engine/generate/sampler.h"

namespace sb {

std::string engine_lm_identity(const EngineLMSettings& s, const std::string& backend, DType kv_type, int64_t n_ctx, int64_t n_batch) {
  std::string id = s.model_sha256 + "|" + s.variant + "|" + backend + "|kv=" + dtype_name(kv_type) + "|compute=" + s.compute;
  if (!s.calibration_sha256.empty()) id += "|calib=" + s.calibration_sha256;
  if (!s.chat_template.empty())
    id += "|chat=" + sha256_hex(s.chat_template) + "|system=" + sha256_hex(s.chat_system) + "|chat_scoring=" + (s.chat_scoring ? "1" : "0");
  return id + "|ctx=" + std::to_string(n_ctx) + "|batch=" + std::to_string(n_batch);
}

EngineLM::EngineLM(const Model& model, const Tokenizer& tok, const ContextOptions& opt, const EngineLMSettings& settings)
    : model_(model),
      tok_(tok),
      ctx_(model, opt),
      identity_(engine_lm_identity(settings, model.backend().name(), opt.kv_type, ctx_.n_ctx(), opt.n_batch)) {}

void EngineLM::eval_from(const std::vector<int32_t>& ids, int64_t from, std::vector<float>& logits) {
  // Longest shared prefix with what the cache holds; at least one token must be evaluated so
  // that row `from` has logits.
  int64_t keep = 0;
  while (keep < int64_t(cached_.size()) && keep < int64_t(ids.size()) && cached_[size_t(keep)] == ids[size_t(keep)]) ++keep;
  keep = std::min(keep, from);
  ctx_.rewind(keep);
  cached_.assign(ids.begin(), ids.begin() + keep);
  ctx_.eval_rows(ids.data() + keep, int64_t(ids.size()) - keep, from - keep, logits);
  cached_ = ids;
}

LLResult EngineLM::loglikelihood(const LLRequest& r) {
  const bool bos = tok_.add_bos_default();
  auto encode = [&](const std::string& t) { return r.chat ? tok_.encode_chat(t) : tok_.encode(t, bos); };
  std::vector<int32_t> whole = encode(r.context + r.continuation);
  std::vector<int32_t> ctx = encode(r.context);
  size_t split = 0;
  while (split < ctx.size() && split < whole.size() && ctx[split] == whole[split]) ++split;
  if (split == whole.size()) fail("loglikelihood: the continuation adds no tokens");
  if (split == 0) fail("loglikelihood: empty context (no BOS to condition on)");
  const int64_t n_ctx = ctx_.n_ctx();
  const int64_t n_cont = int64_t(whole.size() - split);
  if (n_cont >= n_ctx) fail("loglikelihood: continuation of ", n_cont, " tokens does not fit the context of ", n_ctx);
  if (int64_t(whole.size()) > n_ctx) {  // keep the tail
    const int64_t drop = int64_t(whole.size()) - n_ctx;
    whole.erase(whole.begin(), whole.begin() + drop);
    split -= size_t(drop);
  }
  std::vector<float> logits;
  // row j (relative to split - 1) predicts whole[split + j]
  eval_from(whole, int64_t(split) - 1, logits);
  const int64_t V = model_.config().n_vocab;
  LLResult out;
  out.is_greedy = true;
  out.n_tokens = n_cont;
  for (int64_t j = 0; j < n_cont; ++j) {
    const float* row = logits.data() + j * V;
    const int32_t target = whole[split + size_t(j)];
    out.logprob += log_prob(row, V, target);
    if (argmax(row, V) != target) out.is_greedy = false;
  }
  return out;
}

RollingResult EngineLM::loglikelihood_rolling(const std::string& text) {
  RollingResult out;
  out.n_bytes = int64_t(text.size());
  const bool bos = tok_.add_bos_default();
  std::vector<int32_t> ids = tok_.encode(text, bos);
  if (ids.size() < 2) return out;
  const int64_t n_ctx = ctx_.n_ctx(), V = model_.config().n_vocab;
  const int64_t stride = std::max<int64_t>(1, n_ctx / 2);
  int64_t scored_to = 0;
  std::vector<float> logits;
  for (int64_t s = 0;; s += stride) {
    const int64_t e = std::min(int64_t(ids.size()), s + n_ctx);
    std::vector<int32_t> window(ids.begin() + s, ids.begin() + e);
    eval_from(window, 0, logits);
    for (int64_t j = 0; s + j + 1 < e; ++j) {
      if (s + j + 1 <= scored_to) continue;
      out.logprob += log_prob(logits.data() + j * V, V, ids[size_t(s + j + 1)]);
      ++out.n_tokens;
      scored_to = s + j + 1;
    }
    if (e == int64_t(ids.size())) break;
  }
  return out;
}

int64_t EngineLM::count_tokens(const std::string& text) const { return int64_t(tok_.encode(text, tok_.add_bos_default()).size()); }

TokenLogprobs EngineLM::token_logprobs(const std::string& text) {
  const std::vector<int32_t> ids = tok_.encode(text, tok_.add_bos_default());
  const int64_t n_ctx = ctx_.n_ctx(), V = model_.config().n_vocab;
  if (int64_t(ids.size()) > n_ctx) fail("token_logprobs: text of ", ids.size(), " tokens does not fit the context of ", n_ctx);
  TokenLogprobs out;
  if (ids.size() < 2) return out;
  std::vector<float> logits;
  eval_from(ids, 0, logits);
  out.logprob.reserve(ids.size() - 1);
  for (size_t j = 0; j + 1 < ids.size(); ++j) out.logprob.push_back(log_prob(logits.data() + j * size_t(V), V, ids[j + 1]));
  return out;
}

GenResult EngineLM::generate(const GenRequest& r) {
  std::vector<int32_t> ids = r.chat ? tok_.encode_chat(r.prompt) : tok_.encode(r.prompt, tok_.add_bos_default());
  const int64_t n_ctx = ctx_.n_ctx();
  const int64_t room = std::max<int64_t>(1, std::min<int64_t>(r.max_tokens, n_ctx / 2));
  if (int64_t(ids.size()) + room > n_ctx) {  // keep the prompt's tail (BOS first)
    const int64_t keep = n_ctx - room;
    std::vector<int32_t> tail(ids.end() - (keep - 1), ids.end());
    tail.insert(tail.begin(), ids.front());
    ids = tail;
  }
  ctx_.rewind(0);
  cached_.clear();
  GenerateOptions g;
  g.max_tokens = r.max_tokens;
  g.stop = r.stop;
  g.sampling.temperature = r.temperature;
  g.sampling.top_p = r.top_p;
  g.sampling.top_k = r.top_k;
  g.sampling.seed = r.seed;
  GenerateResult res = sb::generate(ctx_, tok_, ids, g);
  // The cache now holds prompt + generated tokens except the last sampled one.
  cached_ = ids;
  cached_.insert(cached_.end(), res.generated_ids.begin(), res.generated_ids.end());
  cached_.resize(size_t(ctx_.pos()));
  GenResult out;
  out.text = res.text;
  out.stop_reason = res.stop_reason;
  out.n_prompt_tokens = int64_t(ids.size());
  out.n_gen_tokens = int64_t(res.generated_ids.size());
  out.ttft_ms = res.timings.ttft_ms;
  out.tpot_ms = res.timings.tpot_ms();
  out.total_ms = res.timings.total_ms;
  return out;
}

}  // namespace sb
