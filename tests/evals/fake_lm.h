// Fakes of LanguageModel for unit tests of tasks and metrics (fault injection and plumbing
// checks only; real evaluations use EngineLM).
#pragma once

#include <functional>
#include <string>

#include "evals/language_model.h"

namespace sb::test {

class FakeLM : public LanguageModel {
 public:
  std::function<double(const LLRequest&)> ll = [](const LLRequest&) { return -1.0; };
  std::function<std::string(const GenRequest&)> gen = [](const GenRequest&) { return std::string(); };
  int calls = 0;
  std::string identity() const override { return "fake"; }
  LLResult loglikelihood(const LLRequest& r) override {
    ++calls;
    return {ll(r), false, int64_t(r.continuation.size())};
  }
  RollingResult loglikelihood_rolling(const std::string& text) override {
    ++calls;
    return {-0.5 * double(text.size()), int64_t(text.size()), int64_t(text.size())};
  }
  GenResult generate(const GenRequest& r) override {
    ++calls;
    GenResult g;
    g.text = gen(r);
    g.n_gen_tokens = int64_t(g.text.size());
    return g;
  }
};

}  // namespace sb::test
