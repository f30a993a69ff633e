// Codex-Spark vocabulary: dictionary construction and SentencePiece-BPE-style training.
// See spark_vocab.h for the contract.
#include "engine/model/spark_vocab.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <queue>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/text.h"
#include "engine/core/error.h"

namespace sb {
namespace {

#include "engine/model/spark_words.inc"

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, stands for ' '
constexpr int kNumSpecial = 3;                           // <unk> <s> </s>
constexpr int kNumByte = 256;                            // <0x00>..<0xFF>

// Base characters, ascending by code point (see the header).
const std::vector<uint32_t>& base_codepoints() {
  static const std::vector<uint32_t> cps = [] {
    std::vector<uint32_t> v = {'\t', '\n'};
    for (uint32_t c = 0x21; c <= 0x7E; ++c) v.push_back(c);
    for (uint32_t c = 0xA1; c <= 0xFF; ++c)
      if (c != 0xAD) v.push_back(c);
    for (uint32_t c : {0x2013u, 0x2014u, 0x2018u, 0x2019u, 0x201Cu, 0x201Du, 0x2022u, 0x2026u, 0x20ACu, 0x2581u}) v.push_back(c);
    return v;
  }();
  return cps;
}

std::vector<std::string_view> split_ws(const char* text) {
  std::vector<std::string_view> out;
  std::string_view s(text);
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
    size_t j = i;
    while (j < s.size() && !(s[j] == ' ' || s[j] == '\n' || s[j] == '\t' || s[j] == '\r')) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Upper-cases the first letter (ASCII a-z and Latin-1 U+00E0..U+00FE except U+00F7);
// returns the word unchanged when it does not start with such a letter. Locale-independent.
std::string capitalize(std::string_view w) {
  std::string s(w);
  if (s.empty()) return s;
  unsigned char c = static_cast<unsigned char>(s[0]);
  if (c >= 'a' && c <= 'z') {
    s[0] = char(c - 32);
  } else if (c == 0xC3 && s.size() >= 2) {  // U+00C0..U+00FF
    unsigned char c2 = static_cast<unsigned char>(s[1]);
    if (c2 >= 0xA0 && c2 <= 0xBE && c2 != 0xB7) s[1] = char(c2 - 0x20);
  }
  return s;
}

bool all_lower_alpha(std::string_view w) {
  for (char c : w)
    if (c < 'a' || c > 'z') return false;
  return !w.empty();
}

std::string with_space_marks(std::string_view w) {
  std::string s;
  for (char c : w) {
    if (c == ' ')
      s += kSpaceMark;
    else
      s += c;
  }
  return s;
}

// The weighted training dictionary: (entry text with spaces already U+2581, integer weight),
// sorted by text, texts unique (weights of repeated texts are summed). Weights are Zipf-like
// in the rank r of a word within its list: scale / (r + offset).
std::vector<std::pair<std::string, int64_t>> build_dictionary() {
  std::vector<std::pair<std::string, int64_t>> dict;
  dict.reserve(1 << 16);
  auto add = [&](std::string s, int64_t w) {
    if (w > 0 && !s.empty()) dict.emplace_back(std::move(s), w);
  };
  const std::string sp(kSpaceMark);
  const int64_t K = 1000000000;  // weight scale
  auto zipf = [&](int64_t rank, int64_t scale) { return scale / (rank + 30); };

  // English words. Usual shape in text: " word" (after a space), then " Word" (sentence
  // start), "word" (after a quote, bracket or newline), "Word".
  auto add_english = [&](std::string_view w, int64_t base) {
    add(sp + std::string(w), base);
    add(std::string(w), base / 10);
    std::string cap = capitalize(w);
    if (cap != w) {
      add(sp + cap, base / 6);
      add(cap, base / 30);
    }
  };
  {
    std::set<std::string_view> seen;
    int64_t rank = 0;
    for (const char* tier : {kEnglishTier1, kEnglishTier2, kEnglishEveryday, kEnglishTier3, kEnglishTier4, kEnglishRare})
      for (std::string_view w : split_ws(tier))
        if (seen.insert(w).second) add_english(w, zipf(rank++, K));
    // Inflected and derived forms rank as if they followed the first few hundred words.
    int64_t frank = 400;
    for (std::string_view w : split_ws(kEnglishForms))
      if (seen.insert(w).second) add_english(w, zipf(frank++, K));
    int64_t lrank = 3000;
    for (std::string_view w : split_ws(kLatin1Words))
      if (seen.insert(w).second) add_english(w, zipf(lrank++, K));
  }
  // Proper nouns and capitalized words, as written.
  {
    std::set<std::string_view> seen;
    int64_t rank = 150;
    for (std::string_view w : split_ws(kProperNouns)) {
      if (!seen.insert(w).second) continue;
      int64_t base = zipf(rank++, K) / 2;
      add(sp + std::string(w), base);
      add(std::string(w), base / 4);
    }
  }
  // Programming vocabulary: " name" and "name" (after '.', '(' or indentation) about equally;
  // lower-case identifier parts also as "_name" (snake_case continuations) and capitalized
  // (type names).
  {
    std::set<std::string_view> seen;
    int64_t rank = 0;
    for (std::string_view w : split_ws(kCodeWords)) {
      if (!seen.insert(w).second) continue;
      int64_t base = zipf(rank++, K * 7 / 10);
      add(sp + std::string(w), base);
      add(std::string(w), base * 3 / 5);
      if (all_lower_alpha(w) && w.size() >= 2) add(std::string("_").append(w), base / 12);
      if (all_lower_alpha(w) && w.size() >= 3) {  // type and class names: " Node", "Node"
        add(sp + capitalize(w), base / 15);
        add(capitalize(w), base / 15);
      }
    }
  }
  // Operators, punctuation clusters, whitespace runs: as written.
  {
    std::set<std::string_view> seen;
    int64_t rank = 0;
    for (const char* u : kSymbolUnits) {
      if (!seen.insert(u).second) continue;
      add(with_space_marks(u), (K * 3 / 2) / (rank++ + 10));
    }
  }
  std::sort(dict.begin(), dict.end());
  size_t out = 0;
  for (size_t i = 0; i < dict.size(); ++i) {
    if (out > 0 && dict[out - 1].first == dict[i].first)
      dict[out - 1].second += dict[i].second;
    else if (out++ != i)
      dict[out - 1] = std::move(dict[i]);
  }
  dict.resize(out);
  return dict;
}

// Trains up to max_merges new pieces; returns their texts in merge order. Stops early when no
// pair is left to merge.
//
// Incremental: every distinct adjacent pair gets a dense id with its weighted count and the
// list of words it may occur in; a merge rewrites only those words and adjusts only the
// counts of pairs next to the merged positions. The best pair comes from a max-heap with lazy
// deletion (an entry is live only while its count equals the pair's current count).
std::vector<std::string> train(int64_t max_merges) {
  const std::vector<uint32_t>& cps = base_codepoints();
  std::vector<std::string> piece_text;  // symbol id -> text
  std::unordered_map<std::string, int> piece_id;
  std::unordered_map<uint32_t, int> cp_id;
  for (uint32_t cp : cps) {
    std::string s;
    text::utf8_append(s, cp);
    cp_id.emplace(cp, int(piece_text.size()));
    piece_id.emplace(s, int(piece_text.size()));
    piece_text.push_back(std::move(s));
  }
  std::unordered_set<std::string> reserved = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    reserved.insert(buf);
  }

  // Words as symbol-id runs in one arena; a word only ever shrinks in place.
  std::vector<int> arena;
  std::vector<uint32_t> w_off, w_len;
  std::vector<int64_t> w_weight;
  {
    const auto dict = build_dictionary();
    arena.reserve(dict.size() * 8);
    std::vector<int> syms;
    for (const auto& [text, weight] : dict) {
      syms.clear();
      bool ok = true;
      for (size_t i = 0; i < text.size() && ok;) {
        uint32_t cp;
        i += text::utf8_next(text, i, &cp, text::Utf8::lenient);
        auto it = cp_id.find(cp);
        if (it == cp_id.end())
          ok = false;  // a character outside the base set: skip the entry
        else
          syms.push_back(it->second);
      }
      if (!ok || syms.size() < 2) continue;
      w_off.push_back(uint32_t(arena.size()));
      w_len.push_back(uint32_t(syms.size()));
      w_weight.push_back(weight);
      arena.insert(arena.end(), syms.begin(), syms.end());
    }
  }
  const int n_words = int(w_off.size());

  struct Pair {
    int left, right;
    int64_t count = 0;
    bool forbidden = false;
    std::vector<int> words;  // words that may contain the pair (stale entries allowed)
  };
  std::vector<Pair> pairs;
  std::unordered_map<uint64_t, int> pair_index;
  pairs.reserve(1 << 17);
  pair_index.reserve(1 << 17);
  auto pair_id = [&](int a, int b) {
    uint64_t key = (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
    auto [it, inserted] = pair_index.try_emplace(key, int(pairs.size()));
    if (inserted) pairs.push_back(Pair{a, b, 0, false, {}});
    return it->second;
  };
  for (int wi = 0; wi < n_words; ++wi) {
    const int* s = arena.data() + w_off[wi];
    for (uint32_t i = 0; i + 1 < w_len[wi]; ++i) {
      Pair& p = pairs[pair_id(s[i], s[i + 1])];
      p.count += w_weight[wi];
      if (p.words.empty() || p.words.back() != wi) p.words.push_back(wi);
    }
  }

  struct Entry {
    int64_t count;
    int pair;
  };
  // Lower priority: smaller count; on equal counts the lexicographically larger
  // (left text, right text). Distinct pairs never compare equal, so the order is total.
  auto lower_priority = [&](const Entry& a, const Entry& b) {
    if (a.count != b.count) return a.count < b.count;
    const Pair& pa = pairs[a.pair];
    const Pair& pb = pairs[b.pair];
    if (int c = piece_text[pa.left].compare(piece_text[pb.left]); c != 0) return c > 0;
    return piece_text[pa.right].compare(piece_text[pb.right]) > 0;
  };
  std::vector<Entry> init;
  init.reserve(pairs.size());
  for (int i = 0; i < int(pairs.size()); ++i) init.push_back({pairs[i].count, i});
  std::priority_queue<Entry, std::vector<Entry>, decltype(lower_priority)> heap(lower_priority, std::move(init));

  std::vector<int> stamp(size_t(n_words), -1);
  std::vector<std::pair<int, int64_t>> deltas;  // (pair id, count change)
  std::vector<std::string> merged;
  for (int step = 0; int64_t(merged.size()) < max_merges && !heap.empty(); ++step) {
    const Entry top = heap.top();
    heap.pop();
    if (pairs[top.pair].count != top.count || top.count <= 0 || pairs[top.pair].forbidden) continue;
    const int L = pairs[top.pair].left, R = pairs[top.pair].right;
    std::string text = piece_text[L] + piece_text[R];
    if (reserved.count(text)) {  // would collide with a special or byte token
      pairs[top.pair].forbidden = true;
      continue;
    }
    int nid;
    if (auto pit = piece_id.find(text); pit != piece_id.end()) {
      nid = pit->second;  // same text reached by another split: merge, but no new piece
    } else {
      nid = int(piece_text.size());
      piece_id.emplace(text, nid);
      piece_text.push_back(text);
      merged.push_back(std::move(text));
    }

    const std::vector<int> occ = std::move(pairs[top.pair].words);
    pairs[top.pair].words = {};
    deltas.clear();
    for (int wi : occ) {
      if (stamp[wi] == step) continue;
      stamp[wi] = step;
      int* s = arena.data() + w_off[wi];
      const uint32_t n = w_len[wi];
      const int64_t w = w_weight[wi];
      // Merge left to right in place, recording only the pairs that change (as HF
      // tokenizers' Word::merge does). The left neighbour is read from the already-merged
      // prefix, so runs such as "aaaa" with L == R are counted exactly.
      uint32_t out = 0;
      for (uint32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == L && s[i + 1] == R) {
          if (out > 0) {
            const int prev = s[out - 1];
            deltas.push_back({pair_id(prev, L), -w});
            const int np = pair_id(prev, nid);
            deltas.push_back({np, w});
            pairs[np].words.push_back(wi);
          }
          deltas.push_back({top.pair, -w});
          if (i + 2 < n) {
            const int next = s[i + 2];
            deltas.push_back({pair_id(R, next), -w});
            const int np = pair_id(nid, next);
            deltas.push_back({np, w});
            pairs[np].words.push_back(wi);
          }
          s[out++] = nid;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      w_len[wi] = out;
    }
    std::sort(deltas.begin(), deltas.end());
    for (size_t i = 0; i < deltas.size();) {
      const int pid = deltas[i].first;
      int64_t d = 0;
      for (; i < deltas.size() && deltas[i].first == pid; ++i) d += deltas[i].second;
      if (d == 0) continue;
      Pair& p = pairs[pid];
      p.count += d;
      if (p.count > 0 && !p.forbidden) heap.push({p.count, pid});
    }
  }
  return merged;
}

}  // namespace

int spark_vocab_min_size() { return kNumSpecial + kNumByte + int(base_codepoints().size()); }

int spark_vocab_max_size() {
  static const int max_size = spark_vocab_min_size() + int(train(INT64_MAX).size());
  return max_size;
}

std::vector<VocabEntry> make_spark_vocab(int n_vocab) {
  const int min_size = spark_vocab_min_size();
  if (n_vocab < min_size)
    fail("spark vocabulary: n_vocab ", n_vocab, " is smaller than the ", min_size, " fixed entries (specials, bytes, base characters)");
  std::vector<std::string> merged = train(n_vocab - min_size);
  if (int(merged.size()) < n_vocab - min_size)
    fail("spark vocabulary: n_vocab ", n_vocab, " exceeds the ", min_size + int(merged.size()),
         " entries the built-in dictionary can train");

  std::vector<VocabEntry> v;
  v.reserve(size_t(n_vocab));
  v.push_back({"<unk>", 0.0f, kSparkTokUnknown});
  v.push_back({"<s>", 0.0f, kSparkTokControl});
  v.push_back({"</s>", 0.0f, kSparkTokControl});
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    v.push_back({buf, 0.0f, kSparkTokByte});
  }
  for (uint32_t cp : base_codepoints()) {
    std::string s;
    text::utf8_append(s, cp);
    v.push_back({std::move(s), 0.0f, kSparkTokNormal});
  }
  for (size_t k = 0; k < merged.size(); ++k) v.push_back({std::move(merged[k]), -float(k + 1), kSparkTokNormal});
  return v;
}

}  // namespace sb
