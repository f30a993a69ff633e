// Few-shot prompting (examples carry their answers; --seed and --num-fewshot steer them;
// --fewshot-from supplies them, never the item itself) and a code suite's manifest timeout_s.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "evals/suite.h"
#include "evals/task.h"
#include "tests/evals/fake_lm.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

// A multiple-choice suite directory whose items are "Q<i>?" with the gold choice " gold<i>".
std::string mc_suite(const std::string& dir, int n, int k) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/manifest.json") << R"({"name": "mc", "task": "multiple_choice", "data": "d.jsonl",
      "prompt_template": "{q}", "few_shot": {"k": )"
                                        << k << "}}";
  std::ofstream d(dir + "/d.jsonl");
  for (int i = 0; i < n; ++i)
    d << R"({"id": "i)" << i << R"(", "q": "Q)" << i << R"(?", "choices": [" wrong)" << i << R"(", " gold)" << i << R"("], "answer": 1})"
      << "\n";
  return dir;
}

std::string first_context(Task& task, size_t i) {
  test::FakeLM lm;
  std::string ctx;
  lm.ll = [&](const LLRequest& r) {
    if (ctx.empty()) ctx = r.context;
    return -1.0;
  };
  task.run(i, lm);
  return ctx;
}

}  // namespace

TEST_CASE("few-shot: multiple-choice examples are rendered with their gold answers", "[fewshot][unit]") {
  const Suite s = load_suite(mc_suite(test::temp_dir("fewshot") + "/mc", 2, 1));
  auto task = Task::create(s, {});
  // Item 0's only possible example is item 1, shown with its answer, then item 0's question.
  CHECK(first_context(*task, 0) == "Q1? gold1\n\nQ0?");
}

TEST_CASE("code: a suite manifest's timeout_s limits each sample", "[code][task][sandbox]") {
  const std::string dir = test::temp_dir("timeout") + "/slow";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/manifest.json") << R"({"name": "slow", "task": "code", "format": "humaneval", "data": "p.jsonl", "timeout_s": 1})";
  std::ofstream(dir + "/p.jsonl")
      << R"({"task_id": "slow/0", "prompt": "def f():\n", "entry_point": "f", "canonical_solution": "    return 1\n", "test": "def check(c):\n    assert c() == 1\n"})"
      << "\n";
  const Suite s = load_suite(dir);
  auto task = Task::create(s, {});  // no --timeout: the manifest's 1 s applies
  test::FakeLM lm;
  lm.gen = [](const GenRequest&) { return std::string("    import time\n    time.sleep(4)\n    return 1\n"); };
  auto rows = task->run(0, lm);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].outcome == "timeout");
}

TEST_CASE("code: an MBPP file runs through the code task", "[code][task][sandbox]") {
  const Suite s = load_suite(std::string(SPARKBENCH_SOURCE_DIR) + "/tests/data/formats/mbpp.jsonl");
  REQUIRE(s.items.size() == 3);
  auto task = Task::create(s, {});
  test::FakeLM lm;
  std::vector<std::string> code{"def larger(a, b):\n    return a if a > b else b\n", "def count_vowels(s):\n    return 0\n",
                                "def reverse_words(s):\n    return ' '.join(w[::-1] for w in s.split(' '))\n"};
  size_t n = 0;
  lm.gen = [&](const GenRequest&) { return code[n++]; };
  std::vector<ItemResult> rows;
  for (size_t i = 0; i < 3; ++i)
    for (auto& r : task->run(i, lm)) rows.push_back(r);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].outcome == "passed");
  CHECK(rows[1].outcome == "failed");
  CHECK(rows[2].outcome == "passed");
  auto m = task->aggregate(rows);
  REQUIRE(!m.empty());
  CHECK(m[0].metric == "pass@1");
  CHECK(m[0].value == Approx(2.0 / 3.0));
}

TEST_CASE("few-shot: --seed steers the examples, --fewshot-from supplies them, never the item itself", "[fewshot][unit]") {
  const std::string dir = std::string(SPARKBENCH_SOURCE_DIR) + "/tests/data/formats/";
  const Suite s = load_suite(dir + "arc.jsonl");
  auto examples = [&](uint64_t seed, const std::string& from, size_t i) {
    TaskOptions o;
    o.seed = seed;
    o.num_fewshot = 2;
    o.fewshot_from = from;
    auto task = Task::create(s, o);
    return first_context(*task, i);
  };
  const std::string train = dir + "fewshot/arc_train.jsonl";
  std::set<std::string> by_seed1, by_seed2;
  for (size_t i = 0; i < 3; ++i) {
    const std::string a = examples(1, train, i), b = examples(1, train, i);
    CHECK(a == b);  // same seed, same examples
    by_seed1.insert(a);
    by_seed2.insert(examples(2, train, i));
    // Examples come from the train file with their answers.
    size_t q = 0;
    for (size_t p = a.find("Question: "); p != std::string::npos; p = a.find("Question: ", p + 1)) ++q;
    CHECK(q == 3);
    CHECK((a.find("Answer: hearing\n\n") != std::string::npos || a.find("Answer: gravity\n\n") != std::string::npos ||
           a.find("Answer: a hen\n\n") != std::string::npos || a.find("Answer: ice\n\n") != std::string::npos));
  }
  CHECK(by_seed1 != by_seed2);  // another seed, other examples
  // Drawn from the test file itself: the other two items, never the item.
  const std::string self = examples(5, dir + "arc.jsonl", 0);
  CHECK(self.find("Which tool is best") == self.rfind("Which tool is best"));
  CHECK(self.find("What do plants take in") != std::string::npos);
  CHECK(self.find("Which state of water") != std::string::npos);
  // A file in another format cannot give examples.
  TaskOptions bad;
  bad.fewshot_from = dir + "boolq.jsonl";
  CHECK_THROWS_WITH(Task::create(s, bad), Catch::Contains("cannot give examples to suite 'arc'"));
}
