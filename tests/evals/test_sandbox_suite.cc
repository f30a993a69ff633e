// Acceptance check for the bundled code-python suite: through the sandbox's worker pool, every
// canonical solution passes and an empty body ("    pass") fails, for every problem.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "evals/code_problems.h"
#include "evals/sandbox.h"
#include "tests/evals/sandbox_test_util.h"

using namespace sb;

TEST_CASE("code-python suite: every canonical solution passes and `pass` fails", "[sandbox][code][suite]") {
  const CodeProblemSet set = load_code_problems(std::string(SPARKBENCH_SOURCE_DIR) + "/datasets/code-python/problems.jsonl");
  REQUIRE(set.problems.size() == 122);
  std::vector<std::string> programs;
  for (const auto& p : set.problems) programs.push_back(canonical_program(p));
  for (const auto& p : set.problems) programs.push_back(assemble_program(p, "    pass\n"));
  // Both isolation modes; 10 s as in the suite's README (each test takes well under 1 s).
  const Isolation iso = GENERATE(Isolation::ForkServer, Isolation::Process);
  INFO(test::isolation_name(iso));
  SandboxOptions o;
  o.limits.timeout_s = 10;
  o.isolation = iso;
  auto results = Sandbox(o).check_all(programs, 2);
  REQUIRE(results.size() == programs.size());
  const size_t n = set.problems.size();
  for (size_t i = 0; i < n; ++i) {
    INFO(set.problems[i].task_id << " canonical: " << results[i].detail << "\n" << results[i].stderr_text);
    CHECK(results[i].outcome == Outcome::Passed);
  }
  for (size_t i = 0; i < n; ++i) {
    INFO(set.problems[i].task_id << " pass: " << results[n + i].detail);
    CHECK(results[n + i].outcome == Outcome::Failed);
  }
}
