// `sparkbench score-code` end to end through the real executable: exact pass@k on a small
// suite with hand-computed values, the --results file, gzip input and one-line errors.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

using namespace sb;
using nlohmann::json;

namespace {

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

json problem(const std::string& id, const std::string& name, const std::string& sig, const std::string& body, const std::string& asserts) {
  return {{"task_id", id},
          {"prompt", "def " + name + sig + ":\n    \"\"\"Doc.\"\"\"\n"},
          {"entry_point", name},
          {"canonical_solution", body},
          {"test", "def check(candidate):\n" + asserts}};
}

// Three problems, three samples each: inc 1/3 right, neg 0/3, dbl 3/3.
struct Suite {
  std::string dir, problems, samples;
};

Suite make_suite() {
  Suite s;
  s.dir = test::temp_dir("cli-score-code");
  std::string p;
  p += problem("S/inc", "inc", "(x)", "    return x + 1\n", "    assert candidate(1) == 2\n    assert candidate(-1) == 0\n").dump() + "\n";
  p += problem("S/neg", "neg", "(x)", "    return -x\n", "    assert candidate(2) == -2\n").dump() + "\n";
  p += problem("S/dbl", "dbl", "(x)", "    return 2 * x\n", "    assert candidate(3) == 6\n").dump() + "\n";
  s.problems = write_file(s.dir + "/problems.jsonl", p);
  const std::vector<std::pair<std::string, std::string>> samples = {
      {"S/inc", "    return x + 1\n"},                        // pass
      {"S/neg", "    return x\n"},                            // assertion fails
      {"S/dbl", "    return x * 2\n"},                        // pass
      {"S/inc", "    return x\n"},                            // assertion fails
      {"S/neg", "    raise ValueError('no')\n"},              // exception
      {"S/dbl", "    return x + x\n"},                        // pass
      {"S/inc", "    import sys; sys.exit(0)\n"},             // leaves early: failed
      {"S/neg", "    import ctypes; ctypes.string_at(0)\n"},  // crashed
      {"S/dbl", "    return 6 if x == 3 else 0\n"},           // pass
  };
  std::string text;
  int i = 0;
  for (const auto& [id, completion] : samples)
    text += nlohmann::ordered_json{{"task_id", id}, {"completion", completion}, {"sample_no", i++}, {"meta", {{"t", 0.8}}}}.dump() + "\n";
  s.samples = write_file(s.dir + "/samples.jsonl", text);
  return s;
}

}  // namespace

TEST_CASE("cli score-code: exact pass@k, outcome counts and the results file", "[cli][score-code]") {
  const Suite s = make_suite();
  const std::string results = s.dir + "/results.jsonl";
  auto r = test::run_cli(
      {"score-code", "--problems", s.problems, "--samples", s.samples, "-k", "1,2,3,10", "--workers", "2", "--results", results, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = json::parse(r.out);
  // Per problem (n = 3): inc c = 1, neg c = 0, dbl c = 3.
  // pass@1 = c/n: (1/3 + 0 + 1) / 3 = 4/9
  // pass@2 = 1 - C(n-c, 2)/C(n, 2): inc 1 - 1/3 = 2/3, neg 0, dbl 1 -> 5/9
  // pass@3 = 1 when c >= 1: (1 + 0 + 1) / 3 = 2/3
  CHECK(j["pass_at_k"]["1"].get<double>() == Approx(4.0 / 9).epsilon(1e-12));
  CHECK(j["pass_at_k"]["2"].get<double>() == Approx(5.0 / 9).epsilon(1e-12));
  CHECK(j["pass_at_k"]["3"].get<double>() == Approx(2.0 / 3).epsilon(1e-12));
  CHECK_FALSE(j["pass_at_k"].contains("10"));
  CHECK(j["dropped_k"]["10"] == "needs at least 10 samples for every problem; S/inc has 3");
  CHECK(j["outcomes"]["passed"] == 4);
  CHECK(j["outcomes"]["failed"] == 4);
  CHECK(j["outcomes"]["crashed"] == 1);
  CHECK(j["outcomes"]["timeout"] == 0);
  CHECK(j["outcomes"]["sandbox_error"] == 0);
  CHECK(j["n_samples"] == 9);
  CHECK(j["n_problems"] == 3);
  CHECK(j["sandbox"] == "bwrap");

  // One line per sample, in input order, with every input field kept and three added.
  auto lines = read_lines(results);
  REQUIRE(lines.size() == 9);
  const bool passed[] = {true, false, true, false, false, true, false, false, true};
  const char* outcome[] = {"passed", "failed", "passed", "failed", "failed", "passed", "failed", "crashed", "passed"};
  for (int i = 0; i < 9; ++i) {
    INFO(lines[i]);
    auto rec = json::parse(lines[i]);
    CHECK(rec["sample_no"] == i);
    CHECK(rec["meta"]["t"] == 0.8);
    CHECK(rec["passed"] == passed[i]);
    CHECK(rec["outcome"] == outcome[i]);
    CHECK(rec["result"].is_string());
    CHECK(lines[i].rfind("{\"task_id\":", 0) == 0);  // input field order kept
  }
  CHECK(json::parse(lines[1])["result"] == "failed: AssertionError");
  CHECK(json::parse(lines[4])["result"] == "failed: ValueError: no");
  CHECK(json::parse(lines[6])["result"] == "failed: exited with status 0 before the tests finished");
  CHECK(json::parse(lines[7])["result"] == "crashed: SIGSEGV");
}

TEST_CASE("cli score-code: human table, timeouts, gzip problems and per-program isolation", "[cli][score-code]") {
  const Suite s = make_suite();
  // gzip the problems file.
  std::ifstream in(s.problems, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string gz = s.dir + "/problems.jsonl.gz";
  gzFile f = gzopen(gz.c_str(), "wb");
  REQUIRE(f);
  REQUIRE(gzwrite(f, text.data(), unsigned(text.size())) == int(text.size()));
  REQUIRE(gzclose(f) == Z_OK);
  const std::string samples =
      write_file(s.dir + "/loop.jsonl", json{{"task_id", "S/inc"}, {"completion", "    while True:\n        pass\n"}}.dump() + "\n" +
                                            json{{"task_id", "S/dbl"}, {"completion", "    return 2 * x\n"}}.dump() + "\n");
  for (const char* iso : {"fork-server", "process"}) {
    INFO(iso);
    auto r = test::run_cli({"score-code", "--problems", gz, "--samples", samples, "--timeout", "1.5", "--isolation", iso});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("pass@1") != std::string::npos);
    CHECK(r.out.find("0.5000") != std::string::npos);
    CHECK(r.out.find("dropped: needs at least 10 samples for every problem") != std::string::npos);
    CHECK(r.out.find("timeout        1") != std::string::npos);
    CHECK(r.out.find("sandbox: bwrap") != std::string::npos);
    CHECK(r.err.empty());  // no progress output when stderr is not a terminal
  }
}

TEST_CASE("cli score-code: malformed input is a one-line FILE:LINE error", "[cli][score-code]") {
  const Suite s = make_suite();
  struct Case {
    std::string text, expect;
  };
  const std::vector<Case> cases = {
      {"{\"task_id\": \"S/inc\", \"completion\": \"x\"}\n{\"task_id\": \"S/inc\", \"completion\": \"x\"\n", ":2: invalid JSON: "},
      {"{\"task_id\": \"S/inc\"}\n", ":1: missing field \"completion\""},
      {"{\"task_id\": \"S/nope\", \"completion\": \"x\"}\n", ":1: task_id \"S/nope\" is not in the problems file "},
      {"{\"task_id\": 3.5, \"completion\": \"x\"}\n", ":1: field \"task_id\" must be a string or an integer, got number"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string path = write_file(s.dir + "/bad" + std::to_string(i++) + ".jsonl", c.text);
    auto r = test::run_cli({"score-code", "--problems", s.problems, "--samples", path});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("error: " + path + c.expect, 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  auto bad_k = test::run_cli({"score-code", "--problems", s.problems, "--samples", s.samples, "-k", "1,0"});
  CHECK(bad_k.exit_code == 1);
  CHECK(bad_k.err.rfind("error: -k: k must be >= 1", 0) == 0);
  auto missing = test::run_cli({"score-code", "--problems", s.dir + "/none.jsonl", "--samples", s.samples});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.rfind("error: " + s.dir + "/none.jsonl: cannot open", 0) == 0);
}

TEST_CASE("cli score-code: --unsafe-no-sandbox runs and says so everywhere", "[cli][score-code]") {
  const Suite s = make_suite();
  auto r = test::run_cli({"score-code", "--problems", s.problems, "--samples", s.samples, "-k", "1", "--json", "--unsafe-no-sandbox"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = json::parse(r.out);
  CHECK(j["sandbox"] == "none");
  CHECK(j["warning"].get<std::string>().find("WITHOUT a sandbox") != std::string::npos);
  CHECK(r.err.find("WITHOUT a sandbox") != std::string::npos);
  CHECK(j["pass_at_k"]["1"].get<double>() == Approx(4.0 / 9).epsilon(1e-12));
}

TEST_CASE("score-code --check-problems: the bundled code-repair suite passes its checker", "[cli][sandbox][code]") {
  const auto r = test::run_cli({"score-code", "--problems", std::string(SPARKBENCH_SOURCE_DIR) + "/datasets/code-repair/problems.jsonl",
                                "--check-problems", "--workers", "2"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("FAIL") == std::string::npos);
  CHECK(r.out.find("canonical passes 108/108, buggy version fails 108/108") != std::string::npos);
}

TEST_CASE("score-code --check-problems: a buggy version that passes and a canonical that fails are reported", "[cli][sandbox][code]") {
  const std::string dir = test::temp_dir("cli-check-problems");
  json ok = problem("r/0", "inc", "(x)", "    return x + 1\n", "    assert candidate(1) == 2\n");
  ok["buggy_solution"] = "    return x + 2\n";
  json bug_passes = problem("r/1", "dbl", "(x)", "    return 2 * x\n", "    assert candidate(2) == 4\n");
  bug_passes["buggy_solution"] = "    return x + x\n";  // not a bug for these tests
  json canon_fails = problem("r/2", "neg", "(x)", "    return x\n", "    assert candidate(3) == -3\n");
  const std::string path = write_file(dir + "/p.jsonl", ok.dump() + "\n" + bug_passes.dump() + "\n" + canon_fails.dump() + "\n");
  const auto r = test::run_cli({"score-code", "--problems", path, "--check-problems", "--workers", "1"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("FAIL r/1: the buggy version passes the tests") != std::string::npos);
  CHECK(r.out.find("FAIL r/2: the canonical solution fails") != std::string::npos);
  CHECK(r.out.find("FAIL r/0") == std::string::npos);
  CHECK(r.out.find("canonical passes 2/3, buggy version fails 1/2") != std::string::npos);
  // --samples is still required without --check-problems
  const auto missing = test::run_cli({"score-code", "--problems", path});
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("--samples") != std::string::npos);
}
