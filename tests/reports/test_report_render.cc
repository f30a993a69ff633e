// The rendered reports: the HTML page (well-formed, self-contained, charts titled, plotted
// numbers equal to the database), the Markdown summary, and the `sparkbench report` command.
#include <catch2/catch.hpp>

#include "common/text.h"

#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "reports/report_data.h"
#include "reports/report_html.h"
#include "reports/report_markdown.h"
#include "reports/svg_chart.h"
#include "tests/reports/report_test_util.h"
#include "tests/test_support.h"

using namespace sb;
using namespace sb::report;

namespace {

struct Rendered {
  test::ReportDb db;
  ReportData data;
  std::string html;
};

Rendered render(const std::string& tag, Options opt = {}, RenderOptions ro = {}) {
  Rendered r;
  r.db = test::make_report_db(test::temp_dir(tag) + "/r.db");
  auto store = Store::open(r.db.path);
  r.data = load_report(*store, r.db.path, opt);
  r.html = render_html(r.data, ro);
  return r;
}

const test::XmlNode* by_id(const test::XmlNode& root, const std::string& id) {
  std::vector<const test::XmlNode*> out;
  root.find_all([&](const test::XmlNode& n) { return n.attr("id") == id; }, out);
  return out.empty() ? nullptr : out.front();
}

// One REAL read straight from the file with SQLite (not through the Store), bit for bit.
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

// The metric column stored in the database for (run, task, metric).
double db_metric(const std::string& path, int64_t run, const std::string& task, const std::string& metric,
                 const std::string& column = "value") {
  return db_real(path, "SELECT " + column + " FROM metrics WHERE run_id = " + std::to_string(run) + " AND task = '" + task +
                           "' AND metric = '" + metric + "'");
}

}  // namespace

TEST_CASE("report html: well-formed and self-contained with every chart titled", "[report][unit]") {
  const auto r = render("report-html-structure");
  auto doc = test::parse_xml(r.html);  // the whole page is well-formed XML
  REQUIRE(doc->name == "html");
  CHECK(doc->elements("script").empty());
  CHECK(doc->elements("link").empty());
  CHECK(doc->elements("img").empty());
  CHECK(doc->elements("iframe").empty());
  // no network: the only URL is the SVG namespace name, and links are in-page anchors
  std::string rest = r.html;
  for (size_t k; (k = rest.find("http://www.w3.org/2000/svg")) != std::string::npos;) rest.erase(k, 26);
  CHECK(rest.find("http:") == std::string::npos);
  CHECK(rest.find("https:") == std::string::npos);
  CHECK(rest.find("url(") == std::string::npos);
  CHECK(rest.find("@import") == std::string::npos);
  CHECK(rest.find(" src=") == std::string::npos);
  for (const auto* a : doc->elements("a")) CHECK(a->attr("href").rfind("#", 0) == 0);
  // every section is there
  for (const char* id : {"summary", "tradeoff", "scatter", "scores", "trends", "speed", "kernels", "runs", "method"})
    CHECK(by_id(*doc, id) != nullptr);
  // charts: 3 scatters + 3 bar charts + 4 trends, each with a title, description and 2 axis titles
  const auto svgs = doc->elements("svg");
  CHECK(svgs.size() == 10);
  for (const auto* s : svgs) {
    INFO(s->attr("id"));
    CHECK_FALSE(s->elements("title").empty());
    CHECK_FALSE(s->elements("desc").empty());
    const auto titles = s->with_class("axis-title");
    REQUIRE(titles.size() == 2);
    for (const auto* t : titles) CHECK_FALSE(t->text_content().empty());
    CHECK(s->attr("role") == "img");
  }
  const auto* scatter = by_id(*doc, "scatter-code-python");
  REQUIRE(scatter);
  CHECK(scatter->with_class("x-title").front()->text_content() == "decode latency, TPOT (ms/token)");
  CHECK(scatter->with_class("y-title").front()->text_content() == "pass@1 (fraction of items, higher is better)");
  CHECK(scatter->with_class("legend").size() == 1);
  // the label with markup characters came through escaped and intact
  CHECK(r.html.find("nightly &lt;&amp;&gt; &quot;quoted&quot;") != std::string::npos);
  // the synthetic-weights warning
  CHECK_FALSE(doc->with_class("warn").empty());
}

TEST_CASE("report html: scatter points are the database's scores and latencies", "[report][unit]") {
  const auto r = render("report-html-scatter");
  auto doc = test::parse_xml(r.html);
  const auto* scatter = by_id(*doc, "scatter-code-python");
  REQUIRE(scatter);
  const auto plot = scatter->with_class("plot");
  REQUIRE(plot.size() == 1);
  const auto marks = scatter->with_class("mark");
  REQUIRE(marks.size() == 4);
  const std::map<int64_t, double> latency{{r.db.f32, 10}, {r.db.q8, 6}, {r.db.q4, 4}, {r.db.prune, 5}};
  std::set<int64_t> seen, pareto;
  for (const auto* m : marks) {
    const int64_t run = std::stoll(m->attr("data-run"));
    seen.insert(run);
    const double score = db_metric(r.db.path, run, "code-python", "pass@1");
    CHECK(test::num_attr(*m, "data-y") == score);  // exactly the stored value
    CHECK(test::num_attr(*m, "data-x") == Approx(latency.at(run)));
    // and drawn where the axes say those values are
    CHECK(test::invert_axis(*plot[0], 'y', test::num_attr(*m, "data-py")) == Approx(score).epsilon(2e-3));
    CHECK(test::invert_axis(*plot[0], 'x', test::num_attr(*m, "data-px")) == Approx(latency.at(run)).epsilon(2e-3));
    CHECK(test::num_attr(*m, "data-lo") == db_metric(r.db.path, run, "code-python", "pass@1", "ci_low"));
    CHECK(test::num_attr(*m, "data-hi") == db_metric(r.db.path, run, "code-python", "pass@1", "ci_high"));
    if (m->attr("data-pareto") == "1") pareto.insert(run);
  }
  CHECK(seen == std::set<int64_t>{r.db.f32, r.db.q8, r.db.q4, r.db.prune});
  CHECK(pareto == std::set<int64_t>{r.db.f32, r.db.q8, r.db.q4});
  // the frontier staircase passes through the Pareto points in latency order
  const auto fr = scatter->with_class("frontier");
  REQUIRE(fr.size() == 2);
  const auto* poly = fr[0]->name == "polyline" ? fr[0] : fr[1];
  std::vector<double> xs;
  std::istringstream ss(poly->attr("points"));
  std::string pt;
  while (ss >> pt) xs.push_back(test::invert_axis(*plot[0], 'x', std::stod(pt.substr(0, pt.find(',')))));
  REQUIRE(xs.size() == 5);  // 3 points, 2 steps
  CHECK(xs.front() == Approx(4).epsilon(2e-3));
  CHECK(xs.back() == Approx(10).epsilon(2e-3));
  // every point is labelled with its configuration
  std::set<std::string> labels;
  for (const auto* l : scatter->with_class("point-label")) labels.insert(l->text_content());
  CHECK(labels.count("q4_0 \xC2\xB7 tiny-llama \xC2\xB7 cpu"));
  CHECK(labels.size() == 4);
}

TEST_CASE("report html: bars and trends and best-trade-off and speed and kernel tables match the database", "[report][unit]") {
  Options opt;
  opt.budgets_ms = {5};
  const auto r = render("report-html-tables", opt);
  auto doc = test::parse_xml(r.html);
  // bars: one per configuration with a sentiment score, at the stored value
  const auto* bars = by_id(*doc, "scores-sentiment");
  REQUIRE(bars);
  const auto bar_marks = bars->with_class("mark");
  REQUIRE(bar_marks.size() == 6);
  for (const auto* m : bar_marks) {
    const int64_t run = std::stoll(m->attr("data-run"));
    CHECK(test::num_attr(*m, "data-x") == db_metric(r.db.path, run, "sentiment", "acc"));
    CHECK(m->has("data-lo"));
  }
  // trends: the qa drop is flagged on the newest f32 run
  const auto* trend = by_id(*doc, "trend-qa-exact_match");
  REQUIRE(trend);
  const auto flags = trend->with_class("flag");
  REQUIRE(flags.size() == 1);
  std::vector<const test::XmlNode*> flagged;
  trend->find_all([](const test::XmlNode& n) { return n.attr("data-regression") == "1"; }, flagged);
  REQUIRE(flagged.size() == 1);
  CHECK(std::stoll(flagged[0]->attr("data-run")) == r.db.f32);
  CHECK(test::num_attr(*flagged[0], "data-y") == db_metric(r.db.path, r.db.f32, "qa", "exact_match"));
  const auto regs = doc->with_class("regressions");
  REQUIRE(regs.size() == 1);
  CHECK(regs[0]->elements("tr").size() == 2);  // header + one row
  // best trade-off at 5 ms/token for code-python is q4_0
  std::vector<const test::XmlNode*> tables;
  doc->find_all([](const test::XmlNode& n) { return n.name == "table" && n.attr("data-suite") == "code-python"; }, tables);
  REQUIRE(tables.size() == 1);
  const auto rows = tables[0]->elements("tr");
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]->text_content().find("q4_0") != std::string::npos);
  const auto cells = rows[1]->elements("td");
  CHECK(test::num_attr(*cells[2], "data-value") == db_metric(r.db.path, r.db.q4, "code-python", "pass@1"));
  // speed: every bench row, with its t/s
  const auto speed = doc->with_class("speed");
  REQUIRE(speed.size() == 1);
  std::vector<const test::XmlNode*> ts;
  speed[0]->find_all([](const test::XmlNode& n) { return n.has("data-value"); }, ts);
  REQUIRE(ts.size() == 6);
  CHECK(test::num_attr(*ts[0], "data-value") == 812.5);
  CHECK(r.html.find("78.8") != std::string::npos);  // TTFT 78.75 ms, 3 significant digits
  CHECK(r.html.find("100 MiB") != std::string::npos);
  // kernels: roofline = the higher of the two percentages
  const auto kern = doc->with_class("kernels");
  REQUIRE(kern.size() == 1);
  std::vector<const test::XmlNode*> roof;
  kern[0]->find_all([](const test::XmlNode& n) { return n.has("data-value"); }, roof);
  REQUIRE(roof.size() == 2);
  CHECK(test::num_attr(*roof[0], "data-value") == 62.5);
  CHECK(test::num_attr(*roof[1], "data-value") == 38.75);
}

TEST_CASE("report html: --log-latency puts the latency axes on a log scale", "[report][unit]") {
  RenderOptions ro;
  ro.log_latency = true;
  const auto r = render("report-html-log", {}, ro);
  auto doc = test::parse_xml(r.html);
  const auto* scatter = by_id(*doc, "scatter-code-python");
  REQUIRE(scatter);
  const auto plot = scatter->with_class("plot");
  REQUIRE(plot.size() == 1);
  CHECK(plot[0]->attr("data-x-log") == "1");
  for (const auto* m : scatter->with_class("mark"))
    CHECK(test::invert_axis(*plot[0], 'x', test::num_attr(*m, "data-px")) == Approx(test::num_attr(*m, "data-x")).epsilon(2e-3));
  const auto* lat = by_id(*doc, "trend-latency-tpot_ms");
  REQUIRE(lat);
  CHECK(lat->with_class("plot").front()->attr("data-y-log") == "1");
  const auto lin_doc = test::parse_xml(render("report-html-lin").html);
  const auto* lin = by_id(*lin_doc, "scatter-code-python");
  REQUIRE(lin);
  CHECK(lin->with_class("plot").front()->attr("data-x-log") == "0");
}

TEST_CASE("report html: an empty selection still renders a valid page", "[report][unit]") {
  Options opt;
  opt.since = "2999-01-01";
  const auto r = render("report-html-empty", opt);
  auto doc = test::parse_xml(r.html);
  CHECK(doc->elements("svg").empty());
  CHECK(r.html.find("No runs match the selection.") != std::string::npos);
}

TEST_CASE("report markdown: tables and verdicts carry the values", "[report][unit]") {
  Options opt;
  opt.budgets_ms = {5, 7};
  Rendered r;
  r.db = test::make_report_db(test::temp_dir("report-md") + "/r.db");
  auto store = Store::open(r.db.path);
  r.data = load_report(*store, r.db.path, opt);
  const std::string md = render_markdown(r.data);
  for (const char* h : {"## Verdicts", "## Best trade-off per suite", "### code-python", "## Accuracy vs latency", "## Scores",
                        "## Regressions", "## Speed", "## Kernels", "## Runs", "## Method"})
    CHECK(md.find(h) != std::string::npos);
  // best trade-off rows: budget 5 -> q4_0 (0.3), budget 7 -> q8_0 (0.39)
  CHECK(md.find("| \xE2\x89\xA4 5 ms/token | q4_0 \xC2\xB7 tiny-llama \xC2\xB7 cpu | 0.3 [0.222, 0.378] | 4 | " + std::to_string(r.db.q4) +
                " |") != std::string::npos);
  CHECK(md.find("| \xE2\x89\xA4 7 ms/token | q8_0 \xC2\xB7 tiny-llama \xC2\xB7 cpu | 0.39") != std::string::npos);
  // the verdict answers the budget question in words
  CHECK(md.find("under 5 ms/token: q4_0 \xC2\xB7 tiny-llama \xC2\xB7 cpu (0.3)") != std::string::npos);
  // scatter table: the bench-sourced latency says where it came from
  CHECK(md.find("bench run " + std::to_string(r.db.bench_bf16) + " (pp64+tg32)") != std::string::npos);
  // the regression
  CHECK(md.find("1 regression flagged") != std::string::npos);
  CHECK(md.find("| qa: exact_match | f32 \xC2\xB7 tiny-llama \xC2\xB7 cpu | r" + std::to_string(r.db.f32_mid)) != std::string::npos);
  // speed and kernels
  CHECK(md.find("| pp64 | 812.5 \xC2\xB1 10.5 |") != std::string::npos);
  CHECK(md.find("| BM_Matmul/f32/M:1 | 50 \xC2\xB5s |") != std::string::npos);
  CHECK(md.find("62.5%") != std::string::npos);
  // the label's markup is neutralised in table cells
  CHECK(md.find("nightly &lt;&amp;&gt; \"quoted\"") != std::string::npos);
  CHECK(md.find("<&>") == std::string::npos);
  CHECK(sb::text::md_cell("a|b\nc<d>") == "a\\|b c&lt;d&gt;");
  // every table row has as many cells as its header
  std::istringstream lines(md);
  std::string line, header;
  while (std::getline(lines, line)) {
    if (line.rfind("|", 0) != 0) {
      header.clear();
      continue;
    }
    auto cells = [](const std::string& l) {
      int n = 0;
      for (size_t k = 0; k < l.size(); ++k)
        if (l[k] == '|' && (k == 0 || l[k - 1] != '\\')) ++n;
      return n;
    };
    if (header.empty()) header = line;
    INFO(line);
    CHECK(cells(line) == cells(header));
  }
}

TEST_CASE("report cli: writes the HTML and Markdown files and a JSON summary", "[report][cli]") {
  const std::string dir = test::temp_dir("report-cli");
  const auto db = test::make_report_db(dir + "/r.db");
  auto r = test::run_cli({"report", "--db", db.path, "-o", dir + "/report.html", "--markdown", dir + "/report.md", "--budget-ms", "5,7",
                          "--log-latency", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["runs"] == 11);
  bool found = false;
  for (const auto& s : j["suites"])
    if (s["suite"] == "code-python") {
      found = true;
      REQUIRE(s["best_under_budget"].size() == 2);
      CHECK(s["best_under_budget"][0]["budget_ms"] == 5.0);
      CHECK(s["best_under_budget"][0]["run"] == db.q4);
      CHECK(s["best_under_budget"][1]["run"] == db.q8);
    }
  CHECK(found);
  CHECK(j["regressions"].size() == 1);
  const std::string html = test::read_text(dir + "/report.html");
  CHECK_NOTHROW(test::parse_xml(html));
  CHECK(html.find("data-x-log=\"1\"") != std::string::npos);
  CHECK(test::read_text(dir + "/report.md").find("## Best trade-off per suite") != std::string::npos);
  // Markdown on standard output, for CI comments
  auto md = test::run_cli({"report", "--db", db.path, "--markdown", "-", "--run", std::to_string(db.q4)});
  REQUIRE(md.exit_code == 0);
  CHECK(md.out.rfind("# sparkbench report", 0) == 0);
  CHECK(md.out.find("runs " + std::to_string(db.q4)) != std::string::npos);
}

TEST_CASE("report cli: bad input gives a one-line error naming the file", "[report][cli]") {
  const std::string dir = test::temp_dir("report-cli-errors");
  auto one_line = [](const test::RunResult& r) {
    return r.exit_code == 1 && r.err.rfind("error: ", 0) == 0 && std::count(r.err.begin(), r.err.end(), '\n') == 1;
  };
  auto missing = test::run_cli({"report", "--db", dir + "/nope.db", "-o", dir + "/x.html"});
  CHECK(one_line(missing));
  CHECK(missing.err.find(dir + "/nope.db") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir + "/nope.db"));  // not created by the attempt
  CHECK_FALSE(std::filesystem::exists(dir + "/x.html"));

  test::write_text(dir + "/junk.db", std::string(4096, 'j'));
  auto junk = test::run_cli({"report", "--db", dir + "/junk.db", "-o", dir + "/x.html"});
  CHECK(one_line(junk));
  CHECK(junk.err.find("junk.db") != std::string::npos);

  const auto db = test::make_report_db(dir + "/r.db");
  auto nothing = test::run_cli({"report", "--db", db.path});
  CHECK(one_line(nothing));
  CHECK(nothing.err.find("nothing to write") != std::string::npos);
  auto badrun = test::run_cli({"report", "--db", db.path, "-o", dir + "/x.html", "--run", "missing-label"});
  CHECK(one_line(badrun));
  CHECK(badrun.err.find(db.path) != std::string::npos);
  auto badbudget = test::run_cli({"report", "--db", db.path, "-o", dir + "/x.html", "--budget-ms", "fast"});
  CHECK(one_line(badbudget));
  auto baddir = test::run_cli({"report", "--db", db.path, "-o", dir + "/no/such/dir/x.html"});
  CHECK(one_line(baddir));
  CHECK(baddir.err.find("x.html") != std::string::npos);
}

TEST_CASE("report html: trend whiskers draw the stored interval, inside the metric's range", "[report][unit]") {
  // Two runs of one configuration whose acc intervals are asymmetric Wilson intervals near 1:
  // value +- 1.96 stderr would give [1, 1] for the first and an upper end above 1 for the second.
  const std::string path = test::temp_dir("report-trend-ci") + "/r.db";
  struct M {
    double v, se, lo, hi;
  };
  const std::vector<M> ms = {{1.0, 0.0, 0.9448, 1.0}, {0.97, 0.0210, 0.9159, 0.9901}};
  std::vector<int64_t> ids;
  {
    auto store = Store::open(path);
    int c = 0;
    for (const auto& m : ms) {
      RunInfo i;
      i.kind = "eval";
      i.git_commit = std::string(c++ ? "2222222" : "1111111") + "bbbb";
      i.tool_version = "test";
      i.host = "testhost";
      i.backend = "cpu";
      i.model_path = "/models/tiny.gguf";
      i.model_sha256 = std::string(64, 'a');
      i.model_arch = "llama";
      i.variant = "f32";
      i.config_json = R"({"kv_type":"f32","compute":"f32"})";
      const int64_t id = store->begin_run(i);
      MetricRow r;
      r.task = "stories";
      r.metric = "acc";
      r.value = m.v;
      r.stderr_ = m.se;
      r.ci_low = m.lo;
      r.ci_high = m.hi;
      r.n = 66;
      store->add_metric(id, r);
      store->finish_run(id, "complete");
      ids.push_back(id);
    }
  }
  auto store = Store::open(path);
  Options opt;
  opt.trends = {"stories:acc"};
  const auto html = render_html(load_report(*store, path, opt), {});
  auto doc = test::parse_xml(html);
  const auto* trend = by_id(*doc, "trend-stories-acc");
  REQUIRE(trend);
  const auto marks = trend->with_class("mark");
  REQUIRE(marks.size() == 2);
  for (const auto* m : marks) {
    const int64_t run = std::stoll(m->attr("data-run"));
    const M& want = ms[size_t(run == ids[0] ? 0 : 1)];
    REQUIRE(m->has("data-lo"));
    REQUIRE(m->has("data-hi"));
    CHECK(test::num_attr(*m, "data-lo") == want.lo);
    CHECK(test::num_attr(*m, "data-hi") == want.hi);
    CHECK(test::num_attr(*m, "data-hi") <= 1.0);
    CHECK(test::num_attr(*m, "data-lo") < test::num_attr(*m, "data-hi"));
  }
  // and a whisker is drawn for each point
  CHECK(trend->with_class("whisker").size() == 2);
}

TEST_CASE("report: per-group metric rows (acc[easy]) are listed in the HTML and Markdown score tables", "[report][unit]") {
  const std::string path = test::temp_dir("report-groups") + "/r.db";
  {
    auto store = Store::open(path);
    RunInfo i;
    i.kind = "eval";
    i.git_commit = "1111111bbbb";
    i.tool_version = "test";
    i.host = "testhost";
    i.backend = "cpu";
    i.model_path = "/models/tiny.gguf";
    i.model_sha256 = std::string(64, 'a');
    i.model_arch = "llama";
    i.variant = "f32";
    i.config_json = R"({"kv_type":"f32","compute":"f32"})";
    const int64_t id = store->begin_run(i);
    for (const auto& [name, v] :
         std::vector<std::pair<std::string, double>>{{"acc", 0.5}, {"acc[easy]", 0.875}, {"acc[knowledge]", 0.125}}) {
      MetricRow r;
      r.task = "stories";
      r.metric = name;
      r.value = v;
      r.stderr_ = 0.05;
      r.ci_low = v - 0.1;
      r.ci_high = v + 0.1;
      r.n = 40;
      store->add_metric(id, r);
    }
    store->finish_run(id, "complete");
  }
  auto store = Store::open(path);
  const auto data = load_report(*store, path, {});
  const std::string html = render_html(data, {});
  const std::string md = render_markdown(data, {});
  for (const char* m : {"acc[easy]", "acc[knowledge]"}) {
    INFO(m);
    CHECK(html.find(std::string(">") + m + "<") != std::string::npos);
    CHECK(md.find(std::string("| ") + m + " |") != std::string::npos);
  }
  CHECK(md.find("0.875") != std::string::npos);
  // the primary metric stays the overall acc, not a group's
  CHECK(data.suites.at(0).metric == "acc");
}
