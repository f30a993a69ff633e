// Bundled suites: every one loads, is consistent with its manifest and meets its size
// requirements; loaders accept public formats and reject malformed input with FILE:LINE errors.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "evals/suite.h"
#include "evals/task.h"
#include "tests/evals/fake_lm.h"
#include "tests/test_support.h"

using namespace sb;

TEST_CASE("suites: every bundled suite loads and meets its minimum size", "[suites][unit]") {
  const std::map<std::string, size_t> minimum{{"code-python", 100}, {"qa", 150},      {"sentiment", 200},  {"topic", 200},
                                              {"dialogue", 150},    {"stories", 150}, {"code-repair", 100}};
  auto names = bundled_suites();
  for (const auto& [name, min] : minimum) {
    INFO(name);
    REQUIRE(std::find(names.begin(), names.end(), name) != names.end());
    Suite s = load_suite(name);  // checks the manifest's sha256 and unique ids
    CHECK(s.items.size() >= min);
    CHECK(s.manifest.value("n_items", 0) == int(s.items.size()));
    CHECK(!s.manifest.value("sha256", std::string()).empty());
    CHECK(s.manifest.value("license", std::string()).find("project-written") != std::string::npos);
  }
  CHECK(load_suite("topic").manifest["labels"].size() >= 4);
  for (const auto& r : load_suite("dialogue").items) REQUIRE(r.value["distractors"].size() >= 3);
}

TEST_CASE("suites: every item of every non-code suite renders and scores with a fake model", "[suites][unit]") {
  for (const auto& name : bundled_suites()) {
    Suite s = load_suite(name);
    if (s.task == "code") continue;
    auto task = Task::create(s, {});
    test::FakeLM lm;
    lm.gen = [](const GenRequest&) { return std::string(" red"); };
    std::vector<ItemResult> rows;
    for (size_t i = 0; i < task->size(); ++i)
      for (auto& r : task->run(i, lm)) rows.push_back(r);
    INFO(name);
    CHECK(rows.size() == s.items.size());
    auto metrics = task->aggregate(rows);
    CHECK(!metrics.empty());
    std::set<std::string> ids;
    for (const auto& r : rows) ids.insert(r.sample_id);
    CHECK(ids.size() == rows.size());
  }
}

TEST_CASE("suites: an oracle model scores 1 and a constant one scores chance", "[suites][unit]") {
  Suite s = load_suite("stories");
  auto task = Task::create(s, {});
  // The oracle knows the answers: it gives the gold continuation the highest likelihood.
  std::map<std::pair<std::string, std::string>, bool> gold;
  for (const auto& r : s.items) gold[{r.value["context"], r.value["choices"][r.value["answer"].get<size_t>()]}] = true;
  test::FakeLM oracle;
  oracle.ll = [&](const LLRequest& q) { return gold.count({q.context, q.continuation}) ? -1.0 : -10.0; };
  // A positional model: it always prefers the first choice it is asked about.
  std::map<std::string, std::string> first;
  test::FakeLM positional;
  positional.ll = [&](const LLRequest& q) {
    return first.emplace(q.context, q.continuation).first->second == q.continuation ? -1.0 : -2.0;
  };
  test::FakeLM flat;  // equal scores: a tie is not a win, so it never scores
  std::vector<ItemResult> a, b, c;
  for (size_t i = 0; i < task->size(); ++i) {
    a.push_back(task->run(i, oracle)[0]);
    b.push_back(task->run(i, positional)[0]);
    c.push_back(task->run(i, flat)[0]);
  }
  auto ma = task->aggregate(a), mb = task->aggregate(b), mc = task->aggregate(c);
  CHECK(ma[0].metric == "acc");
  CHECK(ma[0].value == 1.0);
  CHECK(mb[0].value == Approx(0.25).margin(0.05));  // answer positions are balanced
  CHECK(mc[0].value == 0.0);
}

TEST_CASE("suites: QA exact match and F1 follow the generated text", "[suites][unit]") {
  Suite s = load_suite("qa");
  auto task = Task::create(s, {});
  test::FakeLM lm;
  size_t i = 0;
  lm.gen = [&](const GenRequest& g) {
    CHECK(g.stop == std::vector<std::string>{"\n"});
    CHECK(g.prompt.find("Question:") != std::string::npos);
    return " " + s.items[i].value["answers"][0].get<std::string>() + "\nQuestion: junk";
  };
  std::vector<ItemResult> rows;
  for (i = 0; i < 20; ++i) rows.push_back(task->run(i, lm)[0]);
  auto m = task->aggregate(rows);
  CHECK(m[0].metric == "exact_match");
  CHECK(m[0].value == 0.0);  // the fake ignores the stop string; the extra text costs EM ...
  CHECK(m[1].value > 0.2);   // ... but not all of F1
  // Few-shot prompts (k = 2 in the manifest) contain other items' answers.
  GenRequest seen;
  lm.gen = [&](const GenRequest& g) {
    seen = g;
    return std::string();
  };
  task->run(0, lm);
  CHECK(std::count(seen.prompt.begin(), seen.prompt.end(), '?') >= 3);
}

TEST_CASE("suites: malformed data gives FILE:LINE errors", "[suites][unit]") {
  const std::string dir = test::temp_dir("suite");
  {
    std::ofstream(dir + "/bad.jsonl") << "{\"question\": \"q\", \"answers\": [\"a\"], \"context\": \"c\"}\n{not json}\n";
    CHECK_THROWS_WITH(load_suite(dir + "/bad.jsonl"), Catch::StartsWith(dir + "/bad.jsonl:2: invalid JSON"));
  }
  {
    std::ofstream(dir + "/arr.jsonl") << "[1, 2]\n";
    CHECK_THROWS_WITH(load_suite(dir + "/arr.jsonl"), Catch::Contains("arr.jsonl:1: expected a JSON object"));
  }
  {
    std::filesystem::create_directories(dir + "/s");
    std::ofstream(dir + "/s/manifest.json") << R"({"name": "s", "task": "generate", "data": "d.jsonl", "sha256": "00"})";
    std::ofstream(dir + "/s/d.jsonl") << "{\"id\": \"x\"}\n";
    CHECK_THROWS_WITH(load_suite(dir + "/s"), Catch::Contains("but the manifest says 00"));
  }
  {
    std::filesystem::create_directories(dir + "/dup");
    std::ofstream(dir + "/dup/manifest.json") << R"({"name": "dup", "task": "generate", "data": "d.jsonl"})";
    std::ofstream(dir + "/dup/d.jsonl") << "{\"id\": \"x\"}\n{\"id\": \"x\"}\n";
    CHECK_THROWS_WITH(load_suite(dir + "/dup"), Catch::Contains("d.jsonl:2: duplicate item id 'x'"));
  }
  {  // a manifest field of the wrong type (found by fuzz-suite: an uncaught nlohmann type_error aborted)
    std::filesystem::create_directories(dir + "/ty");
    std::ofstream(dir + "/ty/manifest.json") << R"({"name": "ty", "version": 9197, "task": "generate", "data": "d.jsonl"})";
    std::ofstream(dir + "/ty/d.jsonl") << "{\"id\": \"x\"}\n";
    CHECK_THROWS_AS(load_suite(dir + "/ty"), sb::Error);
    CHECK_THROWS_WITH(load_suite(dir + "/ty"), Catch::Contains("manifest.json: field 'version' is a number"));
  }
  CHECK_THROWS_WITH(load_suite("no-such-suite"), Catch::Contains("unknown suite 'no-such-suite'"));
}

TEST_CASE("suites: public formats load as they are", "[suites][unit]") {
  const std::string dir = test::temp_dir("public");
  // SQuAD v1.1 layout
  std::ofstream(dir + "/squad.json") << R"({"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "Tom has a red ball.",
      "qas": [{"id": "q1", "question": "What color?", "answers": [{"text": "red", "answer_start": 10}]},
              {"id": "q2", "question": "Unanswerable?", "answers": []}]}]}]})";
  Suite q = load_suite(dir + "/squad.json");
  CHECK(q.task == "generate");
  REQUIRE(q.items.size() == 1);
  CHECK(q.item_id(0) == "q1");
  // HumanEval jsonl, gzipped
  const std::string he =
      R"({"task_id": "HumanEval/0", "prompt": "def f():\n", "entry_point": "f", "canonical_solution": "    return 1\n", "test": "def check(c):\n    assert c() == 1\n"})";
  gzFile g = gzopen((dir + "/he.jsonl.gz").c_str(), "wb");
  gzwrite(g, he.data(), unsigned(he.size()));
  gzclose(g);
  Suite c = load_suite(dir + "/he.jsonl.gz");
  CHECK(c.task == "code");
  CHECK(c.manifest["format"] == "humaneval");
  CHECK(c.item_id(0) == "HumanEval/0");
  // MBPP
  std::ofstream(dir + "/mbpp.jsonl") << R"({"task_id": 11, "text": "t", "code": "def f(): pass", "test_list": ["assert True"]})"
                                     << "\n";
  Suite m = load_suite(dir + "/mbpp.jsonl");
  CHECK(m.manifest["format"] == "mbpp");
  CHECK(m.item_id(0) == "mbpp/11");
  // plain text -> perplexity, one item per paragraph
  std::ofstream(dir + "/text.txt") << "First paragraph.\nStill first.\n\nSecond one.\n";
  Suite t = load_suite(dir + "/text.txt");
  CHECK(t.task == "perplexity");
  REQUIRE(t.items.size() == 2);
  CHECK(t.items[0].value["text"] == "First paragraph.\nStill first.");
}

TEST_CASE("suites: templates fill fields and indexed fields", "[suites][unit]") {
  nlohmann::json item{{"q", "why"}, {"a", {"x", "y"}}, {"n", 3}};
  CHECK(fill_template("Q: {q} A:{a[1]} n={n}", item, "w") == "Q: why A:y n=3");
  CHECK_THROWS_WITH(fill_template("{missing}", item, "file:3"), Catch::Contains("file:3: template field 'missing' is missing"));
  CHECK_THROWS_WITH(fill_template("{a[5]}", item, "w"), Catch::Contains("out of range"));
}
