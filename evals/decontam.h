// Decontamination check: which suite items share word n-grams with a training corpus (the
// GPT-3 paper's method, as lm-evaluation-harness's decontamination implements it).
//
// Normalization (both sides): ASCII letters are lower-cased, the 32 ASCII punctuation
// characters (Python's string.punctuation) are deleted (so "don't" becomes "dont"), and the
// result is split into words at ASCII whitespace; every other byte (digits, UTF-8) is kept.
// An item's text is every string value in its JSON record, recursively, except "id" and
// "task_id", joined by single spaces. Its n-grams are its windows of n consecutive words; an
// item with fewer than n words has one n-gram, all its words (so a short item counts as
// contaminated only when all of it occurs in the corpus).
// overlap = distinct item n-grams found in the corpus / distinct item n-grams; an item is
// flagged when overlap > threshold (threshold 0: any shared n-gram, lm-eval's rule).
// N-grams are compared through a 64-bit hash of their words (a false match needs a hash
// collision, about 2^-64 per pair). The suite's n-grams (small) are held in memory; the
// corpus is streamed in 1 MiB blocks (plain text or gzip, detected by content), so memory
// does not grow with the corpus. Word runs cross line and document boundaries.
// Errors: sb::Error naming the file (unreadable, corrupt gzip); n < 1 or a threshold outside
// [0, 1] is an sb::Error too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sb {

// The normalized words of `text` (see above).
std::vector<std::string> decontam_words(const std::string& text);
// The text of one item record (see above).
std::string decontam_item_text(const nlohmann::json& record);

struct DecontamItem {
  std::string id;
  int64_t n_words = 0;
  int64_t n_ngrams = 0;  // distinct
  int64_t matched = 0;   // distinct n-grams found in the corpus
  double overlap = 0;    // matched / n_ngrams (0 when the item has no words)
  bool flagged = false;
};

struct CorpusStats {
  std::string path;
  int64_t bytes = 0;  // uncompressed
  int64_t words = 0;
};

class DecontamIndex {
 public:
  // texts[i] is item i's text, ids[i] its id.
  DecontamIndex(const std::vector<std::string>& ids, const std::vector<std::string>& texts, int n);
  // Streams one corpus file and marks the item n-grams it contains.
  CorpusStats scan_file(const std::string& path);
  // Streams text given in pieces (for tests and stdin); call finish_stream() at the end.
  void scan_piece(const char* data, size_t size);
  void finish_stream();
  // The per-item result for a threshold in [0, 1].
  std::vector<DecontamItem> results(double threshold) const;

 private:
  void push_word(uint64_t word_hash);
  int n_;
  std::vector<DecontamItem> items_;
  std::vector<std::vector<bool>> seen_;  // per item, per distinct n-gram
  struct Ref {
    uint32_t item, ngram;
  };
  std::vector<std::pair<uint64_t, Ref>> table_;  // sorted by hash
  std::vector<int> lengths_;                     // distinct n-gram lengths (n, and shorter items' lengths)
  std::vector<uint64_t> window_;                 // the last n word hashes, oldest first
  std::string partial_;                          // a word cut at a block boundary
  int64_t words_ = 0;
};

}  // namespace sb
