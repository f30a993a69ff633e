// Byte-level BPE ("gpt2" tokenizer model), following llama.cpp's llm_tokenizer_bpe_session:
// the fragment is read as UTF-8 (ill-formed bytes become U+FFFD, as llama.cpp does), split by
// the pre-tokenizer, and every piece is merged separately. A piece starts as one symbol per
// byte (GPT-2's byte->code point mapping); the adjacent pair with the lowest merge rank is
// merged (ties: leftmost) until no pair has a rank. A final symbol whose text is not a token
// is emitted as its bytes' tokens. With ignore_merges (llama3), a piece that is itself a
// token is emitted directly.
#include <algorithm>
#include <array>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab.h"

namespace sb::tok {

namespace {

constexpr const char* kMerges = "tokenizer.ggml.merges";

struct Merge {
  int32_t rank;
  int32_t result;  // token of the concatenation, -1 if the vocab lacks it
};

inline uint64_t pair_key(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }

// (left id, right id) -> Merge: open addressing with linear probing, power-of-two capacity at
// most half full. Lookups are the hot path of BPE encoding.
class MergeTable {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, Merge{0, 0});
    mask_ = cap - 1;
  }
  // Inserts unless the key is present (the first rank wins, as in llama.cpp).
  void insert(uint64_t key, Merge m) {
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return;
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        vals_[i] = m;
        return;
      }
    }
  }
  const Merge* find(uint64_t key) const {
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &vals_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);  // ids are < 2^31, so no real key is all ones
  size_t slot(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> 32) & mask_; }
  std::vector<uint64_t> keys_;
  std::vector<Merge> vals_;
  size_t mask_ = 0;
};

struct Symbol {
  int32_t id;  // token id of the symbol's text, -1 if none
  int32_t prev, next;
  uint32_t start, n;  // raw bytes [start, start + n) of the piece
};

struct Bigram {
  int32_t rank, result;
  int32_t left, right;
  uint32_t left_n, right_n;  // sizes when queued: a changed size means the pair is stale
};

// Lowest rank first; on equal ranks the leftmost pair first.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const { return a.rank > b.rank || (a.rank == b.rank && a.left > b.left); }
};

struct Scratch {
  std::vector<std::pair<uint32_t, uint32_t>> pieces;
  std::vector<Symbol> sym;
  std::vector<Bigram> heap;
  std::string encoded;
};

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(std::unique_ptr<Vocab> v, std::unique_ptr<PreTokenizer> pre, MergeTable merges)
      : Tokenizer(std::move(v)), pre_(std::move(pre)), merges_(std::move(merges)) {
    const auto& map = byte_to_unicode_utf8();
    for (int b = 0; b < 256; ++b) byte_token_[size_t(b)] = v_->find(map[size_t(b)]);
  }

 protected:
  void encode_fragment(std::string_view raw, bool, std::vector<int32_t>& out) const override {
    std::string storage;
    std::string_view text = raw;
    if (!is_valid_utf8(raw)) {
      storage = to_valid_utf8_lenient(raw);
      text = storage;
    }
    Scratch s;
    pre_->split(text, s.pieces);
    for (const auto& [b, e] : s.pieces) encode_piece(text.substr(b, e - b), s, out);
  }

 private:
  void encode_piece(std::string_view w, Scratch& s, std::vector<int32_t>& out) const {
    if (w.size() == 1) {
      const int32_t id = byte_token_[uint8_t(w[0])];
      if (id >= 0) out.push_back(id);
      return;
    }
    if (pre_->spec().ignore_merges) {
      const auto& map = byte_to_unicode_utf8();
      s.encoded.clear();
      for (char c : w) s.encoded += map[uint8_t(c)];
      const int32_t id = v_->find(s.encoded);
      if (id >= 0) {
        out.push_back(id);
        return;
      }
    }
    auto& sym = s.sym;
    sym.clear();
    const int32_t n = int32_t(w.size());
    for (int32_t i = 0; i < n; ++i) sym.push_back({byte_token_[uint8_t(w[size_t(i)])], i - 1, i + 1 < n ? i + 1 : -1, uint32_t(i), 1});

    auto& heap = s.heap;  // a binary heap ordered by BigramOrder (top = front)
    heap.clear();
    auto try_add = [&](int32_t l, int32_t r) {
      if (l < 0 || r < 0) return;
      const Symbol& a = sym[size_t(l)];
      const Symbol& b = sym[size_t(r)];
      if (a.id < 0 || b.id < 0) return;
      const Merge* m = merges_.find(pair_key(a.id, b.id));
      if (!m) return;
      heap.push_back({m->rank, m->result, l, r, a.n, b.n});
      std::push_heap(heap.begin(), heap.end(), BigramOrder{});
    };
    for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), BigramOrder{});
      const Bigram bg = heap.back();
      heap.pop_back();
      Symbol& l = sym[size_t(bg.left)];
      Symbol& r = sym[size_t(bg.right)];
      if (l.n != bg.left_n || r.n != bg.right_n) continue;  // stale: one side changed or is gone
      l.id = bg.result;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) sym[size_t(r.next)].prev = bg.left;
      try_add(l.prev, bg.left);
      try_add(bg.left, l.next);
    }

    for (int32_t i = 0; i != -1; i = sym[size_t(i)].next) {
      const Symbol& x = sym[size_t(i)];
      if (x.id >= 0) {
        out.push_back(x.id);
        continue;
      }
      // Not a token (merge result missing from the vocab, or a byte the vocab lacks): one
      // token per byte, skipping bytes that have none.
      for (uint32_t k = x.start; k < x.start + x.n; ++k) {
        const int32_t id = byte_token_[uint8_t(w[k])];
        if (id >= 0) out.push_back(id);
      }
    }
  }

  std::unique_ptr<PreTokenizer> pre_;
  MergeTable merges_;
  std::array<int32_t, 256> byte_token_{};
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(std::unique_ptr<Vocab> v, const GgufFile& f) {
  std::string pre = f.get_string("tokenizer.ggml.pre", "default");
  if (pre.empty()) pre = "default";
  auto pt = PreTokenizer::create(pre, f.name());
  v->pre = pre;
  v->add_bos = pt->spec().add_bos;
  finish_vocab(*v, f);

  const GgufValue* m = f.find(kMerges);
  if (!m) fail(f.name(), ": metadata '", kMerges, "' is missing (a gpt2 tokenizer needs its merges)");
  if (m->type() != GgufType::ARRAY || m->array_type() != GgufType::STRING)
    fail(f.name(), ": metadata '", kMerges, "' must be an array of strings");
  const auto& items = m->as_array(kMerges);
  if (items.size() > size_t(INT32_MAX)) fail(f.name(), ": metadata '", kMerges, "' has too many entries");
  MergeTable merges;
  merges.reserve(items.size());
  std::string joined;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& s = items[i].as_string(kMerges);
    const size_t sp = s.find(' ', 1);
    if (sp == std::string::npos)
      fail(f.name(), ": metadata '", kMerges, "'[", i, "] = '", escape_bytes(s, '\''), "' is not two tokens separated by a space");
    const std::string_view left(s.data(), sp), right(s.data() + sp + 1, s.size() - sp - 1);
    const int32_t l = v->find(left), r = v->find(right);
    if (l < 0 || r < 0)
      fail(f.name(), ": metadata '", kMerges, "'[", i, "] = '", escape_bytes(s, '\''), "' names unknown token '",
           escape_bytes(l < 0 ? left : right, '\''), "'");
    joined.assign(left).append(right);
    merges.insert(pair_key(l, r), Merge{int32_t(i), v->find(joined)});  // first occurrence keeps its rank
  }
  return std::make_unique<BpeTokenizer>(std::move(v), std::move(pt), std::move(merges));
}

}  // namespace sb::tok
