// Per-group and per-type figures: dialogue distractors with a type give selection_acc[TYPE]
// (the gold beats every distractor of that type), and a multiple-choice suite with a manifest
// group_field gives acc[group]; both computed from stored rows alone.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "evals/suite.h"
#include "evals/task.h"
#include "tests/evals/fake_lm.h"
#include "tests/test_support.h"

using namespace sb;
using nlohmann::json;

namespace {

std::string write_suite(const std::string& tag, const json& manifest, const std::vector<json>& items) {
  const std::string dir = test::temp_dir(tag);
  std::ofstream(dir + "/manifest.json") << manifest.dump();
  std::ofstream data(dir + "/data.jsonl");
  for (const auto& i : items) data << i.dump() << "\n";
  return dir;
}

std::map<std::string, MetricResult> by_name(const std::vector<MetricResult>& ms) {
  std::map<std::string, MetricResult> m;
  for (const auto& x : ms) m[x.metric] = x;
  return m;
}

json dialogue_item(int i, const std::vector<std::string>& types) {
  json turns = json::array({{{"speaker", "A"}, {"text", "Hello " + std::to_string(i)}}, {{"speaker", "B"}, {"text", "Hi"}}});
  json dis = json::array();
  for (size_t k = 0; k < types.size(); ++k) dis.push_back("d" + std::to_string(k) + "-" + types[k]);
  return {{"id", "d/" + std::to_string(i)}, {"turns", turns}, {"gold", "gold"}, {"distractors", dis}, {"distractor_types", types}};
}

}  // namespace

TEST_CASE("dialogue: selection_acc per distractor type", "[dialogue][unit]") {
  const json manifest = {{"name", "dlg"}, {"version", "1"}, {"task", "dialogue"}, {"data", "data.jsonl"}};
  const std::string dir = write_suite(
      "dialogue-types", manifest,
      {dialogue_item(0, {"contradiction", "off_topic", "generic"}), dialogue_item(1, {"contradiction", "contradiction", "repetition"}),
       dialogue_item(2, {"off_topic", "off_topic", "generic"})});
  const Suite s = load_suite(dir);
  auto task = Task::create(s, {});
  // The model ranks contradictions above the gold, every other type below it.
  test::FakeLM lm;
  lm.ll = [](const LLRequest& q) {
    if (q.continuation == " gold") return -5.0;
    return q.continuation.find("contradiction") != std::string::npos ? -1.0 : -9.0;
  };
  std::vector<ItemResult> rows;
  for (size_t i = 0; i < task->size(); ++i) rows.push_back(task->run(i, lm)[0]);
  auto m = by_name(task->aggregate(rows));
  REQUIRE(m.count("selection_acc[contradiction]"));
  CHECK(m["selection_acc[contradiction]"].value == 0.0);
  CHECK(m["selection_acc[contradiction]"].n == 2);
  CHECK(m["selection_acc[off_topic]"].value == 1.0);
  CHECK(m["selection_acc[off_topic]"].n == 2);
  CHECK(m["selection_acc[generic]"].value == 1.0);
  CHECK(m["selection_acc[repetition]"].n == 1);
  CHECK(*m["selection_acc[off_topic]"].ci_high <= 1.0);
  CHECK(m["selection_acc"].value == Approx(1.0 / 3.0));
  // a NaN gold score is a miss for every type
  test::FakeLM nan_lm;
  nan_lm.ll = [](const LLRequest& q) { return q.continuation == " gold" ? std::nan("") : -9.0; };
  std::vector<ItemResult> nan_rows;
  for (size_t i = 0; i < task->size(); ++i) nan_rows.push_back(task->run(i, nan_lm)[0]);
  auto n = by_name(task->aggregate(nan_rows));
  CHECK(n["selection_acc[off_topic]"].value == 0.0);
  CHECK(n["selection_acc[generic]"].value == 0.0);
  // an unknown type or a count mismatch is one clear error naming the file
  const std::string bad = write_suite("dialogue-types-bad", manifest, {dialogue_item(0, {"contradiction", "nonsense", "generic"})});
  const Suite sb_ = load_suite(bad);
  auto bt = Task::create(sb_, {});
  CHECK_THROWS_WITH(bt->run(0, lm), Catch::Contains("data.jsonl") && Catch::Contains("nonsense"));
}

TEST_CASE("multiple choice: acc[group] per group from the manifest's group_field", "[groups][unit]") {
  const json manifest = {
      {"name", "mc"},          {"version", "1"}, {"task", "multiple_choice"}, {"data", "data.jsonl"}, {"prompt_template", "{context}"},
      {"group_field", "group"}};
  std::vector<json> items;
  for (int i = 0; i < 6; ++i)
    items.push_back({{"id", "mc/" + std::to_string(i)},
                     {"group", i < 4 ? "easy" : "hard"},
                     {"context", "c" + std::to_string(i)},
                     {"choices", {" right", " wrong"}},
                     {"answer", 0}});
  const Suite s = load_suite(write_suite("mc-groups", manifest, items));
  auto task = Task::create(s, {});
  test::FakeLM lm;  // right on easy items, wrong on hard ones
  lm.ll = [](const LLRequest& q) {
    const bool hard = q.context == "c4" || q.context == "c5";
    return (q.continuation == " right") != hard ? -1.0 : -3.0;
  };
  std::vector<ItemResult> rows;
  for (size_t i = 0; i < task->size(); ++i) rows.push_back(task->run(i, lm)[0]);
  auto m = by_name(task->aggregate(rows));
  CHECK(m["acc"].value == Approx(4.0 / 6.0));
  CHECK(m["acc[easy]"].value == 1.0);
  CHECK(m["acc[easy]"].n == 4);
  CHECK(m["acc[hard]"].value == 0.0);
  CHECK(m["acc_norm[hard]"].n == 2);
  CHECK_FALSE(m.count("invalid[easy]"));
  // an item without the group field is an error naming the file and line
  items[2].erase("group");
  const Suite s2 = load_suite(write_suite("mc-groups-bad", manifest, items));
  auto t2 = Task::create(s2, {});
  CHECK_THROWS_WITH(t2->run(2, lm), Catch::Contains("data.jsonl:3") && Catch::Contains("group"));
}
