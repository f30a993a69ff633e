// RemoteLM: LanguageModel over an OpenAI-compatible HTTP API (`run --api URL --api-model NAME`),
// as lm-evaluation-harness's local-completions does.
//
//   generate: a streaming POST /completions (prompt, max_tokens, temperature, top_p, top_k,
//     seed, stop); TTFT and TPOT come from the chunk arrival times (evals/openai_api.h), token
//     counts from the stream's usage (else chunks). finish_reason "length" stays "length";
//     "stop" becomes "stop" (the API does not say whether a stop string or the end-of-generation
//     token ended it).
//   loglikelihood: POST /completions {prompt: context + continuation, echo: true, max_tokens: 0,
//     logprobs: 1, temperature: 0}; the continuation's tokens are those that end past the
//     context's bytes (text_offset of the next token, or the prompt end), as the local engine's
//     "tokens after the shared prefix" rule gives for every tokenizer that keeps the context's
//     tokens unchanged; their logprobs are summed; greedy when each token is the top-1 token (or
//     ties with it).
//   loglikelihood_rolling: the same echo request for the whole text; every token with a
//     log-prob is scored (the first has none). One request: a text longer than the server's
//     context is the server's error.
//   generate with r.chat: r.prompt is the message list as JSON (ChatMode::messages_json,
//     evals/task.h), streamed to /chat/completions; the server applies the model's template.
// A server that sends no prompt log-probs throws MissingPromptLogprobs (evals/openai_api.h).
// Chat-formatted log-likelihood requests are refused (the chat API has no prompt log-probs).
//
// identity() = "api|<base URL>|model=<name>" (the request cache's key prefix): answers cached
// for one endpoint and model are never served for another.
// Thread-safe (each call opens its own connection): `run --api --concurrency C` calls it from
// C threads.
#pragma once

#include <string>

#include "evals/http_client.h"
#include "evals/language_model.h"

namespace sb {

class RemoteLM : public LanguageModel {
 public:
  RemoteLM(const std::string& url, std::string model, std::string api_key = "", RetryPolicy retry = {});
  std::string identity() const override;
  LLResult loglikelihood(const LLRequest& r) override;
  RollingResult loglikelihood_rolling(const std::string& text) override;
  GenResult generate(const GenRequest& r) override;
  const ApiClient& client() const { return api_; }
  const std::string& model() const { return model_; }

 private:
  ApiClient api_;
  std::string model_;
};

}  // namespace sb
