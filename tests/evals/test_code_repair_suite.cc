// The bundled code-repair suite: every item's canonical fix passes its hidden tests and its
// buggy version fails them, through the real sandbox (the same check as `sparkbench
// score-code --check-problems`, which test_cli_score_code.cc runs on the file), with several
// items of each bug kind; and `run` reports pass@k per kind from the manifest's group_field.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "evals/code_problems.h"
#include "evals/sandbox.h"
#include "evals/suite.h"
#include "evals/task.h"

using namespace sb;

TEST_CASE("code-repair suite: canonical fixes pass, buggy versions fail, every kind has several items", "[sandbox][code][suite]") {
  const CodeProblemSet set = load_code_problems(std::string(SPARKBENCH_SOURCE_DIR) + "/datasets/code-repair/problems.jsonl");
  REQUIRE(set.problems.size() >= 100);
  std::map<std::string, int> kinds;
  for (const auto& p : set.problems) {
    INFO(p.task_id);
    REQUIRE_FALSE(p.buggy_solution.empty());
    REQUIRE_FALSE(p.bug_type.empty());
    CHECK(p.buggy_solution != p.canonical_solution);
    // the model is shown the buggy code
    CHECK(p.prompt.find(p.buggy_solution) != std::string::npos);
    kinds[p.bug_type] += 1;
  }
  for (const char* k : {"off_by_one", "wrong_operator", "missing_edge_case", "wrong_variable", "mutable_default", "exception_handling"}) {
    INFO(k);
    CHECK(kinds[k] >= 5);
  }
  std::vector<std::string> programs;
  for (const auto& p : set.problems) programs.push_back(canonical_program(p));
  for (const auto& p : set.problems) programs.push_back(buggy_program(p));
  SandboxOptions o;
  o.limits.timeout_s = 10;
  auto results = Sandbox(o).check_all(programs, 2);
  REQUIRE(results.size() == programs.size());
  const size_t n = set.problems.size();
  for (size_t i = 0; i < n; ++i) {
    INFO(set.problems[i].task_id << " canonical: " << results[i].detail << "\n" << results[i].stderr_text);
    CHECK(results[i].outcome == Outcome::Passed);
  }
  for (size_t i = 0; i < n; ++i) {
    INFO(set.problems[i].task_id << " buggy: " << results[n + i].detail);
    CHECK((results[n + i].outcome == Outcome::Failed || results[n + i].outcome == Outcome::Timeout));
  }
}

TEST_CASE("code-repair suite: a bundled suite with per-kind groups", "[code][suite][unit]") {
  const Suite s = load_suite("code-repair");
  CHECK(s.task == "code");
  CHECK(s.get<std::string>("group_field", "") == "bug_type");
  REQUIRE(s.items.size() >= 100);
  for (const auto& it : s.items) CHECK(it.value.value("bug_type", std::string()) != "");
  bool listed = false;
  for (const auto& name : bundled_suites()) listed = listed || name == "code-repair";
  CHECK(listed);
}

TEST_CASE("group metrics: every metric but invalid once more per group, named metric[group]", "[metrics][unit]") {
  std::vector<ItemResult> rows;
  auto row = [&](const std::string& group, double score) {
    ItemResult r;
    r.item_id = r.sample_id = "x/" + std::to_string(rows.size());
    r.score = score;
    if (!group.empty()) r.extra["group"] = group;
    rows.push_back(r);
  };
  row("b", 1), row("a", 0), row("a", 1), row("b", 1), row("", 0);
  const MetricsOf base = [](const std::vector<ItemResult>& rs) {
    std::vector<double> v;
    for (const auto& r : rs) v.push_back(r.score);
    return std::vector<MetricResult>{rate_metric("acc", v), invalid_metric(rs)};
  };
  const auto ms = with_group_metrics(rows, base);
  REQUIRE(ms.size() == 4);
  CHECK(ms[0].metric == "acc");
  CHECK(ms[0].value == Approx(0.6));
  CHECK(ms[1].metric == "invalid");
  CHECK(ms[2].metric == "acc[a]");
  CHECK(ms[2].value == Approx(0.5));
  CHECK(ms[2].n == 2);
  CHECK(ms[3].metric == "acc[b]");
  CHECK(ms[3].value == Approx(1.0));
  // Wilson interval inside [0, 1] even at 1.0
  REQUIRE(ms[3].ci_low);
  CHECK(*ms[3].ci_low < 1.0);
  CHECK(*ms[3].ci_high <= 1.0);
}
