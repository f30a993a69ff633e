// Public benchmarks in their own formats (tests/data/formats/, files written for these tests):
// each loads as the right task kind with the right number of items, renders lm-eval's prompt
// exactly, scores with the existing metrics, and a bad file gives one FILE:LINE error.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "evals/public_formats.h"
#include "evals/suite.h"
#include "evals/task.h"
#include "tests/evals/fake_lm.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::string data(const std::string& f) { return std::string(SPARKBENCH_SOURCE_DIR) + "/tests/data/formats/" + f; }

// Every request of item i (context, continuation), and the rows.
struct Scored {
  std::vector<std::pair<std::string, std::string>> requests;
  std::vector<ItemResult> rows;
};

// Scores every item with a model that prefers `favourite(continuation)`.
Scored score_all(const Suite& s, const std::function<double(const LLRequest&)>& ll, TaskOptions o = {}) {
  auto task = Task::create(s, o);
  test::FakeLM lm;
  Scored out;
  lm.ll = [&](const LLRequest& r) {
    out.requests.emplace_back(r.context, r.continuation);
    return ll(r);
  };
  for (size_t i = 0; i < task->size(); ++i)
    for (auto& r : task->run(i, lm)) out.rows.push_back(r);
  return out;
}

const MetricResult& metric(const std::vector<MetricResult>& ms, const std::string& name) {
  for (const auto& m : ms)
    if (m.metric == name) return m;
  FAIL("no metric " << name);
  static MetricResult none;
  return none;
}

}  // namespace

TEST_CASE("formats: HellaSwag follows lm-eval's preprocess and prompt", "[formats][unit]") {
  const Suite s = load_suite(data("hellaswag.jsonl"));
  CHECK(s.task == "multiple_choice");
  CHECK(s.manifest["format"] == "hellaswag");
  REQUIRE(s.items.size() == 3);
  auto sc = score_all(s, [](const LLRequest& r) { return r.continuation.find("kettle on") != std::string::npos ? -1.0 : -5.0; });
  REQUIRE(sc.requests.size() == 12);
  CHECK(sc.requests[0].first == "Making tea: A man fills a kettle with water at the sink. He");
  CHECK(sc.requests[0].second == " puts the kettle on the stove. and waits for it to boil.");
  CHECK(sc.requests[2].second == " paints the kettle bright blue.");
  CHECK(sc.requests[3].second == " reads a book about old trains.");
  CHECK(sc.rows[1].prompt == "Washing a car: A woman sprays soapy water over a red car. She then");  // ctx_b capitalized
  CHECK(sc.rows[2].prompt == "Tying shoes: A child sits on the stairs holding two laces.");          // ctx only
  CHECK(sc.rows[1].extra["gold"] == 1);                                                              // label "1"
  auto m = Task::create(s, {})->aggregate(sc.rows);
  CHECK(metric(m, "acc").value == Approx(1.0 / 3.0));
  CHECK(metric(m, "acc").n == 3);
}

TEST_CASE("formats: ARC renders Question/Answer and resolves letter and digit answer keys", "[formats][unit]") {
  const Suite s = load_suite(data("arc.jsonl"));
  CHECK(s.manifest["format"] == "arc");
  REQUIRE(s.items.size() == 3);
  CHECK(s.item_id(0) == "SB_ARC_1");
  auto sc = score_all(s, [](const LLRequest& r) { return r.continuation == " a balance" || r.continuation == " ice" ? -1.0 : -3.0; });
  CHECK(sc.rows[0].prompt == "Question: Which tool is best for measuring the mass of a small rock?\nAnswer:");
  CHECK(sc.requests[1].second == " a balance");
  CHECK(sc.rows[0].extra["gold"] == 1);
  CHECK(sc.rows[1].extra["gold"] == 2);  // labels 1-4, answerKey "3"
  CHECK(sc.rows[2].extra["gold"] == 0);  // letter labels, answerKey "1"
  auto m = Task::create(s, {})->aggregate(sc.rows);
  CHECK(metric(m, "acc").value == Approx(2.0 / 3.0));
}

TEST_CASE("formats: MMLU CSV directory has lm-eval's prompt, subject and macro accuracy", "[formats][unit]") {
  const Suite s = load_suite(data("mmlu"));
  CHECK(s.manifest["format"] == "mmlu");
  REQUIRE(s.items.size() == 5);  // 3 garden_botany + 2 kitchen_chemistry, files in name order
  CHECK(s.item_id(4) == "kitchen_chemistry/1");
  CHECK(s.items[2].line == 4);  // the quoted question of row 2 spans lines 2-3
  // A model that always answers " A": right on garden 0 and kitchen 0.
  auto sc = score_all(s, [](const LLRequest& r) { return r.continuation == " A" ? -1.0 : -2.0; });
  CHECK(sc.rows[4].prompt ==
        "The following are multiple choice questions (with answers) about kitchen chemistry.\n\n"
        "What makes bread dough rise?\nA. salt\nB. yeast\nC. butter, softened\nD. vinegar\nAnswer:");
  CHECK(sc.rows[1].prompt.find("Plants need light for:\nphotosynthesis or respiration?\nA. respiration only") != std::string::npos);
  auto m = Task::create(s, {})->aggregate(sc.rows);
  CHECK(metric(m, "acc").value == Approx(2.0 / 5.0));
  CHECK(metric(m, "acc[garden_botany]").value == Approx(1.0 / 3.0));
  CHECK(metric(m, "acc[kitchen_chemistry]").value == Approx(0.5));
  CHECK(metric(m, "acc_macro").value == Approx((1.0 / 3.0 + 0.5) / 2));
  // One subject file is a suite of its own; few-shot examples come from the same subject.
  const Suite one = load_suite(data("mmlu/garden_botany_test.csv"));
  CHECK(one.items.size() == 3);
  TaskOptions o;
  o.num_fewshot = 1;
  auto fs = score_all(
      s, [](const LLRequest&) { return -1.0; }, o);
  CHECK(fs.rows[4].prompt ==
        "The following are multiple choice questions (with answers) about kitchen chemistry.\n\n"
        "Which of these, added to water, raises its boiling point a little?\nA. sugar\nB. ice\nC. air\nD. nothing\nAnswer: A\n\n"
        "What makes bread dough rise?\nA. salt\nB. yeast\nC. butter, softened\nD. vinegar\nAnswer:");
}

TEST_CASE("formats: PIQA reads its labels file", "[formats][unit]") {
  const Suite s = load_suite(data("piqa.jsonl"));
  CHECK(s.manifest["format"] == "piqa");
  REQUIRE(s.items.size() == 2);
  auto sc = score_all(s, [](const LLRequest& r) { return r.continuation.find("hot water") != std::string::npos ? -1.0 : -2.0; });
  CHECK(sc.rows[1].prompt == "Question: Loosen a tight jar lid.\nAnswer:");
  CHECK(sc.requests[3].second == " Run the lid under hot water for a minute.");
  CHECK(sc.rows[0].extra["gold"] == 0);
  CHECK(sc.rows[1].extra["gold"] == 1);
  CHECK(metric(Task::create(s, {})->aggregate(sc.rows), "acc").value == Approx(0.5));
}

TEST_CASE("formats: Winogrande scores the continuation after the blank given each option", "[formats][unit]") {
  const Suite s = load_suite(data("winogrande.jsonl"));
  CHECK(s.manifest["format"] == "winogrande");
  REQUIRE(s.items.size() == 2);
  auto sc = score_all(s, [](const LLRequest& r) { return r.context.find("because Maria") != std::string::npos ? -1.0 : -2.0; });
  REQUIRE(sc.requests.size() == 4);
  CHECK(sc.requests[0] ==
        std::make_pair(std::string("Anna lent her umbrella to Maria because Anna"), std::string(" was going out into the rain.")));
  CHECK(sc.requests[1] ==
        std::make_pair(std::string("Anna lent her umbrella to Maria because Maria"), std::string(" was going out into the rain.")));
  CHECK(sc.requests[2].second == " first.");
  CHECK(sc.rows[0].outcome == "correct");
  CHECK(sc.rows[1].outcome == "wrong");  // tie between the two contexts is not a win
  CHECK(metric(Task::create(s, {})->aggregate(sc.rows), "acc").value == Approx(0.5));
}

TEST_CASE("formats: BoolQ asks passage + question with no/yes choices", "[formats][unit]") {
  const Suite s = load_suite(data("boolq.jsonl"));
  CHECK(s.manifest["format"] == "boolq");
  REQUIRE(s.items.size() == 2);
  auto sc = score_all(s, [](const LLRequest& r) { return r.continuation == " yes" ? -1.0 : -2.0; });
  CHECK(sc.rows[0].prompt ==
        "Penguins are seabirds that cannot fly; their wings have become flippers for swimming.\nQuestion: can penguins fly?\nAnswer:");
  CHECK(sc.requests[0].second == " no");
  CHECK(sc.requests[1].second == " yes");
  CHECK(sc.rows[0].outcome == "wrong");
  CHECK(sc.rows[1].outcome == "correct");
}

TEST_CASE("formats: GSM8K is 8-shot chain of thought with strict and flexible answer extraction", "[formats][unit]") {
  const Suite s = load_suite(data("gsm8k.jsonl"));
  CHECK(s.task == "generate");
  CHECK(s.manifest["format"] == "gsm8k");
  REQUIRE(s.items.size() == 3);
  CHECK(s.items[1].value["answers"][0] == "360");
  auto task = Task::create(s, {});
  std::vector<std::string> outputs{" 5 boxes of 8 is 40, minus 12 is 28.\n#### 28", " He earns $360.", " #### 13"};
  std::vector<std::string> prompts;
  test::FakeLM lm;
  lm.gen = [&](const GenRequest& g) {
    prompts.push_back(g.prompt);
    CHECK(g.stop == std::vector<std::string>{"Question:", "</s>", "<|im_end|>"});
    return outputs[prompts.size() - 1];
  };
  std::vector<ItemResult> rows;
  for (size_t i = 0; i < 3; ++i)
    for (auto& r : task->run(i, lm)) rows.push_back(r);
  // The 8 bundled exemplars, in order, each with its worked answer, then the question.
  size_t n = 0;
  for (size_t p = prompts[0].find("Question: "); p != std::string::npos; p = prompts[0].find("Question: ", p + 1)) ++n;
  CHECK(n == 9);
  CHECK(prompts[0].rfind("Question: A baker fills 6 trays", 0) == 0);
  CHECK(prompts[0].find("#### 22\n\nQuestion: Omar reads") != std::string::npos);
  const std::string tail =
      "#### 38\n\nQuestion: Sara has 5 boxes with 8 pencils in each box. She gives away 12 pencils. How many pencils does she have "
      "left?\nAnswer:";
  CHECK(prompts[0].size() > tail.size());
  CHECK(prompts[0].compare(prompts[0].size() - tail.size(), tail.size(), tail) == 0);
  CHECK(rows[0].outcome == "exact");
  CHECK(rows[1].outcome == "flexible");
  CHECK(rows[2].outcome == "wrong");
  auto m = task->aggregate(rows);
  CHECK(metric(m, "exact_match").value == Approx(1.0 / 3.0));
  CHECK(metric(m, "exact_match_flexible").value == Approx(2.0 / 3.0));
  // --num-fewshot 0: the bare lm-eval prompt.
  TaskOptions o;
  o.num_fewshot = 0;
  prompts.clear();
  Task::create(s, o)->run(2, lm);
  CHECK(prompts[0] == "Question: Tim runs 3 miles on each of 4 days. How many miles does he run?\nAnswer:");
}

TEST_CASE("formats: GSM8K answer extraction follows lm-eval's regexes", "[formats][unit]") {
  CHECK(gsm8k_gold("a\n#### 1,234") == "1234");
  CHECK(gsm8k_strict("so #### -7.") == "-7");
  CHECK(gsm8k_strict("The answer is 5") == "");
  CHECK(gsm8k_flexible("costs $1,200 in total, 3 times") == "3");
  CHECK(gsm8k_flexible("total: $1,200.") == "1200");
  CHECK(gsm8k_flexible("no digits") == "");
  // Python's str.replace("  ", " ") is one pass: three spaces left by a removed tag become two.
  CHECK(hellaswag_preprocess("  Fix it [title] now [header]  ok ") == "Fix it. now  ok");
  CHECK(hellaswag_preprocess("a [x] b") == "a b");
}

TEST_CASE("formats: bad public files give one line naming the file and line", "[formats][unit]") {
  const std::string dir = test::temp_dir("badformats");
  std::ofstream(dir + "/hs.jsonl") << R"({"ctx": "a", "endings": ["x", "y"], "label": 0})"
                                   << "\n"
                                   << R"({"ctx": "a", "endings": ["x", "y"], "label": ""})"
                                   << "\n";
  CHECK_THROWS_WITH(load_suite(dir + "/hs.jsonl"), Catch::StartsWith(dir + "/hs.jsonl:2: field 'label' is empty"));
  std::ofstream(dir + "/wg.jsonl") << R"({"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"})"
                                   << "\n";
  CHECK_THROWS_WITH(load_suite(dir + "/wg.jsonl"), Catch::StartsWith(dir + "/wg.jsonl:1: field 'sentence' has no '_' blank"));
  std::ofstream(dir + "/arc.jsonl")
      << R"({"question": {"stem": "q", "choices": [{"text": "a", "label": "A"}, {"text": "b", "label": "B"}]}, "answerKey": "E"})"
      << "\n";
  CHECK_THROWS_WITH(load_suite(dir + "/arc.jsonl"), Catch::StartsWith(dir + "/arc.jsonl:1: answerKey 'E'"));
  std::ofstream(dir + "/s_test.csv") << "q,a,b,c,d,A\nq2,a,b,c,d,F\n";
  CHECK_THROWS_WITH(load_suite(dir + "/s_test.csv"), Catch::StartsWith(dir + "/s_test.csv:2: answer must be A, B, C or D"));
  std::ofstream(dir + "/q_test.csv") << "q,a,b,c,d,A\n\"open,a,b,c,d,A\n";
  CHECK_THROWS_WITH(load_suite(dir + "/q_test.csv"), Catch::StartsWith(dir + "/q_test.csv:2: unterminated quoted field"));
  std::ofstream(dir + "/p.jsonl") << R"({"goal": "g", "sol1": "a", "sol2": "b"})"
                                  << "\n";
  std::ofstream(dir + "/p-labels.lst") << "0\n1\n";
  CHECK_THROWS_WITH(load_suite(dir + "/p.jsonl"), Catch::Contains("p-labels.lst: 2 labels for 1 items"));
  std::ofstream(dir + "/g.jsonl") << R"({"question": "q", "answer": "#### 4"})"
                                  << "\n"
                                  << R"({"question": "q", "answer": 4})"
                                  << "\n";
  CHECK_THROWS_WITH(load_suite(dir + "/g.jsonl"), Catch::StartsWith(dir + "/g.jsonl:2: field 'answer' must be a string"));
  std::ofstream(dir + "/m.json")
      << R"([{"task_id": 1, "prompt": "p", "code": "c", "test_list": ["assert 1"]}, {"task_id": 2, "prompt": "p", "test_list": []}])";
  CHECK_THROWS_WITH(load_suite(dir + "/m.json"), Catch::StartsWith(dir + "/m.json:2: missing field \"code\""));
}

namespace {
// Runs every item of a code suite with completions[i] and returns the rows.
std::vector<ItemResult> run_code(const Suite& s, const std::vector<std::string>& completions, std::vector<std::string>* prompts = nullptr) {
  auto task = Task::create(s, {});
  test::FakeLM lm;
  size_t n = 0;
  lm.gen = [&](const GenRequest& g) {
    if (prompts) prompts->push_back(g.prompt);
    return completions[n++];
  };
  std::vector<ItemResult> rows;
  for (size_t i = 0; i < task->size(); ++i)
    for (auto& r : task->run(i, lm)) rows.push_back(r);
  return rows;
}
}  // namespace

TEST_CASE("formats: MBPP prompts carry the test asserts (lm-eval mbpp.yaml), both file layouts", "[formats][code][sandbox]") {
  const Suite s = load_suite(data("mbpp.jsonl"));
  std::vector<std::string> prompts;
  auto rows = run_code(
      s, {"def larger(a, b):\n    return max(a, b)\n", "def count_vowels(s):\n    return 1\n", "def reverse_words(s):\n    return s\n"},
      &prompts);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].prompt ==
        "You are an expert Python programmer, and here is your task: Write a function to return the larger of two numbers. "
        "Your code should pass these tests:\n\nassert larger(1, 2) == 2\nassert larger(5, 3) == 5\nassert larger(-1, -1) == -1\n[BEGIN]\n");
  CHECK(prompts[0] == rows[0].prompt);
  CHECK(rows[0].outcome == "passed");
  CHECK(rows[2].outcome == "failed");
  CHECK(s.manifest["stop"] == nlohmann::json::array({"[DONE]"}));
  // Sanitized MBPP: a JSON array with `prompt` and test_imports.
  const Suite z = load_suite(data("mbpp_sanitized.json"));
  CHECK(z.manifest["format"] == "mbpp");
  REQUIRE(z.items.size() == 2);
  auto zr = run_code(z, {"def square_all(xs):\n    return [x * x for x in xs]\n", "def hyp(a, b):\n    return math.hypot(a, b)\n"});
  CHECK(zr[0].prompt.rfind(
            "You are an expert Python programmer, and here is your task: Write a function to square every number in a list. ", 0) == 0);
  CHECK(zr[0].outcome == "passed");
  CHECK(zr[1].outcome == "passed");  // math comes from test_imports
  // Few-shot MBPP examples end with the reference code and [DONE].
  TaskOptions o;
  o.num_fewshot = 1;
  test::FakeLM lm;
  std::string seen;
  lm.gen = [&](const GenRequest& g) {
    seen = g.prompt;
    return std::string("def larger(a, b):\n    return a\n");
  };
  Task::create(s, o)->run(0, lm);
  CHECK(seen.find("\n[BEGIN]\ndef ") != std::string::npos);
  CHECK(seen.find("\n[DONE]\n\nYou are an expert Python programmer, and here is your task: Write a function to return the larger") !=
        std::string::npos);
}

TEST_CASE("formats: HumanEval+ runs the extra inputs against the reference solution", "[formats][code][sandbox]") {
  const Suite s = load_suite(data("humaneval_plus.jsonl"));
  CHECK(s.manifest["format"] == "evalplus");
  REQUIRE(s.items.size() == 2);
  auto good = run_code(s, {"    return [x + 1 for x in xs]\n", "    return sum(xs) / len(xs)\n"});
  CHECK(good[0].outcome == "passed");
  CHECK(good[1].outcome == "passed");
  CHECK(good[0].prompt == s.items[0].value["prompt"].get<std::string>());
  // Both pass the original HumanEval test but fail an extra input ([] and [0.1, 0.2]).
  auto weak = run_code(s, {"    return [x + 1 for x in xs] if xs else None\n", "    return round(sum(xs) / len(xs), 1)\n"});
  CHECK(weak[0].outcome == "failed");
  CHECK(weak[1].outcome == "failed");
  auto m = Task::create(s, {})->aggregate(weak);
  CHECK(metric(m, "pass@1").value == 0.0);
}

TEST_CASE("formats: HumanEvalFix items give bigcode's instruct prompt and run the tests on the fix", "[formats][code][sandbox]") {
  const Suite s = load_suite(data("humanevalfix.jsonl"));
  CHECK(s.manifest["format"] == "humanevalfix");
  REQUIRE(s.items.size() == 1);
  auto fixed = run_code(s, {"\n    return list(range(1, n + 1))\n"});
  CHECK(fixed[0].prompt ==
        "def count_up(n):\n    return list(range(1, n))\n\n\n\n\n\n\ndef check(count_up):\n    assert count_up(3) == [1, 2, 3]\n"
        "    assert count_up(0) == []\n\ncheck(count_up)\nFix bugs in count_up.\n\ndef count_up(n):");
  CHECK(fixed[0].outcome == "passed");
  auto same = run_code(s, {"\n    return list(range(1, n))\n"});  // the buggy body again
  CHECK(same[0].outcome == "failed");
}
