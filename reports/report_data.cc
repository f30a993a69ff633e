// Reading the results database for `sparkbench report`: see reports/report_data.h.
#include "reports/report_data.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "evals/long_context_names.h"

namespace sb::report {

namespace {

constexpr double kZ95 = 1.959963984540054;

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_hex(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
}

bool looks_like_date(const std::string& s) {
  return s.size() >= 10 && all_digits(s.substr(0, 4)) && s[4] == '-' && all_digits(s.substr(5, 2)) && s[7] == '-' &&
         all_digits(s.substr(8, 2));
}

std::string model_name(const std::string& path) {
  std::string s = path;
  const auto slash = s.find_last_of('/');
  if (slash != std::string::npos) s = s.substr(slash + 1);
  if (s.size() > 5 && s.compare(s.size() - 5, 5, ".gguf") == 0) s.resize(s.size() - 5);
  return s.empty() ? "(no model)" : s;
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json parse_or_empty(const std::string& s) {
  if (s.empty()) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(s);
  } catch (const nlohmann::json::exception&) {
    return nlohmann::json::object();
  }
}

std::string json_str(const nlohmann::json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return "";
}

std::optional<double> json_num(const nlohmann::json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

// Standard error of a metric: stored stderr, else half its CI width / 1.96.
std::optional<double> sigma_of(const MetricRow& m) {
  if (m.stderr_ && std::isfinite(*m.stderr_)) return m.stderr_;
  if (m.ci_low && m.ci_high && std::isfinite(*m.ci_low) && std::isfinite(*m.ci_high)) return (*m.ci_high - *m.ci_low) / (2 * kZ95);
  return std::nullopt;
}

class Loader {
 public:
  Loader(Store& store, const std::string& db, const Options& opt) : store_(store), db_(db), opt_(opt) {}

  ReportData load();

 private:
  void select_runs(ReportData& d);
  void build_configs(ReportData& d);
  std::optional<Latency> latency(const RunView& r);
  std::optional<Latency> latency_from_samples(int64_t run);
  std::optional<Latency> latency_from_bench(const RunView& r);
  const std::vector<MetricRow>& metrics(int64_t run);
  const MetricRow* declared(const ReportData& d, const std::string& task, const std::string& metric);
  void build_suites(ReportData& d);
  void build_trends(ReportData& d);
  void build_speed_and_kernels(ReportData& d);
  void build_distill(ReportData& d);

  Store& store_;
  const std::string& db_;
  const Options& opt_;
  std::vector<RunRecord> all_;  // every run, by id
  std::map<int64_t, std::vector<MetricRow>> metrics_;
  std::map<int64_t, std::optional<Latency>> latency_;
  std::map<int64_t, std::vector<SpeedRow>> speeds_;
};

const std::vector<MetricRow>& Loader::metrics(int64_t run) {
  auto it = metrics_.find(run);
  if (it == metrics_.end()) it = metrics_.emplace(run, store_.metrics(run)).first;
  return it->second;
}

// The declaration the selected runs' rows carry for (task, metric): the newest row with a known
// direction, else nullptr.
const MetricRow* Loader::declared(const ReportData& d, const std::string& task, const std::string& metric) {
  const MetricRow* row = nullptr;
  for (const auto& r : d.runs)
    for (const auto& m : metrics(r.rec.id))
      if (m.task == task && m.metric == metric && m.direction != Direction::unknown) row = &m;
  return row;
}

void Loader::select_runs(ReportData& d) {
  all_ = store_.list_runs(INT_MAX);
  std::sort(all_.begin(), all_.end(), [](const RunRecord& a, const RunRecord& b) { return a.id < b.id; });
  std::set<int64_t> chosen;
  std::string how;
  if (opt_.runs.empty()) {
    for (const auto& r : all_)
      if (r.status == "complete") chosen.insert(r.id);
    how = "every complete run";
  } else {
    for (const auto& ref : opt_.runs) {
      const auto dots = ref.find("..");
      if (dots != std::string::npos && all_digits(ref.substr(0, dots)) && all_digits(ref.substr(dots + 2))) {
        const int64_t a = std::stoll(ref.substr(0, dots)), b = std::stoll(ref.substr(dots + 2));
        size_t found = 0;
        for (const auto& r : all_)
          if (r.id >= std::min(a, b) && r.id <= std::max(a, b)) chosen.insert(r.id), ++found;
        if (!found) fail(db_, ": no run in the range ", ref);
        continue;
      }
      auto r = store_.find_run(ref);
      if (!r) fail(db_, ": no run '", ref, "' (a run id, a label, 'latest' or a range A..B)");
      chosen.insert(r->id);
    }
    how = "runs ";
    for (size_t i = 0; i < opt_.runs.size(); ++i) how += (i ? ", " : "") + opt_.runs[i];
  }
  if (!opt_.since.empty()) {
    const std::string& s = opt_.since;
    std::function<bool(const RunRecord&)> keep;
    if (auto r = store_.find_run(s)) {
      const int64_t from = r->id;
      keep = [from](const RunRecord& x) { return x.id >= from; };
      how += " since run " + std::to_string(from);
    } else if (looks_like_date(s)) {
      keep = [s](const RunRecord& x) { return x.started_at >= s; };
      how += " started on or after " + s;
    } else if (s.size() >= 4 && is_hex(s)) {
      int64_t from = 0;
      for (const auto& x : all_)
        if (x.info.git_commit.rfind(s, 0) == 0) {
          from = x.id;
          break;
        }
      if (!from) fail(db_, ": --since '", s, "': no run, date (YYYY-MM-DD) or git commit matches");
      keep = [from](const RunRecord& x) { return x.id >= from; };
      how += " since commit " + s + " (run " + std::to_string(from) + ")";
    } else {
      fail(db_, ": --since '", s, "': no run, date (YYYY-MM-DD) or git commit matches");
    }
    for (const auto& x : all_)
      if (chosen.count(x.id) && !keep(x)) chosen.erase(x.id);
  }
  d.selection = how;
  for (const auto& r : all_) {
    if (!chosen.count(r.id)) continue;
    RunView v;
    v.rec = r;
    v.commit = r.info.git_commit.substr(0, 7) + (r.info.git_dirty ? "-dirty" : "");
    v.model = model_name(r.info.model_path);
    d.any_synthetic = d.any_synthetic || r.info.synthetic_weights;
    d.runs.push_back(std::move(v));
  }
}

void Loader::build_configs(ReportData& d) {
  std::map<std::string, int> index;
  for (auto& r : d.runs) {
    if (r.rec.info.kind != "eval") continue;
    const auto cfg = parse_or_empty(r.rec.info.config_json);
    Config c;
    c.variant = r.rec.info.variant.empty() ? "base" : r.rec.info.variant;
    c.model = r.model;
    c.backend = r.rec.info.backend;
    c.threads = r.rec.info.threads;
    c.model_sha256 = r.rec.info.model_sha256;
    c.kv_type = json_str(cfg, "kv_type");
    c.compute = json_str(cfg, "compute");
    c.key = (c.model_sha256.empty() ? r.rec.info.model_path : c.model_sha256) + "|" + c.variant + "|" + c.backend + "|" +
            std::to_string(c.threads) + "|" + c.kv_type + "|" + c.compute;
    auto it = index.find(c.key);
    if (it == index.end()) {
      c.style = int(d.configs.size());
      it = index.emplace(c.key, int(d.configs.size())).first;
      d.configs.push_back(c);
    }
    r.config = it->second;
  }
  // Labels: "variant · model · backend", plus whatever tells configurations with equal labels apart.
  const std::string dot = " \xC2\xB7 ";
  for (auto& c : d.configs) c.label = c.variant + dot + c.model + dot + c.backend;
  const std::vector<std::function<std::string(const Config&)>> extras = {
      [](const Config& c) { return std::to_string(c.threads) + " threads"; },
      [](const Config& c) { return "kv " + (c.kv_type.empty() ? std::string("default") : c.kv_type); },
      [](const Config& c) { return "compute " + (c.compute.empty() ? std::string("default") : c.compute); },
      [](const Config& c) { return "sha " + (c.model_sha256.empty() ? std::string("?") : c.model_sha256.substr(0, 8)); },
  };
  for (const auto& extra : extras) {
    std::map<std::string, std::vector<int>> groups;
    for (size_t i = 0; i < d.configs.size(); ++i) groups[d.configs[i].label].push_back(int(i));
    for (auto& [label, members] : groups) {
      if (members.size() < 2) continue;
      std::set<std::string> values;
      for (int m : members) values.insert(extra(d.configs[m]));
      if (values.size() < 2) continue;  // this field does not tell them apart
      for (int m : members) d.configs[m].label += dot + extra(d.configs[m]);
    }
  }
}

std::optional<Latency> Loader::latency_from_samples(int64_t run) {
  const auto timings = store_.sample_timings(run);
  int64_t n = 0;
  double sum = 0, sumsq = 0;
  for (const auto& t : timings) {
    const double nn = double(t.n);
    n += t.n;
    sum += nn * t.tpot_mean_ms;
    sumsq += (t.n > 1 ? t.tpot_sd_ms * t.tpot_sd_ms * (nn - 1) : 0.0) + nn * t.tpot_mean_ms * t.tpot_mean_ms;
  }
  if (n == 0) return std::nullopt;
  Latency L;
  L.source = "samples";
  L.n = n;
  L.ms = sum / double(n);
  if (n > 1) {
    const double var = std::max(0.0, (sumsq - double(n) * L.ms * L.ms) / double(n - 1));
    L.sigma = std::sqrt(var / double(n));
  }
  return L;
}

std::optional<Latency> Loader::latency_from_bench(const RunView& r) {
  const RunInfo& e = r.rec.info;
  for (auto it = all_.rbegin(); it != all_.rend(); ++it) {
    const RunRecord& b = *it;
    if (b.info.kind != "bench" || b.status != "complete") continue;
    const bool same_model =
        !e.model_sha256.empty() && !b.info.model_sha256.empty() ? e.model_sha256 == b.info.model_sha256 : e.model_path == b.info.model_path;
    const std::string ev = e.variant.empty() ? "base" : e.variant, bv = b.info.variant.empty() ? "base" : b.info.variant;
    if (!same_model || ev != bv || e.backend != b.info.backend) continue;
    auto sit = speeds_.find(b.id);
    if (sit == speeds_.end()) sit = speeds_.emplace(b.id, store_.speeds(b.id)).first;
    const SpeedRow* pick = nullptr;
    int pick_rank = 99;
    for (const auto& s : sit->second) {
      int rank = 99;
      if (s.tpot_ms && *s.tpot_ms > 0)
        rank = 0;
      else if (s.n_prompt == 0 && s.n_gen > 0 && s.avg_ts > 0)
        rank = 2;
      if (rank == 99) continue;
      if (s.n_depth != 0) rank += 1;
      if (rank < pick_rank) pick = &s, pick_rank = rank;
    }
    if (!pick) continue;
    Latency L;
    L.source = "bench";
    L.bench_run = b.id;
    L.bench_test = pick->test;
    L.n = pick->repetitions;
    if (pick->tpot_ms && *pick->tpot_ms > 0) {
      L.ms = *pick->tpot_ms;
    } else {
      L.ms = 1000.0 / pick->avg_ts;
      if (pick->repetitions > 1 && pick->stddev_ts > 0)
        L.sigma = 1000.0 * pick->stddev_ts / (pick->avg_ts * pick->avg_ts) / std::sqrt(double(pick->repetitions));
    }
    return L;
  }
  return std::nullopt;
}

std::optional<Latency> Loader::latency(const RunView& r) {
  auto it = latency_.find(r.rec.id);
  if (it != latency_.end()) return it->second;
  std::optional<Latency> L;
  if (opt_.latency_source == "bench")
    L = latency_from_bench(r);
  else if (opt_.latency_source == "samples")
    L = latency_from_samples(r.rec.id);
  else {
    L = latency_from_samples(r.rec.id);
    if (!L) L = latency_from_bench(r);
  }
  latency_[r.rec.id] = L;
  return L;
}

Score to_score(const RunView& r, const MetricRow& m) {
  Score s;
  s.run = r.rec.id;
  s.config = r.config;
  s.task = m.task;
  s.metric = m.metric;
  s.value = m.value;
  s.sigma = m.stderr_;
  s.ci_low = m.ci_low;
  s.ci_high = m.ci_high;
  s.n = m.n;
  return s;
}

void Loader::build_suites(ReportData& d) {
  std::map<std::string, std::vector<std::string>> names;  // suite -> metrics present (first-seen order)
  std::map<std::string, std::vector<MetricRow>> rows;     // suite -> its rows in the selected runs
  for (const auto& r : d.runs) {
    if (r.config < 0) continue;
    for (const auto& m : metrics(r.rec.id)) {
      auto& v = names[m.task];
      if (std::find(v.begin(), v.end(), m.metric) == v.end()) v.push_back(m.metric);
      rows[m.task].push_back(m);
    }
  }
  for (const auto& [suite, metric] : opt_.primary) {
    auto it = names.find(suite);
    if (it == names.end()) fail(db_, ": --metric ", suite, "=", metric, ": the selected runs have no results for suite '", suite, "'");
    if (std::find(it->second.begin(), it->second.end(), metric) == it->second.end())
      fail(db_, ": --metric ", suite, "=", metric, ": suite '", suite, "' has no metric '", metric, "' in the selected runs");
  }
  for (const auto& [suite, present] : names) {
    SuiteView sv;
    sv.suite = suite;
    auto ov = opt_.primary.find(suite);
    sv.metric = ov != opt_.primary.end() ? ov->second : primary_metric(rows[suite]);
    if (const MetricRow* decl = declared(d, suite, sv.metric)) sv.direction = decl->direction, sv.unit = decl->unit;
    for (size_t c = 0; c < d.configs.size(); ++c) {
      const RunView* newest = nullptr;
      const MetricRow* row = nullptr;
      for (const auto& r : d.runs) {
        if (r.config != int(c)) continue;
        for (const auto& m : metrics(r.rec.id))
          if (m.task == suite && m.metric == sv.metric && std::isfinite(m.value)) newest = &r, row = &m;
      }
      if (!newest) continue;
      Score s = to_score(*newest, *row);
      for (const auto& m : metrics(newest->rec.id))
        if (m.task == suite) sv.all_metrics.push_back(to_score(*newest, m));
      auto L = latency(*newest);
      if (L && std::isfinite(L->ms) && L->ms > 0)
        sv.points.push_back({s, *L, false});
      else
        sv.unplotted.push_back(s);
    }
    std::vector<std::pair<double, double>> ls;
    for (const auto& p : sv.points) ls.emplace_back(p.latency.ms, p.score.value);
    sv.frontier = pareto_front(ls, sv.direction);
    for (int i : sv.frontier) sv.points[i].pareto = true;
    if (!opt_.budgets_ms.empty()) {
      std::vector<double> b = opt_.budgets_ms;
      std::sort(b.begin(), b.end());
      for (double x : b) sv.budgets.push_back({x, false, best_under_budget(ls, x, sv.direction)});
    } else {
      for (int i : sv.frontier) sv.budgets.push_back({sv.points[i].latency.ms, true, i});
    }
    d.suites.push_back(std::move(sv));
  }
}

void Loader::build_trends(ReportData& d) {
  std::vector<std::pair<std::string, std::string>> specs;
  const bool explicit_specs = !opt_.trends.empty();
  if (!explicit_specs) {
    for (const auto& s : d.suites) specs.emplace_back(s.suite, s.metric);
    specs.emplace_back("latency", "tpot_ms");
  } else {
    for (const auto& t : opt_.trends) {
      if (t == "latency") {
        specs.emplace_back("latency", "tpot_ms");
        continue;
      }
      const auto colon = t.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == t.size())
        fail(db_, ": --trend '", t, "': expected TASK:METRIC (e.g. qa:exact_match) or 'latency'");
      specs.emplace_back(t.substr(0, colon), t.substr(colon + 1));
    }
  }
  for (const auto& [task, metric] : specs) {
    Trend tr;
    tr.task = task;
    tr.metric = metric;
    const bool lat = task == "latency";
    tr.unit = lat ? "ms/token" : "";
    if (lat)
      tr.direction = Direction::lower;
    else if (const MetricRow* decl = declared(d, task, metric))
      tr.direction = decl->direction, tr.unit = decl->unit;
    std::set<int64_t> xs;
    for (size_t c = 0; c < d.configs.size(); ++c) {
      TrendSeries ts;
      ts.config = int(c);
      for (const auto& r : d.runs) {
        if (r.config != int(c)) continue;
        TrendPoint p;
        p.run = r.rec.id;
        p.commit = r.commit;
        if (lat) {
          auto L = latency(r);
          if (!L || !std::isfinite(L->ms)) continue;
          p.value = L->ms;
          p.sigma = L->sigma;
          if (p.sigma && std::isfinite(*p.sigma)) p.lo = p.value - kZ95 * *p.sigma, p.hi = p.value + kZ95 * *p.sigma;
        } else {
          const MetricRow* row = nullptr;
          for (const auto& m : metrics(r.rec.id))
            if (m.task == task && m.metric == metric && std::isfinite(m.value)) row = &m;
          if (!row) continue;
          p.value = row->value;
          p.sigma = sigma_of(*row);
          const Score sc = to_score(r, *row);
          p.lo = sc.lo();
          p.hi = sc.hi();
        }
        ts.points.push_back(p);
        xs.insert(p.run);
      }
      if (ts.points.empty()) continue;
      if (opt_.regression_rule && tr.direction != Direction::unknown) opt_.regression_rule(ts.points, tr.direction);
      tr.series.push_back(std::move(ts));
    }
    if (tr.series.empty()) {
      if (explicit_specs) fail(db_, ": --trend ", lat ? std::string("latency") : task + ":" + metric, ": no selected eval run has it");
      continue;
    }
    tr.runs.assign(xs.begin(), xs.end());
    d.trends.push_back(std::move(tr));
  }
}

void Loader::build_speed_and_kernels(ReportData& d) {
  for (const auto& r : d.runs)
    if (r.rec.info.kind == "bench" || r.rec.info.kind == "loadgen")
      for (auto& s : store_.speeds(r.rec.id)) d.speed.push_back({r.rec.id, std::move(s)});
  const RunView* kr = nullptr;
  for (const auto& r : d.runs)
    if (r.rec.info.kind == "kernels" || r.rec.info.kind == "ingest") {
      if (kr) ++d.other_kernel_runs;
      kr = &r;
    }
  if (!kr) return;
  d.kernels_run = kr->rec.id;
  auto rows = store_.kernels(kr->rec.id);
  const bool has_mean = std::any_of(rows.begin(), rows.end(), [](const KernelRow& k) { return k.aggregate == "mean"; });
  std::vector<std::string> order;
  std::map<std::string, std::vector<const KernelRow*>> by_name;
  for (const auto& k : rows) {
    if (has_mean ? k.aggregate != "mean" : k.run_type == "aggregate") continue;
    if (!by_name.count(k.name)) order.push_back(k.name);
    by_name[k.name].push_back(&k);
  }
  for (const auto& name : order) {
    const auto& v = by_name[name];
    KernelView kv;
    kv.run = kr->rec.id;
    kv.name = name;
    kv.aggregate = v.front()->aggregate;
    std::map<std::string, std::pair<double, int>> counters;
    for (const KernelRow* k : v) {
      kv.real_time_ns += k->real_time_ns / double(v.size());
      kv.cpu_time_ns += k->cpu_time_ns / double(v.size());
      kv.iterations += k->iterations;
      const auto j = parse_or_empty(k->counters_json);
      for (const char* c : {"bytes_per_second", "FLOP/s", "pct_peak_bw", "pct_peak_flops"})
        if (auto x = json_num(j, c)) counters[c].first += *x, counters[c].second++;
    }
    auto avg = [&](const char* c) -> std::optional<double> {
      auto it = counters.find(c);
      if (it == counters.end() || it->second.second == 0) return std::nullopt;
      return it->second.first / it->second.second;
    };
    kv.bytes_per_s = avg("bytes_per_second");
    kv.flops_per_s = avg("FLOP/s");
    kv.pct_peak_bw = avg("pct_peak_bw");
    kv.pct_peak_flops = avg("pct_peak_flops");
    d.kernels.push_back(std::move(kv));
  }
}

void Loader::build_distill(ReportData& d) {
  for (const auto& r : d.runs) {
    const RunInfo& i = r.rec.info;
    if (i.kind != "distill" && i.variant.find("distill:") == std::string::npos) continue;
    DistillView v;
    v.run = r.rec.id;
    v.kind = i.kind;
    v.variant = i.variant;
    v.model = r.model;
    v.steps = store_.train_steps(r.rec.id);
    for (const auto& m : metrics(r.rec.id)) {
      if (m.task != "distill") continue;
      if (m.metric == "kld_before") v.kld_before = m.value;
      if (m.metric == "kld_after") v.kld_after = m.value;
    }
    if (v.steps.empty() && !v.kld_before && !v.kld_after) continue;
    d.distill.push_back(std::move(v));
  }
}

ReportData Loader::load() {
  if (opt_.latency_source != "auto" && opt_.latency_source != "samples" && opt_.latency_source != "bench")
    fail("--latency '", opt_.latency_source, "': expected auto, samples or bench");
  for (double b : opt_.budgets_ms)
    if (!(b > 0) || !std::isfinite(b)) fail("--budget-ms ", b, ": a latency budget must be a positive number of ms/token");
  ReportData d;
  d.db_path = db_;
  d.generated_at = now_utc();
  d.latency_source = opt_.latency_source;
  d.budgets_ms = opt_.budgets_ms;
  std::sort(d.budgets_ms.begin(), d.budgets_ms.end());
  select_runs(d);
  build_configs(d);
  build_suites(d);
  build_trends(d);
  build_speed_and_kernels(d);
  build_distill(d);
  return d;
}

}  // namespace

std::optional<double> Score::lo() const {
  if (ci_low && std::isfinite(*ci_low)) return ci_low;
  if (sigma && std::isfinite(*sigma)) return value - kZ95 * *sigma;
  return std::nullopt;
}

std::optional<double> Score::hi() const {
  if (ci_high && std::isfinite(*ci_high)) return ci_high;
  if (sigma && std::isfinite(*sigma)) return value + kZ95 * *sigma;
  return std::nullopt;
}

const RunView* ReportData::run(int64_t id) const {
  for (const auto& r : runs)
    if (r.rec.id == id) return &r;
  return nullptr;
}

void regression_rule_2sigma(std::vector<TrendPoint>& points, Direction direction) {
  if (direction == Direction::unknown) return;
  for (size_t i = 1; i < points.size(); ++i) {
    const TrendPoint& a = points[i - 1];
    TrendPoint& b = points[i];
    if (!a.sigma || !b.sigma) continue;
    const double worse = direction == Direction::higher ? a.value - b.value : b.value - a.value;
    const double band = 2 * std::sqrt(*a.sigma * *a.sigma + *b.sigma * *b.sigma);
    if (worse > band) {
      b.regression = true;
      char buf[160];
      std::snprintf(buf, sizeof buf, "worse than run %lld by %.3g > 2 sigma = %.3g", (long long)a.run, worse, band);
      b.why = buf;
    }
  }
}

std::string primary_metric(const std::vector<MetricRow>& rows) {
  for (const auto& m : rows)
    if (m.primary) return m.metric;
  return rows.empty() ? std::string() : rows.front().metric;
}

std::vector<int> pareto_front(const std::vector<std::pair<double, double>>& ls, Direction direction) {
  std::vector<int> idx;
  if (direction == Direction::unknown) return idx;
  for (size_t i = 0; i < ls.size(); ++i)
    if (std::isfinite(ls[i].first) && std::isfinite(ls[i].second)) idx.push_back(int(i));
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
    if (ls[a].first != ls[b].first) return ls[a].first < ls[b].first;
    return is_better(ls[a].second, ls[b].second, direction);
  });
  std::vector<int> front;
  for (int i : idx)
    if (front.empty() || is_better(ls[i].second, ls[front.back()].second, direction)) front.push_back(i);
  return front;
}

int best_under_budget(const std::vector<std::pair<double, double>>& ls, double budget_ms, Direction direction) {
  int best = -1;
  if (direction == Direction::unknown) return best;
  for (size_t i = 0; i < ls.size(); ++i) {
    const auto& [lat, score] = ls[i];
    if (!std::isfinite(lat) || !std::isfinite(score) || lat > budget_ms) continue;
    if (best < 0 || is_better(score, ls[best].second, direction) || (score == ls[best].second && lat < ls[best].first)) best = int(i);
  }
  return best;
}

ReportData load_report(Store& store, const std::string& db_path, const Options& opt) { return Loader(store, db_path, opt).load(); }

}  // namespace sb::report
