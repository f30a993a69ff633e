// openai_api: the OpenAI completion protocol as sparkbench's clients use it (run --api through
// RemoteLM, evals/remote_lm.h; loadgen, harness/loadgen.h). Request bodies are built by the
// callers; this file reads the answers.
//
// stream_completion(): POSTs `body` with "stream": true and "stream_options":
//   {"include_usage": true} to /completions (chat = false) or /chat/completions (chat = true) and
//   reads the server-sent events: text from choices[0].text (completions) or
//   choices[0].delta.content (chat), finish_reason, and the usage object when the server sends
//   one. Every event that carries text is one "token chunk", timestamped on arrival (steady
//   clock); servers send one token per chunk, so chunk counts stand in for token counts when
//   there is no usage. A payload that is not JSON, or that is an error object (a server that
//   fails mid-stream), is an sb::Error naming the URL and the event number.
//
// read_echo_logprobs(): the prompt log-probs of a non-streaming /completions answer to
//   {"echo": true, "logprobs": 1, "max_tokens": 0}: choices[0].logprobs.tokens, token_logprobs
//   (null for the first token, which has no context), top_logprobs (the most likely token at
//   each position) and text_offset (byte offset of each token in the prompt text). Throws
//   MissingPromptLogprobs when the server answered without them (many servers ignore echo).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "evals/http_client.h"

namespace sb {

struct StreamedCompletion {
  std::string text;
  std::string finish_reason;                                // "stop", "length", ... ("" if never sent)
  ApiClient::Clock::time_point sent;                        // request start
  ApiClient::Clock::time_point done;                        // end of the stream
  std::vector<ApiClient::Clock::time_point> chunks;         // arrival of each token chunk
  std::optional<int64_t> prompt_tokens, completion_tokens;  // from usage, when sent
};

StreamedCompletion stream_completion(const ApiClient& api, nlohmann::json body, bool chat);

class MissingPromptLogprobs : public Error {
 public:
  using Error::Error;
};

struct EchoToken {
  std::string text;
  std::optional<double> logprob;  // null for the first prompt token
  std::optional<std::string> top_token;
  std::optional<double> top_logprob;
  int64_t offset = 0;  // byte offset in the prompt
};

// `prompt_bytes`: length of the prompt text; tokens at or past it (generated ones) are dropped.
// `where` names the request in messages.
std::vector<EchoToken> read_echo_logprobs(const nlohmann::json& answer, size_t prompt_bytes, const std::string& where);

}  // namespace sb
