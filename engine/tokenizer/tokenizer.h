// Tokenizers read from GGUF metadata (tokenizer.ggml.*), reproducing llama.cpp's behaviour:
//   - model "llama": SentencePiece BPE (llama.cpp's llm_tokenizer_spm): spaces escaped to U+2581,
//     a space prefix per tokenizer.ggml.add_space_prefix (default true), greedy merging of the
//     adjacent pair whose concatenation is the highest-scoring vocab token (ties: leftmost),
//     then byte fallback to <0xXX> tokens (else the single-byte token, else UNK).
//   - model "gpt2": byte-level BPE with tokenizer.ggml.merges (rank = merge order), GPT-2's
//     byte<->unicode mapping and the pre-tokenizer regex list chosen by tokenizer.ggml.pre
//     (PCRE2, compiled once per tokenizer).
// Before either runs, special-token texts are split out of the raw text (llama.cpp's
// tokenizer_st_partition): user-defined tokens always, control/unknown tokens only when
// parse_special is true.
//
// Ownership: from_gguf() copies everything it needs; the GgufFile may be released afterwards.
// Thread-safety: a Tokenizer is immutable after construction; every const method (encode,
// decode, token_to_piece, ...) may be called from any number of threads at once.
// Failures: from_gguf() throws sb::Error (one line, naming the file and the metadata key) for
// missing or malformed tokenizer metadata, unknown tokenizer models or pre-tokenizers, array
// length mismatches, out-of-range special token ids and merges naming unknown tokens. encode()
// accepts any bytes (invalid UTF-8 included) and throws only for text longer than
// kMaxTextBytes (sb::Error) or std::bad_alloc.
// token_text(), attr(), token_to_piece(), decode() and IncrementalDecoder::push() throw sb::Error
// for an id outside [0, n_vocab).
//
// Deliberate differences from llama.cpp (none affects the conformance sets):
//   - stricter loading: duplicate token texts, token types outside 1..6 and special ids outside
//     the vocab (other than -1 / 0xFFFFFFFF, read as "none") are errors, not warnings;
//   - gpt2 vocabs without bos/eos ids have none (llama.cpp falls back to id 11);
//   - a BPE symbol that is not a token falls back to the tokens of its bytes (llama.cpp looks
//     the raw single bytes up, which drops non-ASCII bytes);
//   - BPE input code points that are surrogates or above U+10FFFF read as U+FFFD;
//   - decode() does not apply llama.cpp's clean_up_tokenization_spaces rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

class GgufFile;

// Token types as stored in tokenizer.ggml.token_type (values 1..6 in this order).
enum class TokenAttr : uint8_t { Normal, Unknown, Control, UserDefined, Unused, Byte };

namespace tok {
struct Vocab;
}

class Tokenizer {
 public:
  static constexpr size_t kMaxTextBytes = size_t(1) << 30;  // 1 GiB per encode() call

  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& f);
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // text -> ids. add_bos: prepend BOS (only if the vocab has one). parse_special: when true,
  // control/unknown token texts in the input also map to their ids (user-defined ones always
  // do, as in llama.cpp). Empty text gives no tokens (just BOS when asked).
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = false) const;
  // A prompt rendered by a chat template: special-token texts always map to their ids, and
  // BOS is prepended only when the vocab adds one (add_bos_default()) and the text did not
  // already start with it (templates that render {{ bos_token }} get exactly one BOS).
  std::vector<int32_t> encode_chat(std::string_view text) const;

  // The bytes a token stands for: SPM '▁' -> ' ' and <0xXX> -> that byte; BPE byte-level
  // unmapping; user-defined tokens -> their text as-is; control, unknown and unused -> "".
  std::string token_to_piece(int32_t id) const;
  // Concatenation of token_to_piece() (valid UTF-8 or not is the caller's concern), except
  // for vocabs that add a space prefix (SPM): leading tokens with empty pieces (BOS, other
  // control tokens) are skipped and one leading ' ' of the first non-empty piece is dropped,
  // so decode(encode(t, bos)) == t for text made only of ordinary tokens. No other clean-up.
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;  // -1 when absent (likewise below)
  int32_t eos_id() const;
  int32_t unk_id() const;
  int32_t pad_id() const;
  int32_t eot_id() const;
  // tokenizer.ggml.add_bos_token; default true for "llama" (SPM) and llama3-style BPE,
  // false for other gpt2 vocabs.
  bool add_bos_default() const;
  bool add_space_prefix() const;  // SPM only; false for BPE
  // End of generation: EOS, EOT (tokenizer.ggml.eot_token_id or detected by text, e.g.
  // <|eot_id|>, <|im_end|>, <|endoftext|>), EOM and the other end-of-turn texts llama.cpp knows.
  bool is_eog(int32_t id) const;

  const std::string& token_text(int32_t id) const;
  TokenAttr attr(int32_t id) const;
  std::string kind() const;  // "spm" or "bpe"
  std::string pre() const;   // pre-tokenizer name for bpe ("default" when unset); "" for spm
  std::optional<int32_t> find_token(std::string_view text) const;

 protected:
  explicit Tokenizer(std::unique_ptr<tok::Vocab> vocab);
  // Appends the ids of one raw-text fragment (no special tokens inside). after_special is true
  // for the first fragment and for fragments that follow a special token (SPM's space prefix).
  virtual void encode_fragment(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;
  void check_id(int32_t id) const;

  std::unique_ptr<tok::Vocab> v_;
};

// Turns a stream of ids into text, holding back incomplete UTF-8 sequences until they
// complete (and flushing what is left, invalid bytes replaced by U+FFFD, on flush()). The
// concatenated output is the concatenation of token_to_piece() (no leading-space removal),
// with ill-formed sequences replaced by U+FFFD, so it is always valid UTF-8. Not thread-safe;
// the Tokenizer must outlive it.
class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tok);
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace sb
