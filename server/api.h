// The OpenAI-compatible request and response formats of `sparkbench serve`: parsing a JSON body
// into scheduler work (server/scheduler.h) and turning the scheduler's events into response
// objects and stream chunks. No HTTP here (server/http_server.h does that).
//
// Requests (fields not listed are ignored, as OpenAI clients send many):
//   /v1/completions: prompt (string | [token ids] | [strings] | [[token ids]]), max_tokens
//     (default 16), temperature (default 1), top_p, top_k (-1/0 off), min_p, seed,
//     repetition_penalty, stop (string | [strings]), n, stream, stream_options.include_usage,
//     logprobs (0..20: the chosen token + top N per token), echo, ignore_eos, model.
//   /v1/chat/completions: messages ([{role, content: string | [{type:"text", text}]}]),
//     max_tokens / max_completion_tokens (default: the rest of the context), the sampling
//     fields above, stop, n, stream, stream_options, logprobs (bool) + top_logprobs (0..20).
// A string prompt is encoded with BOS when the vocab adds one; token ids are used as given.
// Every violation (wrong JSON type, value out of range, prompt longer than the context,
// max_tokens above the context, unknown token id, too many choices) throws ApiError, which
// renders as {"error": {"message", "type", "param", "code"}} with a 4xx status.
//
// Completions logprobs follow OpenAI's legacy format: {tokens, token_logprobs, top_logprobs,
// text_offset}; with echo the prompt's tokens come first, the first with null log-prob and
// null top_logprobs, so echo + max_tokens 0 + logprobs 1 scores a text as lm-eval's
// local-completions expects. Token strings are the tokens' bytes (invalid UTF-8 replaced in
// JSON). text_offset indexes the choice's text: the echoed prompt (the prompt string as sent, or
// the decoded ids) followed by the generated text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"
#include "server/scheduler.h"

namespace sb::serve {

struct ApiError {
  int status = 400;
  std::string message;
  std::string param;  // "" -> null
  std::string type = "invalid_request_error";
  std::string code;  // "" -> null
  nlohmann::json body() const;
};

inline constexpr int kMaxChoices = 64;  // n x prompts per request
inline constexpr int kMaxLogprobs = 20;
inline constexpr int kMaxStops = 16;

struct ParsedRequest {
  bool chat = false;
  bool stream = false;
  bool include_usage = false;
  bool echo = false;
  int n = 1;
  std::string model;
  std::vector<std::string> prompt_texts;  // per prompt: the text echoed back
  std::vector<int64_t> prompt_tokens;     // per prompt
  std::vector<SeqSpec> seqs;              // prompt p, choice j -> seqs[p * n + j]
};

// Renders a chat's messages into a prompt string (the model's chat template); throws ApiError
// (no template) or sb::Error (template failure).
using ChatRenderer = std::function<std::string(const std::vector<std::pair<std::string, std::string>>& messages)>;

ParsedRequest parse_completion(const nlohmann::json& body, const Tokenizer& tok, int64_t n_ctx);
ParsedRequest parse_chat(const nlohmann::json& body, const Tokenizer& tok, int64_t n_ctx, const ChatRenderer& render);

// Accumulates a Job's events into one choice each and renders responses and stream chunks.
class ResponseBuilder {
 public:
  ResponseBuilder(const ParsedRequest& req, const Tokenizer& tok, std::string id, std::string model, int64_t created);
  // Folds one event in; returns the stream chunks it gives (completions: one per event with
  // text, logprobs or a finish reason; chat: also the first role delta).
  std::vector<nlohmann::json> add(const Event& ev);
  bool done() const { return finished_ == int(choices_.size()); }
  nlohmann::json final_response() const;
  nlohmann::json usage() const;
  nlohmann::json usage_chunk() const;  // the stream's last chunk when include_usage

 private:
  struct Choice {
    std::string text;
    std::string finish;
    int64_t completion_tokens = 0;
    bool started = false;  // chat: the role delta was sent
    // completions logprobs
    std::vector<std::string> tokens;
    nlohmann::json token_logprobs = nlohmann::json::array();
    nlohmann::json top_logprobs = nlohmann::json::array();
    std::vector<int64_t> text_offset;
    int64_t piece_bytes = 0;  // bytes of generated token pieces so far
    nlohmann::json chat_logprobs = nlohmann::json::array();
  };
  nlohmann::json chunk_base() const;
  nlohmann::json lp_json(const Choice& c, size_t from) const;
  void add_token_lp(Choice& c, const TokenLogprob& lp, bool null_first, int64_t offset);
  const ParsedRequest& req_;
  const Tokenizer& tok_;
  std::string id_, model_;
  int64_t created_;
  std::vector<Choice> choices_;
  int finished_ = 0;
};

}  // namespace sb::serve
