#include "evals/remote_lm.h"

#include "engine/core/error.h"
#include "evals/openai_api.h"

namespace sb {
namespace {
double ms(ApiClient::Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
}  // namespace

RemoteLM::RemoteLM(const std::string& url, std::string model, std::string api_key, RetryPolicy retry)
    : api_(url, std::move(api_key), retry), model_(std::move(model)) {
  if (model_.empty()) fail(url, ": --api-model is required (the model name the server serves)");
}

std::string RemoteLM::identity() const { return "api|" + api_.endpoint().url() + "|model=" + model_; }

LLResult RemoteLM::loglikelihood(const LLRequest& r) {
  if (r.chat) fail(api_.url("/completions"), ": chat-formatted log-likelihood requests (--chat-scoring) are not supported through the API");
  const std::string prompt = r.context + r.continuation;
  const nlohmann::json body{{"model", model_}, {"prompt", prompt}, {"echo", true}, {"max_tokens", 0}, {"logprobs", 1}, {"temperature", 0}};
  const auto toks = read_echo_logprobs(api_.post_json("/completions", body), prompt.size(), api_.url("/completions"));
  LLResult out;
  out.is_greedy = true;
  const int64_t ctx_bytes = int64_t(r.context.size());
  for (size_t i = 0; i < toks.size(); ++i) {
    const int64_t end = i + 1 < toks.size() ? toks[i + 1].offset : int64_t(prompt.size());
    if (end <= ctx_bytes) continue;
    if (!toks[i].logprob) fail(api_.url("/completions"), ": no log-prob for continuation token ", i, " ('", toks[i].text, "')");
    out.logprob += *toks[i].logprob;
    ++out.n_tokens;
    if (toks[i].top_logprob && toks[i].top_token != toks[i].text && *toks[i].top_logprob > *toks[i].logprob) out.is_greedy = false;
    if (!toks[i].top_logprob) fail(api_.url("/completions"), ": no top_logprobs for token ", i, " (needed for the greedy flag)");
  }
  if (out.n_tokens == 0) fail("loglikelihood: the continuation adds no tokens");
  return out;
}

RollingResult RemoteLM::loglikelihood_rolling(const std::string& text) {
  RollingResult out;
  out.n_bytes = int64_t(text.size());
  if (text.empty()) return out;
  const nlohmann::json body{{"model", model_}, {"prompt", text}, {"echo", true}, {"max_tokens", 0}, {"logprobs", 1}, {"temperature", 0}};
  for (const auto& t : read_echo_logprobs(api_.post_json("/completions", body), text.size(), api_.url("/completions"))) {
    if (!t.logprob) continue;
    out.logprob += *t.logprob;
    ++out.n_tokens;
  }
  return out;
}

GenResult RemoteLM::generate(const GenRequest& r) {
  nlohmann::json body{
      {"model", model_}, {"max_tokens", r.max_tokens}, {"temperature", r.temperature}, {"top_p", r.top_p}, {"seed", r.seed}};
  if (r.chat) {
    // The messages as JSON (ChatMode::messages_json, evals/task.h): the server renders them.
    try {
      body["messages"] = nlohmann::json::parse(r.prompt);
    } catch (const nlohmann::json::exception&) {
      fail(api_.url("/chat/completions"), ": a chat request whose prompt is not a JSON message list (rendered locally?)");
    }
    if (!body["messages"].is_array()) fail(api_.url("/chat/completions"), ": chat messages must be a JSON array");
  } else {
    body["prompt"] = r.prompt;
  }
  if (r.top_k > 0) body["top_k"] = r.top_k;
  if (!r.stop.empty()) body["stop"] = r.stop;
  const StreamedCompletion s = stream_completion(api_, body, r.chat);
  GenResult out;
  out.text = s.text;
  out.stop_reason = s.finish_reason;
  out.n_prompt_tokens = s.prompt_tokens.value_or(0);
  out.n_gen_tokens = s.completion_tokens.value_or(int64_t(s.chunks.size()));
  out.total_ms = ms(s.done - s.sent);
  if (!s.chunks.empty()) {
    out.ttft_ms = ms(s.chunks.front() - s.sent);
    if (s.chunks.size() > 1) out.tpot_ms = ms(s.chunks.back() - s.chunks.front()) / double(s.chunks.size() - 1);
  }
  return out;
}

}  // namespace sb
