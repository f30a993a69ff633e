// EngineLM: LanguageModel over sparkbench's own engine (Model + Context + Tokenizer).
// Loglikelihood requests reuse the KV cache for a shared token prefix with the previous request
// (multiple-choice options share their context), so callers should issue requests with the
// same context consecutively. Context and continuation are tokenized as in lm-eval: the whole
// string BOS + context + continuation is encoded, and the continuation is every token after
// the longest prefix shared with the encoding of BOS + context. A request longer than the
// context window keeps its last n_ctx tokens (the continuation must fit).
#pragma once

#include <memory>
#include <string>

#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "evals/language_model.h"

namespace sb {

class EngineLM : public LanguageModel {
 public:
  // `identity` should name the model file hash, variant, backend and KV type.
  EngineLM(const Model& model, const Tokenizer& tok, const ContextOptions& opt, std::string identity);
  std::string identity() const override { return identity_; }
  LLResult loglikelihood(const LLRequest& r) override;
  RollingResult loglikelihood_rolling(const std::string& text) override;
  GenResult generate(const GenRequest& r) override;

 private:
  // Evaluates `ids`, reusing the cached prefix; returns logits for rows [from, ids.size()).
  void eval_from(const std::vector<int32_t>& ids, int64_t from, std::vector<float>& logits);
  const Model& model_;
  const Tokenizer& tok_;
  Context ctx_;
  std::string identity_;
  std::vector<int32_t> cached_;  // tokens currently in the KV cache
};

}  // namespace sb
