#include "engine/generate/generate.h"

#include <algorithm>
#include <chrono>

#include "engine/core/error.h"

namespace sb {

double GenerationTimings::tpot_ms() const {
  return token_ms.size() < 2 ? 0.0 : (total_ms - ttft_ms) / double(token_ms.size() - 1);
}

namespace {

// Length of the longest suffix of `text` that is a proper prefix of some stop string.
size_t holdback(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const auto& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > best; --len) {
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        best = len;
        break;
      }
    }
  }
  return best;
}

}  // namespace

GenerateResult generate(Context& ctx, const Tokenizer& tok, const std::vector<int32_t>& prompt_ids,
                        const GenerateOptions& opt, const TokenCallback& cb) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  auto ms_since = [&](clock::time_point t) { return std::chrono::duration<double, std::milli>(t - t0).count(); };
  GenerateResult r;
  r.prompt_ids = prompt_ids;
  if (prompt_ids.empty()) fail("generate: the prompt has no tokens");
  for (const auto& s : opt.stop)
    if (s.empty()) fail("generate: empty stop string");
  const int64_t V = ctx.model().config().n_vocab;
  std::vector<float> logits;
  ctx.eval(prompt_ids.data(), int64_t(prompt_ids.size()), false, logits);
  r.timings.prompt_ms = ms_since(clock::now());

  Sampler sampler(opt.sampling);
  IncrementalDecoder dec(tok);
  std::vector<int32_t> history = prompt_ids;
  size_t emitted = 0;  // bytes of r.text already released to the callback
  r.stop_reason = "length";
  for (int i = 0; i < opt.max_tokens; ++i) {
    const int32_t id = sampler.sample(logits.data(), V, history);
    const double t = ms_since(clock::now());
    if (i == 0) r.timings.ttft_ms = t;
    r.timings.total_ms = t;
    r.timings.token_ms.push_back(t);
    r.generated_ids.push_back(id);
    history.push_back(id);
    const bool eog = !opt.ignore_eog && tok.is_eog(id);
    bool stop = eog;
    if (!eog) r.text += dec.push(id);
    if (eog) r.stop_reason = "eog";
    // stop strings: search the region the new text could have completed
    if (!opt.stop.empty()) {
      size_t cut = std::string::npos;
      for (const auto& s : opt.stop) {
        const size_t from = emitted > s.size() ? emitted - s.size() : 0;
        const size_t at = r.text.find(s, from);
        if (at != std::string::npos) cut = std::min(cut, at);
      }
      if (cut != std::string::npos) {
        r.text.resize(cut);
        r.stop_reason = "stop";
        stop = true;
      }
    }
    const bool last = stop || i + 1 == opt.max_tokens || ctx.pos() >= ctx.n_ctx();
    if (last && !stop) r.text += dec.flush();
    const size_t releasable = last ? r.text.size() : r.text.size() - holdback(r.text, opt.stop);
    TokenEvent ev{id, i, releasable > emitted ? r.text.substr(emitted, releasable - emitted) : std::string(), t};
    emitted = std::max(emitted, releasable);
    if (cb && !cb(ev)) {
      r.stop_reason = "callback";
      break;
    }
    if (stop || i + 1 == opt.max_tokens) break;
    if (ctx.pos() >= ctx.n_ctx()) {
      r.stop_reason = "context";
      break;
    }
    ctx.eval(&id, 1, false, logits);
  }
  return r;
}

}  // namespace sb
