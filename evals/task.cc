#include "evals/task.h"

#include <algorithm>
#include <map>
#include <random>

#include "engine/core/error.h"
#include "evals/chat_template.h"
#include "evals/metrics.h"

namespace sb {

std::unique_ptr<Task> Task::create(const Suite& s, const TaskOptions& o) {
  if (s.task == "multiple_choice") return make_multiple_choice_task(s, o);
  if (s.task == "generate") return make_generate_task(s, o);
  if (s.task == "dialogue") return make_dialogue_task(s, o);
  if (s.task == "perplexity") return make_perplexity_task(s, o);
  if (s.task == "code") return make_code_task(s, o);
  if (s.task == "long_context") return make_long_context_task(s, o);
  fail(s.source, ": unknown task type '", s.task, "' (multiple_choice, generate, dialogue, perplexity, code, long_context)");
}

std::string ChatMode::prompt(const std::string& user) const {
  std::vector<ChatMessage> m;
  if (!system.empty()) m.push_back({"system", system});
  m.push_back({"user", user});
  if (!tmpl) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& x : m) j.push_back({{"role", x.role}, {"content", x.content}});
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return tmpl->render(m, /*add_generation_prompt=*/true);
}

Task::Task(const Suite& s, const TaskOptions& o) : suite_(s), opt_(o) {
  const auto fs = s.manifest.value("few_shot", nlohmann::json::object());
  std::string from = o.fewshot_from;
  if (from.empty() && fs.contains("from") && fs["from"].is_string()) {
    from = datasets_dir() + "/" + fs["from"].get<std::string>();
    pool_first_n_ = fs.value("sampler", std::string()) == "first_n";
  }
  if (from.empty()) return;
  auto pool = std::make_shared<Suite>(load_suite(from));
  const std::string want = s.manifest.value("format", std::string()), got = pool->manifest.value("format", std::string());
  if (pool->task != s.task || got != want)
    fail("--fewshot-from ", from, ": a ", pool->task, (got.empty() ? "" : " (" + got + ")"), " file cannot give examples to suite '",
         s.name, "' (", s.task, (want.empty() ? "" : " (" + want + ")"), ")");
  few_shot_pool_ = std::move(pool);
}

std::string Task::few_shot_prefix(size_t i, const ExampleRenderer& render) const {
  const auto fs = suite_.manifest.value("few_shot", nlohmann::json::object());
  const int k = opt_.num_fewshot >= 0 ? opt_.num_fewshot : fs.value("k", 0);
  if (k <= 0) return "";
  const uint64_t seed = fs.value("seed", uint64_t(1234)) + opt_.seed * 0x9E3779B97F4A7C15ull;
  const std::string same = fs.value("exclude_same", std::string());
  const std::string same_field = fs.value("same_field", std::string());
  const std::string delim = fs.value("delimiter", std::string("\n\n"));
  const Suite& pool = few_shot_pool_ ? *few_shot_pool_ : suite_;
  const auto& item = suite_.items[i].value;
  std::vector<size_t> cand;
  for (size_t j = 0; j < pool.items.size(); ++j) {
    const auto& v = pool.items[j].value;
    if (few_shot_pool_ ? v == item : j == i) continue;  // never the item itself
    if (!same.empty() && v.value(same, nlohmann::json()) == item.value(same, nlohmann::json())) continue;
    if (!same_field.empty() && v.value(same_field, nlohmann::json()) != item.value(same_field, nlohmann::json())) continue;
    cand.push_back(j);
  }
  if (!pool_first_n_) {
    std::mt19937_64 rng(seed + i);
    std::shuffle(cand.begin(), cand.end(), rng);
  }
  std::string out;
  for (size_t n = 0; n < cand.size() && n < size_t(k); ++n) {
    const auto& r = pool.items[cand[n]];
    out += render(r, pool.data_path + ":" + std::to_string(r.line)) + delim;
  }
  return out;
}

std::string Task::group_of(size_t i) const {
  const std::string field = suite_.get<std::string>("group_field", "");
  if (field.empty()) return "";
  const auto& r = suite_.items[i];
  auto it = r.value.find(field);
  if (it == r.value.end() || !it->is_string() || it->get<std::string>().empty())
    fail(suite_.data_path, ":", r.line, ": the manifest's group_field '", field, "' needs a non-empty string field '", field,
         "' in every item");
  return it->get<std::string>();
}

std::vector<MetricResult> group_metrics(const std::vector<ItemResult>& rows, const MetricsOf& base) {
  std::map<std::string, std::vector<ItemResult>> by_group;
  for (const auto& r : rows) {
    auto it = r.extra.find("group");
    if (it != r.extra.end() && it->is_string() && !it->get<std::string>().empty()) by_group[it->get<std::string>()].push_back(r);
  }
  std::vector<MetricResult> out;
  for (const auto& [g, sub] : by_group)
    for (MetricResult m : base(sub)) {
      if (m.metric == "invalid") continue;
      m.metric += "[" + g + "]";
      out.push_back(std::move(m));
    }
  return out;
}

std::vector<MetricResult> with_group_metrics(const std::vector<ItemResult>& rows, const MetricsOf& base) {
  std::vector<MetricResult> out = base(rows);
  for (auto& m : group_metrics(rows, base)) out.push_back(std::move(m));
  return out;
}

MetricResult mean_metric(const std::string& name, const std::vector<double>& values, const Range& range) {
  MeanStat m = mean_stat(values, range);
  return MetricResult{name, m.mean, m.stderr_, m.ci_low, m.ci_high, m.n};
}

MetricResult rate_metric(const std::string& name, const std::vector<double>& values) {
  const bool binary = std::all_of(values.begin(), values.end(), [](double v) { return v == 0 || v == 1; });
  if (!binary) return mean_metric(name, values, kUnitRange);
  MeanStat m = proportion_stat(values);
  return MetricResult{name, m.mean, m.stderr_, m.ci_low, m.ci_high, m.n};
}

MetricResult invalid_metric(const std::vector<ItemResult>& rows) {
  int64_t bad = 0;
  for (const auto& r : rows) bad += r.extra.value("invalid", false) ? 1 : 0;
  return MetricResult{"invalid", double(bad), std::nullopt, std::nullopt, std::nullopt, int64_t(rows.size())};
}

}  // namespace sb
