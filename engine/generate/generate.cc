#include "engine/generate/generate.h"

#include <algorithm>
#include <chrono>

#include "engine/core/error.h"
#include "engine/generate/stop_text.h"

namespace sb {

double GenerationTimings::tpot_ms() const { return token_ms.size() < 2 ? 0.0 : (total_ms - ttft_ms) / double(token_ms.size() - 1); }

GenerateResult generate(Context& ctx, const Tokenizer& tok, const std::vector<int32_t>& prompt_ids, const GenerateOptions& opt,
                        const TokenCallback& cb) {
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
  StopText st(tok, opt.stop);
  std::vector<int32_t> history = prompt_ids;
  r.stop_reason = "length";
  for (int i = 0; i < opt.max_tokens; ++i) {
    const int32_t id = sampler.sample(logits.data(), V, history);
    const double t = ms_since(clock::now());
    if (i == 0) r.timings.ttft_ms = t;
    r.timings.total_ms = t;
    r.timings.token_ms.push_back(t);
    r.generated_ids.push_back(id);
    history.push_back(id);
    bool stop = false;
    if (!opt.ignore_eog && tok.is_eog(id)) {
      st.end();
      r.stop_reason = "eog";
      stop = true;
    } else if (st.push(id)) {
      r.stop_reason = "stop";
      stop = true;
    }
    const bool last = stop || i + 1 == opt.max_tokens || ctx.pos() >= ctx.n_ctx();
    TokenEvent ev{id, i, st.release(last), t};
    r.text = st.text();
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
