#include "evals/decontam.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "engine/core/error.h"

namespace sb {

namespace {

bool is_punct(unsigned char c) { return c < 0x80 && std::ispunct(c); }
bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Hash of a sequence of word hashes (order matters; the length is mixed in).
uint64_t seq_hash(const uint64_t* w, size_t k) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ k;
  for (size_t i = 0; i < k; ++i) {
    h ^= w[i] + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  return h;
}

void collect_strings(const nlohmann::json& j, const std::string& key, std::string& out) {
  if (key == "id" || key == "task_id") return;
  if (j.is_string()) {
    if (!out.empty()) out += ' ';
    out += j.get<std::string>();
  } else if (j.is_array()) {
    for (const auto& v : j) collect_strings(v, "", out);
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) collect_strings(v, k, out);
  }
}

}  // namespace

std::vector<std::string> decontam_words(const std::string& text) {
  std::vector<std::string> words;
  std::string cur;
  for (unsigned char c : text) {
    if (is_space(c)) {
      if (!cur.empty()) words.push_back(std::move(cur)), cur.clear();
    } else if (!is_punct(c)) {
      cur += char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

std::string decontam_item_text(const nlohmann::json& record) {
  std::string out;
  collect_strings(record, "", out);
  return out;
}

DecontamIndex::DecontamIndex(const std::vector<std::string>& ids, const std::vector<std::string>& texts, int n) : n_(n) {
  if (n < 1) fail("decontam: --n must be >= 1, got ", n);
  items_.resize(texts.size());
  seen_.resize(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    items_[i].id = ids[i];
    const std::vector<std::string> words = decontam_words(texts[i]);
    items_[i].n_words = int64_t(words.size());
    if (words.empty()) continue;
    std::vector<uint64_t> wh;
    for (const auto& w : words) wh.push_back(fnv1a(w));
    const size_t k = std::min(wh.size(), size_t(n));
    if (std::find(lengths_.begin(), lengths_.end(), int(k)) == lengths_.end()) lengths_.push_back(int(k));
    std::vector<uint64_t> hs;
    for (size_t s = 0; s + k <= wh.size(); ++s) hs.push_back(seq_hash(wh.data() + s, k));
    std::sort(hs.begin(), hs.end());
    hs.erase(std::unique(hs.begin(), hs.end()), hs.end());
    items_[i].n_ngrams = int64_t(hs.size());
    seen_[i].assign(hs.size(), false);
    for (size_t g = 0; g < hs.size(); ++g) table_.push_back({hs[g], Ref{uint32_t(i), uint32_t(g)}});
  }
  std::sort(table_.begin(), table_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::sort(lengths_.begin(), lengths_.end());
}

void DecontamIndex::push_word(uint64_t wh) {
  ++words_;
  window_.push_back(wh);
  if (window_.size() > size_t(n_)) window_.erase(window_.begin());
  for (int k : lengths_) {
    if (window_.size() < size_t(k)) break;
    const uint64_t h = seq_hash(window_.data() + (window_.size() - size_t(k)), size_t(k));
    auto it = std::lower_bound(table_.begin(), table_.end(), h, [](const auto& e, uint64_t v) { return e.first < v; });
    for (; it != table_.end() && it->first == h; ++it) seen_[it->second.item][it->second.ngram] = true;
  }
}

void DecontamIndex::scan_piece(const char* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    if (is_space(c)) {
      if (!partial_.empty()) {
        push_word(fnv1a(partial_));
        partial_.clear();
      }
    } else if (!is_punct(c)) {
      partial_ += char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
  }
}

void DecontamIndex::finish_stream() {
  if (!partial_.empty()) push_word(fnv1a(partial_));
  partial_.clear();
}

CorpusStats DecontamIndex::scan_file(const std::string& path) {
  CorpusStats st;
  st.path = path;
  const int64_t words_before = words_;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail(path, ": cannot open: ", errno ? std::strerror(errno) : "out of memory");
  gzbuffer(f, 1 << 17);
  std::vector<char> buf(1 << 20);
  for (;;) {
    const int got = gzread(f, buf.data(), unsigned(buf.size()));
    if (got < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      if (code == Z_ERRNO) msg = std::strerror(errno);
      gzclose(f);
      fail(path, ": read error at byte ", st.bytes, ": ", msg);
    }
    if (got == 0) break;
    st.bytes += got;
    scan_piece(buf.data(), size_t(got));
  }
  int code = 0;
  const char* msg = gzerror(f, &code);
  if (code != Z_OK && code != Z_BUF_ERROR) {
    std::string m = msg;
    gzclose(f);
    fail(path, ": read error at byte ", st.bytes, ": ", m);
  }
  const int rc = gzclose(f);
  if (rc == Z_BUF_ERROR) fail(path, ": read error at byte ", st.bytes, ": truncated gzip file");
  finish_stream();
  window_.clear();  // files are separate documents
  st.words = words_ - words_before;
  return st;
}

std::vector<DecontamItem> DecontamIndex::results(double threshold) const {
  if (!(threshold >= 0 && threshold <= 1)) fail("decontam: --threshold must be in [0, 1], got ", threshold);
  std::vector<DecontamItem> out = items_;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].matched = int64_t(std::count(seen_[i].begin(), seen_[i].end(), true));
    out[i].overlap = out[i].n_ngrams > 0 ? double(out[i].matched) / double(out[i].n_ngrams) : 0.0;
    out[i].flagged = out[i].n_ngrams > 0 && out[i].overlap > threshold;
  }
  return out;
}

}  // namespace sb
