// The engine commands end to end through the real executable: logits, generate, perplexity.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/backends/backend.h"
#include "engine/model/plg.h"
#include "tests/test_support.h"

using namespace sb;

TEST_CASE("cli: logits dumps match llama.cpp's on every backend and KV type", "[cli][shared]") {
  if (test::skip_without_shared()) return;
  const std::string model = test::shared_path("models/stories260K.gguf");
  const std::string dir = test::temp_dir("cli-logits");
  struct Case {
    const char* prompt;
    const char* ref;
    const char* kv;
    double tol;
  };
  for (const auto& b : available_backends()) {
    for (auto c : {Case{"Once upon a time", "once_upon_a_time.kvf32.plg", "f32", 1e-4},
                   Case{"Lily wanted to", "lily_wanted_to.kvf32.plg", "f32", 1e-4},
                   Case{"Once upon a time", "once_upon_a_time.kvf16.plg", "f16", 0.03}}) {
      const std::string out = dir + "/" + b + "-" + c.kv + ".plg";
      auto r = test::run_cli({"logits", "-m", model, "-p", c.prompt, "-n", "64", "-o", out, "--backend", b, "--kv-type", c.kv});
      INFO(b << " " << c.ref << ": " << r.err);
      REQUIRE(r.exit_code == 0);
      PlgDump ours = read_plg(out), ref = read_plg(test::shared_path(std::string("reference/stories260k/") + c.ref));
      REQUIRE(ours.n_vocab == ref.n_vocab);
      REQUIRE(ours.n_prompt == ref.n_prompt);
      CHECK(ours.tokens == ref.tokens);
      REQUIRE(ours.logits.size() == ref.logits.size());
      CHECK(test::max_abs_err(ref.logits, ours.logits) <= c.tol);  // NaN-aware
    }
  }
}

TEST_CASE("cli: generate --json reports ids, text and timings", "[cli][shared]") {
  if (test::skip_without_shared()) return;
  auto r = test::run_cli(
      {"generate", "-m", test::shared_path("models/stories260K.gguf"), "-p", "Lily wanted to", "-n", "64", "--ignore-eos", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  std::ifstream in(test::shared_path("reference/stories260k/greedy.json"));
  auto ref = nlohmann::json::parse(in)["cases"][1];
  CHECK(j["prompt_ids"] == ref["prompt_ids"]);
  CHECK(j["generated_ids"] == ref["greedy_ids"]);
  CHECK(j["text"] == ref["greedy_text"]);
  for (const char* k : {"load_ms", "prompt_ms", "ttft_ms", "tpot_ms", "total_ms", "decode_tokens_per_s"}) {
    INFO(k);
    CHECK(j["timings"][k].get<double>() > 0);
  }
  CHECK(j["timings"]["token_ms"].size() == 64);
}

TEST_CASE("cli: perplexity --protocol llamacpp gives llama-perplexity's number", "[cli][shared]") {
  if (test::skip_without_shared()) return;
  auto r = test::run_cli({"perplexity", "-m", test::shared_path("models/stories260K.gguf"), "-f",
                          test::shared_path("reference/stories260k/ppl.txt"), "-c", "128", "--protocol", "llamacpp", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(std::fabs(j["ppl"].get<double>() / 4.0293 - 1) < 1e-3);
  CHECK(j["n_chunks"] == 7);
}

TEST_CASE("cli: engine commands fail with one line and a non-zero exit", "[cli][shared]") {
  if (test::skip_without_shared()) return;
  const std::string model = test::shared_path("models/stories260K.gguf");
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  std::vector<Case> cases = {
      {{"generate", "-m", "/nonexistent.gguf", "-p", "x"}, "/nonexistent.gguf: cannot open"},
      {{"generate", "-m", model, "-c", "8", "-p", "Once upon a time there was a girl"}, "exceeds the context of 8"},
      {{"generate", "-m", model, "--backend", "tpu", "-p", "x"}, "backend 'tpu' is not available"},
      {{"generate", "-m", model, "--kv-type", "f8", "-p", "x"}, "unknown type 'f8'"},
      {{"generate", "-p", "x"}, "give exactly one of -m MODEL or --preset NAME"},
      {{"perplexity", "-m", model, "-f", "/nonexistent.txt"}, "/nonexistent.txt: cannot open"},
  };
  for (const auto& c : cases) {
    auto r = test::run_cli(c.args);
    INFO(c.args[0] << " ... -> " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.rfind("error: ", 0) == 0);
    CHECK(r.err.find(c.expect) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}
