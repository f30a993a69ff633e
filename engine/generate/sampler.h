// Sampler: picks the next token from a row of logits.
//
// temperature <= 0 is greedy: the argmax, ties to the lowest id. Otherwise the pipeline is
// llama.cpp's order: repetition penalty over the last `repeat_last_n` tokens (positive logits
// divided by the penalty, negative multiplied), top-k, top-p (nucleus), min-p (relative to the
// most likely token), temperature, then a draw from the renormalized distribution.
// Randomness comes from a splitmix64/xoshiro256** stream seeded by `seed`, and every step uses
// a fixed order of operations, so the same seed gives the same tokens on every machine, thread
// count and backend that produces the same logits. Not thread-safe (holds the RNG state).
#pragma once

#include <cstdint>
#include <vector>

namespace sb {

struct SamplerParams {
  float temperature = 0.0f;  // <= 0: greedy
  int top_k = 0;             // <= 0: off
  float top_p = 1.0f;        // >= 1: off
  float min_p = 0.0f;        // <= 0: off
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  uint64_t seed = 0;
};

// Index of the largest value, the lowest index among ties.
int32_t argmax(const float* logits, int64_t n);

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p);
  // `history`: tokens seen so far (prompt and generated), for the repetition penalty.
  int32_t sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history);
  const SamplerParams& params() const { return p_; }

 private:
  double uniform();  // [0, 1)
  SamplerParams p_;
  uint64_t s_[4];
  std::vector<std::pair<float, int32_t>> cand_;
};

}  // namespace sb
