// Scoring of log-likelihood selection tasks (multiple choice, dialogue selection) against
// faulty models: a non-finite score (NaN, +inf, -inf) makes the item wrong and is counted in
// the `invalid` metric; a tie is never a win for the gold choice. Rows are round-tripped
// through JSON as the runner stores them before they are aggregated.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "evals/cached_lm.h"
#include "evals/suite.h"
#include "evals/task.h"
#include "tests/evals/fake_lm.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// Runs the first n items of `suite` with `lm`, stores the rows' extra as JSON text and reads it
// back (as harness/runner.cc does), then aggregates.
struct Outcome {
  std::vector<ItemResult> rows;
  std::map<std::string, MetricResult> metrics;
};
Outcome run_items(const std::string& suite, LanguageModel& lm, size_t n) {
  Suite s = load_suite(suite);
  auto task = Task::create(s, {});
  Outcome o;
  for (size_t i = 0; i < n && i < task->size(); ++i)
    for (auto& r : task->run(i, lm)) {
      r.extra = nlohmann::json::parse(r.extra.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      o.rows.push_back(r);
    }
  for (const auto& m : task->aggregate(o.rows)) o.metrics[m.metric] = m;
  return o;
}

// The gold continuation of each stories item (by context) and of each dialogue item.
bool is_gold(const LLRequest& q, const std::map<std::string, std::string>& gold) {
  auto it = gold.find(q.context);
  return it != gold.end() && it->second == q.continuation;
}

std::map<std::string, std::string> stories_gold() {
  std::map<std::string, std::string> g;
  Suite s = load_suite("stories");
  auto task = Task::create(s, {});
  test::FakeLM probe;
  for (size_t i = 0; i < s.items.size(); ++i) {
    // The prompt the task builds: read it from the row of a probe run.
    const std::string prompt = task->run(i, probe)[0].prompt;
    const auto& r = s.items[i].value;
    g[prompt] = r["choices"][r["answer"].get<size_t>()].get<std::string>();
  }
  return g;
}

std::map<std::string, std::string> dialogue_gold() {
  std::map<std::string, std::string> g;
  Suite s = load_suite("dialogue");
  auto task = Task::create(s, {});
  for (size_t i = 0; i < s.items.size(); ++i) {
    std::string ctx;
    test::FakeLM probe;
    probe.ll = [&](const LLRequest& q) {
      ctx = q.context;
      return -1.0;
    };
    task->run(i, probe);
    g[ctx] = " " + s.items[i].value["gold"].get<std::string>();
  }
  return g;
}

}  // namespace

TEST_CASE("scoring: non-finite log-likelihoods make multiple-choice items invalid, never correct", "[evals][metrics][unit]") {
  const auto gold = stories_gold();
  const size_t n = 12;
  struct Case {
    const char* what;
    std::optional<double> gold_score, other_score;  // nullopt: a finite ordinary score
  };
  // Each fault alone makes the item invalid, whichever choice it hits.
  for (const Case& c : {Case{"NaN everywhere", kNaN, kNaN}, Case{"NaN on the gold", kNaN, std::nullopt},
                        Case{"NaN on the others", std::nullopt, kNaN}, Case{"+inf on the gold", kInf, std::nullopt},
                        Case{"-inf on the others", std::nullopt, -kInf}, Case{"+inf everywhere", kInf, kInf}}) {
    INFO(c.what);
    test::FakeLM lm;
    lm.ll = [&](const LLRequest& q) {
      const bool g = is_gold(q, gold);
      const auto v = g ? c.gold_score : c.other_score;
      return v ? *v : (g ? -1.0 : -5.0);
    };
    Outcome o = run_items("stories", lm, n);
    REQUIRE(o.rows.size() == n);
    for (const auto& r : o.rows) {
      CHECK(r.score == 0.0);
      CHECK(r.outcome == "invalid");
    }
    REQUIRE(o.metrics.count("acc"));
    CHECK(o.metrics["acc"].value == 0.0);
    CHECK(o.metrics["acc_norm"].value == 0.0);
    REQUIRE(o.metrics.count("invalid"));
    CHECK(o.metrics["invalid"].value == double(n));
    CHECK(o.metrics["invalid"].n == int64_t(n));
  }
  // A healthy model: no invalid items, the gold wins.
  test::FakeLM good;
  good.ll = [&](const LLRequest& q) { return is_gold(q, gold) ? -1.0 : -5.0; };
  Outcome o = run_items("stories", good, n);
  CHECK(o.metrics["acc"].value == 1.0);
  CHECK(o.metrics["invalid"].value == 0.0);
}

TEST_CASE("scoring: a tie with the gold choice is not a win", "[evals][metrics][unit]") {
  const auto gold = stories_gold();
  const size_t n = 12;
  SECTION("every choice scores the same") {
    test::FakeLM flat;
    flat.ll = [](const LLRequest&) { return -3.0; };
    Outcome o = run_items("stories", flat, n);
    for (const auto& r : o.rows) CHECK(r.outcome == "wrong");
    CHECK(o.metrics["acc"].value == 0.0);
    CHECK(o.metrics["invalid"].value == 0.0);
  }
  SECTION("the gold ties one distractor, the rest score lower") {
    std::map<std::string, std::string> rival;  // per context: the first distractor asked about
    test::FakeLM lm;
    lm.ll = [&](const LLRequest& q) {
      if (is_gold(q, gold)) return -2.0;
      auto it = rival.emplace(q.context, q.continuation).first;
      return it->second == q.continuation ? -2.0 : -9.0;
    };
    Outcome o = run_items("stories", lm, n);
    REQUIRE(o.rows.size() == n);
    for (const auto& r : o.rows) {
      CHECK(r.outcome == "wrong");
      CHECK(r.extra.at("pred").get<int>() != r.extra.at("gold").get<int>());
    }
    CHECK(o.metrics["acc"].value == 0.0);
  }
}

TEST_CASE("scoring: dialogue selection counts non-finite scores as invalid and ties as misses", "[evals][metrics][unit]") {
  const auto gold = dialogue_gold();
  const size_t n = 10;
  for (double bad : {kNaN, kInf, -kInf}) {
    INFO("fault " << bad);
    for (bool on_gold : {true, false}) {
      INFO("on the gold: " << on_gold);
      test::FakeLM lm;
      lm.ll = [&](const LLRequest& q) {
        const bool g = is_gold(q, gold);
        return g == on_gold ? bad : (g ? -1.0 : -6.0);
      };
      Outcome o = run_items("dialogue", lm, n);
      REQUIRE(o.rows.size() == n);
      for (const auto& r : o.rows) CHECK(r.outcome == "invalid");
      CHECK(o.metrics["selection_acc"].value == 0.0);
      REQUIRE(o.metrics.count("invalid"));
      CHECK(o.metrics["invalid"].value == double(n));
      // gold_ppl leaves out items whose gold score is not finite (the invalid count shows them)
      REQUIRE(o.metrics.count("gold_ppl"));
      CHECK(std::isfinite(o.metrics["gold_ppl"].value));
      CHECK(o.metrics["gold_ppl"].n == int64_t(on_gold ? 0 : n));
    }
  }
  test::FakeLM flat;
  flat.ll = [](const LLRequest&) { return -4.0; };
  Outcome o = run_items("dialogue", flat, n);
  CHECK(o.metrics["selection_acc"].value == 0.0);
  CHECK(o.metrics["invalid"].value == 0.0);
  test::FakeLM good;
  good.ll = [&](const LLRequest& q) { return is_gold(q, gold) ? -1.0 : -6.0; };
  o = run_items("dialogue", good, n);
  CHECK(o.metrics["selection_acc"].value == 1.0);
  CHECK(o.metrics["invalid"].value == 0.0);
}

TEST_CASE("scoring: the request cache gives back non-finite log-likelihoods as they were", "[evals][unit]") {
  struct MapCache : RequestCache {
    std::map<std::string, std::string> m;
    std::optional<std::string> get(const std::string& k) override {
      auto it = m.find(k);
      return it == m.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    void put(const std::string& k, const std::string& v) override { m[k] = v; }
  } cache;
  for (double bad : {kNaN, kInf, -kInf}) {
    INFO("value " << bad);
    test::FakeLM lm;
    lm.ll = [&](const LLRequest&) { return bad; };
    CachedLM c(lm, cache);
    const LLRequest q{"ctx " + std::to_string(bad), " x", false};
    const LLResult a = c.loglikelihood(q);
    const LLResult b = c.loglikelihood(q);  // answered from the cache (or recomputed), never a throw
    CHECK(std::isnan(a.logprob) == std::isnan(bad));
    CHECK(std::isnan(b.logprob) == std::isnan(bad));
    if (!std::isnan(bad)) CHECK(b.logprob == bad);
  }
}

TEST_CASE("scoring: acc_norm divides by the characters of the choice text, as lm-eval does", "[evals][metrics][unit]") {
  // lm-eval: argmax of loglikelihood / len(choice) with len counting characters (code points)
  // of the choice text, the " " target delimiter not included. Here the byte count including
  // the leading space ranks the two choices the other way round:
  //   " ééé"   log-likelihood -3: -3/3 chars = -1.0   (-3/7 bytes = -0.43)
  //   " abcde" log-likelihood -4: -4/5 chars = -0.8   (-4/6 bytes = -0.67)
  const std::string dir = test::temp_dir("acc-norm");
  std::ofstream(dir + "/manifest.json") << R"({"name": "n", "task": "multiple_choice", "data": "d.jsonl", "prompt_template": "{q}"})";
  std::ofstream(dir + "/d.jsonl")
      << "{\"id\": \"a\", \"q\": \"Q\", \"choices\": [\" \xC3\xA9\xC3\xA9\xC3\xA9\", \" abcde\"], \"answer\": 1}\n";
  Suite s = load_suite(dir);
  auto task = Task::create(s, {});
  test::FakeLM lm;
  lm.ll = [](const LLRequest& q) { return q.continuation == " abcde" ? -4.0 : -3.0; };
  const auto rows = task->run(0, lm);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].extra.at("pred").get<int>() == 0);       // raw log-likelihood: the first
  CHECK(rows[0].extra.at("pred_norm").get<int>() == 1);  // per character: the second
  std::map<std::string, MetricResult> m;
  for (const auto& x : task->aggregate(rows)) m[x.metric] = x;
  CHECK(m["acc"].value == 0.0);
  CHECK(m["acc_norm"].value == 1.0);
}
