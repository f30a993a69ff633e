// Decontamination (evals/decontam.h): normalization, n-gram overlap against streamed corpora
// (plain and gzip, words cut at block boundaries), the threshold, short items, and the
// `sparkbench decontam` command's table, JSON and exit codes on small files written here.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "evals/decontam.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

const std::string kItem0 = "The quick brown fox jumps over the lazy dog near the quiet river bank today";  // 15 words
const std::string kItem1 = "Completely different words that never appear in any corpus written for these tests at all ok";

}  // namespace

TEST_CASE("decontam: normalization lower-cases, deletes ASCII punctuation, splits at whitespace", "[decontam][unit]") {
  CHECK(decontam_words("Don't STOP, me-now!\tcafé\n 42") == std::vector<std::string>{"dont", "stop", "menow", "café", "42"});
  CHECK(decontam_words("  ...  ").empty());
  nlohmann::json rec = {{"id", "x/1"}, {"context", "Hello"}, {"choices", {" a.", " b."}}, {"answer", 1}};
  CHECK(decontam_item_text(rec) == " a.  b. Hello");  // every string but the id (object keys in sorted order)
}

TEST_CASE("decontam: overlap is the share of an item's distinct n-grams found in the corpus", "[decontam][unit]") {
  DecontamIndex idx({"a", "b"}, {kItem0, kItem1}, 13);
  // The corpus holds the first 14 words of item 0 (2 of its 3 13-grams), punctuated and cased
  // differently, split into pieces that cut words in half.
  const std::string corpus =
      "noise words here. THE QUICK brown-fox? No: the quick, brown fox jumps over the lazy dog near the quiet river bank. end";
  for (size_t k = 0; k < corpus.size(); k += 7) idx.scan_piece(corpus.data() + k, std::min<size_t>(7, corpus.size() - k));
  idx.finish_stream();
  auto res = idx.results(0.0);
  REQUIRE(res.size() == 2);
  CHECK(res[0].n_ngrams == 3);
  CHECK(res[0].matched == 2);
  CHECK(res[0].overlap == Approx(2.0 / 3.0));
  CHECK(res[0].flagged);
  CHECK(res[1].matched == 0);
  CHECK_FALSE(res[1].flagged);
  // a threshold above the overlap clears it; the threshold is a strict ">"
  CHECK_FALSE(idx.results(0.7)[0].flagged);
  CHECK(idx.results(0.6)[0].flagged);
  CHECK_THROWS_AS(idx.results(1.5), Error);
  CHECK_THROWS_AS(DecontamIndex({"a"}, {"x"}, 0), Error);
}

TEST_CASE("decontam: an item shorter than n counts only when all of it occurs", "[decontam][unit]") {
  DecontamIndex idx({"short", "other"}, {"Lily liked red apples", "blue cars go fast"}, 13);
  idx.scan_piece("lily liked red apples a lot. blue cars", 39);
  idx.finish_stream();
  auto res = idx.results(0);
  CHECK(res[0].n_ngrams == 1);
  CHECK(res[0].flagged);
  CHECK_FALSE(res[1].flagged);  // "blue cars" is not all of "blue cars go fast"
}

TEST_CASE("decontam cli: table, JSON, gzip corpora and exit codes", "[decontam][cli]") {
  const std::string dir = test::temp_dir("cli-decontam");
  write_file(dir + "/data.jsonl", nlohmann::json({{"id", "t/0"}, {"text", kItem0}}).dump() + "\n" +
                                      nlohmann::json({{"id", "t/1"}, {"text", kItem1}}).dump() + "\n");
  write_file(dir + "/manifest.json", R"({"name": "tiny", "version": "1", "task": "perplexity", "data": "data.jsonl", "metrics": ["ppl"]})");
  const std::string clean = write_file(dir + "/clean.txt", "nothing to see here\n");
  // gzip corpus with item 0 in it
  const std::string gz = dir + "/dirty.txt.gz";
  {
    gzFile f = gzopen(gz.c_str(), "wb");
    const std::string text = "Some web page.\n" + kItem0 + "\nMore text.\n";
    gzwrite(f, text.data(), unsigned(text.size()));
    gzclose(f);
  }
  auto r = test::run_cli({"decontam", "--suite", dir, "--corpus", clean});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("0 of 2 items flagged") != std::string::npos);

  r = test::run_cli({"decontam", "--suite", dir, "--corpus", clean, gz});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.out.find("t/0") != std::string::npos);
  CHECK(r.out.find("t/1") == std::string::npos);
  CHECK(r.out.find("1 of 2 items flagged") != std::string::npos);

  r = test::run_cli({"decontam", "--suite", dir, "--corpus", gz, "--json", "--threshold", "0.5"});
  CHECK(r.exit_code == 3);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["n"] == 13);
  CHECK(j["n_items"] == 2);
  CHECK(j["n_flagged"] == 1);
  REQUIRE(j["flagged"].size() == 1);
  CHECK(j["flagged"][0]["id"] == "t/0");
  CHECK(j["flagged"][0]["overlap"] == 1.0);
  CHECK(j["corpus"][0]["words"].get<int64_t>() == 20);

  // errors: one line naming the file, exit 1
  r = test::run_cli({"decontam", "--suite", dir, "--corpus", dir + "/missing.txt"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("missing.txt") != std::string::npos);
  const std::string bad_gz = write_file(dir + "/bad.gz", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage", 18));
  r = test::run_cli({"decontam", "--suite", dir, "--corpus", bad_gz});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("bad.gz") != std::string::npos);
  r = test::run_cli({"decontam", "--suite", dir, "--corpus", clean, "--threshold", "2"});
  CHECK(r.exit_code == 1);
}
