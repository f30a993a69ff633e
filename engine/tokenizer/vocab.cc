// Loading and validating the vocabulary (tokenizer.ggml.* metadata), special-token detection
// the way llama.cpp's llama_vocab::impl::load does it, and the special-token partition.
#include "engine/tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <initializer_list>

#include "common/text.h"
#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/unicode.h"

namespace sb::tok {

namespace {

constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTypes = "tokenizer.ggml.token_type";

const std::vector<GgufValue>& require_array(const GgufFile& f, const char* key, GgufType elem_hint, bool numeric) {
  const GgufValue* v = f.find(key);
  if (!v) fail(f.name(), ": metadata '", key, "' is missing");
  if (v->type() != GgufType::ARRAY) fail(f.name(), ": metadata '", key, "' must be an array, got ", gguf_type_name(v->type()));
  const GgufType et = v->array_type();
  const bool ok = numeric ? (et != GgufType::STRING && et != GgufType::ARRAY && et != GgufType::BOOL) : et == elem_hint;
  if (!ok)
    fail(f.name(), ": metadata '", key, "' must be an array of ", numeric ? "numbers" : gguf_type_name(elem_hint), ", got an array of ",
         gguf_type_name(et));
  return v->as_array(key);
}

// A special-token id: absent -> def (if it fits the vocab), -1 / 0xFFFFFFFF -> none,
// anything else outside the vocab -> error.
int32_t read_id(const GgufFile& f, const std::string& key, int32_t def, int32_t n) {
  const GgufValue* v = f.find(key);
  if (!v) return def < n ? def : -1;
  if (!v->is_int()) fail(f.name(), ": metadata '", key, "' must be an integer, got ", gguf_type_name(v->type()));
  int64_t id;
  if (v->type() == GgufType::UINT64 || v->type() == GgufType::UINT32) {
    const uint64_t u = v->as_uint(key);
    if (u == 0xFFFFFFFFull || u == ~uint64_t(0)) return -1;
    if (u >= uint64_t(n)) fail(f.name(), ": metadata '", key, "' = ", u, " is out of range (the vocab has ", n, " tokens)");
    id = int64_t(u);
  } else {
    id = v->as_int(key);
    if (id == -1) return -1;
    if (id < 0 || id >= n) fail(f.name(), ": metadata '", key, "' = ", id, " is out of range (the vocab has ", n, " tokens)");
  }
  return int32_t(id);
}

bool is_byte_token_text(const std::string& s) {
  return s.size() == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && std::isxdigit(uint8_t(s[3])) && std::isxdigit(uint8_t(s[4])) &&
         s[5] == '>';
}

uint8_t byte_of_token_text(const std::string& s) {
  auto hex = [](char c) { return uint8_t(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10); };
  return uint8_t(hex(s[3]) << 4 | hex(s[4]));
}

bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string make_piece(const Vocab& v, int32_t id) {
  const std::string& t = v.text[size_t(id)];
  switch (v.attr[size_t(id)]) {
    case TokenAttr::Control:
    case TokenAttr::Unknown:
    case TokenAttr::Unused:
      return {};
    case TokenAttr::UserDefined:
      return t;
    case TokenAttr::Byte:
      return std::string(1, char(byte_of_token_text(t)));
    case TokenAttr::Normal:
      break;
  }
  std::string out;
  out.reserve(t.size());
  if (v.model == "llama") {
    for (size_t i = 0; i < t.size(); ++i) {
      if (t.compare(i, 3, "\xE2\x96\x81") == 0) {
        out.push_back(' ');
        i += 2;
      } else {
        out.push_back(t[i]);
      }
    }
    return out;
  }
  // Byte-level BPE: every code point stands for one byte. A code point outside the mapping
  // (malformed vocab) is kept as its UTF-8 text.
  for (size_t i = 0; i < t.size();) {
    const size_t at = i;
    uint32_t cp;
    i += text::utf8_next(t, i, &cp, text::Utf8::lenient);
    const int b = unicode_to_byte(cp);
    if (b >= 0)
      out.push_back(char(b));
    else
      out.append(t, at, i - at);
  }
  return out;
}

}  // namespace

uint64_t TokenIndex::hash(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t(n) * 0xFF51AFD7ED558CCDull);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * 0x94D049BB133111EBull;
  h ^= h >> 32;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 29;
  return h;
}

int32_t TokenIndex::build(const std::vector<std::string>& texts, int32_t* dup) {
  texts_ = &texts;
  size_t cap = 16;
  while (cap < 2 * texts.size()) cap <<= 1;
  slots_.assign(cap, Slot{0, -1});
  mask_ = cap - 1;
  for (size_t id = 0; id < texts.size(); ++id) {
    const uint64_t h = hash(texts[id]);
    const uint32_t tag = uint32_t(h >> 32);
    for (size_t i = size_t(h) & mask_;; i = (i + 1) & mask_) {
      Slot& e = slots_[i];
      if (e.id < 0) {
        e = {tag, int32_t(id)};
        break;
      }
      if (e.tag == tag && texts[size_t(e.id)] == texts[id]) {
        *dup = int32_t(id);
        return e.id;
      }
    }
  }
  return -1;
}

std::unique_ptr<Vocab> load_vocab(const GgufFile& f, bool is_spm) {
  auto v = std::make_unique<Vocab>();
  v->file = f.name();
  v->model = is_spm ? "llama" : "gpt2";
  const auto& toks = require_array(f, kTokens, GgufType::STRING, false);
  if (toks.empty()) fail(f.name(), ": metadata '", kTokens, "' is empty");
  if (toks.size() > size_t(INT32_MAX)) fail(f.name(), ": metadata '", kTokens, "' has too many tokens");
  const int32_t n = int32_t(toks.size());
  v->text.resize(size_t(n));
  v->score.assign(size_t(n), 0.0f);
  v->attr.assign(size_t(n), TokenAttr::Normal);
  v->strip.assign(size_t(n), 0);
  for (int32_t i = 0; i < n; ++i) {
    std::string s = toks[size_t(i)].as_string(kTokens);
    if (s.empty()) s = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp does
    v->text[size_t(i)] = std::move(s);
  }
  int32_t dup = -1;
  if (const int32_t first = v->index.build(v->text, &dup); first >= 0)
    fail(f.name(), ": metadata '", kTokens, "' has duplicate token text at ids ", first, " and ", dup);
  if (f.find(kScores)) {
    const auto& sc = require_array(f, kScores, GgufType::FLOAT32, true);
    if (sc.size() != toks.size()) fail(f.name(), ": metadata '", kScores, "' has ", sc.size(), " entries but '", kTokens, "' has ", n);
    for (int32_t i = 0; i < n; ++i) v->score[size_t(i)] = float(sc[size_t(i)].as_float(kScores));
  }
  if (f.find(kTypes)) {
    const auto& ty = require_array(f, kTypes, GgufType::INT32, true);
    if (ty.size() != toks.size()) fail(f.name(), ": metadata '", kTypes, "' has ", ty.size(), " entries but '", kTokens, "' has ", n);
    for (int32_t i = 0; i < n; ++i) {
      const GgufValue& e = ty[size_t(i)];
      const int64_t t = e.is_int() ? e.as_int(kTypes) : -1;
      if (t < 1 || t > 6) fail(f.name(), ": metadata '", kTypes, "'[", i, "] = ", e.to_string(), " is not a token type (1..6)");
      v->attr[size_t(i)] = TokenAttr(t - 1);
      if (t == 6 && !is_byte_token_text(v->text[size_t(i)]))
        fail(f.name(), ": metadata '", kTypes, "'[", i, "] marks a byte token but its text is not <0xXX>");
    }
  }
  const std::string p = "tokenizer.ggml.";
  v->bos = read_id(f, p + "bos_token_id", is_spm ? 1 : -1, n);
  v->eos = read_id(f, p + "eos_token_id", is_spm ? 2 : -1, n);
  v->unk = read_id(f, p + "unknown_token_id", is_spm ? 0 : -1, n);
  v->pad = read_id(f, p + "padding_token_id", -1, n);
  v->eot = read_id(f, p + "eot_token_id", -1, n);
  v->eom = read_id(f, p + "eom_token_id", -1, n);
  return v;
}

void finish_vocab(Vocab& v, const GgufFile& f) {
  const int32_t n = v.n();
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  v.add_space_prefix = v.model == "llama" && f.get_bool("tokenizer.ggml.add_space_prefix", true);

  auto lowest = [&](std::initializer_list<std::string_view> texts) {
    int32_t best = -1;
    for (auto t : texts) {
      int32_t id = v.find(t);
      if (id >= 0 && (best < 0 || id < best)) best = id;
    }
    return best;
  };
  auto make_control = [&](int32_t id) {
    if (id >= 0) v.attr[size_t(id)] = TokenAttr::Control;
  };
  // Texts llama.cpp treats as end-of-turn / FIM tokens (forcing them to control type).
  if (v.eot < 0) {
    v.eot = lowest({"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
                    "<\xEF\xBD\x9C"
                    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
                    "<end_of_utterance>"});
    make_control(v.eot);
  }
  if (v.eom < 0) {
    v.eom = lowest({"<|eom_id|>"});
    make_control(v.eom);
  }
  std::vector<int32_t> eog;
  const std::initializer_list<std::initializer_list<std::string_view>> fim = {
      {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
       "<\xEF\xBD\x9C"
       "fim\xE2\x96\x81"
       "begin\xEF\xBD\x9C>",
       "<PRE>", "\xE2\x96\x81<PRE>"},
      {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
       "<\xEF\xBD\x9C"
       "fim\xE2\x96\x81hole\xEF\xBD\x9C>",
       "<SUF>", "\xE2\x96\x81<SUF>"},
      {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
       "<\xEF\xBD\x9C"
       "fim\xE2\x96\x81"
       "end\xEF\xBD\x9C>",
       "<MID>", "\xE2\x96\x81<MID>"},
      {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"},
      {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"},
      {"<|file_sep|>"}};
  int k = 0;
  for (const auto& texts : fim) {
    const int32_t id = lowest(texts);
    make_control(id);
    if (id >= 0 && k >= 3) eog.push_back(id);  // FIM pad / repo / file separator end generation
    ++k;
  }
  for (std::string_view t : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
                             "<|end_of_text|>", "<end_of_utterance>"}) {
    const int32_t id = v.find(t);
    make_control(id);
    if (id >= 0) eog.push_back(id);
  }
  for (int32_t id : {v.eos, v.eot, v.eom})
    if (id >= 0) eog.push_back(id);
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  v.eog = std::move(eog);

  for (int32_t id = 0; id < n; ++id) {
    const TokenAttr a = v.attr[size_t(id)];
    if (a == TokenAttr::Control || a == TokenAttr::UserDefined || a == TokenAttr::Unknown) v.special.push_back(id);
  }
  std::stable_sort(v.special.begin(), v.special.end(),
                   [&](int32_t a, int32_t b) { return v.text[size_t(a)].size() > v.text[size_t(b)].size(); });

  // llama.cpp's per-model attribute fix-up for Phi-3: special tokens swallow following spaces.
  std::string name = f.get_string("general.name", "");
  for (char& c : name) c = char(std::tolower(uint8_t(c)));
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : v.special) v.strip[size_t(id)] |= kRstrip;
    if (int32_t id = v.find("</s>"); id >= 0) v.strip[size_t(id)] |= kRstrip;
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"})
      if (int32_t id = v.find(t); id >= 0) v.strip[size_t(id)] &= uint8_t(~kRstrip);
  }

  v.piece.resize(size_t(n));
  for (int32_t id = 0; id < n; ++id) v.piece[size_t(id)] = make_piece(v, id);
}

void partition_special(const Vocab& v, std::string_view text, bool parse_special, std::vector<Fragment>& frags) {
  frags.clear();
  if (text.empty()) return;
  frags.push_back({0, uint32_t(text.size()), -1});
  std::vector<Fragment> next;
  for (int32_t id : v.special) {
    const TokenAttr a = v.attr[size_t(id)];
    if (!parse_special && (a == TokenAttr::Control || a == TokenAttr::Unknown)) continue;
    const std::string& tt = v.text[size_t(id)];
    const uint8_t strip = v.strip[size_t(id)];
    bool changed = false;
    next.clear();
    for (const Fragment& fr : frags) {
      if (fr.token >= 0) {
        next.push_back(fr);
        continue;
      }
      const size_t end = size_t(fr.offset) + fr.length;
      const std::string_view hay = text.substr(0, end);
      size_t base = fr.offset, len = fr.length;
      while (true) {
        const size_t m = hay.find(tt, base);
        if (m == std::string_view::npos) {
          if (len > 0) next.push_back({uint32_t(base), uint32_t(len), -1});
          break;
        }
        changed = true;
        if (m > base) {
          size_t ll = m - base;
          if (strip & kLstrip)
            while (ll > 0 && ascii_space(text[base + ll - 1])) --ll;
          if (ll > 0) next.push_back({uint32_t(base), uint32_t(ll), -1});
        }
        next.push_back({0, 0, id});
        size_t r = m + tt.size();
        if (r >= end) break;
        if (strip & kRstrip)
          while (r < end && ascii_space(text[r])) ++r;
        base = r;
        len = end - r;
        if (len == 0) break;
      }
    }
    if (changed) frags.swap(next);
  }
}

}  // namespace sb::tok
