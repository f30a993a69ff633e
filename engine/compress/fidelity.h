// Fidelity of a compressed variant to a baseline, on a calibration text: llama-perplexity's
// quantization metrics (its --kl-divergence mode) from the per-token distributions of both
// models over the same tokens (the sliding-window perplexity protocol, engine/generate/
// perplexity.h, so every token after the BOS is scored once).
//   kld_*      KL(P_base || P_variant) per scored token, in nats: mean (with standard error),
//              median, 99th percentile, max
//   same_top1  percentage of tokens where both models' most likely token agrees
//   ppl_delta  PPL(variant) - PPL(base);  ppl_ratio  PPL(variant) / PPL(base)
//              (= exp(mean(nll_variant - nll_base)), llama-perplexity's "Mean PPL(Q)/PPL(base)")
//   rms_dp     root mean square of p_variant(next token) - p_base(next token), in percent
// The reference keeps the baseline's log-probabilities of every scored token in memory
// (n_scored x n_vocab floats; 1000 tokens of a 32000-token vocabulary = 128 MB).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace sb::compress {

struct FidelityReference {
  int64_t n_vocab = 0, n_ctx = 0;
  std::vector<int32_t> targets;  // next token of every scored position
  std::vector<float> logp;       // log-softmax of the baseline, n_scored x n_vocab
  std::vector<double> nll;       // baseline negative log-likelihood per scored token
  double ppl = 0;
  size_t n_scored() const { return targets.size(); }
};

struct Fidelity {
  int64_t n_tokens = 0;
  double kld_mean = 0, kld_mean_stderr = 0, kld_median = 0, kld_p99 = 0, kld_max = 0;
  double same_top1 = 0, same_top1_stderr = 0;  // percent
  double ppl_base = 0, ppl = 0, ppl_delta = 0, ppl_delta_stderr = 0, ppl_ratio = 0, ppl_ratio_stderr = 0;
  double rms_dp = 0;  // percent
};

// Runs the baseline over `text` (sliding windows of n_ctx tokens). Throws sb::Error when the
// text has fewer than two tokens or n_ctx does not fit the context.
FidelityReference fidelity_reference(Context& ctx, const Tokenizer& tok, const std::string& text, int64_t n_ctx);
// Runs a variant over the same text and compares. The variant must share the vocabulary.
Fidelity measure_fidelity(const FidelityReference& ref, Context& ctx, const Tokenizer& tok, const std::string& text);

}  // namespace sb::compress
