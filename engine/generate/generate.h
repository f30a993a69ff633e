// The generation loop: prompt processed as one forward pass (in n_batch chunks), then one token
// per step, with sampling, stop strings, end-of-generation tokens and a streaming callback that
// carries a timestamp per token (the basis of TTFT/TPOT measurements).
//
// Stop strings: generation ends when the decoded text contains one; `text` is cut before it
// (the ids keep the token that completed it). Streamed text deltas hold back any suffix that
// could still become a stop string, so a callback never sees text that is later cut.
// The loop ends at max_tokens, an end-of-generation token (unless ignore_eog; the EOG token
// is in generated_ids but adds no text), a stop string, the context limit, or when the callback
// returns false.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/generate/sampler.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace sb {

struct GenerateOptions {
  int max_tokens = 64;
  std::vector<std::string> stop;
  bool ignore_eog = false;
  SamplerParams sampling;
};

struct TokenEvent {
  int32_t id = 0;
  int index = 0;     // 0 for the first generated token
  std::string text;  // newly released text (may be empty)
  double t_ms = 0;   // since generate() was called
};

struct GenerationTimings {
  double prompt_ms = 0;          // forward pass over the prompt
  double ttft_ms = 0;            // call -> first token sampled (prompt + first sample)
  double total_ms = 0;           // call -> last token sampled
  std::vector<double> token_ms;  // time of each generated token since the call
  // MLPerf's time per output token: (total - ttft) / (n_gen - 1); 0 when fewer than 2 tokens.
  double tpot_ms() const;
};

struct GenerateResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> generated_ids;
  std::string text;
  std::string stop_reason;  // "length", "eog", "stop", "context", "callback"
  GenerationTimings timings;
};

// Called for every generated token; return false to stop.
using TokenCallback = std::function<bool(const TokenEvent&)>;

// Runs from the context's current position (normally 0). Throws sb::Error if the prompt does
// not fit the context.
GenerateResult generate(Context& ctx, const Tokenizer& tok, const std::vector<int32_t>& prompt_ids, const GenerateOptions& opt,
                        const TokenCallback& cb = nullptr);

}  // namespace sb
