// SentencePiece BPE ("llama" tokenizer model), following llama.cpp's llm_tokenizer_spm_session:
// the fragment (with a leading space when it starts the text or follows a special token, if
// add_space_prefix) has its spaces escaped to U+2581 and is split into UTF-8 characters; the
// adjacent pair whose concatenation is a vocab token with the highest score is merged (ties:
// leftmost pair) until no pair forms a token; each final symbol is emitted as its token, or
// byte by byte as <0xXX> tokens (else the single-byte token, else UNK).
#include <algorithm>
#include <array>

#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab.h"

namespace sb::tok {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

struct Symbol {
  int32_t prev, next;
  uint32_t start, n;  // bytes [start, start + n) of the escaped text; n == 0 once merged away
};

struct Bigram {
  float score;
  int32_t left, right;
  uint32_t size;
};

// Highest score first; on equal scores the leftmost pair first.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const { return a.score < b.score || (a.score == b.score && a.left > b.left); }
};

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(std::unique_ptr<Vocab> v) : Tokenizer(std::move(v)) {
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const char buf[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
      int32_t id = v_->find(std::string_view(buf, 6));
      const char ch = char(b);
      if (id < 0) id = v_->find(std::string_view(&ch, 1));
      if (id < 0) id = v_->unk;
      byte_token_[size_t(b)] = id;
    }
    for (const std::string& t : v_->text) {
      for (size_t i = t.find(kSpace, 1); i != std::string::npos; i = t.find(kSpace, i + 1)) {
        if (i < 3 || t.compare(i - 3, 3, kSpace) != 0) split_at_space_ = false;
      }
    }
  }

 protected:
  void encode_fragment(std::string_view raw, bool after_special, std::vector<int32_t>& out) const override {
    std::string text;
    text.reserve(raw.size() + raw.size() / 2 + 3);
    if (v_->add_space_prefix && after_special) text += kSpace;
    for (char c : raw) {
      if (c == ' ')
        text += kSpace;
      else
        text.push_back(c);
    }

    std::vector<Symbol> sym;
    sym.reserve(text.size());
    for (size_t off = 0; off < text.size();) {
      const uint32_t n = uint32_t(std::min(utf8_len(uint8_t(text[off])), text.size() - off));
      const int32_t idx = int32_t(sym.size());
      sym.push_back({idx - 1, off + n == text.size() ? -1 : idx + 1, uint32_t(off), n});
      off += n;
    }

    // Independent chunks: when no vocab token has a U+2581 right after a non-U+2581 byte,
    // no merge can cross the start of a U+2581 symbol that follows a non-U+2581 symbol, so
    // the text splits there into chunks that merge independently (and identically: the
    // merge order within a chunk does not depend on the other chunks).
    std::vector<Bigram> heap;
    int32_t chunk_begin = 0;
    const int32_t n_sym = int32_t(sym.size());
    for (int32_t k = 1; k <= n_sym; ++k) {
      if (k < n_sym) {
        if (!split_at_space_) continue;
        const Symbol& s = sym[size_t(k)];
        if (!(s.n == 3 && text.compare(s.start, 3, kSpace) == 0)) continue;
        if (s.start >= 3 && text.compare(s.start - 3, 3, kSpace) == 0) continue;
      }
      sym[size_t(chunk_begin)].prev = -1;
      sym[size_t(k - 1)].next = -1;
      merge_chunk(text, sym, chunk_begin, heap, out);
      chunk_begin = k;
    }
  }

 private:
  // Runs the merges on the linked symbols starting at `first` and emits their tokens.
  void merge_chunk(const std::string& text, std::vector<Symbol>& sym, int32_t first, std::vector<Bigram>& heap,
                   std::vector<int32_t>& out) const {
    heap.clear();
    auto try_add = [&](int32_t l, int32_t r) {
      if (l < 0 || r < 0) return;
      const std::string_view pair(text.data() + sym[size_t(l)].start, sym[size_t(l)].n + sym[size_t(r)].n);
      const int32_t id = v_->find(pair);
      if (id < 0) return;
      heap.push_back({v_->score[size_t(id)], l, r, uint32_t(pair.size())});
      std::push_heap(heap.begin(), heap.end(), BigramOrder{});
    };
    for (int32_t i = first; sym[size_t(i)].next != -1; i = sym[size_t(i)].next) try_add(i, sym[size_t(i)].next);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), BigramOrder{});
      const Bigram b = heap.back();
      heap.pop_back();
      Symbol& l = sym[size_t(b.left)];
      Symbol& r = sym[size_t(b.right)];
      if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) sym[size_t(r.next)].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }

    for (int32_t i = first; i != -1; i = sym[size_t(i)].next) {
      const Symbol& s = sym[size_t(i)];
      const std::string_view piece(text.data() + s.start, s.n);
      const int32_t id = v_->find(piece);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      for (char c : piece) {
        const int32_t bt = byte_token_[uint8_t(c)];
        if (bt >= 0) out.push_back(bt);
      }
    }
  }

  std::array<int32_t, 256> byte_token_{};
  bool split_at_space_ = true;
};

}  // namespace

std::unique_ptr<Tokenizer> make_spm_tokenizer(std::unique_ptr<Vocab> v) { return std::make_unique<SpmTokenizer>(std::move(v)); }

}  // namespace sb::tok
