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

std::string Task::few_shot_prefix(size_t i, const std::string& target_template) const {
  const auto fs = suite_.manifest.value("few_shot", nlohmann::json::object());
  const int k = fs.value("k", 0);
  if (k <= 0) return "";
  const uint64_t seed = fs.value("seed", uint64_t(1234));
  const std::string same = fs.value("exclude_same", std::string());
  std::vector<size_t> pool;
  for (size_t j = 0; j < size(); ++j) {
    if (j == i) continue;
    if (!same.empty() && suite_.items[j].value.value(same, nlohmann::json()) == suite_.items[i].value.value(same, nlohmann::json()))
      continue;
    pool.push_back(j);
  }
  std::mt19937_64 rng(seed + i);
  std::shuffle(pool.begin(), pool.end(), rng);
  const std::string tmpl = suite_.get<std::string>("prompt_template", "");
  std::string out;
  for (size_t n = 0; n < pool.size() && n < size_t(k); ++n) {
    const auto& r = suite_.items[pool[n]];
    const std::string where = suite_.data_path + ":" + std::to_string(r.line);
    out += fill_template(tmpl, r.value, where) + fill_template(target_template, r.value, where) + "\n\n";
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
