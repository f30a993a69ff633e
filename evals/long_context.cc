#include "evals/long_context.h"

#include <algorithm>
#include <random>
#include <set>

#include "engine/core/error.h"

namespace sb {
namespace {

const char* const kDoors[] = {"red", "blue", "green", "yellow", "white", "black", "pink", "brown", "orange", "purple", "gray", "gold"};

uint64_t fnv1a(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// One fact placed in the haystack at a depth in [0, 1].
struct Insert {
  double depth;
  std::string text;
  bool asked;
};

}  // namespace

LongContextGrid long_context_grid(const Suite& s, const LongContextOverrides& ov) {
  LongContextGrid g;
  const std::string where = s.source + "/manifest.json";
  try {
    g.lengths = s.get<std::vector<int64_t>>("lengths", g.lengths);
    g.depths = s.get<std::vector<int>>("depths", g.depths);
    g.items = s.get<int>("items", g.items);
    g.loss_items = s.get<int>("loss_items", g.loss_items);
    g.kinds = s.get<std::vector<std::string>>("kinds", g.kinds);
    g.answer_tokens = s.get<int>("answer_tokens", g.answer_tokens);
    g.multikey_facts = s.get<int>("multikey_facts", g.multikey_facts);
    g.seed = s.get<uint64_t>("seed", g.seed);
    g.effective_threshold = s.get<double>("effective_threshold", g.effective_threshold);
    g.effective_min_acc = s.get<double>("effective_min_acc", g.effective_min_acc);
  } catch (const nlohmann::json::exception& e) {
    fail(where, ": bad long_context grid field: ", e.what());
  }
  std::string src = where;
  if (!ov.lengths.empty()) g.lengths = ov.lengths, src = "--lc-lengths";
  for (int64_t l : g.lengths)
    if (l < 1) fail(src, ": lengths must be positive token counts (got ", l, ")");
  src = where;
  if (!ov.depths.empty()) g.depths = ov.depths, src = "--lc-depths";
  if (g.depths.empty()) fail(src, ": no depths");
  for (int d : g.depths)
    if (d < 0 || d > 100) fail(src, ": depths are percentages in [0, 100] (got ", d, ")");
  if (ov.items > 0) g.items = ov.items;
  if (ov.loss_items > 0) g.loss_items = ov.loss_items;
  if (g.items < 1 || g.loss_items < 0) fail(where, ": items must be >= 1 and loss_items >= 0");
  for (const auto& k : g.kinds)
    if (k != "passkey" && k != "multikey" && k != "loss") fail(where, ": unknown kind '", k, "' (passkey, multikey, loss)");
  if (g.answer_tokens < 1) fail(where, ": answer_tokens must be >= 1");
  if (g.multikey_facts < 2 || g.multikey_facts > int(std::size(kDoors)))
    fail(where, ": multikey_facts must be in [2, ", std::size(kDoors), "]");
  std::sort(g.lengths.begin(), g.lengths.end());
  g.lengths.erase(std::unique(g.lengths.begin(), g.lengths.end()), g.lengths.end());
  std::sort(g.depths.begin(), g.depths.end());
  g.depths.erase(std::unique(g.depths.begin(), g.depths.end()), g.depths.end());
  return g;
}

std::vector<int64_t> long_context_lengths(const LongContextGrid& g, int64_t n_ctx) {
  if (!g.lengths.empty()) return g.lengths;
  std::vector<int64_t> out;
  for (int64_t l = n_ctx; l >= 64 && out.size() < 5; l /= 2) out.push_back(l);
  std::reverse(out.begin(), out.end());
  return out;
}

Suite long_context_items(const Suite& s, int64_t n_ctx, const LongContextOverrides& ov) {
  const LongContextGrid g = long_context_grid(s, ov);
  Suite out = s;
  out.items.clear();
  const auto lengths = long_context_lengths(g, n_ctx);
  int64_t line = 0;
  auto has = [&](const char* k) { return std::find(g.kinds.begin(), g.kinds.end(), k) != g.kinds.end(); };
  for (const char* kind : {"passkey", "multikey"}) {
    if (!has(kind)) continue;
    for (int64_t L : lengths)
      for (int d : g.depths)
        for (int i = 0; i < g.items; ++i) {
          const std::string id = std::string(kind) + "/L=" + std::to_string(L) + "/d=" + std::to_string(d) + "/" + std::to_string(i);
          out.items.push_back({++line, {{"id", id}, {"kind", kind}, {"length", L}, {"depth", d}, {"index", i}}});
        }
  }
  if (has("loss") && !lengths.empty()) {
    int64_t L = lengths.front();
    for (int64_t l : lengths)
      if (l <= n_ctx) L = std::max(L, l);
    for (int i = 0; i < g.loss_items; ++i) {
      const std::string id = "loss/L=" + std::to_string(L) + "/" + std::to_string(i);
      out.items.push_back({++line, {{"id", id}, {"kind", "loss"}, {"length", L}, {"depth", 0}, {"index", i}}});
    }
  }
  out.manifest["grid"] = {{"lengths", lengths}, {"depths", g.depths}, {"items", g.items}, {"loss_items", g.loss_items},
                          {"kinds", g.kinds},   {"n_ctx", n_ctx},     {"seed", g.seed}};
  return out;
}

std::optional<LongContextText> build_long_context_text(const nlohmann::json& item, const LongContextGrid& g,
                                                       const std::vector<std::string>& filler, int64_t target, const TokenCounter& count,
                                                       std::string& answer) {
  if (filler.empty()) fail("long-context: no filler text");
  const std::string kind = item.at("kind"), id = item.at("id");
  std::mt19937_64 rng(fnv1a(id, g.seed));
  const size_t start = size_t(rng() % filler.size());
  // The filler words from the start sentence on (wrapping), with sentence ends marked.
  std::vector<std::string> words;
  std::vector<bool> ends;  // ends[i]: a sentence ends after word i
  size_t k = 0;            // sentences read
  auto add_sentences = [&](size_t upto_words) {
    while (words.size() < upto_words) {
      const auto w = split_words(filler[(start + k++) % filler.size()]);
      for (size_t j = 0; j < w.size(); ++j) {
        words.push_back(w[j]);
        ends.push_back(j + 1 == w.size());
      }
      if (k > filler.size() * 64) break;
    }
  };
  std::string intro, question;
  std::vector<Insert> inserts;
  answer.clear();
  if (kind == "passkey") {
    const std::string key = std::to_string(10000 + rng() % 90000);
    answer = key;
    intro = "There is a pass key hidden in the story below. Find it and remember it.\n\n";
    inserts.push_back(
        {item.at("depth").get<int>() / 100.0, "The pass key is " + key + ". Remember it. " + key + " is the pass key.", true});
    question = "\n\nWhat is the pass key? The pass key is";
  } else if (kind == "multikey") {
    std::vector<int> doors(std::size(kDoors));
    for (size_t i = 0; i < doors.size(); ++i) doors[i] = int(i);
    std::shuffle(doors.begin(), doors.end(), rng);
    std::set<std::string> keys;
    for (int f = 0; f < g.multikey_facts; ++f) {
      std::string key;
      do key = std::to_string(10000 + rng() % 90000);
      while (!keys.insert(key).second);
      const std::string door = kDoors[doors[size_t(f)]];
      const bool asked = f == 0;
      const double depth = asked ? item.at("depth").get<int>() / 100.0 : double(rng() % 1001) / 1000.0;
      inserts.push_back({depth, "The pass key for the " + door + " door is " + key + ".", asked});
      if (asked) {
        answer = key;
        question = "\n\nWhat is the pass key for the " + door + " door? The pass key for the " + door + " door is";
      }
    }
    intro = "There are pass keys for several doors hidden in the story below. Find them and remember them.\n\n";
  } else if (kind != "loss") {
    fail("long-context item ", id, ": unknown kind '", kind, "'");
  }
  // Asked fact last among equal depths so that depth 100 puts it right before the question.
  std::stable_sort(inserts.begin(), inserts.end(),
                   [](const Insert& a, const Insert& b) { return a.depth < b.depth || (a.depth == b.depth && !a.asked && b.asked); });
  std::string pad_text;
  int64_t needle_chars = -1;
  auto render = [&](size_t n_words) {
    std::string text = intro;
    // Each fact goes in at the sentence boundary nearest depth * n_words.
    std::vector<size_t> at;
    for (const auto& in : inserts) {
      const double want = in.depth * double(n_words);
      size_t best = 0;
      double dist = want;
      for (size_t i = 0; i < n_words; ++i)
        if (ends[i] && std::abs(double(i + 1) - want) < dist) dist = std::abs(double(i + 1) - want), best = i + 1;
      at.push_back(best);
    }
    size_t next = 0;
    bool first = true;
    auto put = [&](const std::string& w) {
      if (!first) text += ' ';
      text += w;
      first = false;
    };
    needle_chars = -1;
    for (size_t i = 0; i <= n_words; ++i) {
      while (next < inserts.size() && at[next] == i) {
        if (inserts[next].asked) needle_chars = int64_t(text.size() + (first ? 0 : 1));
        put(inserts[next].text);
        ++next;
      }
      if (i < n_words) put(words[i]);
    }
    return text + pad_text + question;
  };
  if (count(render(0)) > target) return std::nullopt;
  // Largest n with count(render(n)) <= target: grow, then bisect.
  size_t lo = 0, hi = 16;
  for (;;) {
    add_sentences(hi + 1);
    if (words.size() < hi) fail("long-context: the filler text is too short for ", target, " tokens");
    if (count(render(hi)) > target) break;
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    (count(render(mid)) <= target ? lo : hi) = mid;
  }
  LongContextText out;
  out.filler_words = int64_t(lo);
  int64_t n = count(render(lo));
  static const char* const kPads[] = {" .", ".", " a", " the", "\n", " and", ","};
  while (n < target) {
    bool moved = false;
    for (const char* p : kPads) {
      const std::string saved = pad_text;
      pad_text += p;
      const int64_t c = count(render(lo));
      if (c > n && c <= target) {
        n = c;
        ++out.pads;
        moved = true;
        break;
      }
      pad_text = saved;
    }
    if (!moved) fail("long-context item ", id, ": cannot reach exactly ", target, " tokens (stuck at ", n, ")");
  }
  out.prompt = render(lo);
  out.n_tokens = n;
  if (needle_chars >= 0) out.needle_token = count(out.prompt.substr(0, size_t(needle_chars)));
  return out;
}

bool long_context_answer_matches(const std::string& output, const std::string& key) {
  size_t a = output.find_first_not_of(" \t\r\n");
  if (a == std::string::npos || key.empty()) return false;
  size_t b = output.find_first_of(" \t\r\n", a);
  std::string w = output.substr(a, b == std::string::npos ? std::string::npos : b - a);
  while (!w.empty() && std::string(".,;:!?").find(w.back()) != std::string::npos) w.pop_back();
  return w == key;
}

std::vector<std::pair<int64_t, int64_t>> loss_buckets(int64_t length) {
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t lo = 1, hi = 16;
  while (lo <= length - 1) {
    out.push_back({lo, std::min(hi, length) - 1});
    lo = hi;
    hi *= 2;
  }
  return out;
}

}  // namespace sb
