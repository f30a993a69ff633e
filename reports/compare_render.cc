// compare: the table, Markdown, JUnit and JSON renderings of a Result; see
// reports/compare_render.h.
#include "reports/compare_render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/text.h"
#include "common/text_table.h"

namespace sb::compare {

namespace {

// Value in the row's own units: accuracy 4 decimals, t/s 1 decimal, ns 3 significant digits.
std::string fmt_value(const Row& r, double v) {
  if (r.unit == "t/s") return text::format("%.1f", v);
  if (r.unit == "ns") return text::format("%.4g", v);
  return text::format("%.4f", v);
}

std::string fmt_delta(const Row& r) {
  if (!r.delta) return "";
  std::string s = r.unit == "t/s"  ? text::format("%+.1f", *r.delta)
                  : r.unit == "ns" ? text::format("%+.4g", *r.delta)
                                   : text::format("%+.4f", *r.delta);
  if (r.rel_delta && std::isfinite(*r.rel_delta)) s += " (" + text::format("%+.1f", 100 * *r.rel_delta) + "%)";
  return s;
}

std::string fmt_interval(const Row& r) {
  if (!r.lo || !r.hi) return "";
  return "[" + (r.unit == "t/s" ? text::format("%+.1f", *r.lo) : text::format("%+.4f", *r.lo)) + ", " +
         (r.unit == "t/s" ? text::format("%+.1f", *r.hi) : text::format("%+.4f", *r.hi)) + "]";
}

std::string fmt_p(const std::optional<double>& p) {
  if (!p) return "";
  if (*p < 1e-4) return "<1e-4";
  return text::format("%.2g", *p);
}

std::string fmt_n(const Row& r) {
  if (r.kind == "accuracy" && r.n_paired > 0) return std::to_string(r.n_paired);
  if (r.n_baseline == 0 && r.n_candidate == 0) return "";
  return std::to_string(r.n_baseline) + "/" + std::to_string(r.n_candidate);
}

std::string run_line(const RunRecord& r) {
  std::string s = "run " + std::to_string(r.id);
  if (!r.info.label.empty()) s += " '" + r.info.label + "'";
  s += " (" + r.info.kind + ", " + r.status + ", " + r.started_at;
  if (!r.info.git_commit.empty()) s += ", commit " + r.info.git_commit.substr(0, 10) + (r.info.git_dirty ? "+dirty" : "");
  if (!r.info.model_path.empty()) s += ", model " + r.info.model_path;
  if (!r.info.model_sha256.empty()) s += " [" + r.info.model_sha256.substr(0, 12) + "]";
  if (!r.info.variant.empty()) s += ", variant " + r.info.variant;
  if (!r.info.backend.empty()) s += ", backend " + r.info.backend;
  return s + ")";
}

std::string status_icon(Status s) {
  switch (s) {
    case Status::ok:
      return ":white_check_mark:";
    case Status::regression:
      return ":x:";
    case Status::improvement:
      return ":rocket:";
    case Status::warn:
      return ":warning:";
    case Status::incomparable:
      return ":grey_question:";
  }
  return "";
}

std::string thresholds_line(const Options& o) {
  return "alpha " + text::format("%.3g", o.alpha) + ", max accuracy drop " + text::format("%.3g", o.max_accuracy_drop) + " (absolute) / " +
         text::format("%.3g", 100 * o.max_relative_drop) + "% (relative), max speed drop " + text::format("%.3g", 100 * o.max_speed_drop) +
         "%, speed floor " + text::format("%.3g", o.speed_floor_ts) + " t/s, min repetitions " + std::to_string(o.min_repetitions);
}

using text::valid_utf8;  // JSON and XML need valid text

}  // namespace

std::string format_table(const Result& r) {
  text::Table cells({"status", "kind", "task", "metric", "baseline", "candidate", "delta", "interval", "p", "n", "test", "note"});
  for (const auto& x : r.rows)
    cells.add_row({status_name(x.status), x.kind, x.task, x.metric, x.baseline ? fmt_value(x, *x.baseline) : "-",
                   x.candidate ? fmt_value(x, *x.candidate) : "-", fmt_delta(x), fmt_interval(x), fmt_p(x.p), fmt_n(x), x.test, x.note});
  std::string out = "baseline:  " + run_line(r.baseline) + "\ncandidate: " + run_line(r.candidate) + "\n\n";
  out += cells.text(/*rule=*/false);
  if (r.rows.empty()) out += "(no rows)\n";
  for (const auto& wmsg : r.warnings) out += "warning: " + wmsg + "\n";
  out += "thresholds: " + thresholds_line(r.options) + "\n";
  out += r.verdict() + "\n";
  return out;
}

std::string format_markdown(const Result& r) {
  std::string icon = r.count(Status::regression) ? ":x:" : !r.comparable ? ":grey_question:" : ":white_check_mark:";
  std::string out = "### sparkbench compare " + icon + " " + text::md_cell(r.verdict()) + "\n\n";
  out += "- baseline: " + text::md_cell(run_line(r.baseline)) + "\n";
  out += "- candidate: " + text::md_cell(run_line(r.candidate)) + "\n\n";
  if (!r.rows.empty()) {
    out += "| | kind | task | metric | baseline | candidate | delta | " + text::format("%.0f", 100 * (1 - r.options.alpha)) +
           "% interval | p | n | note |\n";
    out += "|---|---|---|---|---:|---:|---:|---|---:|---:|---|\n";
    // Regressions first, then warnings, improvements, incomparable, ok.
    for (Status s : {Status::regression, Status::warn, Status::improvement, Status::incomparable, Status::ok})
      for (const auto& x : r.rows) {
        if (x.status != s) continue;
        out += "| " + status_icon(x.status) + " " + status_name(x.status) + " | " + x.kind + " | " + text::md_cell(x.task) + " | " +
               text::md_cell(x.metric) + " | " + (x.baseline ? fmt_value(x, *x.baseline) : "-") + " | " +
               (x.candidate ? fmt_value(x, *x.candidate) : "-") + " | " + fmt_delta(x) + " | " + fmt_interval(x) + " | " +
               text::md_cell(fmt_p(x.p)) + " | " + fmt_n(x) + " | " +
               text::md_cell(x.note + (x.test.empty() ? "" : (x.note.empty() ? "(" : " (") + x.test + ")")) + " |\n";
      }
    out += "\n";
  }
  for (const auto& w : r.warnings) out += "> :warning: " + text::md_cell(w) + "\n";
  if (!r.warnings.empty()) out += "\n";
  out += "<sub>thresholds: " + text::md_cell(thresholds_line(r.options)) + "</sub>\n";
  return out;
}

std::string format_junit(const Result& r) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const int failures = r.count(Status::regression), skipped = r.count(Status::incomparable);
  out += "<testsuites name=\"sparkbench compare\" tests=\"" + std::to_string(r.rows.size()) + "\" failures=\"" + std::to_string(failures) +
         "\" errors=\"" + std::string(r.comparable ? "0" : "1") + "\" skipped=\"" + std::to_string(skipped) + "\">\n";
  std::vector<std::string> kinds;
  for (const auto& x : r.rows)
    if (std::find(kinds.begin(), kinds.end(), x.kind) == kinds.end()) kinds.push_back(x.kind);
  if (!r.comparable && kinds.empty()) kinds.push_back("runs");
  for (const auto& kind : kinds) {
    int n = 0, f = 0, sk = 0;
    for (const auto& x : r.rows)
      if (x.kind == kind) {
        ++n;
        f += x.status == Status::regression;
        sk += x.status == Status::incomparable;
      }
    const bool error_here = !r.comparable && kind == kinds.front();
    out += "  <testsuite name=\"" + text::xml_escape(kind) + "\" tests=\"" + std::to_string(n + (error_here ? 1 : 0)) + "\" failures=\"" +
           std::to_string(f) + "\" errors=\"" + (error_here ? "1" : "0") + "\" skipped=\"" + std::to_string(sk) + "\">\n";
    out += "    <properties>\n      <property name=\"baseline\" value=\"" + text::xml_escape(run_line(r.baseline)) +
           "\"/>\n      <property name=\"candidate\" value=\"" + text::xml_escape(run_line(r.candidate)) + "\"/>\n    </properties>\n";
    if (error_here) {
      out += "    <testcase classname=\"sparkbench.compare\" name=\"comparable\">\n      <error message=\"" +
             text::xml_escape(r.incomparable_reason) + "\" type=\"incomparable\"/>\n    </testcase>\n";
    }
    for (const auto& x : r.rows) {
      if (x.kind != kind) continue;
      out += "    <testcase classname=\"" + text::xml_escape("sparkbench.compare." + x.kind + "." + x.task) + "\" name=\"" +
             text::xml_escape(x.metric) + "\" time=\"0\">\n";
      std::string detail =
          "baseline " + (x.baseline ? fmt_value(x, *x.baseline) : "-") + ", candidate " + (x.candidate ? fmt_value(x, *x.candidate) : "-");
      if (x.delta) detail += ", delta " + fmt_delta(x);
      if (x.lo) detail += ", interval " + fmt_interval(x);
      if (x.p) detail += ", p " + fmt_p(x.p) + " (" + x.test + ")";
      if (!x.note.empty()) detail += "; " + x.note;
      if (x.status == Status::regression)
        out += "      <failure message=\"" + text::xml_escape("regression: " + detail) + "\" type=\"regression\">" +
               text::xml_escape(detail) + "</failure>\n";
      else if (x.status == Status::incomparable)
        out += "      <skipped message=\"" + text::xml_escape("incomparable: " + x.note) + "\"/>\n";
      out += "      <system-out>" + text::xml_escape(std::string(status_name(x.status)) + ": " + detail) + "</system-out>\n";
      out += "    </testcase>\n";
    }
    out += "  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

nlohmann::json to_json(const Result& r) {
  auto run_json = [](const RunRecord& x) {
    return nlohmann::json{{"id", x.id},
                          {"label", valid_utf8(x.info.label)},
                          {"kind", x.info.kind},
                          {"status", x.status},
                          {"started_at", x.started_at},
                          {"git_commit", x.info.git_commit},
                          {"git_dirty", x.info.git_dirty},
                          {"model_path", valid_utf8(x.info.model_path)},
                          {"model_sha256", x.info.model_sha256},
                          {"variant", valid_utf8(x.info.variant)},
                          {"backend", x.info.backend}};
  };
  auto opt = [](const std::optional<double>& v) -> nlohmann::json {
    if (v && std::isfinite(*v)) return *v;
    return nullptr;
  };
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& x : r.rows)
    rows.push_back({{"kind", x.kind},
                    {"task", valid_utf8(x.task)},
                    {"metric", valid_utf8(x.metric)},
                    {"status", status_name(x.status)},
                    {"direction", direction_name(x.direction)},
                    {"unit", x.unit},
                    {"baseline", opt(x.baseline)},
                    {"candidate", opt(x.candidate)},
                    {"delta", opt(x.delta)},
                    {"rel_delta", opt(x.rel_delta)},
                    {"ci_low", opt(x.lo)},
                    {"ci_high", opt(x.hi)},
                    {"p", opt(x.p)},
                    {"test", x.test},
                    {"n_baseline", x.n_baseline},
                    {"n_candidate", x.n_candidate},
                    {"n_paired", x.n_paired},
                    {"note", valid_utf8(x.note)}});
  nlohmann::json warnings = nlohmann::json::array();
  for (const auto& w : r.warnings) warnings.push_back(valid_utf8(w));
  const auto& o = r.options;
  return {{"baseline", run_json(r.baseline)},
          {"candidate", run_json(r.candidate)},
          {"comparable", r.comparable},
          {"incomparable_reason", r.incomparable_reason},
          {"exit_code", r.exit_code()},
          {"verdict", valid_utf8(r.verdict())},
          {"counts",
           {{"regression", r.count(Status::regression)},
            {"improvement", r.count(Status::improvement)},
            {"warn", r.count(Status::warn)},
            {"incomparable", r.count(Status::incomparable)},
            {"ok", r.count(Status::ok)}}},
          {"thresholds",
           {{"alpha", o.alpha},
            {"max_accuracy_drop", o.max_accuracy_drop},
            {"max_relative_drop", o.max_relative_drop},
            {"max_speed_drop", o.max_speed_drop},
            {"speed_floor_ts", o.speed_floor_ts},
            {"min_repetitions", o.min_repetitions},
            {"bootstrap_resamples", o.bootstrap_resamples}}},
          {"warnings", warnings},
          {"rows", rows}};
}

}  // namespace sb::compare
