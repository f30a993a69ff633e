// Internal: byte-level BPE pre-tokenizers, chosen by tokenizer.ggml.pre. Each is a LIST of
// regexes applied one after another with llama.cpp's semantics: every regex splits each
// existing piece further, and both the matched and the unmatched parts are kept as pieces.
// Regexes are compiled once (PCRE2, UTF + UCP, JIT when available); `\s` means Unicode
// White_Space, as in llama.cpp. Immutable after construction; split() is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::tok {

struct PreTokenizerSpec {
  std::string name;            // canonical family, e.g. "gpt-2", "llama3"
  bool ignore_merges = false;  // emit a whole word directly when it is a vocab token
  bool add_bos = false;        // llama.cpp's add_bos default for this family
};

class PreTokenizer {
 public:
  // Throws sb::Error "<file>: tokenizer.ggml.pre '<pre>' is not supported (supported: ...)".
  static std::unique_ptr<PreTokenizer> create(const std::string& pre, const std::string& file);
  ~PreTokenizer();
  const PreTokenizerSpec& spec() const { return spec_; }
  // Splits well-formed UTF-8 text into pieces [begin, end) (byte offsets), in order, covering
  // the whole text. Throws sb::Error only if PCRE2 fails (resource limits).
  void split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& pieces) const;

 private:
  PreTokenizer() = default;
  struct Regex;
  PreTokenizerSpec spec_;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace sb::tok
