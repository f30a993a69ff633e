// The self-made Codex-Spark SentencePiece vocabulary (engine/model/spark_vocab.h): layout,
// uniqueness, reachability of every merged piece, determinism (with a recorded checksum), and
// behaviour through the real SPM tokenizer (engine/tokenizer) via an in-memory GGUF.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/model/spark_vocab.h"
#include "engine/tokenizer/tokenizer.h"

using namespace sb;

namespace {

// Generated once per test process (training costs a few tenths of a second).
const std::vector<VocabEntry>& vocab32k() {
  static const std::vector<VocabEntry> v = make_spark_vocab(32000);
  return v;
}

// FNV-1a (64-bit) over every entry's text, a 0xFF separator, its type and its score (as a
// little-endian int32); independent of the platform's float formatting and endianness.
uint64_t checksum(const std::vector<VocabEntry>& v) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (const VocabEntry& e : v) {
    for (char c : e.text) mix(uint8_t(c));
    mix(0xFF);
    mix(uint8_t(e.type));
    const auto s = uint32_t(int32_t(e.score));
    for (int k = 0; k < 4; ++k) mix(uint8_t(s >> (8 * k)));
  }
  return h;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = uint8_t(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((uint8_t(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

size_t count_chars(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (uint8_t(c) & 0xC0) != 0x80;
  return n;
}

std::unique_ptr<Tokenizer> spark_tokenizer(std::vector<uint8_t>& storage) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (const auto& e : vocab32k()) {
    tokens.push_back(e.text);
    scores.push_back(e.score);
    types.push_back(e.type);
  }
  w.set("tokenizer.ggml.model", GgufValue::string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::strings(tokens));
  w.set("tokenizer.ggml.scores", GgufValue::f32s(scores));
  w.set("tokenizer.ggml.token_type", GgufValue::i32s(types));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(0));
  storage = w.serialize();
  auto f = GgufFile::parse(storage.data(), storage.size(), "spark-vocab.gguf");
  return Tokenizer::from_gguf(*f);
}

const char* const kProse =
    "When the committee met on Thursday, the first item on the agenda was the budget for the new "
    "library wing. Several members argued that the city should wait until the spring, when the "
    "final cost estimates would be available, but the chair pointed out that construction prices "
    "had risen every quarter for two years. After a long discussion, they agreed to approve half "
    "of the funding now and review the rest in April. Residents had also complained that the "
    "evening buses were unreliable, and a local teacher described how her students often waited "
    "forty minutes in the rain.";

const char* const kPython =
    "def merge_intervals(intervals):\n"
    "    \"\"\"Merge overlapping [start, end] intervals and return them sorted.\"\"\"\n"
    "    if not intervals:\n"
    "        return []\n"
    "    intervals = sorted(intervals, key=lambda x: x[0])\n"
    "    merged = [intervals[0]]\n"
    "    for start, end in intervals[1:]:\n"
    "        last = merged[-1]\n"
    "        if start <= last[1]:\n"
    "            last[1] = max(last[1], end)\n"
    "        else:\n"
    "            merged.append([start, end])\n"
    "    return merged\n";

}  // namespace

TEST_CASE("spark vocab: 32000 unique entries with the fixed layout", "[vocab][unit]") {
  const auto& v = vocab32k();
  REQUIRE(v.size() == 32000);

  std::unordered_set<std::string> seen;
  for (const auto& e : v) {
    CHECK(seen.insert(e.text).second);
    CHECK(!e.text.empty());
    CHECK(valid_utf8(e.text));
  }
  CHECK(seen.size() == v.size());

  CHECK(v[0].text == "<unk>");
  CHECK(v[0].type == kSparkTokUnknown);
  CHECK(v[1].text == "<s>");
  CHECK(v[1].type == kSparkTokControl);
  CHECK(v[2].text == "</s>");
  CHECK(v[2].type == kSparkTokControl);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    const auto& e = v[size_t(3 + b)];
    CHECK(e.text == buf);
    CHECK(e.type == kSparkTokByte);
    CHECK(e.score == 0.0f);
  }
  for (int i = 0; i < 3; ++i) CHECK(v[size_t(i)].score == 0.0f);

  // Base characters: single code points, score 0, including U+2581, '\n' and '\t'; no
  // plain space anywhere in the vocabulary.
  const int min_size = spark_vocab_min_size();
  REQUIRE(min_size > 259);
  std::unordered_set<std::string> base;
  for (int i = 259; i < min_size; ++i) {
    const auto& e = v[size_t(i)];
    CHECK(count_chars(e.text) == 1);
    CHECK(e.type == kSparkTokNormal);
    CHECK(e.score == 0.0f);
    base.insert(e.text);
  }
  for (const char* c : {"\xE2\x96\x81", "\n", "\t", "a", "Z", "0", "{", "~", "\xC3\xA9" /* é */}) CHECK(base.count(c) == 1);
  CHECK(base.count(" ") == 0);
  for (const auto& e : v) CHECK(e.text.find(' ') == std::string::npos);

  // Merged pieces: normal, at least two characters, score -1, -2, ... in id order.
  for (size_t i = size_t(min_size); i < v.size(); ++i) {
    const auto& e = v[i];
    CHECK(e.type == kSparkTokNormal);
    CHECK(count_chars(e.text) >= 2);
    CHECK(e.score == -float(i - size_t(min_size) + 1));
  }
}

TEST_CASE("spark vocab: every merged piece is two higher-scoring pieces", "[vocab][unit]") {
  // What llama.cpp-style SPM merging needs to be able to form each piece.
  const auto& v = vocab32k();
  std::unordered_map<std::string, float> score;
  for (const auto& e : v)
    if (e.type == kSparkTokNormal) score.emplace(e.text, e.score);
  int unreachable = 0;
  for (const auto& e : v) {
    if (e.type != kSparkTokNormal || count_chars(e.text) < 2) continue;
    bool ok = false;
    for (size_t cut = 1; cut < e.text.size() && !ok; ++cut) {
      if ((uint8_t(e.text[cut]) & 0xC0) == 0x80) continue;  // not a character boundary
      auto l = score.find(e.text.substr(0, cut));
      auto r = score.find(e.text.substr(cut));
      ok = l != score.end() && r != score.end() && l->second > e.score && r->second > e.score;
    }
    if (!ok) {
      ++unreachable;
      UNSCOPED_INFO("unreachable piece: '" << e.text << "'");
    }
  }
  CHECK(unreachable == 0);
}

TEST_CASE("spark vocab: deterministic, prefix-stable, checksum recorded", "[vocab][unit]") {
  const auto& a = vocab32k();
  const auto b = make_spark_vocab(32000);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].text == b[i].text);
    CHECK(a[i].score == b[i].score);
    CHECK(a[i].type == b[i].type);
  }
  // A smaller vocabulary is a prefix of the larger one.
  const auto small = make_spark_vocab(1000);
  REQUIRE(small.size() == 1000);
  for (size_t i = 0; i < small.size(); ++i) CHECK(small[i].text == a[i].text);

  // Recorded value. Every synthetic model file embeds this vocabulary, so a change must be
  // deliberate: when you change spark_words.inc or the training, update this number (and say
  // so in the change) -- never just to make the test pass.
  CHECK(checksum(a) == 0x32888ec890eb1fcfull);
}

TEST_CASE("spark vocab: n_vocab out of range is an error", "[vocab][unit]") {
  const int min_size = spark_vocab_min_size();
  CHECK(make_spark_vocab(min_size).size() == size_t(min_size));
  CHECK_THROWS_AS(make_spark_vocab(min_size - 1), Error);
  CHECK_THROWS_AS(make_spark_vocab(0), Error);
  const int max_size = spark_vocab_max_size();
  CHECK(max_size >= 32000);
  CHECK_THROWS_AS(make_spark_vocab(max_size + 1), Error);
}

TEST_CASE("spark vocab: through the SPM tokenizer", "[vocab][unit]") {
  std::vector<uint8_t> storage;
  auto tok = spark_tokenizer(storage);
  REQUIRE(tok->n_vocab() == 32000);
  CHECK(tok->kind() == "spm");
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_id() == 2);

  // Common words and code keywords are single tokens.
  for (const char* w : {"the", "function", "return", "because", "information", "self", "def", "import", "while", "people"}) {
    const auto ids = tok->encode(w, /*add_bos=*/false);
    INFO("word '" << w << "'");
    CHECK(ids.size() == 1);
  }

  // SPM merging reproduces the training merges: every space-prefixed merged piece, given as
  // plain text (the tokenizer adds the leading space), comes back as exactly that one token.
  {
    const auto& v = vocab32k();
    const std::string mark = "\xE2\x96\x81";
    int total = 0, exact = 0;
    for (size_t i = size_t(spark_vocab_min_size()); i < v.size(); ++i) {
      const std::string& p = v[i].text;
      if (p.compare(0, mark.size(), mark) != 0) continue;
      std::string raw;
      for (size_t k = mark.size(); k < p.size();) {
        if (p.compare(k, mark.size(), mark) == 0) {
          raw += ' ';
          k += mark.size();
        } else {
          raw += p[k++];
        }
      }
      ++total;
      const auto ids = tok->encode(raw, /*add_bos=*/false);
      if (ids.size() == 1 && ids[0] == int32_t(i))
        ++exact;
      else
        UNSCOPED_INFO("piece '" << p << "' does not encode to itself");
    }
    CHECK(total > 10000);
    CHECK(exact == total);
  }

  const std::string prose = kProse;
  const auto prose_ids = tok->encode(prose, /*add_bos=*/false);
  const double prose_cpt = double(count_chars(prose)) / double(prose_ids.size());
  const std::string py = kPython;
  const auto py_ids = tok->encode(py, /*add_bos=*/false);
  const double py_cpt = double(count_chars(py)) / double(py_ids.size());
  INFO("English prose: " << prose_cpt << " chars/token, Python: " << py_cpt << " chars/token");
  CHECK(prose_cpt >= 3.0);
  CHECK(py_cpt >= 2.5);

  // Round trips, including characters outside the vocabulary (byte fallback).
  CHECK(tok->decode(tok->encode(prose, /*add_bos=*/true)) == prose);
  CHECK(tok->decode(tok->encode(py, /*add_bos=*/true)) == py);
  const std::string mixed = "Caf\xC3\xA9 na\xC3\xAFve \xE2\x86\x92 \xF0\x9F\x99\x82\ttab\r\nend  two  spaces";
  CHECK(tok->decode(tok->encode(mixed, /*add_bos=*/true)) == mixed);
  const auto mixed_ids = tok->encode(mixed, false);
  CHECK(std::find(mixed_ids.begin(), mixed_ids.end(), 0) == mixed_ids.end());  // never <unk>
}
