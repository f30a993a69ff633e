// CachedLM: a LanguageModel decorator that answers repeated requests from a cache, keyed by the
// content hash of (model identity, request type, request fields). With a persistent cache (the
// results database) an interrupted run resumes without recomputing finished requests.
// Generation requests at temperature > 0 are cached too (their seed is part of the key).
#pragma once

#include <optional>
#include <string>

#include "evals/language_model.h"

namespace sb {

class RequestCache {
 public:
  virtual ~RequestCache() = default;
  virtual std::optional<std::string> get(const std::string& key) = 0;
  virtual void put(const std::string& key, const std::string& value) = 0;
};

class CachedLM : public LanguageModel {
 public:
  CachedLM(LanguageModel& inner, RequestCache& cache) : inner_(inner), cache_(cache) {}
  std::string identity() const override { return inner_.identity(); }
  LLResult loglikelihood(const LLRequest& r) override;
  RollingResult loglikelihood_rolling(const std::string& text) override;
  GenResult generate(const GenRequest& r) override;
  int64_t context_length() const override { return inner_.context_length(); }
  int64_t count_tokens(const std::string& text) const override { return inner_.count_tokens(text); }
  TokenLogprobs token_logprobs(const std::string& text) override;  // cached like the others
  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }

 private:
  LanguageModel& inner_;
  RequestCache& cache_;
  int64_t hits_ = 0, misses_ = 0;
};

}  // namespace sb
