// Tokenizer conformance against llama.cpp's own test sets (../shared/vocab: 5 vocab-only GGUFs
// with .inp/.out) and llama-tokenize output on stories260K (../shared/reference). A failing case
// prints the set, the case index, the escaped text, and the expected and actual ids.
#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/core/mmap_file.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// `.inp`: each text followed by "\n__ggml_vocab_test__\n"; `.out`: one line of ids per text.
std::vector<Case> load_set(const std::string& base) {
  const std::string inp = read_file(base + ".inp"), out = read_file(base + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t at = 0; at < inp.size();) {
    const size_t e = inp.find(sep, at);
    REQUIRE(e != std::string::npos);
    cases.push_back({inp.substr(at, e - at), {}});
    at = e + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    REQUIRE(i < cases.size());
    std::istringstream ls(line);
    int32_t id;
    while (ls >> id) cases[i].ids.push_back(id);
    ++i;
  }
  REQUIRE(i == cases.size());
  return cases;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  auto f = GgufFile::open(path);
  return Tokenizer::from_gguf(*f);
}

void run_vocab_set(const std::string& name) {
  const std::string base = test::shared_path("vocab/ggml-vocab-" + name + ".gguf");
  auto tok = load_tokenizer(base);
  const auto cases = load_set(base);
  REQUIRE(cases.size() == 46);
  size_t pass = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto got = tok->encode(cases[i].text, /*add_bos=*/false, /*parse_special=*/false);
    if (got == cases[i].ids) {
      ++pass;
      continue;
    }
    FAIL_CHECK("set " << name << " case " << i << " text '" << tok::escape_bytes(cases[i].text, '\'')
                      << "'\n  expected:" << ids_str(cases[i].ids) << "\n  actual:  " << ids_str(got));
  }
  std::cout << "tokenizer conformance " << name << ": " << pass << "/" << cases.size() << " cases pass\n";
  CHECK(pass == cases.size());
}

// decode(encode(t)) == t: every case of these sets consists of ordinary tokens only.
void run_round_trip(const std::string& name) {
  const std::string base = test::shared_path("vocab/ggml-vocab-" + name + ".gguf");
  auto tok = load_tokenizer(base);
  const auto cases = load_set(base);
  for (size_t i = 0; i < cases.size(); ++i) {
    for (bool bos : {false, true}) {
      const std::string back = tok->decode(tok->encode(cases[i].text, bos));
      if (back != cases[i].text)
        FAIL_CHECK("set " << name << " case " << i << " (bos " << bos << ") text '" << tok::escape_bytes(cases[i].text, '\'')
                          << "' decodes back as '" << tok::escape_bytes(back, '\'') << "'");
    }
  }
}

}  // namespace

TEST_CASE("tokenizer conformance: llama-spm", "[tokenizer][shared]") {
  if (test::skip_without_shared()) return;
  run_vocab_set("llama-spm");
}
TEST_CASE("tokenizer conformance: phi-3", "[tokenizer][shared]") {
  if (test::skip_without_shared()) return;
  run_vocab_set("phi-3");
}
TEST_CASE("tokenizer conformance: gpt-2", "[tokenizer][shared]") {
  if (test::skip_without_shared()) return;
  run_vocab_set("gpt-2");
}
TEST_CASE("tokenizer conformance: starcoder", "[tokenizer][shared]") {
  if (test::skip_without_shared()) return;
  run_vocab_set("starcoder");
}
TEST_CASE("tokenizer conformance: deepseek-coder", "[tokenizer][shared]") {
  if (test::skip_without_shared()) return;
  run_vocab_set("deepseek-coder");
}

TEST_CASE("tokenizer conformance: stories260K matches llama-tokenize (with BOS)", "[tokenizer][shared]") {
  if (test::skip_without_shared()) return;
  auto tok = load_tokenizer(test::shared_path("models/stories260K.gguf"));
  const auto j = nlohmann::json::parse(read_file(test::shared_path("reference/stories260k/tokenize.json")));
  REQUIRE(j["add_bos"] == true);
  REQUIRE(j["parse_special"] == false);
  size_t i = 0, pass = 0;
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids"].get<std::vector<int32_t>>();
    const auto got = tok->encode(text, /*add_bos=*/true);
    if (got == want)
      ++pass;
    else
      FAIL_CHECK("set stories260K case " << i << " text '" << tok::escape_bytes(text, '\'') << "'\n  expected:" << ids_str(want)
                                         << "\n  actual:  " << ids_str(got));
    ++i;
  }
  std::cout << "tokenizer conformance stories260K: " << pass << "/" << i << " cases pass\n";
  CHECK(pass == i);
  CHECK(i >= 16);
}

TEST_CASE("tokenizer round trip: decode(encode(text)) == text on the conformance sets", "[tokenizer][shared]") {
  if (test::skip_without_shared()) return;
  for (const char* name : {"llama-spm", "phi-3", "gpt-2", "starcoder", "deepseek-coder"}) run_round_trip(name);
}
