// The long-context report section: see reports/report_long_context.h.
#include "reports/report_long_context.h"

#include <algorithm>
#include <cmath>

#include "common/text.h"
#include "evals/long_context_names.h"
#include "reports/report_html.h"
#include "reports/report_markdown.h"
#include "reports/report_text.h"
#include "reports/svg_chart.h"

namespace sb::report {
namespace {

namespace T = text;
namespace lc = long_context;

// Light (0) to dark blue (1), linear in RGB between #f2f7fb and #08306b.
std::string cell_color(double v) {
  const double t = std::clamp(v, 0.0, 1.0);
  auto mix = [&](int a, int b) { return int(std::lround(a + (b - a) * t)); };
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", mix(0xf2, 0x08), mix(0xf7, 0x30), mix(0xfb, 0x6b));
  return buf;
}

std::string acc_text(const Score& s) { return T::num(s.value, 2); }

}  // namespace

std::vector<LongContextView> long_context_views(const ReportData& d) {
  std::vector<LongContextView> out;
  for (const auto& s : d.suites) {
    if (s.suite != lc::kSuite) continue;
    std::map<int, LongContextView> by_config;
    for (const auto& m : s.all_metrics) {
      LongContextView& v = by_config[m.config];
      v.config = m.config;
      v.run = m.run;
      if (auto c = lc::parse_cell_metric(m.metric)) {
        v.cells[{c->kind, c->length, c->depth}] = m;
        if (std::find(v.kinds.begin(), v.kinds.end(), c->kind) == v.kinds.end()) v.kinds.push_back(c->kind);
        if (std::find(v.lengths.begin(), v.lengths.end(), c->length) == v.lengths.end()) v.lengths.push_back(c->length);
        if (std::find(v.depths.begin(), v.depths.end(), c->depth) == v.depths.end()) v.depths.push_back(c->depth);
      } else if (auto b = lc::parse_loss_metric(m.metric)) {
        v.loss.push_back({*b, m});
      } else if (m.metric == "acc") {
        v.acc = m;
      } else if (m.metric == "effective_ctx") {
        v.effective_ctx = m;
      } else if (m.metric == "skipped") {
        v.skipped = m;
      }
    }
    for (auto& [c, v] : by_config) {
      std::sort(v.lengths.begin(), v.lengths.end());
      std::sort(v.depths.begin(), v.depths.end());
      std::sort(v.kinds.begin(), v.kinds.end(), [](const std::string& a, const std::string& b) { return a > b; });  // passkey first
      std::sort(v.loss.begin(), v.loss.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back(std::move(v));
    }
  }
  return out;
}

std::string long_context_heatmap_svg(const ReportData& d, const LongContextView& v, const std::string& kind) {
  const int cw = 78, ch = 34, left = 96, top = 44, right = 24, bottom = 58;
  const int W = left + cw * int(v.lengths.size()) + right, H = top + ch * int(v.depths.size()) + bottom;
  const std::string title = kind + " retrieval accuracy: " + T::config_label(d, v.config);
  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart heatmap\" width=\"" + std::to_string(W) + "\" height=\"" +
                  std::to_string(H) + "\" viewBox=\"0 0 " + std::to_string(W) + " " + std::to_string(H) + "\" role=\"img\" data-kind=\"" +
                  sb::text::xml_escape(kind) + "\" data-config=\"" + std::to_string(v.config) + "\" data-run=\"" + std::to_string(v.run) +
                  "\">\n";
  o += "<title>" + sb::text::xml_escape(title) + "</title>\n<desc>" +
       sb::text::xml_escape("Accuracy of " + kind +
                            " retrieval per context length (columns, tokens) and needle depth (rows, percent of the "
                            "context); colour from light (0) to dark blue (1), value printed in each cell.") +
       "</desc>\n";
  o += "<text x=\"" + std::to_string(W / 2) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" +
       sb::text::xml_escape(title) + "</text>\n";
  for (size_t j = 0; j < v.depths.size(); ++j)
    o += "<text x=\"" + std::to_string(left - 8) + "\" y=\"" + std::to_string(top + ch * int(j) + ch / 2 + 4) +
         "\" text-anchor=\"end\" font-size=\"12\">" + std::to_string(v.depths[j]) + "%</text>\n";
  for (size_t i = 0; i < v.lengths.size(); ++i)
    o += "<text x=\"" + std::to_string(left + cw * int(i) + cw / 2) + "\" y=\"" + std::to_string(top + ch * int(v.depths.size()) + 16) +
         "\" text-anchor=\"middle\" font-size=\"12\">" + std::to_string(v.lengths[i]) + "</text>\n";
  o += "<text x=\"" + std::to_string(left + cw * int(v.lengths.size()) / 2) + "\" y=\"" + std::to_string(H - 12) +
       "\" text-anchor=\"middle\" font-size=\"12\">context length (tokens)</text>\n";
  o += "<text x=\"14\" y=\"" + std::to_string(top + ch * int(v.depths.size()) / 2) +
       "\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 " + std::to_string(top + ch * int(v.depths.size()) / 2) +
       ")\">needle depth</text>\n";
  o += "<g class=\"cells\">\n";
  for (size_t j = 0; j < v.depths.size(); ++j)
    for (size_t i = 0; i < v.lengths.size(); ++i) {
      const int x = left + cw * int(i), y = top + ch * int(j);
      auto it = v.cells.find({kind, v.lengths[i], v.depths[j]});
      const bool has = it != v.cells.end() && std::isfinite(it->second.value);
      std::string attrs = " data-kind=\"" + sb::text::xml_escape(kind) + "\" data-length=\"" + std::to_string(v.lengths[i]) +
                          "\" data-depth=\"" + std::to_string(v.depths[j]) + "\"";
      std::string label = "-", tip = kind + ", L = " + std::to_string(v.lengths[i]) + ", depth " + std::to_string(v.depths[j]) + "%: ";
      std::string fill = "#ffffff";
      bool dark = false;
      if (has) {
        const Score& s = it->second;
        attrs += " data-value=\"" + svg::fmt_exact(s.value) + "\" data-n=\"" + std::to_string(s.n) + "\"";
        if (s.lo()) attrs += " data-lo=\"" + svg::fmt_exact(*s.lo()) + "\"";
        if (s.hi()) attrs += " data-hi=\"" + svg::fmt_exact(*s.hi()) + "\"";
        label = acc_text(s);
        tip += T::score(s) + ", n = " + std::to_string(s.n);
        fill = cell_color(s.value);
        dark = s.value > 0.55;
      } else {
        tip += "no scored item";
      }
      o += "<rect class=\"cell\" x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"" + std::to_string(cw) +
           "\" height=\"" + std::to_string(ch) + "\" fill=\"" + fill + "\" stroke=\"#bbbbbb\"" + attrs + "><title>" +
           sb::text::xml_escape(tip) + "</title></rect>\n";
      o += "<text class=\"cell-value\" x=\"" + std::to_string(x + cw / 2) + "\" y=\"" + std::to_string(y + ch / 2 + 4) +
           "\" text-anchor=\"middle\" font-size=\"12\" fill=\"" + (dark ? "#ffffff" : "#111111") + "\">" + sb::text::xml_escape(label) +
           "</text>\n";
    }
  o += "</g>\n</svg>\n";
  return o;
}

std::string long_context_html(const ReportData& d) {
  const auto views = long_context_views(d);
  if (views.empty()) return "";
  std::string o = "<section id=\"long-context\">\n<h2>Long context</h2>\n";
  o += "<p class=\"note\">Suite <code>long-context</code>: passkey and multi-key retrieval by context length (in the model's own "
       "tokens) and needle depth, exact match of the generated key; effective context = the longest length up to which accuracy "
       "stays within the threshold of the shortest length's (0 when the shortest length already fails). Loss by position: mean "
       "log-loss of the tokens in each position bucket of long natural text; a curve that falls as context grows means the context "
       "is used, a rise past some position means it is not.</p>\n";
  for (const auto& v : views) {
    o += "<h3>" + sb::text::xml_escape(T::config_label(d, v.config)) + " (run " + std::to_string(v.run) + ")</h3>\n<p>";
    if (v.acc) o += "accuracy " + sb::text::xml_escape(T::score(*v.acc)) + " (n = " + std::to_string(v.acc->n) + ")";
    if (v.effective_ctx)
      o += " \xC2\xB7 effective context <strong>" + sb::text::xml_escape(T::num(v.effective_ctx->value, 6)) + "</strong> tokens";
    if (v.skipped && v.skipped->value > 0)
      o += " \xC2\xB7 " + sb::text::xml_escape(T::num(v.skipped->value, 6)) + " items skipped (do not fit)";
    o += "</p>\n";
    for (const auto& k : v.kinds) o += "<figure>\n" + long_context_heatmap_svg(d, v, k) + "</figure>\n";
  }
  bool any_loss = false;
  for (const auto& v : views) any_loss |= !v.loss.empty();
  if (any_loss) {
    svg::Chart ch("long-context-loss", "loss by position");
    ch.x.title = "token position (bucket midpoint)";
    ch.x.log = true;
    ch.y.title = T::metric_title("loss", Direction::lower, "") + ", nats/token";
    ch.description = "Mean token log-loss per position bucket, one line per configuration, 95% whiskers.";
    for (const auto& v : views) {
      if (v.loss.empty()) continue;
      svg::Series se;
      se.name = T::config_label(d, v.config);
      se.style = v.config >= 0 && v.config < int(d.configs.size()) ? d.configs[size_t(v.config)].style : 0;
      se.kind = svg::SeriesKind::LinesPoints;
      for (const auto& [b, s] : v.loss) {
        svg::Point p;
        p.x = 0.5 * double(b.first + b.second);
        p.y = s.value;
        p.lo = s.lo();
        p.hi = s.hi();
        p.tooltip = se.name + ", positions " + std::to_string(b.first) + "-" + std::to_string(b.second) + ": " + T::score(s);
        p.data = {{"run", std::to_string(v.run)},
                  {"config", std::to_string(v.config)},
                  {"metric", s.metric},
                  {"pos-lo", std::to_string(b.first)},
                  {"pos-hi", std::to_string(b.second)}};
        se.points.push_back(p);
      }
      ch.series.push_back(std::move(se));
    }
    o += "<h3>Loss by position</h3>\n<figure>\n" + ch.render() + "</figure>\n";
  }
  return o + "</section>\n";
}

std::string long_context_markdown(const ReportData& d) {
  const auto views = long_context_views(d);
  if (views.empty()) return "";
  auto row = [](const std::vector<std::string>& cells) {
    std::string o = "|";
    for (const auto& c : cells) {  // appended piecewise: GCC 12 warns (-Wrestrict) on " " + string&&
      o += ' ';
      o += sb::text::md_cell(c);
      o += " |";
    }
    return o + "\n";
  };
  std::string o = "## Long context\n\n";
  o += "Retrieval accuracy by context length (rows, tokens) and needle depth (columns); effective context = the longest length up "
       "to which accuracy stays within the threshold of the shortest length's.\n\n";
  for (const auto& v : views) {
    o += "### " + sb::text::md_cell(T::config_label(d, v.config)) + " (run " + std::to_string(v.run) + ")\n\n";
    if (v.acc) o += "accuracy " + T::score(*v.acc) + " (n = " + std::to_string(v.acc->n) + ")";
    if (v.effective_ctx) o += ", effective context **" + T::num(v.effective_ctx->value, 6) + "** tokens";
    if (v.skipped && v.skipped->value > 0) o += ", " + T::num(v.skipped->value, 6) + " items skipped (do not fit)";
    o += "\n\n";
    for (const auto& k : v.kinds) {
      std::vector<std::string> head{k + ": L (tokens)"};
      for (int dp : v.depths) head.push_back(std::to_string(dp) + "%");
      o += row(head) + "| --- |";
      for (size_t i = 0; i < v.depths.size(); ++i) o += " ---: |";
      o += "\n";
      for (int64_t L : v.lengths) {
        std::vector<std::string> r{std::to_string(L)};
        for (int dp : v.depths) {
          auto it = v.cells.find({k, L, dp});
          r.push_back(it == v.cells.end() ? "-" : T::num(it->second.value, 2));
        }
        o += row(r);
      }
      o += "\n";
    }
  }
  std::vector<std::pair<int64_t, int64_t>> buckets;
  for (const auto& v : views)
    for (const auto& [b, s] : v.loss)
      if (std::find(buckets.begin(), buckets.end(), b) == buckets.end()) buckets.push_back(b);
  if (!buckets.empty()) {
    std::sort(buckets.begin(), buckets.end());
    o += "### Loss by position (nats/token)\n\n";
    std::vector<std::string> head{"positions"};
    for (const auto& v : views)
      if (!v.loss.empty()) head.push_back(T::config_label(d, v.config));
    o += row(head) + "| --- |";
    for (size_t i = 1; i < head.size(); ++i) o += " ---: |";
    o += "\n";
    for (const auto& b : buckets) {
      std::vector<std::string> r{std::to_string(b.first) + "-" + std::to_string(b.second)};
      for (const auto& v : views) {
        if (v.loss.empty()) continue;
        std::string cell = "-";
        for (const auto& [bb, s] : v.loss)
          if (bb == b) cell = T::num(s.value, 4);
        r.push_back(cell);
      }
      o += row(r);
    }
    o += "\n";
  }
  return o;
}

}  // namespace sb::report
