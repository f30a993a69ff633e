// The Codex-Spark vocabulary: a self-made SentencePiece-style ("llama" tokenizer model in GGUF
// terms) vocabulary for the synthetic model presets (`sparkbench model synth`).
//
// make_spark_vocab() trains it on the fly: SentencePiece-BPE-style merges over a built-in,
// hand-written, Zipf-weighted dictionary of English words (lower case, capitalized and
// space-prefixed variants), programming vocabulary (Python/C/C++/JS/Rust/Java/SQL/shell
// keywords and identifiers), operators, punctuation clusters and indentation runs
// (engine/model/spark_words.inc). Each step merges the adjacent symbol pair with the highest
// weighted count; ties go to the lexicographically smaller (left text, right text) by bytes.
// Merges never cross dictionary entries, so a piece never spans two entries.
//
// Contract of the returned list (what `synth` stores as tokenizer.ggml.tokens/scores/token_type,
// with bos=1, eos=2, unk=0):
//   * exactly n_vocab entries, all texts unique and valid UTF-8;
//   * id 0 "<unk>" (type 2), 1 "<s>" (3), 2 "</s>" (3), ids 3..258 "<0x00>".."<0xFF>" (6),
//     all with score 0;
//   * then the base characters (type 1, score 0), in code-point order: "\t", "\n", printable
//     ASCII except the space ('!'..'~'), U+00A1..U+00FF except U+00AD (soft hyphen; Latin-1
//     letters and common signs), a few typographic marks (dashes, curly quotes, ellipsis,
//     bullet, euro sign) and U+2581 "▁", which stands for a space as in SentencePiece (the
//     plain space character never appears in a piece);
//   * then the merged pieces (type 1) in merge order; the k-th merged piece (k = 1, 2, ...)
//     has score -k. Every merged piece is the concatenation of two earlier pieces (both with
//     strictly higher scores), so llama.cpp-style SPM tokenization (repeatedly merge the
//     adjacent pair whose concatenation is a piece with the highest score) reaches it and
//     reproduces the training merges.
//   * make_spark_vocab(n) is a prefix of make_spark_vocab(m) for n <= m.
//
// Deterministic: integer weights, byte-wise comparisons, no locale, no hash-order dependence,
// no files read; the same list on every machine and every call. Changing the dictionary or
// the algorithm changes the vocabulary and therefore every synthetic model file (the test
// records a checksum to catch accidental changes).
//
// Cost: about 0.3 s of CPU for 32000 entries in a Release build; thread-safe (no
// shared state). Throws sb::Error when n_vocab is smaller than the fixed part
// (spark_vocab_min_size()) or larger than the dictionary can train (spark_vocab_max_size()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sb {

struct VocabEntry {
  std::string text;  // UTF-8; spaces written as U+2581
  float score;       // 0 for specials, bytes and base characters; -k for the k-th merge
  int32_t type;      // 1 normal, 2 unknown, 3 control, 6 byte (llama.cpp's token types)
};

// Token types as stored in tokenizer.ggml.token_type.
enum : int32_t {
  kSparkTokNormal = 1,
  kSparkTokUnknown = 2,
  kSparkTokControl = 3,
  kSparkTokByte = 6,
};

// Number of entries before the first merged piece (specials + bytes + base characters).
int spark_vocab_min_size();
// Largest n_vocab the built-in dictionary can train (computed once; costs one full training).
int spark_vocab_max_size();

std::vector<VocabEntry> make_spark_vocab(int n_vocab = 32000);

}  // namespace sb
