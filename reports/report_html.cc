// The HTML report: see reports/report_html.h.
#include "reports/report_html.h"

#include "common/text.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "reports/report_long_context.h"
#include "reports/svg_chart.h"

namespace sb::report {

namespace {

using sb::text::xml_escape;
namespace T = text;

struct Cell {
  std::string html;   // already escaped
  bool num = false;   // right-aligned number
  std::string attrs;  // extra attributes (escaped)
};

Cell c(const std::string& plain) { return {xml_escape(plain), false, ""}; }
Cell n(const std::string& plain, const std::string& attrs = "") { return {xml_escape(plain), true, attrs}; }

// `attrs`: attributes of the <table> element, already escaped.
std::string table(const std::vector<std::string>& head, const std::vector<std::vector<Cell>>& rows, const std::string& attrs = "") {
  std::string o = "<table" + (attrs.empty() ? std::string() : " " + attrs) + ">\n<thead><tr>";
  for (const auto& h : head) o += "<th>" + xml_escape(h) + "</th>";
  o += "</tr></thead>\n<tbody>\n";
  for (const auto& r : rows) {
    o += "<tr>";
    for (const auto& x : r)
      o += std::string("<td") + (x.num ? " class=\"num\"" : "") + (x.attrs.empty() ? "" : " " + x.attrs) + ">" + x.html + "</td>";
    o += "</tr>\n";
  }
  return o + "</tbody>\n</table>\n";
}

const char* kCss = R"(
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: #111; background: #fff;
       margin: 0 auto; max-width: 1240px; padding: 16px 24px 48px; line-height: 1.4; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 2px solid #0072B2; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
p.meta, p.note, figcaption { color: #444; font-size: 13px; }
nav a { margin-right: 14px; color: #0072B2; }
.warn { background: #fff4d6; border-left: 5px solid #E69F00; padding: 8px 12px; margin: 12px 0; }
ul.verdicts li { margin: 4px 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef3f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.regression td { background: #fde8de; }
tr.pareto td:first-child { font-weight: bold; }
figure { margin: 8px 0 20px; }
svg.chart { max-width: 100%; height: auto; border: 1px solid #ddd; }
.rbar { display: inline-block; height: 10px; background: #0072B2; vertical-align: middle; margin-left: 6px; }
code { background: #f3f3f3; padding: 0 3px; }
details summary { cursor: pointer; color: #0072B2; }
)";

std::string pct_bar(const std::optional<double>& p) {
  if (!p) return "-";
  const double w = std::clamp(*p, 0.0, 100.0);
  return xml_escape(T::num(*p, 3)) + "%<span class=\"rbar\" style=\"width:" + svg::fmt(w * 0.8, 3) + "px\"></span>";
}

std::string section_tradeoff(const ReportData& d) {
  std::string o = "<section id=\"tradeoff\">\n<h2>Best trade-off per suite</h2>\n";
  o += "<p class=\"note\">For each latency budget, the configuration with the best primary score whose decode latency "
       "(TPOT) is within it. ";
  o += d.budgets_ms.empty() ? "Budgets are the latencies of the Pareto-optimal configurations (each row holds from that "
                              "latency up to the next row's); give <code>--budget-ms X</code> to ask about your own."
                            : "Budgets from <code>--budget-ms</code>.";
  o += "</p>\n";
  if (d.suites.empty()) o += "<p>No eval results in the selected runs.</p>\n";
  for (const auto& s : d.suites) {
    o += "<h3>" + xml_escape(s.suite) + " <small>" + xml_escape(T::metric_title(s.metric, s.direction, s.unit)) + "</small></h3>\n";
    if (s.points.empty()) {
      o += "<p>No configuration of this suite has a latency.</p>\n";
      continue;
    }
    std::vector<std::vector<Cell>> rows;
    for (const auto& b : s.budgets) {
      if (b.point < 0) {
        rows.push_back({n(T::budget(b)), c("nothing fits"), n("-"), n("-"), n("-")});
        continue;
      }
      const auto& p = s.points[b.point];
      rows.push_back({n(T::budget(b), "data-budget=\"" + svg::fmt_exact(b.budget_ms) + "\""), c(T::config_label(d, p.score.config)),
                      n(T::score(p.score), "data-value=\"" + svg::fmt_exact(p.score.value) + "\""), n(T::ms(p.latency.ms)),
                      n(std::to_string(p.score.run))});
    }
    o += table({"latency budget", "best configuration", s.metric + " [95% CI]", "TPOT (ms/token)", "run"}, rows,
               "class=\"tradeoff\" data-suite=\"" + xml_escape(s.suite) + "\"");
  }
  return o + "</section>\n";
}

std::string section_scatter(const ReportData& d, const RenderOptions& opt) {
  std::string o = "<section id=\"scatter\">\n<h2>Accuracy vs latency</h2>\n";
  o += "<p class=\"note\">One mark per configuration (its newest run): the primary score with its 95% interval against the "
       "decode latency per output token. Bold outlines and the dashed staircase mark the Pareto frontier. Latency axis: " +
       std::string(opt.log_latency ? "log scale." : "linear (use <code>--log-latency</code> for a log scale).") + "</p>\n";
  for (const auto& s : d.suites) {
    o += "<h3>" + xml_escape(s.suite) + "</h3>\n";
    if (!s.points.empty()) {
      svg::Chart ch("scatter-" + slug(s.suite), s.suite + ": " + s.metric + " vs decode latency");
      ch.x.title = T::kLatencyTitle;
      ch.x.log = opt.log_latency;
      ch.y.title = T::metric_title(s.metric, s.direction, s.unit);
      ch.description = "Scatter of " + s.metric + " against decode latency for " + std::to_string(s.points.size()) +
                       " configurations of suite " + s.suite + "; " + std::to_string(s.frontier.size()) + " on the Pareto frontier.";
      ch.emphasis_legend = "Pareto-optimal (bold outline)";
      for (const auto& p : s.points) {
        svg::Series se;
        se.name = T::config_label(d, p.score.config);
        se.style = p.score.config >= 0 ? d.configs[p.score.config].style : 0;
        svg::Point pt;
        pt.x = p.latency.ms;
        pt.y = p.score.value;
        pt.lo = p.score.lo();
        pt.hi = p.score.hi();
        pt.label = se.name;
        pt.emphasis = p.pareto;
        pt.tooltip = se.name + " (run " + std::to_string(p.score.run) + "): " + s.metric + " " + T::score(p.score) + ", " +
                     T::ms(p.latency.ms) + " ms/token from " + T::latency_source(p.latency);
        pt.data = {{"run", std::to_string(p.score.run)},
                   {"config", std::to_string(p.score.config)},
                   {"pareto", p.pareto ? "1" : "0"},
                   {"latency-source", p.latency.source}};
        se.points.push_back(pt);
        ch.series.push_back(std::move(se));
      }
      svg::Path fr;
      fr.name = "Pareto frontier";
      fr.step = true;
      for (int i : s.frontier) fr.points.emplace_back(s.points[i].latency.ms, s.points[i].score.value);
      ch.paths.push_back(fr);
      if (!d.budgets_ms.empty()) {
        double lo = INFINITY, hi = -INFINITY;
        for (const auto& p : s.points)
          lo = std::min(lo, p.score.lo().value_or(p.score.value)), hi = std::max(hi, p.score.hi().value_or(p.score.value));
        for (double b : d.budgets_ms) {
          svg::Path bp;
          bp.name = "budget " + T::ms(b) + " ms/token";
          bp.css_class = "budget";
          bp.stroke = "#777777";  // gray: no series color, and a dotted line unlike the frontier's dashes
          bp.dash = "2 3";
          bp.points = {{b, lo}, {b, hi}};
          ch.paths.push_back(bp);
        }
      }
      o += "<figure>\n" + ch.render();
      o += "<figcaption>Interval whiskers: 95% interval of the score. Hover a mark for its run and latency "
           "source.</figcaption>\n</figure>\n";
      std::vector<std::vector<Cell>> rows;
      for (const auto& p : s.points)
        rows.push_back({c(T::config_label(d, p.score.config)), n(T::score(p.score)), n(T::ms(p.latency.ms)),
                        c(T::latency_source(p.latency)), c(p.pareto ? "yes" : ""), n(std::to_string(p.score.run))});
      o += table({"configuration", s.metric + " [95% CI]", "TPOT (ms/token)", "latency from", "Pareto", "run"}, rows);
    }
    if (!s.unplotted.empty()) {
      o += "<p class=\"note\">Scored but without any latency measurement (not plotted): ";
      for (size_t i = 0; i < s.unplotted.size(); ++i)
        o += (i ? "; " : "") + xml_escape(T::config_label(d, s.unplotted[i].config) + " (run " + std::to_string(s.unplotted[i].run) + ", " +
                                          T::score(s.unplotted[i]) + ")");
      o += ". Run <code>sparkbench bench</code> on the same model, variant and backend to place them.</p>\n";
    }
  }
  return o + "</section>\n";
}

std::string section_scores(const ReportData& d) {
  std::string o = "<section id=\"scores\">\n<h2>Scores per suite</h2>\n";
  o += "<p class=\"note\">The primary metric of each configuration's newest run, with 95% interval whiskers; every stored "
       "metric of those runs in the table below each chart.</p>\n";
  for (const auto& s : d.suites) {
    std::vector<const Score*> shown;
    for (const auto& p : s.points) shown.push_back(&p.score);
    for (const auto& u : s.unplotted) shown.push_back(&u);
    std::sort(shown.begin(), shown.end(), [](const Score* a, const Score* b) { return a->config < b->config; });
    svg::Chart ch("scores-" + slug(s.suite), s.suite + ": " + s.metric, 880, int(110 + 30 * shown.size()));
    ch.x.title = T::metric_title(s.metric, s.direction, s.unit);
    ch.y.title = "configuration";
    ch.description = "Bars of " + s.metric + " per configuration for suite " + s.suite + ", with 95% interval whiskers.";
    for (size_t i = 0; i < shown.size(); ++i) {
      const Score& sc = *shown[i];
      ch.y.categories.push_back(T::config_label(d, sc.config));
      svg::Series se;
      se.name = T::config_label(d, sc.config);
      se.style = sc.config >= 0 ? d.configs[sc.config].style : 0;
      se.kind = svg::SeriesKind::HBars;
      svg::Point pt;
      pt.x = sc.value;
      pt.y = double(i);
      pt.lo = sc.lo();
      pt.hi = sc.hi();
      pt.label = T::num(sc.value, 3);
      pt.tooltip = se.name + " (run " + std::to_string(sc.run) + "): " + T::score(sc) + ", n = " + std::to_string(sc.n);
      pt.data = {{"run", std::to_string(sc.run)}, {"config", std::to_string(sc.config)}, {"metric", sc.metric}};
      se.points.push_back(pt);
      ch.series.push_back(std::move(se));
    }
    ch.legend = false;  // the category labels name every bar
    o += "<h3>" + xml_escape(s.suite) + "</h3>\n<figure>\n" + ch.render() + "</figure>\n";
    std::vector<std::vector<Cell>> rows;
    for (const auto& m : s.all_metrics)
      rows.push_back({c(T::config_label(d, m.config)), c(m.metric), n(T::num(m.value), "data-value=\"" + svg::fmt_exact(m.value) + "\""),
                      n(T::interval(m)), n(m.sigma ? T::num(*m.sigma, 3) : "-"), n(std::to_string(m.n)), n(std::to_string(m.run))});
    o += table({"configuration", "metric", "value", "95% CI", "std. error", "n", "run"}, rows, "class=\"metrics\"");
  }
  return o + "</section>\n";
}

std::string section_trends(const ReportData& d, const RenderOptions& opt) {
  std::string o = "<section id=\"trends\">\n<h2>Trends</h2>\n";
  o += "<p class=\"note\">Each line is one configuration across the selected runs (oldest left; ticks name the run and its "
       "commit). Whiskers: the stored 95% interval (Wilson for proportions, so inside [0, 1]); latency: \xC2\xB1"
       "1.96 standard errors. A dashed ring marks a regression: worse than the previous run of the same "
       "configuration by more than 2 combined standard errors.</p>\n";
  if (d.trends.empty()) o += "<p>No eval runs selected.</p>\n";
  for (const auto& t : d.trends) {
    svg::Chart ch("trend-" + slug(t.task + "-" + t.metric), T::trend_title(t));
    for (int64_t r : t.runs) ch.x.categories.push_back(T::run_tick(d, r));
    ch.x.title = "run (id and git commit, oldest first)";
    ch.y.title = t.task == "latency" ? T::kLatencyTitle : T::metric_title(t.metric, t.direction, t.unit);
    ch.y.log = t.task == "latency" && opt.log_latency;
    ch.flag_legend = "regression (> 2 sigma worse)";
    ch.description = "Trend of " + T::trend_title(t) + " over " + std::to_string(t.runs.size()) + " runs.";
    for (const auto& s : t.series) {
      svg::Series se;
      se.name = T::config_label(d, s.config);
      se.style = s.config >= 0 ? d.configs[s.config].style : 0;
      se.kind = svg::SeriesKind::LinesPoints;
      for (const auto& p : s.points) {
        svg::Point pt;
        pt.x = double(std::lower_bound(t.runs.begin(), t.runs.end(), p.run) - t.runs.begin());
        pt.y = p.value;
        pt.lo = p.lo;
        pt.hi = p.hi;
        pt.flagged = p.regression;
        pt.tooltip = se.name + ", run " + std::to_string(p.run) + (p.commit.empty() ? "" : " (" + p.commit + ")") + ": " + T::num(p.value) +
                     (p.regression ? "; REGRESSION: " + p.why : "");
        pt.data = {{"run", std::to_string(p.run)}, {"regression", p.regression ? "1" : "0"}};
        se.points.push_back(pt);
      }
      ch.series.push_back(std::move(se));
    }
    o += "<figure>\n" + ch.render() + "</figure>\n";
  }
  const auto regs = T::regressions(d);
  o += "<h3>Regressions</h3>\n";
  if (regs.empty()) {
    o += "<p>None flagged.</p>\n";
  } else {
    std::vector<std::vector<Cell>> rows;
    for (const auto& r : regs)
      rows.push_back({c(T::trend_title(*r.trend)), c(T::config_label(d, r.config)),
                      c("r" + std::to_string(r.prev.run) + " " + r.prev.commit), n(T::num(r.prev.value)),
                      c("r" + std::to_string(r.cur.run) + " " + r.cur.commit), n(T::num(r.cur.value)), c(r.cur.why)});
    o += table({"trend", "configuration", "previous run", "value", "run", "value", "rule"}, rows, "class=\"regressions\"");
  }
  return o + "</section>\n";
}

struct SpeedSummary {
  int64_t run;
  std::optional<double> prefill_ts, decode_ts, ttft, tpot;
  std::string prefill_test, decode_test;
  std::optional<int64_t> rss;
};

std::vector<SpeedSummary> speed_summaries(const ReportData& d) {
  std::vector<SpeedSummary> out;
  for (const auto& sv : d.speed) {
    if (out.empty() || out.back().run != sv.run) out.push_back({sv.run, {}, {}, {}, {}, "", "", {}});
    auto& s = out.back();
    const SpeedRow& r = sv.row;
    if (r.n_gen == 0 && r.n_prompt > 0 && (!s.prefill_ts || r.n_depth == 0)) s.prefill_ts = r.avg_ts, s.prefill_test = r.test;
    if (r.n_prompt == 0 && r.n_gen > 0 && (!s.decode_ts || r.n_depth == 0)) s.decode_ts = r.avg_ts, s.decode_test = r.test;
    if (r.ttft_ms && !s.ttft) s.ttft = r.ttft_ms;
    if (r.tpot_ms && !s.tpot) s.tpot = r.tpot_ms;
    if (r.peak_rss_bytes) s.rss = std::max(s.rss.value_or(0), *r.peak_rss_bytes);
  }
  return out;
}

std::string section_speed(const ReportData& d) {
  std::string o = "<section id=\"speed\">\n<h2>Speed</h2>\n";
  if (d.speed.empty()) return o + "<p>No bench runs selected (<code>sparkbench bench --db FILE</code> stores them).</p>\n</section>\n";
  o += "<p class=\"note\">llama-bench conventions: ppP = prefill of P tokens, tgN = N decode steps, ppP+tgN = a request "
       "(TTFT = time to first token, TPOT = time per output token after the first). t/s is the mean over repetitions.</p>\n";
  std::vector<std::vector<Cell>> rows;
  for (const auto& s : speed_summaries(d)) {
    const RunView* r = d.run(s.run);
    rows.push_back({n(std::to_string(s.run)), c(r ? r->model : ""), c(r ? r->rec.info.backend : ""),
                    n(r ? std::to_string(r->rec.info.threads) : ""), c(r ? r->rec.info.variant : ""),
                    n(s.prefill_ts ? T::num(*s.prefill_ts, 4) + " (" + s.prefill_test + ")" : "-"),
                    n(s.decode_ts ? T::num(*s.decode_ts, 4) + " (" + s.decode_test + ")" : "-"), n(T::ms_or_dash(s.ttft)),
                    n(T::ms_or_dash(s.tpot)), n(s.rss ? T::bytes(double(*s.rss)) : "-")});
  }
  o += table({"run", "model", "backend", "threads", "variant", "prefill t/s", "decode t/s", "TTFT (ms)", "TPOT (ms/token)", "peak RSS"},
             rows, "class=\"speed-summary\"");
  rows.clear();
  for (const auto& sv : d.speed) {
    const SpeedRow& r = sv.row;
    rows.push_back({n(std::to_string(sv.run)), c(r.test), n(std::to_string(r.n_prompt)), n(std::to_string(r.n_gen)),
                    n(std::to_string(r.n_depth)), n(std::to_string(r.repetitions)),
                    n(T::num(r.avg_ts) + " \xC2\xB1 " + T::num(r.stddev_ts, 3), "data-value=\"" + svg::fmt_exact(r.avg_ts) + "\""),
                    n(T::ms_or_dash(r.ttft_ms)), n(T::ms_or_dash(r.tpot_ms)), n(T::ms_or_dash(r.p50_ms)), n(T::ms_or_dash(r.p90_ms)),
                    n(T::ms_or_dash(r.p99_ms)), n(r.peak_rss_bytes ? T::bytes(double(*r.peak_rss_bytes)) : "-")});
  }
  o += "<details open=\"open\"><summary>Every bench row</summary>\n";
  o += table({"run", "test", "n_prompt", "n_gen", "depth", "reps", "t/s", "TTFT (ms)", "TPOT (ms)", "p50 (ms)", "p90 (ms)", "p99 (ms)",
              "peak RSS"},
             rows, "class=\"speed\"");
  return o + "</details>\n</section>\n";
}

// Serving (loadgen runs, harness/cmd_loadgen.cc): latency against output-token throughput, one
// line per run through its points (rates), with every point's numbers in a table.
std::string section_serving(const ReportData& d) {
  std::string o = "<section id=\"serving\">\n<h2>Serving</h2>\n";
  std::vector<const SpeedView*> rows;
  for (const auto& sv : d.speed) {
    const RunView* r = d.run(sv.run);
    if (r && r->rec.info.kind == "loadgen") rows.push_back(&sv);
  }
  if (rows.empty())
    return o + "<p>No loadgen runs selected (<code>sparkbench loadgen --url URL --db FILE</code> stores them).</p>\n</section>\n";
  o += "<p class=\"note\">From <code>sparkbench loadgen</code>: each mark is one load point (a Poisson rate, offline or "
       "single-stream) of a run; x = output tokens per second over the point's wall time, y = median end-to-end request "
       "latency, whiskers from the median to the p90 latency. TTFT and TPOT percentiles are in the table.</p>\n";
  svg::Chart ch("serving-latency-throughput", "Latency vs throughput");
  ch.x.title = "output throughput (tokens/s)";
  ch.y.title = "end-to-end latency p50 (ms)";
  ch.x.include_zero = true;
  ch.y.include_zero = true;
  std::vector<std::vector<Cell>> cells;
  int style = 0;
  for (size_t i = 0; i < rows.size();) {
    const int64_t run = rows[i]->run;
    svg::Series se;
    se.name = "run " + std::to_string(run);
    se.style = style++;
    se.kind = svg::SeriesKind::LinesPoints;
    for (; i < rows.size() && rows[i]->run == run; ++i) {
      const SpeedRow& r = rows[i]->row;
      nlohmann::json x = nlohmann::json::object();
      try {
        if (!r.extra_json.empty()) x = nlohmann::json::parse(r.extra_json);
      } catch (const nlohmann::json::exception&) {
      }
      auto q = [&](const char* k, const char* p) -> std::optional<double> {
        if (x.contains(k) && x[k].is_object() && x[k].contains(p) && x[k][p].is_number()) return x[k][p].get<double>();
        return std::nullopt;
      };
      auto num_or_dash = [](std::optional<double> v) { return v ? T::num(*v, 4) : std::string("-"); };
      if (r.p50_ms) {
        svg::Point pt;
        pt.x = r.avg_ts;
        pt.y = *r.p50_ms;
        if (r.p90_ms) pt.lo = *r.p50_ms, pt.hi = *r.p90_ms;
        pt.label = r.test;
        pt.tooltip =
            "run " + std::to_string(run) + " " + r.test + ": " + T::num(r.avg_ts, 4) + " tok/s, p50 " + T::num(*r.p50_ms, 4) + " ms";
        pt.data = {{"run", std::to_string(run)}, {"test", r.test}};
        if (auto v = q("ttft_ms", "p50")) pt.data.push_back({"ttft-p50", svg::fmt_exact(*v)});
        if (auto v = q("tpot_ms", "p50")) pt.data.push_back({"tpot-p50", svg::fmt_exact(*v)});
        if (x.contains("rate") && x["rate"].is_number()) pt.data.push_back({"rate", svg::fmt_exact(x["rate"].get<double>())});
        se.points.push_back(pt);
      }
      cells.push_back(
          {n(std::to_string(run)), c(r.test), n(std::to_string(r.repetitions)), n(x.contains("errors") ? x["errors"].dump() : "-"),
           n(T::num(r.avg_ts, 4), "data-value=\"" + svg::fmt_exact(r.avg_ts) + "\""),
           n(x.contains("request_throughput") && x["request_throughput"].is_number() ? T::num(x["request_throughput"].get<double>(), 4)
                                                                                     : "-"),
           n(x.contains("goodput") && x["goodput"].is_number() ? T::num(x["goodput"].get<double>(), 4) : "-"),
           n(num_or_dash(q("ttft_ms", "p50"))), n(num_or_dash(q("ttft_ms", "p99"))), n(num_or_dash(q("tpot_ms", "p50"))),
           n(num_or_dash(q("tpot_ms", "p99"))), n(num_or_dash(q("itl_ms", "p99"))), n(T::ms_or_dash(r.p50_ms)), n(T::ms_or_dash(r.p99_ms)),
           c(x.value("token_source", std::string()))});
    }
    std::sort(se.points.begin(), se.points.end(), [](const svg::Point& a, const svg::Point& b) { return a.x < b.x; });
    ch.series.push_back(std::move(se));
  }
  ch.description = "End-to-end latency against output-token throughput of every selected loadgen point.";
  o += "<figure>\n" + ch.render() + "</figure>\n";
  o += table({"run", "point", "ok", "errors", "output tok/s", "req/s", "goodput req/s", "TTFT p50 (ms)", "TTFT p99 (ms)", "TPOT p50 (ms)",
              "TPOT p99 (ms)", "ITL p99 (ms)", "latency p50 (ms)", "latency p99 (ms)", "tokens from"},
             cells, "class=\"serving\"");
  return o + "</section>\n";
}

std::string section_kernels(const ReportData& d) {
  std::string o = "<section id=\"kernels\">\n<h2>Kernels</h2>\n";
  if (d.kernels.empty())
    return o + "<p>No kernel results selected (<code>sparkbench ingest --kernels FILE.json</code> stores them).</p>\n</section>\n";
  o += "<p class=\"note\">From kernels run " + std::to_string(d.kernels_run) +
       (d.other_kernel_runs ? " (" + std::to_string(d.other_kernel_runs) + " earlier kernels runs selected but not shown)" : "") +
       ". Roofline: % of this machine's measured DRAM bandwidth and of oneDNN's best f32 matmul FLOP/s (calibrated by "
       "sparkbench-kernels); the higher of the two is how close the kernel is to its bound.</p>\n";
  std::vector<std::vector<Cell>> rows;
  for (const auto& k : d.kernels) {
    std::optional<double> roof;
    if (k.pct_peak_bw || k.pct_peak_flops) roof = std::max(k.pct_peak_bw.value_or(0), k.pct_peak_flops.value_or(0));
    rows.push_back({c(k.name),
                    n(T::duration_ns(k.real_time_ns)),
                    n(T::duration_ns(k.cpu_time_ns)),
                    n(k.bytes_per_s ? T::rate(*k.bytes_per_s, "B") : "-"),
                    n(k.flops_per_s ? T::rate(*k.flops_per_s, "FLOP") : "-"),
                    n(k.pct_peak_bw ? T::num(*k.pct_peak_bw, 3) + "%" : "-"),
                    n(k.pct_peak_flops ? T::num(*k.pct_peak_flops, 3) + "%" : "-"),
                    {pct_bar(roof), true, roof ? "data-value=\"" + svg::fmt_exact(*roof) + "\"" : ""}});
  }
  o += table({"kernel", "time", "CPU time", "bandwidth", "compute", "% peak BW", "% peak FLOP/s", "roofline"}, rows, "class=\"kernels\"");
  return o + "</section>\n";
}

// Distillation (sparkbench distill runs and +distill:STEPS variants): the training loss per
// step and the held-out KLD to the teacher (before training = step 0, every eval, the last
// step), one line per run, and the KLD before/after in a table.
std::string section_distill(const ReportData& d) {
  std::string o = "<section id=\"distillation\">\n<h2>Distillation</h2>\n";
  if (d.distill.empty())
    return o +
           "<p>No distillation runs selected (<code>sparkbench distill</code> and <code>run --variant ...+distill:N</code> "
           "store them).</p>\n</section>\n";
  o += "<p class=\"note\">Knowledge distillation of pruned students from their teacher (docs/DESIGN.md, \"Training\"). "
       "Loss: the training objective per optimizer step (alpha tau\xC2\xB2 KL to the teacher's top-k + (1 - alpha) cross-entropy, "
       "on the training sequences). Held-out KLD: KL(teacher || student) in nats over the full vocabulary on held-out "
       "teacher samples, at step 0 (before training), at the periodic evaluations and at the last step.</p>\n";
  auto name = [](const DistillView& v) {
    return "run " + std::to_string(v.run) + " " + (v.variant.empty() ? std::string("student file") : v.variant) + " \xC2\xB7 " + v.model;
  };
  svg::Chart loss("distill-loss", "Distillation loss per step");
  loss.x.title = "optimizer step";
  loss.y.title = "training loss (nats)";
  loss.description = "Training loss against step for " + std::to_string(d.distill.size()) + " distillation runs.";
  svg::Chart kld("distill-kld", "Held-out KLD to the teacher");
  kld.x.title = "optimizer step (0 = before training)";
  kld.y.title = "held-out KL divergence (nats, lower is better)";
  kld.y.include_zero = true;
  kld.description = "Held-out KL divergence of the student to its teacher against step.";
  int style = 0;
  for (const auto& v : d.distill) {
    svg::Series ls, ks;
    ls.name = ks.name = name(v);
    ls.style = ks.style = style++;
    ls.kind = ks.kind = svg::SeriesKind::LinesPoints;
    if (v.kld_before) {
      svg::Point p;
      p.x = 0;
      p.y = *v.kld_before;
      p.tooltip = name(v) + ": before training, KLD " + T::num(*v.kld_before, 4);
      p.data = {{"run", std::to_string(v.run)}, {"step", "0"}};
      ks.points.push_back(p);
    }
    for (const auto& st : v.steps) {
      if (std::isfinite(st.loss)) {
        svg::Point p;
        p.x = double(st.step);
        p.y = st.loss;
        p.tooltip = name(v) + ": step " + std::to_string(st.step) + ", loss " + T::num(st.loss, 4) + ", lr " + T::num(st.lr, 3);
        p.data = {{"run", std::to_string(v.run)}, {"step", std::to_string(st.step)}, {"lr", svg::fmt_exact(st.lr)}};
        ls.points.push_back(p);
      }
      if (st.kld && std::isfinite(*st.kld)) {
        svg::Point p;
        p.x = double(st.step);
        p.y = *st.kld;
        p.tooltip = name(v) + ": step " + std::to_string(st.step) + ", held-out KLD " + T::num(*st.kld, 4);
        p.data = {{"run", std::to_string(v.run)}, {"step", std::to_string(st.step)}};
        ks.points.push_back(p);
      }
    }
    if (!ls.points.empty()) loss.series.push_back(std::move(ls));
    if (!ks.points.empty()) kld.series.push_back(std::move(ks));
  }
  if (!loss.series.empty()) o += "<figure>\n" + loss.render() + "</figure>\n";
  if (!kld.series.empty()) o += "<figure>\n" + kld.render() + "</figure>\n";
  std::vector<std::vector<Cell>> rows;
  for (const auto& v : d.distill) {
    auto num_cell = [](const std::optional<double>& x) {
      return x ? n(T::num(*x, 4), "data-value=\"" + svg::fmt_exact(*x) + "\"") : n("-");
    };
    std::string ratio = "-";
    if (v.kld_before && v.kld_after && *v.kld_before > 0) ratio = T::num(100.0 * *v.kld_after / *v.kld_before, 3) + "%";
    rows.push_back({n(std::to_string(v.run)), c(v.kind), c(v.variant.empty() ? "student file" : v.variant), c(v.model),
                    n(std::to_string(v.steps.empty() ? 0 : v.steps.back().step)), num_cell(v.kld_before), num_cell(v.kld_after), n(ratio)});
  }
  o += table({"run", "kind", "student", "teacher", "steps", "KLD before", "KLD after", "after / before"}, rows, "class=\"distill\"");
  return o + "</section>\n";
}

std::string section_runs(const ReportData& d) {
  std::string o = "<section id=\"runs\">\n<h2>Runs</h2>\n<p class=\"note\">Selection: " + xml_escape(d.selection) + ".</p>\n";
  std::vector<std::vector<Cell>> rows;
  for (const auto& r : d.runs) {
    const RunInfo& i = r.rec.info;
    rows.push_back({n(std::to_string(r.rec.id)), c(i.label), c(i.kind), c(r.rec.status), c(r.rec.started_at), c(r.commit), c(i.host),
                    c(i.cpu + (i.gpu.empty() ? "" : " / " + i.gpu)), c(i.backend), n(std::to_string(i.threads)), c(r.model),
                    c(i.model_sha256.substr(0, 12)), c(i.variant), c(i.synthetic_weights ? "synthetic" : ""),
                    c(r.config >= 0 ? T::config_label(d, r.config) : "")});
  }
  o += table({"id", "label", "kind", "status", "started (UTC)", "commit", "host", "CPU / GPU", "backend", "threads", "model", "sha256",
              "variant", "weights", "configuration"},
             rows, "class=\"runs\"");
  return o + "</section>\n";
}

}  // namespace

std::string slug(const std::string& s) {
  std::string o;
  for (unsigned char ch : s) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.')
      o += char(ch);
    else if (ch >= 'A' && ch <= 'Z')
      o += char(ch - 'A' + 'a');
    else if (ch == '@')
      o += "at";
    else if (o.empty() || o.back() != '-')
      o += '-';
  }
  return o.empty() ? "x" : o;
}

std::string render_html(const ReportData& d, const RenderOptions& opt) {
  std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
  o += "<meta name=\"generator\" content=\"sparkbench report\"/>\n";
  o += "<title>" + xml_escape(opt.title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n";
  o += "<header>\n<h1>" + xml_escape(opt.title) + "</h1>\n";
  o += "<p class=\"meta\">Database <code>" + xml_escape(d.db_path) + "</code> \xC2\xB7 " + std::to_string(d.runs.size()) + " runs (" +
       xml_escape(d.selection) + ") \xC2\xB7 " + std::to_string(d.configs.size()) + " configurations \xC2\xB7 " +
       std::to_string(d.suites.size()) + " suites \xC2\xB7 generated " + xml_escape(d.generated_at) + "</p>\n";
  if (d.any_synthetic)
    o += "<p class=\"warn\"><strong>Synthetic weights:</strong> some selected runs used a synthesized model; their scores "
         "say nothing about a trained model.</p>\n";
  o += "<nav><a href=\"#summary\">Summary</a><a href=\"#tradeoff\">Best trade-off</a><a href=\"#scatter\">Accuracy vs latency</a>"
       "<a href=\"#scores\">Scores</a>" +
       std::string(long_context_views(d).empty() ? "" : "<a href=\"#long-context\">Long context</a>") +
       "<a href=\"#trends\">Trends</a><a href=\"#speed\">Speed</a><a href=\"#serving\">Serving</a><a href=\"#kernels\">Kernels</a>"
       "<a href=\"#distillation\">Distillation</a><a href=\"#runs\">Runs</a><a href=\"#method\">Method</a></nav>\n</header>\n";
  o += "<section id=\"summary\">\n<h2>Summary</h2>\n";
  if (d.runs.empty()) o += "<p>No runs match the selection.</p>\n";
  o += "<ul class=\"verdicts\">\n";
  for (const auto& v : T::verdicts(d)) o += "<li>" + xml_escape(v) + "</li>\n";
  o += "</ul>\n</section>\n";
  o += section_tradeoff(d);
  o += section_scatter(d, opt);
  o += section_scores(d);
  o += long_context_html(d);  // "" without the long-context suite
  o += section_trends(d, opt);
  o += section_speed(d);
  o += section_serving(d);
  o += section_kernels(d);
  o += section_distill(d);
  o += section_runs(d);
  o += "<section id=\"method\">\n<h2>Method</h2>\n<ul>\n";
  for (const auto& m : T::method_notes(d)) o += "<li>" + xml_escape(m) + "</li>\n";
  o += "</ul>\n</section>\n</body>\n</html>\n";
  return o;
}

}  // namespace sb::report
