// `sparkbench run --suite FILE` on public-format files end to end with stories260K: the suites
// are detected from the files, every item is scored, metrics are stored, and each sample row
// keeps the full prompt text, which `report --samples` prints.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

using namespace sb;

namespace {

std::string stored_prompt(const std::string& db, const std::string& task, const std::string& sample) {
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, "SELECT prompt FROM samples WHERE task = ?1 AND sample_id = ?2", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, task.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, sample.c_str(), -1, SQLITE_TRANSIENT);
  std::string v = "<none>";
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

std::string data(const std::string& f) { return std::string(SPARKBENCH_SOURCE_DIR) + "/tests/data/formats/" + f; }

}  // namespace

TEST_CASE("cli run: public benchmark files run end to end and store their full prompts", "[cli][run][formats][shared]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("formats-run") + "/r.db";
  std::string suites;
  for (const char* f : {"hellaswag.jsonl", "arc.jsonl", "mmlu", "piqa.jsonl", "winogrande.jsonl", "boolq.jsonl", "gsm8k.jsonl"})
    suites += (suites.empty() ? "" : ",") + data(f);
  auto r = test::run_cli({"run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", suites, "--db", db, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  const auto& s = j[0]["suites"];
  const std::map<std::string, int> n{{"hellaswag", 3}, {"arc", 3}, {"mmlu", 5}, {"piqa", 2}, {"winogrande", 2}, {"boolq", 2}};
  for (const auto& [name, items] : n) {
    INFO(name);
    REQUIRE(s.contains(name));
    CHECK(s[name]["metrics"]["acc"]["n"] == items);
    const double acc = s[name]["metrics"]["acc"]["value"];
    CHECK((acc >= 0.0 && acc <= 1.0));
    CHECK(s[name]["metrics"]["invalid"]["value"] == 0);
  }
  CHECK(s["mmlu"]["metrics"]["acc[garden_botany]"]["n"] == 3);
  CHECK(s["mmlu"]["metrics"]["acc[kitchen_chemistry]"]["n"] == 2);
  CHECK(s["mmlu"]["metrics"].contains("acc_macro"));
  CHECK(s["gsm8k"]["metrics"]["exact_match"]["n"] == 3);
  CHECK(s["gsm8k"]["metrics"]["exact_match_flexible"]["n"] == 3);
  // The stored prompt is the lm-eval prompt, in full.
  CHECK(stored_prompt(db, "arc", "SB_ARC_1") == "Question: Which tool is best for measuring the mass of a small rock?\nAnswer:");
  CHECK(stored_prompt(db, "mmlu", "kitchen_chemistry/1") ==
        "The following are multiple choice questions (with answers) about kitchen chemistry.\n\n"
        "What makes bread dough rise?\nA. salt\nB. yeast\nC. butter, softened\nD. vinegar\nAnswer:");
  CHECK(stored_prompt(db, "winogrande", "sb-wg-1") == "Anna lent her umbrella to Maria because Anna");
  const std::string g = stored_prompt(db, "gsm8k", "gsm8k/0");
  CHECK(g.rfind("Question: A baker fills 6 trays", 0) == 0);
  CHECK(g.size() > 1000);  // the 8 worked examples are kept, not a hash
  // report --samples prints them back.
  auto rep = test::run_cli({"report", "--db", db, "--samples", "boolq"});
  REQUIRE(rep.exit_code == 0);
  std::istringstream lines(rep.out);
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(lines, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["prompt"] ==
        "Penguins are seabirds that cannot fly; their wings have become flippers for swimming.\nQuestion: can penguins fly?\nAnswer:");
  // --num-fewshot and --fewshot-from reach the prompts (a new configuration: a new run).
  auto f = test::run_cli({"run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", data("arc.jsonl"), "--num-fewshot", "2",
                          "--fewshot-from", data("fewshot/arc_train.jsonl"), "--db", db, "--label", "fs"});
  INFO(f.err);
  REQUIRE(f.exit_code == 0);
  auto fr = test::run_cli({"report", "--db", db, "--samples", "arc", "--run", "fs"});
  REQUIRE(fr.exit_code == 0);
  const bool has_example = fr.out.find("Answer: hearing\\n\\n") != std::string::npos ||
                           fr.out.find("Answer: gravity\\n\\n") != std::string::npos ||
                           fr.out.find("Answer: a hen\\n\\n") != std::string::npos || fr.out.find("Answer: ice\\n\\n") != std::string::npos;
  CHECK(has_example);
  // A bad file: one line naming it, exit 1, before any model work.
  auto bad = test::run_cli({"run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", data("piqa-labels.lst"), "--db", db});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("piqa-labels.lst") != std::string::npos);
}

TEST_CASE("cli run: MBPP, HumanEval+ and HumanEvalFix files run end to end in the sandbox", "[cli][run][formats][shared][sandbox]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("formats-code") + "/r.db";
  auto r = test::run_cli(
      {"run", "-m", test::shared_path("models/stories260K.gguf"), "--suite",
       data("mbpp.jsonl") + "," + data("mbpp_sanitized.json") + "," + data("humaneval_plus.jsonl") + "," + data("humanevalfix.jsonl"),
       "--db", db, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  const auto& s = j[0]["suites"];
  CHECK(s["mbpp"]["metrics"]["pass@1"]["n"] == 3);
  CHECK(s["mbpp_sanitized"]["metrics"]["pass@1"]["n"] == 2);
  CHECK(s["humaneval_plus"]["metrics"]["pass@1"]["n"] == 2);
  CHECK(s["humanevalfix"]["metrics"]["pass@1"]["n"] == 1);
  CHECK(stored_prompt(db, "mbpp", "mbpp/11") ==
        "You are an expert Python programmer, and here is your task: Write a function to return the larger of two numbers. "
        "Your code should pass these tests:\n\nassert larger(1, 2) == 2\nassert larger(5, 3) == 5\nassert larger(-1, -1) == -1\n[BEGIN]\n");
  CHECK(stored_prompt(db, "humanevalfix", "Python/900").find("Fix bugs in count_up.\n\ndef count_up(n):") != std::string::npos);
}
