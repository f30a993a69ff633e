// The Markdown report: see reports/report_markdown.h.
#include "reports/report_markdown.h"

#include "reports/report_long_context.h"
#include "common/text.h"

#include <algorithm>

#include "engine/core/error.h"

namespace sb::report {

namespace {

namespace T = text;

std::string md_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
                     const std::vector<bool>& right = {}) {
  std::string o = "|";
  for (const auto& h : head) {
    o += ' ';
    o += sb::text::md_cell(h);
    o += " |";
  }
  o += "\n|";
  for (size_t i = 0; i < head.size(); ++i) o += (i < right.size() && right[i]) ? " ---: |" : " --- |";
  o += "\n";
  for (const auto& r : rows) {
    o += "|";
    for (const auto& x : r) {
      o += ' ';
      o += sb::text::md_cell(x);
      o += " |";
    }
    o += "\n";
  }
  return o + "\n";
}

}  // namespace

std::string render_markdown(const ReportData& d, const RenderOptions& opt) {
  (void)opt.log_latency;  // no charts here
  std::string o = "# " + sb::text::md_cell(opt.title) + "\n\n";
  o += "Database `" + sb::text::md_cell(d.db_path) + "`: " + std::to_string(d.runs.size()) + " runs (" + sb::text::md_cell(d.selection) +
       "), " + std::to_string(d.configs.size()) + " configurations, " + std::to_string(d.suites.size()) + " suites; generated " +
       d.generated_at + ".\n\n";

  o += "## Verdicts\n\n";
  if (d.runs.empty()) o += "No runs match the selection.\n\n";
  for (const auto& v : T::verdicts(d)) o += "- " + sb::text::md_cell(v) + "\n";
  o += "\n";

  o += "## Best trade-off per suite\n\n";
  o += d.budgets_ms.empty() ? "Budgets are the latencies of the Pareto-optimal configurations; each row holds up to the next "
                              "row's budget. `--budget-ms X` asks about a budget of your own.\n\n"
                            : "Budgets from `--budget-ms`.\n\n";
  for (const auto& s : d.suites) {
    o += "### " + sb::text::md_cell(s.suite) + ": " + sb::text::md_cell(T::metric_title(s.metric, s.direction, s.unit)) + "\n\n";
    if (s.points.empty()) {
      o += "No configuration of this suite has a latency.\n\n";
      continue;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : s.budgets) {
      if (b.point < 0) {
        rows.push_back({T::budget(b), "nothing fits", "-", "-", "-"});
        continue;
      }
      const auto& p = s.points[b.point];
      rows.push_back(
          {T::budget(b), T::config_label(d, p.score.config), T::score(p.score), T::ms(p.latency.ms), std::to_string(p.score.run)});
    }
    o += md_table({"latency budget", "best configuration", s.metric + " [95% CI]", "TPOT (ms/token)", "run"}, rows,
                  {true, false, true, true, true});
  }

  o += "## Accuracy vs latency\n\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : d.suites) {
      for (const auto& p : s.points)
        rows.push_back({s.suite, T::config_label(d, p.score.config), s.metric, T::score(p.score), T::ms(p.latency.ms),
                        T::latency_source(p.latency), p.pareto ? "yes" : "", std::to_string(p.score.run)});
      for (const auto& u : s.unplotted)
        rows.push_back(
            {s.suite, T::config_label(d, u.config), s.metric, T::score(u), "-", "no latency measured", "", std::to_string(u.run)});
    }
    if (rows.empty())
      o += "No eval results in the selected runs.\n\n";
    else
      o += md_table({"suite", "configuration", "metric", "score [95% CI]", "TPOT (ms/token)", "latency from", "Pareto", "run"}, rows,
                    {false, false, false, true, true, false, false, true});
  }

  o += "## Scores\n\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : d.suites)
      for (const auto& m : s.all_metrics)
        rows.push_back({s.suite, T::config_label(d, m.config), m.metric, T::num(m.value), T::interval(m),
                        m.sigma ? T::num(*m.sigma, 3) : "-", std::to_string(m.n), std::to_string(m.run)});
    if (rows.empty())
      o += "None.\n\n";
    else
      o += md_table({"suite", "configuration", "metric", "value", "95% CI", "std. error", "n", "run"}, rows,
                    {false, false, false, true, true, true, true, true});
  }

  o += long_context_markdown(d);  // "" without the long-context suite

  o += "## Regressions\n\n";
  {
    const auto regs = T::regressions(d);
    if (regs.empty()) {
      o += "None flagged (rule: worse than the previous run of the same configuration by more than 2 combined standard errors).\n\n";
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& r : regs)
        rows.push_back({T::trend_title(*r.trend), T::config_label(d, r.config), sb::cat("r", r.prev.run, " ", r.prev.commit),
                        T::num(r.prev.value), sb::cat("r", r.cur.run, " ", r.cur.commit), T::num(r.cur.value), r.cur.why});
      o += md_table({"trend", "configuration", "previous run", "value", "run", "value", "rule"}, rows,
                    {false, false, false, true, false, true, false});
    }
  }

  o += "## Speed\n\n";
  if (d.speed.empty()) {
    o += "No bench runs selected.\n\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& sv : d.speed) {
      const SpeedRow& r = sv.row;
      const RunView* rv = d.run(sv.run);
      rows.push_back({std::to_string(sv.run), rv ? rv->model : "", rv ? rv->rec.info.backend : "",
                      rv ? std::to_string(rv->rec.info.threads) : "", r.test, T::num(r.avg_ts) + " \xC2\xB1 " + T::num(r.stddev_ts, 3),
                      T::ms_or_dash(r.ttft_ms), T::ms_or_dash(r.tpot_ms), T::ms_or_dash(r.p99_ms),
                      r.peak_rss_bytes ? T::bytes(double(*r.peak_rss_bytes)) : "-"});
    }
    o += md_table({"run", "model", "backend", "threads", "test", "t/s", "TTFT (ms)", "TPOT (ms)", "p99 (ms)", "peak RSS"}, rows,
                  {true, false, false, true, false, true, true, true, true, true});
  }

  o += "## Kernels\n\n";
  if (d.kernels.empty()) {
    o += "No kernel results selected.\n\n";
  } else {
    o += "Run " + std::to_string(d.kernels_run) + "; roofline = the higher of % peak DRAM bandwidth and % peak f32 FLOP/s.\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : d.kernels) {
      std::string roof = "-";
      if (k.pct_peak_bw || k.pct_peak_flops) roof = T::num(std::max(k.pct_peak_bw.value_or(0), k.pct_peak_flops.value_or(0)), 3) + "%";
      rows.push_back({k.name, T::duration_ns(k.real_time_ns), k.bytes_per_s ? T::rate(*k.bytes_per_s, "B") : "-",
                      k.flops_per_s ? T::rate(*k.flops_per_s, "FLOP") : "-", k.pct_peak_bw ? T::num(*k.pct_peak_bw, 3) + "%" : "-",
                      k.pct_peak_flops ? T::num(*k.pct_peak_flops, 3) + "%" : "-", roof});
    }
    o += md_table({"kernel", "time", "bandwidth", "compute", "% peak BW", "% peak FLOP/s", "roofline"}, rows,
                  {false, true, true, true, true, true, true});
  }

  if (!d.distill.empty()) {  // only when some selected run trained a student
    o += "## Distillation\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : d.distill) {
      std::string ratio = "-";
      if (v.kld_before && v.kld_after && *v.kld_before > 0) ratio = T::num(100.0 * *v.kld_after / *v.kld_before, 3) + "%";
      rows.push_back({std::to_string(v.run), v.kind, v.variant.empty() ? "student file" : v.variant, v.model,
                      std::to_string(v.steps.empty() ? 0 : v.steps.back().step),
                      v.steps.empty() ? "-" : T::num(v.steps.front().loss, 4) + " -> " + T::num(v.steps.back().loss, 4),
                      v.kld_before ? T::num(*v.kld_before, 4) : "-", v.kld_after ? T::num(*v.kld_after, 4) : "-", ratio});
    }
    o += md_table({"run", "kind", "student", "teacher", "steps", "loss first -> last", "KLD before", "KLD after", "after / before"}, rows,
                  {true, false, false, false, true, true, true, true, true});
  }

  o += "## Runs\n\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : d.runs) {
      const RunInfo& i = r.rec.info;
      rows.push_back({std::to_string(r.rec.id), i.label, i.kind, r.rec.status, r.rec.started_at, r.commit, i.backend,
                      std::to_string(i.threads), r.model, i.variant, i.synthetic_weights ? "synthetic" : ""});
    }
    if (rows.empty())
      o += "None.\n\n";
    else
      o += md_table({"id", "label", "kind", "status", "started (UTC)", "commit", "backend", "threads", "model", "variant", "weights"}, rows,
                    {true, false, false, false, false, false, false, true, false, false, false});
  }

  o += "## Method\n\n";
  for (const auto& m : T::method_notes(d)) o += "- " + sb::text::md_cell(m) + "\n";
  return o;
}

}  // namespace sb::report
