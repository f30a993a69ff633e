// The report's Distillation section: the loss and held-out KLD charts draw exactly the
// train_steps rows and kld_before/kld_after metrics stored in the database (read back with raw
// SQL), one line per run, for `distill` runs and eval runs of a +distill:N variant.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "reports/report_data.h"
#include "reports/report_html.h"
#include "reports/report_markdown.h"
#include "tests/reports/report_test_util.h"
#include "tests/reports/test_store_util.h"
#include "tests/test_support.h"

using namespace sb;
using namespace sb::report;

namespace {

// One REAL read straight from the file with SQLite's C API (not through the Store), bit for bit.
double db_real(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path);
  }
  sqlite3_stmt* st = nullptr;
  double v = std::nan("");
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (std::isnan(v)) throw std::runtime_error("no value for: " + sql);
  return v;
}

const test::XmlNode* by_id(const test::XmlNode& root, const std::string& id) {
  std::vector<const test::XmlNode*> out;
  root.find_all([&](const test::XmlNode& n) { return n.attr("id") == id; }, out);
  return out.empty() ? nullptr : out.front();
}

int64_t add_training_run(Store& st, const std::string& kind, const std::string& variant, int steps, double kld0, double kld1) {
  RunInfo info;
  info.kind = kind;
  info.variant = variant;
  info.model_path = "/models/stories260K.gguf";
  const int64_t run = st.begin_run(info);
  std::vector<TrainStepRow> rows;
  for (int s = 1; s <= steps; ++s) {
    TrainStepRow r{s, 3.0 / (1.0 + 0.1 * s) + 0.001 * (s % 3), 1e-3 * s / steps, std::nullopt};
    if (s % 5 == 0) r.kld = kld0 - (kld0 - kld1) * s / steps;
    rows.push_back(r);
  }
  st.add_train_steps(run, rows);
  MetricRow before{"distill", "kld_before", kld0, std::nullopt, std::nullopt, std::nullopt, 8};
  MetricRow after{"distill", "kld_after", kld1, std::nullopt, std::nullopt, std::nullopt, 8};
  before.direction = after.direction = Direction::lower;
  st.add_metric(run, before);
  st.add_metric(run, after);
  st.finish_run(run, "complete");
  return run;
}

}  // namespace

TEST_CASE("report html: distillation charts are the stored steps and KLDs", "[report][distill][unit]") {
  const std::string path = test::temp_dir("report-distill") + "/r.db";
  int64_t a = 0, b = 0, plain = 0;
  {
    auto st = Store::open(path);
    a = add_training_run(*st, "distill", "prune-layers:1+distill:20", 20, 0.6, 0.25);
    b = add_training_run(*st, "eval", "prune-heads:1+distill:10", 10, 0.3, 0.2);
    RunInfo info;  // an eval run without a distill step: not in the section
    info.variant = "q8_0";
    plain = st->begin_run(info);
    st->finish_run(plain, "complete");
  }
  auto store = Store::open(path);
  const ReportData d = load_report(*store, path, {});
  REQUIRE(d.distill.size() == 2);
  const std::string html = render_html(d, {});
  auto doc = test::parse_xml(html);
  REQUIRE(by_id(*doc, "distillation"));

  const auto* loss = by_id(*doc, "distill-loss");
  REQUIRE(loss);
  const auto plot = loss->with_class("plot");
  REQUIRE(plot.size() == 1);
  std::map<int64_t, int> per_run;
  for (const auto* m : loss->with_class("mark")) {
    const int64_t run = std::stoll(m->attr("data-run"));
    const int64_t step = std::stoll(m->attr("data-step"));
    ++per_run[run];
    const std::string where = " FROM train_steps WHERE run_id = " + std::to_string(run) + " AND step = " + std::to_string(step);
    const double stored = db_real(path, "SELECT loss" + where);
    CHECK(test::num_attr(*m, "data-y") == stored);
    CHECK(test::num_attr(*m, "data-x") == double(step));
    CHECK(test::num_attr(*m, "data-lr") == db_real(path, "SELECT lr" + where));
    CHECK(test::invert_axis(*plot[0], 'y', test::num_attr(*m, "data-py")) == Approx(stored).epsilon(2e-3));
  }
  CHECK(per_run == std::map<int64_t, int>{{a, 20}, {b, 10}});

  const auto* kld = by_id(*doc, "distill-kld");
  REQUIRE(kld);
  std::map<int64_t, std::set<int64_t>> steps;
  for (const auto* m : kld->with_class("mark")) {
    const int64_t run = std::stoll(m->attr("data-run"));
    const int64_t step = std::stoll(m->attr("data-step"));
    steps[run].insert(step);
    const double stored =
        step == 0
            ? db_real(path,
                      "SELECT value FROM metrics WHERE task = 'distill' AND metric = 'kld_before' AND run_id = " + std::to_string(run))
            : db_real(path, "SELECT kld FROM train_steps WHERE run_id = " + std::to_string(run) + " AND step = " + std::to_string(step));
    CHECK(test::num_attr(*m, "data-y") == stored);
  }
  CHECK(steps[a] == std::set<int64_t>{0, 5, 10, 15, 20});
  CHECK(steps[b] == std::set<int64_t>{0, 5, 10});

  // The table: KLD before/after per run, as stored; the eval run without distill:N is absent.
  const auto tables = doc->with_class("distill");
  REQUIRE(tables.size() == 1);
  const auto rows = tables[0]->elements("tr");
  REQUIRE(rows.size() == 3);  // head + 2 runs
  CHECK(html.find("prune-layers:1+distill:20") != std::string::npos);
  std::vector<double> values;
  for (const auto* td : tables[0]->elements("td"))
    if (td->has("data-value")) values.push_back(test::num_attr(*td, "data-value"));
  CHECK(values == std::vector<double>{0.6, 0.25, 0.3, 0.2});

  // The Markdown summary has the same table.
  const std::string md = render_markdown(d, {});
  const size_t at = md.find("## Distillation");
  REQUIRE(at != std::string::npos);
  const std::string section = md.substr(at, md.find("## Runs") - at);
  CHECK(section.find("| " + std::to_string(a) + " | distill | prune-layers:1+distill:20 |") != std::string::npos);
  CHECK(section.find("| 0.6 | 0.25 | 41.7% |") != std::string::npos);
  CHECK(section.find("| 0.3 | 0.2 | 66.7% |") != std::string::npos);
}

TEST_CASE("report html: no distillation runs gives a note, no chart", "[report][distill][unit]") {
  const std::string path = test::temp_dir("report-distill-none") + "/r.db";
  {
    auto st = Store::open(path);
    st->finish_run(st->begin_run({}), "complete");
  }
  auto store = Store::open(path);
  const ReportData d = load_report(*store, path, {});
  CHECK(d.distill.empty());
  auto doc = test::parse_xml(render_html(d, {}));
  const auto* sec = by_id(*doc, "distillation");
  REQUIRE(sec);
  CHECK(sec->elements("svg").empty());
}
