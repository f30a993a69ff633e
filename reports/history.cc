// history: series over runs with change points; see reports/history.h.
#include "reports/history.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "common/text.h"
#include "common/text_table.h"
#include "engine/core/error.h"
#include "reports/compare.h"
#include "reports/stats.h"

namespace sb::history {

namespace {

std::optional<double> uncertainty(const MetricRow& m) {
  if (m.stderr_ && std::isfinite(*m.stderr_)) return std::fabs(*m.stderr_);
  if (m.ci_low && m.ci_high && std::isfinite(*m.ci_low) && std::isfinite(*m.ci_high))
    return std::fabs(*m.ci_high - *m.ci_low) / (2 * 1.959963984540054);
  return std::nullopt;
}

std::string speed_label(const SpeedRow& s) {
  std::string l = s.test;
  if (s.n_depth > 0) l += " @d" + std::to_string(s.n_depth);
  return l;
}

}  // namespace

void analyse(Series& s, double gamma) {
  std::vector<double> y, se;
  for (const auto& p : s.points) {
    y.push_back(p.value);
    if (p.stderr_ && *p.stderr_ > 0) se.push_back(*p.stderr_);  // 0 for a degenerate mean (acc 1.0): no information
  }
  const double floor = se.empty() ? 0.0 : stats::median(se);
  s.penalty = stats::step_penalty(y, floor, gamma);
  std::vector<double> levels;
  const auto idx = stats::detect_steps(y, s.penalty, &levels);
  s.steps.clear();
  for (size_t i = 0; i < s.points.size(); ++i) {
    s.points[i].level = levels[i];
    s.points[i].step = false;
  }
  for (size_t i : idx) {
    Step st;
    st.index = i;
    st.run_id = s.points[i].run.id;
    st.before = levels[i - 1];
    st.after = levels[i];
    st.regression = is_better(st.before, st.after, s.direction);
    st.improvement = is_better(st.after, st.before, s.direction);
    s.points[i].step = true;
    s.steps.push_back(st);
  }
}

History build(Store& store, const Options& o, const std::string& db_path) {
  if (o.metric.empty()) fail(db_path, ": history needs a metric name (--metric)");
  auto runs = store.list_runs(-1);
  std::reverse(runs.begin(), runs.end());  // oldest first
  std::vector<RunRecord> selected;
  for (const auto& r : runs) {
    if (!o.include_incomplete && r.status != "complete") continue;
    if (!o.variant.empty() && r.info.variant != o.variant) continue;
    if (!o.label.empty() && r.info.label != o.label) continue;
    selected.push_back(r);
  }
  History h;
  h.options = o;
  std::map<std::string, size_t> index;  // series key -> position in h.series
  std::set<std::string> metric_names, speed_tests, tasks_with_metric;
  for (const auto& r : selected) {
    for (const auto& m : store.metrics(r.id)) {
      metric_names.insert(m.metric);
      if (m.metric != o.metric) continue;
      tasks_with_metric.insert(m.task);
      if (!o.task.empty() && m.task != o.task) continue;
      if (!std::isfinite(m.value)) continue;
      auto [it, fresh] = index.emplace(m.task + "|" + r.info.variant, h.series.size());
      if (fresh) {
        Series s;
        s.task = m.task;
        s.variant = r.info.variant;
        s.metric = m.metric;
        s.source = "metric";
        h.series.push_back(std::move(s));
      }
      if (m.direction != Direction::unknown) h.series[it->second].direction = m.direction;
      Point p;
      p.run = r;
      p.value = m.value;
      p.stderr_ = uncertainty(m);
      p.n = m.n;
      h.series[it->second].points.push_back(std::move(p));
    }
  }
  if (h.series.empty() && o.task.empty()) {
    // A bench test name: mean tokens/s of each configuration with that test name.
    for (const auto& r : selected) {
      for (const auto& s : store.speeds(r.id)) {
        speed_tests.insert(s.test);
        if (s.test != o.metric || !std::isfinite(s.avg_ts)) continue;
        const std::string label = speed_label(s);
        auto [it, fresh] = index.emplace("speed|" + label + "|" + r.info.variant, h.series.size());
        if (fresh) {
          Series ser;
          ser.task = label;
          ser.variant = r.info.variant;
          ser.metric = s.test + " t/s";
          ser.source = "speed";
          ser.direction = Direction::higher;
          h.series.push_back(std::move(ser));
        }
        Point p;
        p.run = r;
        p.value = s.avg_ts;
        if (s.repetitions > 0 && std::isfinite(s.stddev_ts)) p.stderr_ = s.stddev_ts / std::sqrt(double(s.repetitions));
        p.n = s.repetitions;
        h.series[it->second].points.push_back(std::move(p));
      }
    }
  }
  if (h.series.empty()) {
    const std::string which = o.include_incomplete ? "run" : "complete run";
    if (selected.empty()) fail(db_path, ": no ", which, " matches (", runs.size(), " runs in the database)");
    if (!o.task.empty() && !tasks_with_metric.empty()) {
      std::string t;
      for (const auto& x : tasks_with_metric) t += (t.empty() ? "" : ", ") + x;
      fail(db_path, ": metric '", o.metric, "' has no values for task '", o.task, "' (tasks with it: ", t, ")");
    }
    std::string known;
    for (const auto& x : metric_names) known += (known.empty() ? "" : ", ") + x;
    for (const auto& x : speed_tests) known += (known.empty() ? "" : ", ") + x;
    fail(db_path, ": no metric or bench test '", o.metric, "' in any ", which, known.empty() ? "" : " (known: " + known + ")");
  }
  for (auto& s : h.series) {
    if (o.limit > 0 && s.points.size() > size_t(o.limit)) s.points.erase(s.points.begin(), s.points.end() - o.limit);
    analyse(s, o.gamma);
  }
  return h;
}

std::string format_table(const History& h) {
  std::string out;
  for (const auto& s : h.series) {
    if (!out.empty()) out += "\n";
    out +=
        s.metric + " on " + s.task + (s.variant.empty() ? "" : ", variant " + s.variant) + " (" +
        (s.direction == Direction::unknown ? std::string("direction unknown") : std::string(direction_name(s.direction)) + " is better") +
        "; " + std::to_string(s.points.size()) + " runs; " + std::to_string(s.steps.size()) + (s.steps.size() == 1 ? " step" : " steps") +
        ")\n";
    text::Table cells({"run", "started", "commit", "label", "variant", "value", "+/-", "level", ""});
    for (size_t c : {0, 5, 6, 7}) cells.align(c, text::Table::Align::right);
    const bool speed = s.source == "speed";
    const char* vf = speed ? "%.1f" : "%.4f";
    for (size_t i = 0; i < s.points.size(); ++i) {
      const auto& p = s.points[i];
      std::string commit = p.run.info.git_commit.substr(0, 10) + (p.run.info.git_dirty ? "+" : "");
      std::string mark;
      if (p.step) {
        const double before = s.points[i - 1].level, d = p.level - before;
        const bool reg = is_better(before, p.level, s.direction), imp = is_better(p.level, before, s.direction);
        mark = "<- step " + text::format(speed ? "%+.1f" : "%+.4f", d) +
               (before != 0 ? " (" + text::format("%+.1f", 100 * d / std::fabs(before)) + "%)" : "") +
               (reg   ? " regression"
                : imp ? " improvement"
                      : "");
      }
      cells.add_row({std::to_string(p.run.id), p.run.started_at, commit, p.run.info.label, p.run.info.variant, text::format(vf, p.value),
                     p.stderr_ ? text::format(vf, *p.stderr_) : "", text::format(vf, p.level), mark});
    }
    out += cells.text(/*rule=*/false);
  }
  return out;
}

nlohmann::json to_json(const History& h) {
  nlohmann::json series = nlohmann::json::array();
  for (const auto& s : h.series) {
    nlohmann::json pts = nlohmann::json::array(), steps = nlohmann::json::array();
    for (const auto& p : s.points)
      pts.push_back({{"run_id", p.run.id},
                     {"started_at", p.run.started_at},
                     {"git_commit", p.run.info.git_commit},
                     {"git_dirty", p.run.info.git_dirty},
                     {"label", p.run.info.label},
                     {"variant", p.run.info.variant},
                     {"model_sha256", p.run.info.model_sha256},
                     {"value", p.value},
                     {"stderr", p.stderr_ ? nlohmann::json(*p.stderr_) : nlohmann::json(nullptr)},
                     {"n", p.n},
                     {"level", p.level},
                     {"step", p.step}});
    for (const auto& st : s.steps)
      steps.push_back({{"index", st.index},
                       {"run_id", st.run_id},
                       {"before", st.before},
                       {"after", st.after},
                       {"delta", st.after - st.before},
                       {"regression", st.regression},
                       {"improvement", st.improvement}});
    series.push_back({{"task", s.task},
                      {"variant", s.variant},
                      {"metric", s.metric},
                      {"source", s.source},
                      {"direction", direction_name(s.direction)},
                      {"penalty", s.penalty},
                      {"points", pts},
                      {"steps", steps}});
  }
  return {{"metric", h.options.metric}, {"task", h.options.task}, {"series", series}};
}

}  // namespace sb::history
