// Loading HumanEval / MBPP problems and samples, program assembly, pass@k aggregation and the
// results file.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <fstream>
#include <string>

#include "engine/core/error.h"
#include "evals/code_problems.h"
#include "evals/code_scoring.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string write_gz(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f);
  REQUIRE(gzwrite(f, text.data(), unsigned(text.size())) == int(text.size()));
  REQUIRE(gzclose(f) == Z_OK);
  return path;
}

// The error message of `fn`, or "" if it did not throw sb::Error.
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kHumanEval =
    R"({"task_id": "T/0", "prompt": "def add(a, b):\n", "entry_point": "add", "canonical_solution": "    return a + b\n", "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n"})"
    "\n"
    "\n"  // blank lines are skipped
    R"({"task_id": "T/1", "prompt": "def neg(a):\n", "entry_point": "neg", "canonical_solution": "    return -a\n", "test": "def check(candidate):\n    assert candidate(1) == -1\n", "extra": 1})"
    "\n";

}  // namespace

TEST_CASE("code problems: HumanEval records load and assemble like human-eval", "[code][unit]") {
  const std::string dir = test::temp_dir("code-problems");
  const auto set = load_code_problems(write_file(dir, "he.jsonl", kHumanEval));
  REQUIRE(set.problems.size() == 2);
  const CodeProblem& p = set.problems[1];
  CHECK(p.format == CodeFormat::HumanEval);
  CHECK(p.task_id == "T/1");
  CHECK(p.line == 3);
  CHECK(set.find("T/0") == &set.problems[0]);
  CHECK(set.find("T/9") == nullptr);
  CHECK(assemble_program(set.problems[0], "    return 0\n") ==
        "def add(a, b):\n    return 0\n\ndef check(candidate):\n    assert candidate(1, 2) == 3\n\ncheck(add)\n");
  CHECK(canonical_program(set.problems[0]) ==
        "def add(a, b):\n    return a + b\n\ndef check(candidate):\n    assert candidate(1, 2) == 3\n\ncheck(add)\n");
}

TEST_CASE("code problems: MBPP records load and assemble", "[code][unit]") {
  const std::string dir = test::temp_dir("code-problems");
  const auto set = load_code_problems(write_file(
      dir, "mbpp.jsonl",
      R"({"task_id": 11, "text": "Remove first and last occurrence of a char.", "code": "def f(s):\n    return s", "test_list": ["assert f('a') == 'a'", "assert f('b') == 'b'"], "test_setup_code": "import math", "challenge_test_list": []})"
      "\n"
      R"({"task_id": 12, "prompt": "Sanitized variant.", "code": "def g():\n    return 1", "test_imports": ["import os"], "test_list": ["assert g() == 1"]})"
      "\n"));
  REQUIRE(set.problems.size() == 2);
  const CodeProblem& p = set.problems[0];
  CHECK(p.format == CodeFormat::Mbpp);
  CHECK(p.task_id == "11");
  CHECK(p.prompt == "Remove first and last occurrence of a char.");
  CHECK(assemble_program(p, "def f(s):\n    return s") ==
        "def f(s):\n    return s\nimport math\nassert f('a') == 'a'\nassert f('b') == 'b'\n");
  CHECK(assemble_program(set.problems[1], "X") == "X\n\nimport os\nassert g() == 1\n");
  CHECK(canonical_program(set.problems[1]) == "def g():\n    return 1\n\nimport os\nassert g() == 1\n");
}

TEST_CASE("code problems: gzip files are read transparently", "[code][unit]") {
  const std::string dir = test::temp_dir("code-problems");
  const auto set = load_code_problems(write_gz(dir, "he.jsonl.gz", kHumanEval));
  CHECK(set.problems.size() == 2);
  // A truncated gzip stream is an error, not a silently shorter file.
  std::string big;
  for (int i = 0; i < 200; ++i)
    big += R"({"task_id": "T/)" + std::to_string(i) +
           R"(", "prompt": "p", "entry_point": "e", "canonical_solution": "c", "test": "t"})"
           "\n";
  const std::string gz = write_gz(dir, "big.jsonl.gz", big);
  std::ifstream in(gz, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = write_file(dir, "cut.jsonl.gz", bytes.substr(0, bytes.size() / 2));
  const std::string m = error_of([&] { load_code_problems(cut); });
  CHECK(m.rfind(cut + ": ", 0) == 0);
}

TEST_CASE("code problems: malformed problem files give FILE:LINE errors", "[code][unit]") {
  const std::string dir = test::temp_dir("code-problems");
  struct Case {
    const char* text;
    const char* expect;  // after "FILE:"
  };
  const Case cases[] = {
      {"{\"task_id\": \"a\", \"prompt\": \"p\", \"entry_point\": \"e\", \"canonical_solution\": \"c\", \"test\": \"t\"}\n{oops\n",
       "2: invalid JSON: parse error at column 2: syntax error while parsing object key - invalid literal; last read: '{o'; expected "
       "string literal"},
      {"[1, 2]\n", "1: expected a JSON object, got array"},
      {"{\"task_id\": \"a\", \"prompt\": \"p\", \"entry_point\": \"e\", \"test\": \"t\"}\n", "1: missing field \"canonical_solution\""},
      {"{\"task_id\": \"a\", \"prompt\": 3, \"entry_point\": \"e\", \"canonical_solution\": \"c\", \"test\": \"t\"}\n",
       "1: field \"prompt\" must be a string, got number"},
      {"{\"task_id\": [1], \"prompt\": \"p\", \"entry_point\": \"e\", \"canonical_solution\": \"c\", \"test\": \"t\"}\n",
       "1: field \"task_id\" must be a string or an integer, got array"},
      {"{\"task_id\": \"a\", \"prompt\": \"p\", \"entry_point\": \"e\", \"canonical_solution\": \"c\", \"test\": \"t\"}\n"
       "{\"task_id\": \"a\", \"prompt\": \"p\", \"entry_point\": \"e\", \"canonical_solution\": \"c\", \"test\": \"t\"}\n",
       "2: duplicate task_id \"a\" (first on line 1)"},
      {"{\"task_id\": 1, \"text\": \"t\", \"code\": \"c\", \"test_list\": [\"ok\", 2]}\n",
       "1: field \"test_list\"[1] must be a string, got number"},
      {"{\"task_id\": \"a\", \"question\": \"q\"}\n", "1: not a code problem: expected HumanEval fields"},
      {"\n\n", " no problems in file"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string path = write_file(dir, "bad" + std::to_string(i++) + ".jsonl", c.text);
    const std::string m = error_of([&] { load_code_problems(path); });
    INFO(m);
    CHECK(m.rfind(path + ":" + c.expect, 0) == 0);
    CHECK(m.find('\n') == std::string::npos);
  }
  const std::string missing = dir + "/missing.jsonl";
  CHECK(error_of([&] { load_code_problems(missing); }).rfind(missing + ": cannot open", 0) == 0);
}

TEST_CASE("code samples: fields are kept, task_ids checked", "[code][unit]") {
  const std::string dir = test::temp_dir("code-samples");
  const auto set = load_code_problems(write_file(dir, "he.jsonl", kHumanEval));
  const auto samples =
      load_code_samples(write_file(dir, "s.jsonl",
                                   R"({"task_id": "T/1", "completion": "    return -a\n", "model": "m", "nested": {"z": 1, "a": [1, 2]}})"
                                   "\n"
                                   R"({"completion": "    return a\n", "task_id": "T/0"})"
                                   "\n"),
                        set);
  REQUIRE(samples.size() == 2);
  CHECK(samples[0].task_id == "T/1");
  CHECK(samples[0].completion == "    return -a\n");
  CHECK(samples[0].line == 1);
  CHECK(samples[0].record["model"] == "m");
  CHECK(samples[0].record["nested"]["a"][1] == 2);

  const auto mbpp = load_code_problems(write_file(dir, "mbpp.jsonl",
                                                  R"({"task_id": 7, "text": "t", "code": "c", "test_list": ["assert True"]})"
                                                  "\n"));
  const auto by_int = load_code_samples(write_file(dir, "si.jsonl",
                                                   R"({"task_id": 7, "completion": "x = 1"})"
                                                   "\n"),
                                        mbpp);
  CHECK(by_int[0].task_id == "7");

  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {R"({"task_id": "T/0", "completion": "x"})"
       "\n"
       R"({"task_id": "T/0"})"
       "\n",
       "2: missing field \"completion\""},
      {R"({"task_id": "T/0", "completion": null})"
       "\n",
       "1: field \"completion\" must be a string, got null"},
      {R"({"task_id": "T/5", "completion": "x"})"
       "\n",
       "1: task_id \"T/5\" is not in the problems file "},
      {"{\"task_id\": \"T/0\", \"completion\": \"x\"}\nnot json\n", "2: invalid JSON: "},
      {"", " no samples in file"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string path = write_file(dir, "bad" + std::to_string(i++) + ".jsonl", c.text);
    const std::string m = error_of([&] { load_code_samples(path, set); });
    INFO(m);
    CHECK(m.rfind(path + ":" + c.expect, 0) == 0);
    CHECK(m.find('\n') == std::string::npos);
  }
}

TEST_CASE("code scoring: pass@k per problem, averaged, with dropped k explained", "[code][unit]") {
  std::vector<ProblemTally> t = {{"a", 3, 1}, {"b", 3, 0}, {"c", 3, 3}};
  auto rep = compute_pass_at_k(t, {1, 2, 3, 4});
  // a: pass@1 = 1/3, pass@2 = 1 - C(2,2)/C(3,2) = 2/3, pass@3 = 1; b: 0; c: 1.
  CHECK(rep.values.at(1) == Approx((1.0 / 3 + 0 + 1) / 3));
  CHECK(rep.values.at(2) == Approx((2.0 / 3 + 0 + 1) / 3));
  CHECK(rep.values.at(3) == Approx((1.0 + 0 + 1) / 3));
  CHECK(rep.values.count(4) == 0);
  CHECK(rep.dropped.at(4) == "needs at least 4 samples for every problem; a has 3");
  CHECK(compute_pass_at_k({}, {1}).dropped.at(1) == "no samples");
  CHECK_THROWS_AS(compute_pass_at_k(t, {0}), Error);

  CHECK(parse_k_list("1,10,100") == std::vector<int64_t>{1, 10, 100});
  CHECK(parse_k_list("10, 1,10") == std::vector<int64_t>{1, 10});
  for (const char* bad : {"", "0", "1,,2", "a", "-1", "1.5", "99999999999"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_k_list(bad), Error);
  }
}

TEST_CASE("code scoring: tallies follow the problems file and results keep sample fields", "[code][unit]") {
  const std::string dir = test::temp_dir("code-scoring");
  const auto set = load_code_problems(write_file(dir, "he.jsonl", kHumanEval));
  const auto samples = load_code_samples(write_file(dir, "s.jsonl",
                                                    R"({"task_id": "T/1", "completion": "a", "zeta": 1, "alpha": "x"})"
                                                    "\n"
                                                    R"({"task_id": "T/1", "completion": "b"})"
                                                    "\n"),
                                         set);
  SandboxResult pass, failr;
  pass.outcome = Outcome::Passed;
  pass.detail = "passed";
  failr.outcome = Outcome::Failed;
  failr.detail = "failed: AssertionError";
  auto tallies = tally_by_problem(set, samples, {pass, failr});
  REQUIRE(tallies.size() == 1);  // T/0 has no samples
  CHECK(tallies[0].task_id == "T/1");
  CHECK(tallies[0].n == 2);
  CHECK(tallies[0].c == 1);

  auto rec = sample_result_record(samples[0], pass);
  CHECK(rec.dump() == R"({"task_id":"T/1","completion":"a","zeta":1,"alpha":"x","passed":true,"outcome":"passed","result":"passed"})");
  const std::string out = dir + "/results.jsonl";
  write_jsonl_atomically(out, {rec, sample_result_record(samples[1], failr)});
  std::ifstream in(out);
  std::string l1, l2, l3;
  std::getline(in, l1);
  std::getline(in, l2);
  CHECK(l1 == rec.dump());
  CHECK(l2 == R"({"task_id":"T/1","completion":"b","passed":false,"outcome":"failed","result":"failed: AssertionError"})");
  CHECK_FALSE(std::getline(in, l3));
  CHECK_THROWS_AS(write_jsonl_atomically(dir + "/no/such/dir/x.jsonl", {rec}), Error);
}
