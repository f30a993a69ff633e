// Perplexity of a text under a model, by two protocols.
//
// Protocol::LlamaCpp reproduces llama-perplexity: tokenize the whole text with one BOS at the
// start; n_chunk = floor(n_tokens / n_ctx); in each chunk overwrite (not prepend) its first
// token with BOS, run n_ctx tokens, and score positions j = n_ctx/2 .. n_ctx-2 predicting token
// j+1. PPL = exp(mean NLL) over all scored tokens.
//
// Protocol::Sliding (sparkbench's default) scores every token after the BOS exactly once:
// windows of n_ctx tokens advance by stride = n_ctx/2; the first window scores all its
// predictions, each later window scores only its last `stride` predictions, each conditioned
// on at least n_ctx - stride tokens of real preceding text. Also reports bits per byte
// (total NLL in bits / UTF-8 bytes of the text).
// Both report the standard error of the mean NLL and ppl's error by the delta method.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace sb {

enum class PplProtocol { Sliding, LlamaCpp };

struct PerplexityResult {
  double ppl = 0;
  double ppl_stderr = 0;
  double mean_nll = 0;
  double nll_stderr = 0;
  double bits_per_byte = 0;  // Sliding only (0 for LlamaCpp, which skips tokens)
  int64_t n_tokens = 0;      // tokens in the text (with BOS)
  int64_t n_scored = 0;
  int64_t n_chunks = 0;
  std::vector<double> running_ppl;  // after each chunk/window
  std::vector<double> token_nll;    // per scored token, in order
};

// `on_chunk(i, n)` reports progress. `on_scored(logits, target)`, when given, sees the n_vocab
// logits of every scored row in order with the token it predicts (fidelity metrics compare these
// between two models). Throws sb::Error when the text is too short for one chunk.
using ScoredRowFn = std::function<void(const float* logits, int32_t target)>;
PerplexityResult perplexity(Context& ctx, const Tokenizer& tok, const std::string& text, PplProtocol protocol, int64_t n_ctx,
                            const std::function<void(int64_t, int64_t)>& on_chunk = nullptr, const ScoredRowFn& on_scored = nullptr);

// log-softmax of `logits` at `target` (computed in double).
double log_prob(const float* logits, int64_t n_vocab, int32_t target);

}  // namespace sb
