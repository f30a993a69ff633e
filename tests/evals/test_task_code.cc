// The code task end to end with a scripted model: generation requests carry the suite's stop
// strings, completions run in the real sandbox, and rows/metrics follow what ran.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "evals/code_problems.h"
#include "evals/suite.h"
#include "evals/task.h"
#include "tests/evals/fake_lm.h"

using namespace sb;

namespace {
// Canonical solutions by prompt, so the fake "model" can answer like an oracle.
std::map<std::string, std::string> canonical_by_prompt(const Suite& s) {
  std::map<std::string, std::string> m;
  for (const auto& p : load_code_problems(s.data_path).problems) m[p.prompt] = p.canonical_solution;
  return m;
}
}  // namespace

TEST_CASE("code task: canonical completions pass and empty bodies score 0", "[code][task][sandbox]") {
  const Suite s = load_suite("code-python");
  const auto canon = canonical_by_prompt(s);
  TaskOptions o;
  o.workers = 2;
  auto task = Task::create(s, o);
  test::FakeLM oracle;
  oracle.gen = [&](const GenRequest& r) {
    CHECK(r.temperature == 0.0f);
    CHECK(std::find(r.stop.begin(), r.stop.end(), "\ndef ") != r.stop.end());
    return canon.at(r.prompt);
  };
  test::FakeLM empty;
  empty.gen = [](const GenRequest&) { return std::string("    pass\n"); };
  std::vector<ItemResult> good, bad;
  for (size_t i = 0; i < 6; ++i) {
    for (auto& r : task->run(i, oracle)) good.push_back(r);
    for (auto& r : task->run(i, empty)) bad.push_back(r);
  }
  REQUIRE(good.size() == 6);
  for (const auto& r : good) {
    INFO(r.item_id << ": " << r.extra.dump());
    CHECK(r.outcome == "passed");
    CHECK(r.score == 1.0);
    CHECK(r.sample_id == r.item_id);
  }
  for (const auto& r : bad) CHECK(r.outcome == "failed");
  auto mg = task->aggregate(good), mb = task->aggregate(bad);
  REQUIRE(mg.size() == 1);  // one sample per problem: only pass@1
  CHECK(mg[0].metric == "pass@1");
  CHECK(mg[0].value == 1.0);
  CHECK(mg[0].n == 6);
  CHECK(mb[0].value == 0.0);
}

TEST_CASE("code task: several samples give pass@k from the unbiased estimator", "[code][task][sandbox]") {
  const Suite s = load_suite("code-python");
  const auto canon = canonical_by_prompt(s);
  TaskOptions o;
  o.samples = 10;
  o.seed = 7;
  auto task = Task::create(s, o);
  // Sample k of a request passes when k < 3: recognised by the per-sample seed order.
  std::map<std::string, int> seen;
  std::set<uint64_t> seeds;
  test::FakeLM lm;
  lm.gen = [&](const GenRequest& r) {
    CHECK(r.temperature > 0.0f);
    seeds.insert(r.seed);
    return seen[r.prompt]++ < 3 ? canon.at(r.prompt) : std::string("    return None\n");
  };
  std::vector<ItemResult> rows;
  for (size_t i = 0; i < 2; ++i)
    for (auto& r : task->run(i, lm)) rows.push_back(r);
  REQUIRE(rows.size() == 20);
  CHECK(seeds.size() == 20);  // distinct seeds per problem and sample
  CHECK(rows[3].sample_id == rows[3].item_id + "#3");
  auto m = task->aggregate(rows);
  REQUIRE(m.size() == 2);  // pass@1 and pass@10; pass@100 needs 100 samples
  CHECK(m[0].metric == "pass@1");
  CHECK(m[0].value == Approx(0.3));
  CHECK(m[1].metric == "pass@10");
  CHECK(m[1].value == Approx(1.0));
}
