// Internal: the vocabulary shared by the SPM and BPE tokenizers, read and validated from GGUF
// metadata. Immutable once loaded. Not part of the public API (see tokenizer.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace sb::tok {

enum StripBits : uint8_t { kLstrip = 1, kRstrip = 2 };

// Token text -> id: open addressing over (hash tag, id) slots, texts compared in the vocab's
// own storage. About a third of the cost of std::unordered_map<string_view> on this hot path.
class TokenIndex {
 public:
  // Indexes texts[0..n); returns -1, or the first id whose text equals that of `dup` (set to
  // the later id) when two texts are equal.
  int32_t build(const std::vector<std::string>& texts, int32_t* dup);
  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash(s);
    const uint32_t tag = uint32_t(h >> 32);
    for (size_t i = size_t(h) & mask_;; i = (i + 1) & mask_) {
      const Slot& e = slots_[i];
      if (e.id < 0) return -1;
      if (e.tag == tag && (*texts_)[size_t(e.id)] == s) return e.id;
    }
  }
  static uint64_t hash(std::string_view s);

 private:
  struct Slot {
    uint32_t tag;
    int32_t id;  // -1: empty
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  const std::vector<std::string>* texts_ = nullptr;
};

struct Vocab {
  std::string file;                // GGUF name, for messages
  std::string model;               // "llama" or "gpt2"
  std::string pre;                 // tokenizer.ggml.pre (bpe), "" for spm
  std::vector<std::string> text;   // id -> token text
  std::vector<float> score;        // id -> score (0 when the file has none)
  std::vector<TokenAttr> attr;     // id -> type
  std::vector<uint8_t> strip;      // id -> StripBits (special-token whitespace stripping)
  std::vector<std::string> piece;  // id -> token_to_piece()
  TokenIndex index;                // text -> id
  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1, eom = -1;
  bool add_bos = false;
  bool add_space_prefix = false;
  std::vector<int32_t> eog;      // sorted
  std::vector<int32_t> special;  // control / user-defined / unknown ids, longest text first

  int32_t n() const { return int32_t(text.size()); }
  int32_t find(std::string_view s) const { return index.find(s); }
};

// Reads tokens, scores, types and special ids; is_spm selects llama.cpp's per-model defaults.
// Throws sb::Error naming the file and key on anything malformed.
std::unique_ptr<Vocab> load_vocab(const GgufFile& f, bool is_spm);
// Finishes loading once the model-specific defaults (add_bos) are known: reads the add_*
// flags, detects EOT/EOG/FIM tokens by text and builds the special-token list.
void finish_vocab(Vocab& v, const GgufFile& f);

// Splits text into raw fragments and special tokens (llama.cpp's tokenizer_st_partition).
struct Fragment {
  uint32_t offset = 0, length = 0;
  int32_t token = -1;  // -1: raw text [offset, offset + length)
};
void partition_special(const Vocab& v, std::string_view text, bool parse_special, std::vector<Fragment>& out);

// Factories for the two implementations (spm.cc, bpe.cc).
std::unique_ptr<Tokenizer> make_spm_tokenizer(std::unique_ptr<Vocab> v);
std::unique_ptr<Tokenizer> make_bpe_tokenizer(std::unique_ptr<Vocab> v, const GgufFile& f);

}  // namespace sb::tok
