// EngineLM: LanguageModel over sparkbench's own engine (Model + Context + Tokenizer).
// Loglikelihood requests reuse the KV cache for a shared token prefix with the previous request
// (multiple-choice options share their context), so callers should issue requests with the
// same context consecutively. Context and continuation are tokenized as in lm-eval: the whole
// string BOS + context + continuation is encoded, and the continuation is every token after
// the longest prefix shared with the encoding of BOS + context. A request longer than the
// context window keeps its last n_ctx tokens (the continuation must fit).
//
// identity() (the request cache's key prefix, evals/cached_lm.h) names everything that changes
// answers: the weights (file hash, variant, calibration), how they are computed (backend,
// matmul arithmetic, KV cache type), the context length actually used (a longer window keeps
// more of a long prompt), the prompt-processing batch size (chunk boundaries change which rows
// are multiplied together, and backends may sum in another order) and the chat settings. It is
// built by engine_lm_identity(), so two EngineLMs answer alike only if their identities match.
// The thread count is left out: it does not change what any backend computes.
#pragma once

#include <memory>
#include <string>

#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "evals/language_model.h"

namespace sb {

// What EngineLM cannot see for itself in the Model and ContextOptions it is given.
struct EngineLMSettings {
  std::string model_sha256;        // SHA-256 of the GGUF file
  std::string variant = "base";    // compression variant (engine/compress, docs/VARIANTS.md)
  std::string calibration_sha256;  // of the calibration text, for variants that use one
  std::string compute = "f32";     // matmul arithmetic (--compute)
  // Chat settings (harness/chat_args.h); all ignored when chat_template is empty. The identity
  // holds their SHA-256, computed here.
  std::string chat_template;  // the Jinja2 template text in use ("" = plain prompts)
  std::string chat_system;    // the system message text
  bool chat_scoring = false;  // log-likelihood contexts chat-formatted too
};

// "<sha>|<variant>|<backend>|kv=<type>|compute=<type>[|calib=<sha>][|chat=<sha>|system=<sha>|
// chat_scoring=0|1]|ctx=<n_ctx>|batch=<n_batch>" (chat and system: SHA-256 of the texts); `n_ctx`
// is the context length in use (not 0). EngineLM::identity() returns it; nothing else builds it.
std::string engine_lm_identity(const EngineLMSettings& s, const std::string& backend, DType kv_type, int64_t n_ctx, int64_t n_batch);

class EngineLM : public LanguageModel {
 public:
  EngineLM(const Model& model, const Tokenizer& tok, const ContextOptions& opt, const EngineLMSettings& settings);
  std::string identity() const override { return identity_; }
  LLResult loglikelihood(const LLRequest& r) override;
  RollingResult loglikelihood_rolling(const std::string& text) override;
  GenResult generate(const GenRequest& r) override;
  int64_t context_length() const override { return ctx_.n_ctx(); }
  int64_t count_tokens(const std::string& text) const override;
  TokenLogprobs token_logprobs(const std::string& text) override;

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
