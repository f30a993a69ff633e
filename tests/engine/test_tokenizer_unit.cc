// Tokenizer unit tests on tiny in-memory vocabularies written with GgufWriter: SPM merging and
// fallbacks, byte-level BPE merges, special-token partition, pre-tokenizer regex lists,
// decoding, the incremental decoder, metadata validation and concurrent use.
#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

using namespace sb;
using Ids = std::vector<int32_t>;

namespace {

const std::string kSp = "\xE2\x96\x81";  // U+2581

std::unique_ptr<Tokenizer> load(const GgufWriter& w) {
  const auto bytes = w.serialize();
  auto f = GgufFile::parse(bytes.data(), bytes.size(), "mem.gguf");
  return Tokenizer::from_gguf(*f);  // copies what it needs: bytes and f die after this
}

// Expects from_gguf to fail with a one-line message containing every fragment.
void expect_load_error(const GgufWriter& w, std::initializer_list<std::string> fragments) {
  try {
    load(w);
    FAIL("expected sb::Error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg.rfind("mem.gguf: ", 0) == 0);
    for (const auto& f : fragments) CHECK(msg.find(f) != std::string::npos);
  }
}

// SPM vocab: <unk> <s> </s>, 256 byte tokens (ids 3..258), then the pieces given.
struct SpmVocab {
  std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
  std::vector<float> scores{0, 0, 0};
  std::vector<int32_t> types{2, 3, 3};
  explicit SpmVocab(bool byte_tokens = true) {
    if (!byte_tokens) return;
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) add(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">", 0, 6);
  }
  int32_t add(const std::string& t, float score, int32_t type = 1) {
    tokens.push_back(t);
    scores.push_back(score);
    types.push_back(type);
    return int32_t(tokens.size() - 1);
  }
  GgufWriter writer() const {
    GgufWriter w;
    w.set("general.architecture", GgufValue::string("llama"));
    w.set("tokenizer.ggml.model", GgufValue::string("llama"));
    w.set("tokenizer.ggml.tokens", GgufValue::strings(tokens));
    w.set("tokenizer.ggml.scores", GgufValue::f32s(scores));
    w.set("tokenizer.ggml.token_type", GgufValue::i32s(types));
    w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(1));
    w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(2));
    w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(0));
    return w;
  }
};

int32_t byte_id(uint8_t b) { return 3 + b; }

// Byte-level BPE vocab: ids 0..255 are the bytes (GPT-2 mapping), then extra tokens.
struct BpeVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  BpeVocab() {
    for (const auto& s : tok::byte_to_unicode_utf8()) add(s);
  }
  int32_t add(const std::string& t, int32_t type = 1) {
    tokens.push_back(t);
    types.push_back(type);
    return int32_t(tokens.size() - 1);
  }
  GgufWriter writer(const std::string& pre = "gpt-2") const {
    GgufWriter w;
    w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
    if (!pre.empty()) w.set("tokenizer.ggml.pre", GgufValue::string(pre));
    w.set("tokenizer.ggml.tokens", GgufValue::strings(tokens));
    w.set("tokenizer.ggml.token_type", GgufValue::i32s(types));
    w.set("tokenizer.ggml.merges", GgufValue::strings(merges));
    return w;
  }
};

// A byte's id in BpeVocab (ids follow byte order).
int32_t b(char c) { return uint8_t(c); }

std::vector<std::string> split(const std::string& pre, const std::string& text) {
  auto p = tok::PreTokenizer::create(pre, "x");
  std::vector<std::pair<uint32_t, uint32_t>> pieces;
  p->split(text, pieces);
  std::vector<std::string> out;
  for (auto [s, e] : pieces) out.push_back(text.substr(s, e - s));
  return out;
}

}  // namespace

TEST_CASE("spm: merges the highest-scoring pair first, leftmost on ties", "[tokenizer][unit]") {
  SpmVocab v;
  const int32_t sp = v.add(kSp, -1), a = v.add("a", -2), bb = v.add("b", -2), c = v.add("c", -2);
  const int32_t ab = v.add("ab", -5), bc = v.add("bc", -3), aa = v.add("aa", -4);
  auto tok = load(v.writer());
  CHECK(tok->kind() == "spm");
  CHECK(tok->pre().empty());
  CHECK(tok->n_vocab() == int32_t(v.tokens.size()));
  CHECK(tok->add_bos_default());
  CHECK(tok->add_space_prefix());
  // "▁abc": "bc" (-3) beats "ab" (-5); "abc" and "▁a" are not tokens.
  CHECK(tok->encode("abc", false) == Ids{sp, a, bc});
  // "▁aaa": both "aa" pairs score the same; the leftmost merges.
  CHECK(tok->encode("aaa", false) == Ids{sp, aa, a});
  CHECK(tok->encode("ab", true) == Ids{1, sp, ab});
  CHECK(tok->encode("c b", false) == Ids{sp, c, sp, bb});
  CHECK(tok->encode("", false).empty());
  CHECK(tok->encode("", true) == Ids{1});
}

TEST_CASE("spm: byte fallback, single-byte tokens and UNK", "[tokenizer][unit]") {
  {
    SpmVocab v;
    const int32_t sp = v.add(kSp, -1);
    auto tok = load(v.writer());
    // "é" = C3 A9 is not a piece: two byte tokens.
    CHECK(tok->encode("\xC3\xA9", false) == Ids{sp, byte_id(0xC3), byte_id(0xA9)});
    // A stray byte is one symbol of its own.
    CHECK(tok->encode("\xFF", false) == Ids{sp, byte_id(0xFF)});
  }
  {
    SpmVocab v(/*byte_tokens=*/false);
    const int32_t sp = v.add(kSp, -1), x = v.add("x", -1);
    auto tok = load(v.writer());
    CHECK(tok->encode("x\xC3\xA9", false) == Ids{sp, x, 0, 0});  // no <0xXX>, no single-byte token: UNK
  }
}

TEST_CASE("spm: add_space_prefix false, and the prefix after special tokens", "[tokenizer][unit]") {
  SpmVocab v;
  const int32_t sp = v.add(kSp, -1), a = v.add("a", -2), spa = v.add(kSp + "a", -1.5f);
  const int32_t user = v.add("<us>", 0, 4), ctl = v.add("<ctl>", 0, 3), c = v.add("c", -2);
  {
    auto w = v.writer();
    w.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(false));
    auto tok = load(w);
    CHECK_FALSE(tok->add_space_prefix());
    CHECK(tok->encode("a a", false) == Ids{a, spa});
    CHECK(tok->decode({a, spa}) == "a a");
  }
  auto tok = load(v.writer());
  (void)sp;
  // User-defined tokens are split out even without parse_special; each following fragment
  // gets the space prefix again (llama.cpp).
  CHECK(tok->encode("a<us>a", false) == Ids{spa, user, spa});
  CHECK(tok->encode("a<ctl>a", false, /*parse_special=*/true) == Ids{spa, ctl, spa});
  const Ids raw = tok->encode("a<ctl>a", false, /*parse_special=*/false);
  CHECK(raw == Ids{spa, byte_id('<'), c, byte_id('t'), byte_id('l'), byte_id('>'), a});
  CHECK(tok->encode("<us>", true) == Ids{1, user});
}

TEST_CASE("spm: pieces and decode", "[tokenizer][unit]") {
  SpmVocab v;
  const int32_t sp = v.add(kSp, -1), spa = v.add(kSp + "a", -1.5f), user = v.add("<u" + kSp + ">", 0, 4);
  const int32_t unused = v.add("<unused0>", 0, 5);
  auto tok = load(v.writer());
  CHECK(tok->token_to_piece(spa) == " a");
  CHECK(tok->token_to_piece(sp) == " ");
  CHECK(tok->token_to_piece(byte_id(0x41)) == "A");
  CHECK(tok->token_to_piece(1).empty());  // control
  CHECK(tok->token_to_piece(0).empty());  // unknown
  CHECK(tok->token_to_piece(unused).empty());
  CHECK(tok->token_to_piece(user) == "<u" + kSp + ">");  // user-defined: text as-is
  CHECK(tok->token_text(1) == "<s>");
  CHECK(tok->attr(1) == TokenAttr::Control);
  CHECK(tok->attr(0) == TokenAttr::Unknown);
  CHECK(tok->attr(byte_id(0)) == TokenAttr::Byte);
  CHECK(tok->attr(user) == TokenAttr::UserDefined);
  CHECK(tok->attr(unused) == TokenAttr::Unused);
  CHECK(tok->find_token(kSp + "a") == spa);
  CHECK_FALSE(tok->find_token("zzz").has_value());
  // decode drops one leading space (the prefix), also after BOS; nothing else.
  CHECK(tok->decode({1, spa, spa}) == "a a");
  CHECK(tok->decode({spa, spa}) == "a a");
  CHECK(tok->decode({1, sp, spa}) == " a");
  for (const char* t : {"a a", " a", "  a ", "\xC3\xA9 a", "a\n", ""})
    for (bool bos : {false, true}) CHECK(tok->decode(tok->encode(t, bos)) == t);
  CHECK_THROWS_AS(tok->token_to_piece(-1), Error);
  CHECK_THROWS_AS(tok->token_to_piece(tok->n_vocab()), Error);
  CHECK_THROWS_AS(tok->decode({0, 99999}), Error);
}

TEST_CASE("incremental decoder: holds back split UTF-8, flushes invalid bytes as U+FFFD", "[tokenizer][unit]") {
  SpmVocab v;
  const int32_t spa = v.add(kSp + "a", -1.5f);
  auto tok = load(v.writer());
  IncrementalDecoder d(*tok);
  CHECK(d.push(1).empty());  // BOS: no text
  CHECK(d.push(spa) == " a");
  // 日 = E6 97 A5, one byte token at a time.
  CHECK(d.push(byte_id(0xE6)).empty());
  CHECK(d.push(byte_id(0x97)).empty());
  CHECK(d.push(byte_id(0xA5)) == "\xE6\x97\xA5");
  CHECK(d.push(byte_id(0xFF)) == "\xEF\xBF\xBD");  // can never start a sequence: replaced at once
  CHECK(d.push(byte_id(0xC3)).empty());
  CHECK(d.push(byte_id('x')) == "\xEF\xBF\xBDx");  // broken sequence: one U+FFFD, then 'x'
  CHECK(d.push(byte_id(0xF0)).empty());
  CHECK(d.push(byte_id(0x9F)).empty());
  CHECK(d.flush() == "\xEF\xBF\xBD");  // truncated at the end
  CHECK(d.flush().empty());
}

TEST_CASE("spm: end-of-generation and special ids", "[tokenizer][unit]") {
  SpmVocab v;
  const int32_t im_end = v.add("<|im_end|>", 0, 1);  // normal type: forced to control, as llama.cpp does
  const int32_t x = v.add("x", -1);
  auto tok = load(v.writer());
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_id() == 2);
  CHECK(tok->unk_id() == 0);
  CHECK(tok->pad_id() == -1);
  CHECK(tok->eot_id() == im_end);
  CHECK(tok->attr(im_end) == TokenAttr::Control);
  CHECK(tok->is_eog(2));
  CHECK(tok->is_eog(im_end));
  CHECK_FALSE(tok->is_eog(1));
  CHECK_FALSE(tok->is_eog(x));
  CHECK_FALSE(tok->is_eog(-1));
  // -1 / 0xFFFFFFFF mean "none"; add_bos_token is honoured.
  auto w = v.writer();
  w.set("tokenizer.ggml.padding_token_id", GgufValue::u32(0xFFFFFFFFu));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(false));
  auto t2 = load(w);
  CHECK(t2->pad_id() == -1);
  CHECK_FALSE(t2->add_bos_default());
}

TEST_CASE("tokenizer: malformed metadata is rejected with one line naming file and key", "[tokenizer][unit]") {
  SpmVocab v;
  v.add(kSp, -1);
  {
    auto w = v.writer();
    auto s = v.scores;
    s.pop_back();
    w.set("tokenizer.ggml.scores", GgufValue::f32s(s));
    expect_load_error(w, {"tokenizer.ggml.scores", std::to_string(s.size()) + " entries"});
  }
  {
    auto w = v.writer();
    auto t = v.types;
    t.push_back(1);
    w.set("tokenizer.ggml.token_type", GgufValue::i32s(t));
    expect_load_error(w, {"tokenizer.ggml.token_type", "entries"});
  }
  {
    auto w = v.writer();
    w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(100000));
    expect_load_error(w, {"tokenizer.ggml.bos_token_id", "100000", "out of range"});
  }
  {
    auto w = v.writer();
    w.set("tokenizer.ggml.eos_token_id", GgufValue::i32(-7));
    expect_load_error(w, {"tokenizer.ggml.eos_token_id", "out of range"});
  }
  {
    auto w = v.writer();
    auto t = v.types;
    t[5] = 9;
    w.set("tokenizer.ggml.token_type", GgufValue::i32s(t));
    expect_load_error(w, {"tokenizer.ggml.token_type", "[5]"});
  }
  {
    auto w = v.writer();
    auto t = v.types;
    t.back() = 6;  // "▁" is not <0xXX>
    w.set("tokenizer.ggml.token_type", GgufValue::i32s(t));
    expect_load_error(w, {"byte token"});
  }
  {
    auto w = v.writer();
    auto t = v.tokens;
    t.back() = "<s>";
    w.set("tokenizer.ggml.tokens", GgufValue::strings(t));
    expect_load_error(w, {"tokenizer.ggml.tokens", "duplicate"});
  }
  {
    auto w = v.writer();
    w.set("tokenizer.ggml.tokens", GgufValue::f32s({1.0f}));
    expect_load_error(w, {"tokenizer.ggml.tokens", "array of string"});
  }
  {
    auto w = v.writer();
    w.set("tokenizer.ggml.model", GgufValue::string("bert"));
    expect_load_error(w, {"tokenizer.ggml.model", "bert", "llama, gpt2"});
  }
  {
    auto w = v.writer();
    w.remove("tokenizer.ggml.model");
    expect_load_error(w, {"tokenizer.ggml.model", "missing"});
  }
  {
    auto w = v.writer();
    w.remove("tokenizer.ggml.tokens");
    expect_load_error(w, {"tokenizer.ggml.tokens", "missing"});
  }
}

TEST_CASE("bpe: merges by rank, per-byte fallback, ignore_merges", "[tokenizer][unit]") {
  BpeVocab v;
  const int32_t he = v.add("he"), gt = v.add("\xC4\xA0t"), gthe = v.add("\xC4\xA0the"), abc = v.add("abc");
  v.merges = {"h e", "\xC4\xA0 t", "\xC4\xA0t he", "x y"};  // "xy" is not a token
  {
    auto tok = load(v.writer("gpt-2"));
    CHECK(tok->kind() == "bpe");
    CHECK(tok->pre() == "gpt-2");
    CHECK_FALSE(tok->add_bos_default());
    CHECK_FALSE(tok->add_space_prefix());
    CHECK(tok->bos_id() == -1);
    // "the" -> t + he ("t he" has no rank); " the" -> Ġ t h e -> Ġ t he -> Ġt he -> Ġthe.
    CHECK(tok->encode("the the", false) == Ids{b('t'), he, gthe});
    CHECK(tok->encode(" t", false) == Ids{gt});
    CHECK(tok->encode("xy", false) == Ids{b('x'), b('y')});  // merge result not in vocab: per byte
    CHECK(tok->encode("abc", false) == Ids{b('a'), b('b'), b('c')});
    CHECK(tok->encode("", true).empty());  // no BOS in this vocab
    // Byte-level pieces; invalid UTF-8 input reads as U+FFFD (EF BF BD), as in llama.cpp.
    CHECK(tok->token_to_piece(gthe) == " the");
    CHECK(tok->token_to_piece(b('\n')) == "\n");
    CHECK(tok->encode("\xFF", false) == Ids{0xEF, 0xBF, 0xBD});
    for (const char* t : {"the the", "h\xC3\xA9llo w\xC3\xB6rld\n", " \t\n  x", "\xF0\x9F\xA6\x99"})
      CHECK(tok->decode(tok->encode(t, false)) == t);
  }
  {
    auto tok = load(v.writer("llama-bpe"));  // ignore_merges: a whole piece that is a token wins
    CHECK(tok->pre() == "llama-bpe");
    CHECK(tok->encode("abc", false) == Ids{abc});
    CHECK(tok->add_bos_default());
  }
  {
    auto tok = load(v.writer(""));  // no pre: llama.cpp's "default"
    CHECK(tok->pre() == "default");
  }
}

TEST_CASE("bpe: special tokens, parse_special and end of generation", "[tokenizer][unit]") {
  BpeVocab v;
  const int32_t eot = v.add("<|endoftext|>", 3), user = v.add("<tool>", 4);
  auto w = v.writer("gpt-2");
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(uint32_t(eot)));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(uint32_t(eot)));
  auto tok = load(w);
  CHECK(tok->encode("a<|endoftext|>", false, true) == Ids{b('a'), eot});
  const Ids raw = tok->encode("a<|endoftext|>", false, false);
  CHECK(raw.size() == 14);
  CHECK(tok->encode("<tool>x", false, false) == Ids{user, b('x')});
  CHECK(tok->encode("x", true) == Ids{eot, b('x')});
  CHECK(tok->is_eog(eot));
  CHECK(tok->token_to_piece(eot).empty());
  CHECK(tok->token_to_piece(user) == "<tool>");
}

TEST_CASE("bpe: bad merges and unknown pre-tokenizers are rejected", "[tokenizer][unit]") {
  BpeVocab v;
  v.add("he");
  {
    auto w = v.writer("gpt-2");
    w.set("tokenizer.ggml.merges", GgufValue::strings({"h e", "h zz"}));
    expect_load_error(w, {"tokenizer.ggml.merges", "[1]", "unknown token 'zz'"});
  }
  {
    auto w = v.writer("gpt-2");
    w.set("tokenizer.ggml.merges", GgufValue::strings({"he"}));
    expect_load_error(w, {"tokenizer.ggml.merges", "[0]", "separated by a space"});
  }
  {
    auto w = v.writer("gpt-2");
    w.set("tokenizer.ggml.merges", GgufValue::strings({"h\n\x01 e"}));
    expect_load_error(w, {"tokenizer.ggml.merges", "\\n\\x01"});
  }
  {
    auto w = v.writer("gpt-2");
    w.remove("tokenizer.ggml.merges");
    expect_load_error(w, {"tokenizer.ggml.merges", "missing"});
  }
  expect_load_error(v.writer("no-such-pre"), {"tokenizer.ggml.pre", "no-such-pre", "supported:", "gpt-2", "llama3", "deepseek-coder",
                                              "qwen2", "starcoder", "falcon", "default"});
}

TEST_CASE("pre-tokenizers: regex lists split like llama.cpp", "[tokenizer][unit]") {
  using V = std::vector<std::string>;
  CHECK(split("gpt-2", "Hello world's 123  x\n\n") == V{"Hello", " world", "'s", " 123", " ", " x", "\n\n"});
  CHECK(split("gpt-2", "a\t\tb") == V{"a", "\t", "\t", "b"});
  CHECK(split("gpt-2", "caf\xC3\xA9!?") == V{"caf\xC3\xA9", "!?"});
  CHECK(split("llama-bpe", "12345 I'M ok\r\n\n  x") == V{"123", "45", " I", "'M", " ok", "\r\n\n", " ", " x"});
  CHECK(split("qwen2", "2024") == V{"2", "0", "2", "4"});
  CHECK(split("starcoder", "x 2024") == V{"x", " ", "2", "0", "2", "4"});
  CHECK(split("deepseek-coder", "ab1\n\xE6\x97\xA5\xE6\x9C\xAC") == V{"ab", "1", "\n", "\xE6\x97\xA5\xE6\x9C\xAC"});
  CHECK(split("default", "a+b=1234") == V{"a", "+", "b", "=", "123", "4"});
  CHECK(split("falcon", "x `1234`") == V{"x", " ", "`", "123", "4", "`"});
  // Each regex splits every piece again: the ASCII class of the third one ([!-/:-~]) also
  // cuts the 't' out of " été" that the letter regex kept whole (llama.cpp does the same).
  CHECK(split("deepseek-llm", "Hi, \xC3\xA9t\xC3\xA9!  ") == V{"Hi", ",", " \xC3\xA9", "t", "\xC3\xA9", "!", "  "});
  // U+0085 (NEL) and U+3000 are whitespace for \s, as in llama.cpp.
  CHECK(split("gpt-2",
              "a\xC2\x85\xC2\x85"
              "b") == V{"a", "\xC2\x85", "\xC2\x85", "b"});
  CHECK(split("gpt-2", "") == V{});
}

TEST_CASE("tokenizer: encode and decode are safe to call from several threads", "[tokenizer][unit]") {
  SpmVocab sv;
  sv.add(kSp, -1);
  sv.add("a", -2);
  sv.add(kSp + "a", -1.5f);
  BpeVocab bv;
  bv.add("he");
  bv.merges = {"h e"};
  std::vector<std::unique_ptr<Tokenizer>> toks;
  toks.push_back(load(sv.writer()));
  toks.push_back(load(bv.writer("llama-bpe")));
  std::string text;
  for (int i = 0; i < 200; ++i) text += "a he 12 \xC3\xA9\n";
  for (const auto& tok : toks) {
    const Ids want = tok->encode(text, true);
    std::vector<int> ok(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int k = 0; k < 20; ++k) ok[size_t(t)] += tok->encode(text, true) == want && tok->decode(want) == text;
      });
    for (auto& th : threads) th.join();
    CHECK(ok == std::vector<int>(4, 20));
  }
}

TEST_CASE("unicode helpers: escaping and UTF-8 repair", "[tokenizer][unit]") {
  CHECK(tok::escape_bytes("a'b\\\n\t\r\x01\x7F\xC3\xA9\xFF", '\'') == "a\\'b\\\\\\n\\t\\r\\x01\\x7f\xC3\xA9\\xff");
  CHECK(tok::is_valid_utf8("h\xC3\xA9\xF0\x9F\xA6\x99"));
  CHECK_FALSE(tok::is_valid_utf8("\xC0\x80"));          // overlong
  CHECK_FALSE(tok::is_valid_utf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(tok::is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(tok::is_valid_utf8("\xE6\x97"));          // truncated
  CHECK(tok::to_valid_utf8_lenient("a\xFF"
                                   "b") ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(tok::to_valid_utf8_lenient("\xC0\x80") == std::string(1, '\0'));  // llama.cpp decodes overlongs
  CHECK(tok::to_valid_utf8_lenient("\xED\xA0\x80") == "\xEF\xBF\xBD");
  CHECK(tok::to_valid_utf8_lenient("\xE6\x97") == "\xEF\xBF\xBD\xEF\xBF\xBD");
}
