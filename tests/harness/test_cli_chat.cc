// `--chat` end to end: model synth --chat-template, generate --chat, run --chat (dialogue), the
// request cache keyed by chat mode / template / system text, and one-line errors.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "engine/core/mmap_file.h"
#include "evals/chat_template.h"
#include "tests/evals/chat_test_util.h"
#include "tests/test_support.h"

using namespace sb;
using sb::test::chat_data;
using sb::test::skip_without_jinja2;

namespace {

// Jinja2 run directly by the test (Hugging Face's environment), for the expected prompt.
std::string jinja2_direct(const std::string& template_file, const nlohmann::json& messages) {
  static const char* kScript = R"PY(
import sys, json, jinja2, jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
req = json.loads(sys.stdin.buffer.read())
def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.globals['raise_exception'] = raise_exception
t = env.from_string(open(req['file'], encoding='utf-8').read())
sys.stdout.buffer.write(t.render(messages=req['messages'], add_generation_prompt=True, bos_token='<s>', eos_token='</s>').encode('utf-8'))
)PY";
  auto r = test::run_process({ChatTemplate::python_path(), "-I", "-c", kScript},
                             nlohmann::json{{"file", template_file}, {"messages", messages}}.dump());
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// One `run --json` on the first dialogue item; returns the run object.
nlohmann::json run_dialogue(const std::string& model, const std::string& db, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"run", "-m", model, "--suite", "dialogue", "--limit", "1", "--db", db, "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = test::run_cli(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 1);
  return j[0];
}

// Exactly one line on stderr, "error: ...", and exit status 1.
void check_one_line_error(const test::RunResult& r, const std::string& needle) {
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.rfind("error: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("cli chat: synth embeds a template that generate --chat and run --chat use", "[cli][chat]") {
  if (skip_without_jinja2()) return;
  const std::string dir = test::temp_dir("chat-cli");
  const std::string model = dir + "/chat.gguf";
  auto s = test::run_cli({"model", "synth", "--preset", "codex-spark-mini", "--chat-template", chat_data("inst.jinja"), "-o", model});
  REQUIRE(s.exit_code == 0);
  auto info = test::run_cli({"model", "info", model, "--json"});
  REQUIRE(info.exit_code == 0);
  CHECK(nlohmann::json::parse(info.out)["tokenizer"]["chat_template_bytes"] == read_file(chat_data("inst.jinja")).size());

  // generate --chat: the prompt is a user message after the system message, rendered exactly as
  // Jinja2 renders it; the template's <s> is the only BOS.
  auto g = test::run_cli({"generate", "-m", model, "--chat", "--system", "Be brief.", "-p", "Say hi to Tom.", "-n", "3", "--json"});
  INFO(g.err);
  REQUIRE(g.exit_code == 0);
  auto gj = nlohmann::json::parse(g.out);
  const std::string want = jinja2_direct(
      chat_data("inst.jinja"),
      nlohmann::json::array({{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Say hi to Tom."}}}));
  CHECK(gj["prompt"] == want);
  CHECK(want.rfind("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nSay hi to Tom. [/INST]", 0) == 0);
  const auto ids = gj["prompt_ids"].get<std::vector<int32_t>>();
  REQUIRE(ids.size() > 2);
  CHECK(ids[0] == 1);
  CHECK(std::count(ids.begin(), ids.end(), 1) == 1);
  CHECK(gj["chat_template"]["source"].get<std::string>().find("(tokenizer.chat_template)") != std::string::npos);
  // Without --chat the same prompt is plain text.
  auto plain = test::run_cli({"generate", "-m", model, "-p", "Say hi to Tom.", "-n", "1", "--json"});
  REQUIRE(plain.exit_code == 0);
  CHECK(nlohmann::json::parse(plain.out)["prompt"] == "Say hi to Tom.");

  // run --chat on the dialogue suite, end to end.
  const std::string db = dir + "/r.db";
  auto run = run_dialogue(model, db, {"--chat"});
  CHECK(run["status"] == "complete");
  CHECK(run["chat"]["template_source"] == model + " (tokenizer.chat_template)");
  const auto& m = run["suites"]["dialogue"]["metrics"];
  CHECK(m["selection_acc"]["n"] == 1);
  CHECK(m.contains("distinct_1"));
}

TEST_CASE("cli chat: the request cache never mixes chat modes or templates or system texts", "[cli][chat]") {
  if (skip_without_jinja2()) return;
  const std::string model = test::preset_model("codex-spark-mini");
  const std::string db = test::temp_dir("chat-cache") + "/r.db";
  const std::string inst = chat_data("inst.jinja"), chatml = chat_data("chatml.jinja");
  // One dialogue item: 4 log-likelihood requests (plain text in every mode here) + 1 generation.
  const auto first = run_dialogue(model, db, {});
  CHECK(first["cache_hits"] == 0);
  CHECK(first["chat"].is_null());
  CHECK(run_dialogue(model, db, {})["cache_hits"] == 5);  // the cache works ...
  // ... but is not shared with chat runs, even for the plain-text log-likelihood requests.
  CHECK(run_dialogue(model, db, {"--chat", "--chat-template", inst})["cache_hits"] == 0);
  CHECK(run_dialogue(model, db, {"--chat", "--chat-template", inst})["cache_hits"] == 5);
  CHECK(run_dialogue(model, db, {"--chat", "--chat-template", inst, "--system", "Be brief."})["cache_hits"] == 0);
  CHECK(run_dialogue(model, db, {"--chat", "--chat-template", chatml})["cache_hits"] == 0);
  CHECK(run_dialogue(model, db, {"--chat", "--chat-template", inst, "--chat-scoring"})["cache_hits"] == 0);
  // The template, system text and mode are part of the recorded configuration.
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "SELECT config_json FROM runs ORDER BY id", -1, &st, nullptr) == SQLITE_OK);
  std::vector<nlohmann::json> cfg;
  while (sqlite3_step(st) == SQLITE_ROW) cfg.push_back(nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))));
  sqlite3_finalize(st);
  sqlite3_close(h);
  REQUIRE(cfg.size() == 7);
  CHECK(!cfg[0].contains("chat"));  // plain runs keep their configuration
  CHECK(cfg[2]["chat"]["template_source"] == inst);
  CHECK(cfg[2]["chat"]["system"] == "");
  CHECK(cfg[4]["chat"]["system"] == "Be brief.");
  CHECK(cfg[5]["chat"]["template_sha256"] != cfg[2]["chat"]["template_sha256"]);
  CHECK(cfg[6]["chat"]["scoring"] == true);
}

TEST_CASE("cli chat: errors are one line", "[cli][chat]") {
  const std::string model = test::preset_model("codex-spark-mini");
  // The preset has no template.
  check_one_line_error(test::run_cli({"generate", "-m", model, "--chat", "-p", "hi", "-n", "1"}),
                       "has no tokenizer.chat_template; pass --chat-template FILE");
  check_one_line_error(
      test::run_cli({"run", "-m", model, "--chat", "--suite", "dialogue", "--limit", "1", "--db", test::temp_dir("chat-err") + "/r.db"}),
      "has no tokenizer.chat_template");
  {
    ::setenv("SPARKBENCH_PYTHON", "/nonexistent/python3", 1);
    auto r = test::run_cli({"generate", "-m", model, "--chat", "--chat-template", chat_data("inst.jinja"), "-p", "hi", "-n", "1"});
    ::unsetenv("SPARKBENCH_PYTHON");
    check_one_line_error(r, "cannot start /nonexistent/python3");
  }
  if (skip_without_jinja2()) return;
  // raise_exception in the template.
  check_one_line_error(test::run_cli({"generate", "-m", model, "--chat", "--chat-template", chat_data("no_system.jinja"), "--system",
                                      "You are a bot.", "-p", "hi", "-n", "1"}),
                       "no_system.jinja: TemplateError: System role not supported");
}
