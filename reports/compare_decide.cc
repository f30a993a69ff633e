// compare: pairing, statistics and verdicts (pure data); see reports/compare_decide.h and
// docs/COMPARE.md.
#include "reports/compare_decide.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "reports/stats.h"

namespace sb::compare {

namespace {

bool finite(double x) { return std::isfinite(x); }

std::vector<std::string> json_string_list(const std::string& config_json, const char* key) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(config_json, nullptr, false);
  if (j.is_object() && j.contains(key) && j[key].is_array())
    for (const auto& x : j[key])
      if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// Decides an accuracy row from its delta, p-value and threshold.
void decide_accuracy(Row& r, const Options& o, bool significant_direction_ok = true) {
  const double a = *r.baseline, b = *r.candidate, delta = *r.delta;
  const bool bounded = a >= 0 && a <= 1 && b >= 0 && b <= 1;
  if (r.direction == Direction::unknown) {
    r.status = delta == 0 ? Status::ok : Status::warn;
    const std::string s = "direction unknown (no declaration stored with the metric): not judged";
    r.note = r.note.empty() ? s : r.note + "; " + s;
    return;
  }
  const double worse = r.direction == Direction::higher ? -delta : delta;  // > 0: candidate is worse
  double mag = worse, thr = o.max_accuracy_drop;
  std::string unit_note = "absolute";
  if (!bounded) {
    thr = o.max_relative_drop;
    unit_note = "relative";
    mag = a != 0 ? worse / std::fabs(a) : worse;
  }
  const bool tested = r.p.has_value();
  const bool sig = tested && *r.p < o.alpha && significant_direction_ok;
  const std::string thr_s = bounded ? text::format("%.3g", thr) : text::format("%.3g%%", 100 * thr);
  auto add_note = [&](const std::string& s) { r.note = r.note.empty() ? s : r.note + "; " + s; };
  if (mag > thr) {
    if (sig) {
      r.status = Status::regression;
      add_note("worse by more than " + thr_s + " (" + unit_note + ") and significant");
    } else if (!tested) {
      r.status = Status::warn;
      add_note("worse by more than " + thr_s + " but no interval to test it");
    } else {
      r.status = Status::warn;
      add_note("worse by more than " + thr_s + " but not significant at alpha " + text::format("%.3g", o.alpha));
    }
  } else if (-mag > thr && sig) {
    r.status = Status::improvement;
    add_note("better by more than " + thr_s + " and significant");
  } else {
    r.status = Status::ok;
    if (sig && delta != 0) add_note("significant but within " + thr_s);
  }
}

struct TaskData {
  std::vector<const MetricRow*> metrics;               // in stored order
  std::vector<std::pair<std::string, double>> scores;  // (sample_id, score), finite only, stored order
  bool present = false;
};

std::map<std::string, TaskData> by_task(const RunData& d, std::vector<std::string>& order) {
  std::map<std::string, TaskData> m;
  auto touch = [&](const std::string& t) -> TaskData& {
    auto& td = m[t];
    if (!td.present) {
      td.present = true;
      if (std::find(order.begin(), order.end(), t) == order.end()) order.push_back(t);
    }
    return td;
  };
  for (const auto& x : d.metrics) touch(x.task).metrics.push_back(&x);
  for (const auto& s : d.samples) {
    auto& td = touch(s.task);
    if (finite(s.score)) td.scores.push_back({s.sample_id, s.score});
  }
  return m;
}

const MetricRow* find_metric(const TaskData& t, const std::string& name) {
  for (const auto* m : t.metrics)
    if (m->metric == name) return m;
  return nullptr;
}

// The metric the paired per-sample test applies to: the one whose value is the mean of the task's
// per-sample scores, else the first metric. (Not "the suite's primary metric": that rule is
// report::primary_metric, from the registry.)
std::string paired_metric(const TaskData& a, const TaskData& b) {
  for (const TaskData* t : {&a, &b}) {
    if (t->scores.empty()) continue;
    double s = 0;
    for (const auto& x : t->scores) s += x.second;
    const double mean = s / double(t->scores.size());
    for (const auto* m : t->metrics)
      if (finite(m->value) && std::fabs(m->value - mean) <= 1e-9 * std::max(1.0, std::fabs(mean))) return m->metric;
  }
  if (!a.metrics.empty()) return a.metrics.front()->metric;
  if (!b.metrics.empty()) return b.metrics.front()->metric;
  return "score";
}

bool is_primary_mean(const TaskData& t, const std::string& metric) {
  if (t.scores.empty()) return false;
  const MetricRow* m = find_metric(t, metric);
  if (!m) return metric == "score";
  double s = 0;
  for (const auto& x : t.scores) s += x.second;
  const double mean = s / double(t.scores.size());
  return finite(m->value) && std::fabs(m->value - mean) <= 1e-9 * std::max(1.0, std::fabs(mean));
}

std::optional<double> stderr_of(const MetricRow& m) {
  if (m.stderr_ && finite(*m.stderr_)) return std::fabs(*m.stderr_);
  if (m.ci_low && m.ci_high && finite(*m.ci_low) && finite(*m.ci_high)) return std::fabs(*m.ci_high - *m.ci_low) / (2 * 1.959963984540054);
  return std::nullopt;
}

// The samples of a task present in both runs (by sample_id, first occurrence), in the
// baseline's order: their scores in pa (baseline) and pb (candidate).
void pair_scores(const TaskData& a, const TaskData& b, std::vector<double>& pa, std::vector<double>& pb) {
  std::map<std::string, double> bscore(b.scores.begin(), b.scores.end());
  std::set<std::string> seen;
  for (const auto& [id, s] : a.scores) {
    auto it = bscore.find(id);
    if (it == bscore.end() || !seen.insert(id).second) continue;
    pa.push_back(s);
    pb.push_back(it->second);
  }
}

// Tests the primary metric on the paired samples: McNemar's exact test when every score is 0
// or 1, a paired bootstrap otherwise. Returns whether the p-value counts for the metric's
// direction (false when the per-sample scores moved the other way).
bool test_paired(Row& r, const TaskData& a, const TaskData& b, const std::vector<double>& pa, const std::vector<double>& pb,
                 bool paired_mean, const Options& o) {
  bool direction_ok = true;
  r.n_paired = int64_t(pa.size());
  const bool binary = std::all_of(pa.begin(), pa.end(), [](double x) { return x == 0 || x == 1; }) &&
                      std::all_of(pb.begin(), pb.end(), [](double x) { return x == 0 || x == 1; });
  stats::PairedDiff pd;
  if (binary) {
    int64_t nb = 0, nc = 0;
    for (size_t i = 0; i < pa.size(); ++i) {
      nb += pa[i] == 1 && pb[i] == 0;
      nc += pa[i] == 0 && pb[i] == 1;
    }
    pd = stats::paired_pass_fail(nb, nc, int64_t(pa.size()), o.alpha);
    r.test = "mcnemar-exact";
    r.note += (r.note.empty() ? "" : "; ") + (nb + nc == 0 ? std::string("no sample changed")
                                                           : std::to_string(nb) + " samples now fail, " + std::to_string(nc) + " now pass");
  } else {
    pd = stats::paired_bootstrap(pa, pb, o.alpha, o.bootstrap_resamples, o.seed);
    r.test = "paired-bootstrap";
  }
  r.p = pd.p;
  const bool partial = int64_t(pa.size()) != int64_t(a.scores.size()) || int64_t(pa.size()) != int64_t(b.scores.size());
  if (paired_mean) {
    // The metric is the mean score: compared on the paired samples (values set above).
    r.delta = pd.mean;
    r.rel_delta = *r.baseline != 0 ? std::optional<double>(pd.mean / std::fabs(*r.baseline)) : std::nullopt;
    r.lo = pd.lo;
    r.hi = pd.hi;
    if (partial) {
      r.note += (r.note.empty() ? "" : "; ") + std::string("values over the ") + std::to_string(pa.size()) + " paired samples (" +
                std::to_string(a.scores.size()) + " and " + std::to_string(b.scores.size()) + " in the runs)";
    }
  } else {
    // p-value from the per-sample scores; it counts only when they moved the same way.
    r.note += (r.note.empty() ? "" : "; ") + std::string("p from per-sample scores");
    direction_ok = (pd.mean > 0) == (*r.delta > 0) && pd.mean != 0;
    if (partial) r.note += "; only " + std::to_string(pa.size()) + " samples pair";
  }
  return direction_ok;
}

// Tests a metric without paired samples: a z-test on the two stored standard errors (or
// intervals) when both runs have one.
void test_stderr(Row& r, const TaskData& a, const TaskData& b, const MetricRow* ma, const MetricRow* mb, bool is_primary,
                 const Options& o) {
  std::optional<double> sa, sb;
  if (ma && mb) {
    sa = stderr_of(*ma);
    sb = stderr_of(*mb);
  }
  if (is_primary && !a.scores.empty() && !b.scores.empty()) r.note = "no samples pair by id";
  if (sa && sb) {
    const double se = std::sqrt(*sa * *sa + *sb * *sb);
    r.test = "z-stderr";
    if (se > 0) {
      const double z = *r.delta / se;
      r.p = std::erfc(std::fabs(z) / std::sqrt(2.0));
      const double q = stats::normal_quantile(1 - o.alpha / 2);
      r.lo = *r.delta - q * se;
      r.hi = *r.delta + q * se;
    } else {
      r.p = *r.delta == 0 ? 1.0 : 0.0;
      r.lo = r.hi = *r.delta;
    }
  }
}

void accuracy_rows(const RunData& A, const RunData& B, const Options& o, std::vector<Row>& rows) {
  std::vector<std::string> order;
  auto ta = by_task(A, order);
  auto tb = by_task(B, order);
  static const TaskData empty;
  for (const auto& task : order) {
    const TaskData& a = ta.count(task) ? ta.at(task) : empty;
    const TaskData& b = tb.count(task) ? tb.at(task) : empty;
    const std::string primary = paired_metric(a, b);
    std::vector<std::string> names;
    for (const TaskData* t : {&a, &b})
      for (const auto* m : t->metrics)
        if (std::find(names.begin(), names.end(), m->metric) == names.end()) names.push_back(m->metric);
    if (names.empty()) names.push_back("score");  // samples but no metrics
    // Paired samples, in the baseline's order.
    std::vector<double> pa, pb;
    pair_scores(a, b, pa, pb);
    for (const auto& name : names) {
      Row r;
      r.kind = "accuracy";
      r.task = task;
      r.metric = name;
      // Direction as stored with the rows (the candidate's when both say); the sample score
      // (samples.score: 1 pass, 0 fail, graded otherwise) is better higher.
      for (const MetricRow* m : {find_metric(a, name), find_metric(b, name)})
        if (m && m->direction != Direction::unknown) r.direction = m->direction;
      if (name == "score") r.direction = Direction::higher;
      const MetricRow* ma = find_metric(a, name);
      const MetricRow* mb = find_metric(b, name);
      r.n_baseline = ma ? ma->n : int64_t(a.scores.size());
      r.n_candidate = mb ? mb->n : int64_t(b.scores.size());
      if (ma && finite(ma->value)) r.baseline = ma->value;
      if (mb && finite(mb->value)) r.candidate = mb->value;
      if (name == "score" && !ma && !mb) {
        // Samples without metrics: the mean score is the value.
        auto mean = [](const std::vector<std::pair<std::string, double>>& v) -> std::optional<double> {
          if (v.empty()) return std::nullopt;
          double s = 0;
          for (const auto& x : v) s += x.second;
          return s / double(v.size());
        };
        r.baseline = mean(a.scores);
        r.candidate = mean(b.scores);
      }
      if (!a.present || !b.present) {
        r.status = Status::incomparable;
        r.note = std::string("task only in the ") + (a.present ? "baseline" : "candidate") + " run";
        rows.push_back(r);
        continue;
      }
      // The primary metric when it is the mean score: tested and valued on the paired samples,
      // even if one run has no stored metric yet (an interrupted run stores metrics at the end).
      const bool paired_mean = name == primary && !pa.empty() && (name == "score" || is_primary_mean(a, name) || is_primary_mean(b, name));
      if (paired_mean) {
        double sa = 0, sb = 0;
        for (size_t i = 0; i < pa.size(); ++i) {
          sa += pa[i];
          sb += pb[i];
        }
        r.baseline = sa / double(pa.size());
        r.candidate = sb / double(pb.size());
        if (!ma || !mb) r.note = std::string("from samples (no stored metric in the ") + (ma ? "candidate" : "baseline") + " run)";
      }
      if (name == "score" && pa.empty()) {
        r.status = Status::incomparable;
        r.note = "no metrics, and no samples pair by id";
        rows.push_back(r);
        continue;
      }
      if (!paired_mean && name != "score" && (!ma || !mb)) {
        r.status = Status::incomparable;
        r.note = std::string("metric only in the ") + (ma ? "baseline" : "candidate") + " run";
        rows.push_back(r);
        continue;
      }
      if (!r.baseline || !r.candidate) {
        r.status = Status::incomparable;
        r.note = "no value (NaN) in the " + std::string(!r.baseline ? "baseline" : "candidate") + " run";
        rows.push_back(r);
        continue;
      }
      r.delta = *r.candidate - *r.baseline;
      if (*r.baseline != 0) r.rel_delta = *r.delta / std::fabs(*r.baseline);
      bool direction_ok = true;
      if (name == primary && !pa.empty()) {
        direction_ok = test_paired(r, a, b, pa, pb, paired_mean, o);
      } else {
        test_stderr(r, a, b, ma, mb, name == primary, o);
      }
      decide_accuracy(r, o, direction_ok);
      rows.push_back(r);
    }
  }
}

std::string speed_key(const SpeedRow& s) {
  return s.test + "|" + std::to_string(s.n_prompt) + "|" + std::to_string(s.n_gen) + "|" + std::to_string(s.n_depth);
}

std::string speed_label(const SpeedRow& s) {
  std::string l = s.test;
  if (s.n_depth > 0) l += " @d" + std::to_string(s.n_depth);
  return l;
}

struct Series {
  std::string label;
  std::vector<double> v;
};

// Decides a speed or kernel row from repetition samples.
void speed_row(Row& r, const std::vector<double>& a, const std::vector<double>& b, const Options& o, double floor) {
  r.n_baseline = int64_t(a.size());
  r.n_candidate = int64_t(b.size());
  const double ma = stats::median(a), mb = stats::median(b);
  r.baseline = ma;
  r.candidate = mb;
  r.delta = mb - ma;
  if (ma != 0) r.rel_delta = (mb - ma) / std::fabs(ma);
  const double worse_abs = r.direction == Direction::higher ? ma - mb : mb - ma;
  const double worse_rel = ma != 0 ? worse_abs / std::fabs(ma) : 0;
  const bool beyond = worse_rel > o.max_speed_drop && worse_abs > floor;
  const bool better = -worse_rel > o.max_speed_drop && -worse_abs > floor;
  const std::string thr =
      text::format("%.3g%%", 100 * o.max_speed_drop) + (floor > 0 ? " and " + text::format("%.3g", floor) + " " + r.unit : "");
  if (std::min(a.size(), b.size()) < size_t(std::max(1, o.min_repetitions))) {
    r.status = Status::warn;
    r.note = "too few repetitions to decide (" + std::to_string(a.size()) + " and " + std::to_string(b.size()) + "; need at least " +
             std::to_string(o.min_repetitions) + ")";
    if (beyond) r.note += "; slower by more than " + thr;
    return;
  }
  const auto mw = stats::mann_whitney_u(a, b);
  r.p = mw.p;
  r.test = mw.exact ? "mann-whitney-exact" : "mann-whitney-normal";
  const double min_p = stats::mann_whitney_min_p(a.size(), b.size());
  if (min_p >= o.alpha) {
    r.status = Status::warn;
    r.note = "too few repetitions to decide (" + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
             ": the smallest possible p is " + text::format("%.2g", min_p) + ")";
    if (beyond) r.note += "; slower by more than " + thr;
    return;
  }
  const bool sig = mw.p < o.alpha;
  if (beyond && sig) {
    r.status = Status::regression;
    r.note = "slower by more than " + thr + " and significant";
  } else if (beyond) {
    r.status = Status::warn;
    r.note = "slower by more than " + thr + " but not significant at alpha " + text::format("%.3g", o.alpha);
  } else if (better && sig) {
    r.status = Status::improvement;
    r.note = "faster by more than " + thr + " and significant";
  } else {
    r.status = Status::ok;
  }
}

void speed_rows(const RunData& A, const RunData& B, const Options& o, std::vector<Row>& rows) {
  std::vector<std::string> order;
  std::map<std::string, Series> sa, sb;
  auto collect = [&](const RunData& d, std::map<std::string, Series>& m) {
    for (const auto& s : d.speed) {
      const std::string k = speed_key(s);
      if (std::find(order.begin(), order.end(), k) == order.end()) order.push_back(k);
      auto& ser = m[k];
      ser.label = speed_label(s);
      size_t before = ser.v.size();
      for (double x : s.samples_ts)
        if (finite(x)) ser.v.push_back(x);
      if (ser.v.size() == before && finite(s.avg_ts) && s.avg_ts > 0) ser.v.push_back(s.avg_ts);
    }
  };
  collect(A, sa);
  collect(B, sb);
  for (const auto& k : order) {
    Row r;
    r.kind = "speed";
    r.metric = "t/s";
    r.unit = "t/s";
    r.direction = Direction::higher;
    const bool ina = sa.count(k) && !sa[k].v.empty(), inb = sb.count(k) && !sb[k].v.empty();
    r.task = (sa.count(k) ? sa[k] : sb[k]).label;
    if (!ina || !inb) {
      r.status = Status::incomparable;
      r.n_baseline = ina ? int64_t(sa[k].v.size()) : 0;
      r.n_candidate = inb ? int64_t(sb[k].v.size()) : 0;
      if (ina) r.baseline = stats::median(sa[k].v);
      if (inb) r.candidate = stats::median(sb[k].v);
      r.note = std::string("configuration only in the ") + (ina ? "baseline" : "candidate") + " run";
      rows.push_back(r);
      continue;
    }
    speed_row(r, sa[k].v, sb[k].v, o, o.speed_floor_ts);
    rows.push_back(r);
  }
}

void kernel_rows(const RunData& A, const RunData& B, const Options& o, std::vector<Row>& rows) {
  std::vector<std::string> order;
  auto collect = [&](const RunData& d) {
    std::map<std::string, std::vector<double>> it, mean;
    for (const auto& k : d.kernels) {
      if (std::find(order.begin(), order.end(), k.name) == order.end()) order.push_back(k.name);
      if (!finite(k.real_time_ns)) continue;
      if (k.run_type == "aggregate") {
        if (k.aggregate == "mean") mean[k.name].push_back(k.real_time_ns);
      } else {
        it[k.name].push_back(k.real_time_ns);
      }
    }
    for (auto& [name, v] : mean)
      if (!it.count(name)) it[name] = v;  // only aggregates were kept: one value
    return it;
  };
  auto ka = collect(A), kb = collect(B);
  for (const auto& name : order) {
    Row r;
    r.kind = "kernel";
    r.task = name;
    r.metric = "real_time";
    r.unit = "ns";
    r.direction = Direction::lower;
    const bool ina = ka.count(name) > 0, inb = kb.count(name) > 0;
    if (!ina || !inb) {
      r.status = Status::incomparable;
      if (ina) r.baseline = stats::median(ka[name]);
      if (inb) r.candidate = stats::median(kb[name]);
      r.n_baseline = ina ? int64_t(ka[name].size()) : 0;
      r.n_candidate = inb ? int64_t(kb[name].size()) : 0;
      r.note = std::string("benchmark only in the ") + (ina ? "baseline" : "candidate") + " run";
      rows.push_back(r);
      continue;
    }
    speed_row(r, ka[name], kb[name], o, 0.0);
    rows.push_back(r);
  }
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::ok:
      return "ok";
    case Status::regression:
      return "regression";
    case Status::improvement:
      return "improvement";
    case Status::warn:
      return "warn";
    case Status::incomparable:
      return "incomparable";
  }
  return "?";
}

int Result::count(Status s) const {
  int n = 0;
  for (const auto& r : rows) n += r.status == s;
  return n;
}

int Result::exit_code() const {
  if (count(Status::regression) > 0) return 1;
  if (!comparable) return 2;
  return 0;
}

std::string Result::verdict() const {
  std::string s;
  auto part = [&](Status st, const char* one, const char* many) {
    const int n = count(st);
    if (n == 0) return;
    s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + (n == 1 ? one : many);
  };
  part(Status::regression, "regression", "regressions");
  part(Status::improvement, "improvement", "improvements");
  part(Status::warn, "warning", "warnings");
  part(Status::incomparable, "incomparable", "incomparable");
  part(Status::ok, "ok", "ok");
  if (!comparable) return "INCOMPARABLE: " + incomparable_reason + (s.empty() ? "" : " (" + s + ")");
  if (count(Status::regression) > 0) return "REGRESSION: " + s;
  return "no regression: " + s;
}

Result compare(const RunData& A, const RunData& B, const Options& o) {
  Result res;
  res.baseline = A.run;
  res.candidate = B.run;
  res.options = o;
  accuracy_rows(A, B, o, res.rows);
  speed_rows(A, B, o, res.rows);
  kernel_rows(A, B, o, res.rows);
  if (A.run.id == B.run.id && A.run.id != 0)
    res.warnings.push_back("baseline and candidate are the same run (" + std::to_string(A.run.id) + ")");
  for (const auto* r : {&A.run, &B.run}) {
    const char* which = r == &A.run ? "baseline" : "candidate";
    if (!r->status.empty() && r->status != "complete")
      res.warnings.push_back(std::string(which) + " run " + std::to_string(r->id) + " is " + r->status + ": its results may be partial");
    if (r->info.synthetic_weights)
      res.warnings.push_back(std::string(which) + " run " + std::to_string(r->id) + " used synthetic weights: accuracy is meaningless");
  }
  if (A.run.info.kind != B.run.info.kind)
    res.warnings.push_back("the runs are of different kinds (" + A.run.info.kind + " and " + B.run.info.kind + ")");
  const auto suites_a = json_string_list(A.run.info.config_json, "suites"), suites_b = json_string_list(B.run.info.config_json, "suites");
  if (!suites_a.empty() && !suites_b.empty() && suites_a != suites_b)
    res.warnings.push_back("the runs evaluated different suites (" + join(suites_a, ",") + " and " + join(suites_b, ",") + ")");
  const int compared = int(res.rows.size()) - res.count(Status::incomparable);
  if (res.rows.empty()) {
    res.comparable = false;
    res.incomparable_reason = "neither run has results (metrics, samples, speed or kernel rows)";
  } else if (compared == 0) {
    res.comparable = false;
    res.incomparable_reason = "the runs have no task, bench configuration or kernel in common";
  }
  return res;
}

}  // namespace sb::compare
