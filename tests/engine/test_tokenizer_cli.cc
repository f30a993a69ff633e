// `sparkbench tokenize` end to end: output formats, stdin taken byte for byte, errors.
#include <catch2/catch.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::string ids_line(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ' ';
    s += std::to_string(ids[i]);
  }
  s += '\n';
  return s;
}

}  // namespace

TEST_CASE("tokenize CLI: formats, stdin byte for byte, --no-bos", "[tokenizer][cli][shared]") {
  if (test::skip_without_shared()) return;
  const std::string model = test::shared_path("models/stories260K.gguf");
  auto f = GgufFile::open(model);
  auto tok = Tokenizer::from_gguf(*f);

  // stdin with a trailing newline (and a tab, a double space) is tokenized as is.
  const std::string text = "\ttab and  two\n";
  auto r = test::run_cli({"tokenize", "-m", model, "--ids"}, text);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == ids_line(tok->encode(text, true)));
  CHECK(tok->encode(text, true).back() == 13);  // the newline's byte token

  r = test::run_cli({"tokenize", "-m", model, "--ids", "--no-bos", "--text", "Once upon a time"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "403 407 261 378\n");

  r = test::run_cli({"tokenize", "-m", model, "--text", "Hi\n"});
  CHECK(r.exit_code == 0);
  const std::vector<int32_t> ids = tok->encode("Hi\n", true);
  std::string want;
  for (int32_t id : ids) {
    std::string p = id == 1 ? "<s>" : id == 13 ? "\\n" : tok->token_to_piece(id);
    want += std::to_string(id) + "\t'" + p + "'\n";
  }
  CHECK(r.out == want);

  r = test::run_cli({"tokenize", "-m", model, "--json", "--text", "\xE6\x97\xA5 a"});
  CHECK(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  const auto want_ids = tok->encode("\xE6\x97\xA5 a", true);
  CHECK(j["ids"].get<std::vector<int32_t>>() == want_ids);
  CHECK(j["n_tokens"].get<size_t>() == want_ids.size());
  REQUIRE(j["pieces"].size() == want_ids.size());
  CHECK(j["pieces"][0] == "<s>");
  CHECK(j["pieces"].back() == " a");

  r = test::run_cli({"tokenize", "-m", model, "--ids", "--parse-special", "--no-bos", "--text", "<s>a</s>"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == ids_line(tok->encode("<s>a</s>", false, true)));
  CHECK(r.out.rfind("1 ", 0) == 0);

  r = test::run_cli({"tokenize", "-m", model, "--ids"}, "");  // empty stdin: just BOS
  CHECK(r.out == "1\n");
}

TEST_CASE("tokenize CLI: a missing model or tokenizer is a one-line error, exit 1", "[tokenizer][cli][shared]") {
  if (test::skip_without_shared()) return;
  auto r = test::run_cli({"tokenize", "-m", "/nonexistent/model.gguf", "--text", "x"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("error: ", 0) == 0);
  CHECK(r.err.find("/nonexistent/model.gguf") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);

  const std::string dir = test::temp_dir("tokcli");
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.write(dir + "/notok.gguf");
  r = test::run_cli({"tokenize", "-m", dir + "/notok.gguf", "--text", "x"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("tokenizer.ggml.model") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}
