// Defaults of LanguageModel's long-context methods (evals/language_model.h): they refuse.
#include "evals/language_model.h"

#include "engine/core/error.h"

namespace sb {

int64_t LanguageModel::context_length() const { fail(identity(), ": this model cannot report its context length"); }
int64_t LanguageModel::count_tokens(const std::string&) const { fail(identity(), ": this model cannot count tokens"); }
TokenLogprobs LanguageModel::token_logprobs(const std::string&) { fail(identity(), ": this model cannot score tokens one by one"); }

}  // namespace sb
