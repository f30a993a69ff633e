// LanguageModel: the narrow interface evaluations talk to (lm-eval's three request types).
// Evaluations never see tensors, backends or devices; anything that can answer these requests
// (the engine, a cache in front of it, a fake in unit tests) can be evaluated.
//
//   loglikelihood(context, continuation): log P(continuation | context) summed over the
//     continuation's tokens, and whether greedy decoding would have produced exactly them.
//   loglikelihood_rolling(text): log P(text) over all its tokens (BOS-conditioned), for
//     perplexity; long texts are scored in windows so every token is scored once.
//   generate(prompt, stop, max_tokens, sampling): generated text cut at the first stop string.
//   For the long-context task (evals/long_context.h), which measures lengths in the model's own
//   tokens: context_length() (tokens the model attends to), count_tokens(text) (tokens of a
//   plain request for `text`, BOS included when the vocab adds one) and token_logprobs(text)
//   (log P of each token of `text` after the first, all in one window: an sb::Error when the
//   text does not fit, never a silent truncation). Their defaults throw sb::Error ("this model
//   cannot ..."), so models that never run that task need not implement them.
//
// `chat` marks text rendered by a chat template (evals/chat_template.h): its special-token
// texts (<|im_start|>, <s>, ...) are read as their token ids, and BOS is added only when the
// vocab adds one and the text does not already start with it (as llama.cpp does). Plain
// requests never parse special-token texts.
//
// Implementations throw sb::Error on failures. Not thread-safe unless stated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sb {

struct LLRequest {
  std::string context;
  std::string continuation;
  bool chat = false;  // context is a rendered chat prompt
};
struct LLResult {
  double logprob = 0;
  bool is_greedy = false;
  int64_t n_tokens = 0;  // continuation tokens
};

struct RollingResult {
  double logprob = 0;
  int64_t n_tokens = 0;  // scored tokens
  int64_t n_bytes = 0;   // UTF-8 bytes of the text
};

struct TokenLogprobs {
  std::vector<double> logprob;  // logprob[i]: log P(token i + 1 | tokens 0..i)
};

struct GenRequest {
  std::string prompt;
  bool chat = false;  // prompt is a rendered chat prompt
  std::vector<std::string> stop;
  int max_tokens = 128;
  float temperature = 0.0f;  // 0 = greedy
  float top_p = 1.0f;
  int top_k = 0;
  uint64_t seed = 0;
};
struct GenResult {
  std::string text;
  std::string stop_reason;
  int64_t n_prompt_tokens = 0;
  int64_t n_gen_tokens = 0;
  double ttft_ms = 0;
  double tpot_ms = 0;
  double total_ms = 0;
};

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  // Identifies everything that changes answers (model hash, variant, backend, KV type);
  // used in cache keys.
  virtual std::string identity() const = 0;
  virtual LLResult loglikelihood(const LLRequest& r) = 0;
  virtual RollingResult loglikelihood_rolling(const std::string& text) = 0;
  virtual GenResult generate(const GenRequest& r) = 0;
  // Long-context support (see above); the defaults throw sb::Error.
  virtual int64_t context_length() const;
  virtual int64_t count_tokens(const std::string& text) const;
  virtual TokenLogprobs token_logprobs(const std::string& text);
};

}  // namespace sb
