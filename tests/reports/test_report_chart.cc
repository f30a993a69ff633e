// The SVG plotting layer of the report (reports/svg_chart.h): escaping, number formatting,
// ticks, scales, and that a rendered chart is well-formed and puts each mark where its value is.
#include <catch2/catch.hpp>

#include "common/text.h"

#include <cmath>
#include <set>

#include "reports/svg_chart.h"
#include "tests/reports/report_test_util.h"

using namespace sb;
using sb::test::parse_xml;

TEST_CASE("svg escape: markup and control characters and invalid UTF-8", "[report][unit]") {
  CHECK(text::xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(text::xml_escape(std::string("x\x01y\x1Fz\tq\n", 8)) == "xyz\tq\n");
  CHECK(text::xml_escape("\xC2\xB7 \xE2\x89\xA4") == "\xC2\xB7 \xE2\x89\xA4");  // valid UTF-8 kept
  CHECK(text::xml_escape("a\xFF"
                         "b") ==
        "a\xEF\xBF\xBD"
        "b");                                                         // stray byte -> U+FFFD
  CHECK(text::xml_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  CHECK(text::xml_escape("\xE2\x89") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated sequence
  // whatever goes in, the result parses as XML text
  std::string junk;
  for (int i = 0; i < 256; ++i) junk += char(i);
  auto doc = parse_xml("<t a=\"" + text::xml_escape(junk) + "\">" + text::xml_escape(junk) + "</t>");
  CHECK(doc->attr("a").find('<') != std::string::npos);
}

TEST_CASE("svg fmt: compact numbers", "[report][unit]") {
  CHECK(svg::fmt(0.25) == "0.25");
  CHECK(svg::fmt(12.5) == "12.5");
  CHECK(svg::fmt(0.123456) == "0.1235");
  CHECK(svg::fmt(1234.5678) == "1235");
  CHECK(svg::fmt(0) == "0");
  CHECK(svg::fmt(-0.5) == "-0.5");
  CHECK(svg::fmt(1.5e-6) == "1.5e-06");
  CHECK(svg::fmt(std::nan("")) == "NaN");
  CHECK(std::stod(svg::fmt_exact(0.1 + 0.2)) == 0.1 + 0.2);
}

TEST_CASE("svg ticks: nice linear ticks cover the range with round steps", "[report][unit]") {
  auto t = svg::nice_ticks(0.013, 0.87, 6);
  REQUIRE(t.size() >= 3);
  CHECK(t.front() <= 0.013);
  CHECK(t.back() >= 0.87);
  const double step = t[1] - t[0];
  for (size_t i = 1; i < t.size(); ++i) CHECK(t[i] - t[i - 1] == Approx(step));
  const double m = step / std::pow(10.0, std::floor(std::log10(step)));
  CHECK((std::fabs(m - 1) < 1e-9 || std::fabs(m - 2) < 1e-9 || std::fabs(m - 2.5) < 1e-9 || std::fabs(m - 5) < 1e-9));
  CHECK(svg::nice_ticks(3, 3).size() >= 2);  // a degenerate range still gets an axis
  auto neg = svg::nice_ticks(-7, 12, 5);
  CHECK(std::find(neg.begin(), neg.end(), 0.0) != neg.end());
}

TEST_CASE("svg ticks: log ticks are 1-2-5 per decade inside the range", "[report][unit]") {
  auto t = svg::log_ticks(0.8, 120);
  const std::vector<double> want{1, 2, 5, 10, 20, 50, 100};
  REQUIRE(t.size() == want.size());
  for (size_t i = 0; i < t.size(); ++i) CHECK(t[i] == Approx(want[i]));
  auto wide = svg::log_ticks(1e-3, 1e9);
  CHECK(wide.size() <= 10);
  CHECK(wide.size() >= 4);
  auto decade = svg::log_ticks(2.5, 14.9);  // about one decade: every digit
  const std::vector<double> digits{3, 4, 5, 6, 7, 8, 9, 10};
  REQUIRE(decade.size() == digits.size());
  for (size_t i = 0; i < digits.size(); ++i) CHECK(decade[i] == Approx(digits[i]));
  auto narrow = svg::log_ticks(4.2, 9.7);  // less than a factor 3: linear ticks inside
  REQUIRE(narrow.size() >= 2);
  for (double v : narrow) CHECK((v >= 4.2 && v <= 9.7));
}

TEST_CASE("svg scale: linear and log mapping invert each other", "[report][unit]") {
  svg::Scale lin{0, 10, 100, 300, false};
  CHECK(lin(5) == Approx(200));
  CHECK(lin.invert(250) == Approx(7.5));
  svg::Scale lg{1, 100, 0, 200, true};
  CHECK(lg(10) == Approx(100));
  CHECK(lg.invert(150) == Approx(std::pow(10.0, 1.5)));
}

TEST_CASE("svg markers: every style gives a distinct color-shape pair for 8 series", "[report][unit]") {
  std::set<std::pair<std::string, int>> seen;
  for (int s = 0; s < 8; ++s) seen.insert({svg::color(s), int(svg::shape(s))});
  CHECK(seen.size() == 8);
  CHECK(std::string(svg::color(0)) == "#0072B2");  // Okabe-Ito blue first
  for (int s = 0; s < 7; ++s) {
    auto m = parse_xml(svg::marker(s, 10, 10, 5, "class=\"mark\""));
    CHECK(m->attr("class") == "mark");
    CHECK(m->attr("fill") == svg::color(s));
  }
}

namespace {

svg::Chart sample_scatter(bool log) {
  svg::Chart ch("demo", "Demo <chart> & co", 880, 420);
  ch.x.title = "decode latency (ms/token)";
  ch.x.log = log;
  ch.y.title = "pass@1 (fraction)";
  ch.emphasis_legend = "Pareto-optimal";
  const double xs[] = {4, 6, 10, 5, 120};
  const double ys[] = {0.30, 0.39, 0.40, 0.20, 0.45};
  for (int i = 0; i < 5; ++i) {
    svg::Series s;
    s.name = "config " + std::to_string(i) + " <x>";
    s.style = i;
    svg::Point p;
    p.x = xs[i];
    p.y = ys[i];
    p.lo = ys[i] - 0.05;
    p.hi = ys[i] + 0.05;
    p.label = s.name;
    p.emphasis = i != 3;
    p.data = {{"run", std::to_string(10 + i)}};
    s.points.push_back(p);
    ch.series.push_back(s);
  }
  svg::Path fr;
  fr.name = "frontier";
  fr.step = true;
  fr.points = {{4, 0.30}, {6, 0.39}, {10, 0.40}, {120, 0.45}};
  ch.paths.push_back(fr);
  return ch;
}

}  // namespace

TEST_CASE("svg chart: a scatter is well-formed and titled and each mark sits at its value", "[report][unit]") {
  for (bool log : {false, true}) {
    const std::string s = sample_scatter(log).render();
    auto svgnode = parse_xml(s);
    REQUIRE(svgnode->name == "svg");
    CHECK(svgnode->elements("script").empty());
    CHECK(s.find("Demo &lt;chart&gt; &amp; co") != std::string::npos);
    auto titles = svgnode->with_class("axis-title");
    REQUIRE(titles.size() == 2);
    CHECK(titles[0]->text_content() == "decode latency (ms/token)");
    CHECK(titles[1]->text_content() == "pass@1 (fraction)");
    auto plots = svgnode->with_class("plot");
    REQUIRE(plots.size() == 1);
    CHECK(plots[0]->attr("data-x-log") == (log ? "1" : "0"));
    auto marks = svgnode->with_class("mark");
    REQUIRE(marks.size() == 5);
    std::set<std::string> runs;
    for (const auto* m : marks) {
      const double x = test::num_attr(*m, "data-x"), y = test::num_attr(*m, "data-y");
      CHECK(test::invert_axis(*plots[0], 'x', test::num_attr(*m, "data-px")) == Approx(x).epsilon(1e-3));
      CHECK(test::invert_axis(*plots[0], 'y', test::num_attr(*m, "data-py")) == Approx(y).epsilon(1e-3));
      runs.insert(m->attr("data-run"));
    }
    CHECK(runs.size() == 5);
    CHECK(svgnode->with_class("whisker").size() == 5);
    CHECK(svgnode->with_class("outline").size() == 4);   // emphasised points
    CHECK(svgnode->with_class("frontier").size() == 2);  // the path and its legend swatch
    CHECK(svgnode->with_class("point-label").size() == 5);
    CHECK(svgnode->with_class("legend-entry").size() == 5 + 1 + 1);
    // Every tick label is inside the declared domain (no ticks outside the axes).
    const double x0 = test::num_attr(*plots[0], "data-x-min"), x1 = test::num_attr(*plots[0], "data-x-max");
    CHECK(x0 <= 4);
    CHECK(x1 >= 120);
    if (log) CHECK(x0 > 0);
  }
}

TEST_CASE("svg chart: point labels do not overlap when there is room", "[report][unit]") {
  svg::Chart ch("crowd", "crowded");
  ch.x.title = "x";
  ch.y.title = "y";
  svg::Series s;
  s.name = "s";
  for (int i = 0; i < 6; ++i) {
    svg::Point p;
    p.x = 1;  // all at one place: only label placement can keep them apart
    p.y = 1;
    p.label = "label " + std::to_string(i);
    s.points.push_back(p);
  }
  svg::Point far;
  far.x = 5;
  far.y = 5;
  s.points.push_back(far);
  ch.series.push_back(s);
  auto doc = parse_xml(ch.render());
  auto labels = doc->with_class("point-label");
  REQUIRE(labels.size() == 6);
  std::set<std::pair<std::string, std::string>> pos;
  for (const auto* l : labels) pos.insert({l->attr("x"), l->attr("y")});
  CHECK(pos.size() == 6);  // no two labels at one spot
}

TEST_CASE("svg chart: horizontal bars start at zero and end at their value with whiskers", "[report][unit]") {
  svg::Chart ch("bars", "bars", 880, 250);
  ch.x.title = "acc (fraction)";
  ch.y.title = "configuration";
  ch.y.categories = {"alpha", "beta & gamma", "a very long configuration name that will be shortened somewhere along the way"};
  const double v[] = {0.5, 0.25, 0.75};
  for (int i = 0; i < 3; ++i) {
    svg::Series s;
    s.name = ch.y.categories[i];
    s.style = i;
    s.kind = svg::SeriesKind::HBars;
    svg::Point p;
    p.x = v[i];
    p.y = i;
    p.lo = v[i] - 0.1;
    p.hi = v[i] + 0.1;
    p.label = svg::fmt(v[i]);
    s.points.push_back(p);
    ch.series.push_back(s);
  }
  auto doc = parse_xml(ch.render());
  auto plot = doc->with_class("plot");
  REQUIRE(plot.size() == 1);
  CHECK(test::num_attr(*plot[0], "data-x-min") == 0);  // bars include zero
  auto marks = doc->with_class("mark");
  REQUIRE(marks.size() == 3);
  for (int i = 0; i < 3; ++i) {
    const auto& m = *marks[i];
    CHECK(m.name == "rect");
    CHECK(test::num_attr(m, "data-x") == v[i]);
    CHECK(test::invert_axis(*plot[0], 'x', test::num_attr(m, "data-px")) == Approx(v[i]).epsilon(1e-3));
    CHECK(test::invert_axis(*plot[0], 'x', test::num_attr(m, "x")) == Approx(0).margin(1e-3));
    CHECK(test::num_attr(m, "x") + test::num_attr(m, "width") == Approx(test::num_attr(m, "data-px")).margin(0.02));
  }
  // bars are ordered top to bottom like the categories
  CHECK(test::num_attr(*marks[0], "data-py") < test::num_attr(*marks[1], "data-py"));
  auto ticks = doc->with_class("tick");
  bool shortened = false;
  for (const auto* t : ticks) shortened = shortened || t->text_content().find("\xE2\x80\xA6") != std::string::npos;
  CHECK(shortened);
  CHECK(doc->with_class("whisker").size() == 3);
}

TEST_CASE("svg chart: categorical lines keep their order and flag points", "[report][unit]") {
  svg::Chart ch("trend", "trend");
  for (int i = 0; i < 30; ++i) {
    std::string tick = "r";  // built in steps: GCC 12 warns (-Wrestrict, a false positive) on "r" + to_string(i) + ...
    tick += std::to_string(i);
    tick += " \xC2\xB7 abcdef1";
    ch.x.categories.push_back(tick);
  }
  ch.x.title = "run";
  ch.y.title = "exact_match";
  ch.flag_legend = "regression";
  svg::Series s;
  s.name = "f32";
  s.kind = svg::SeriesKind::LinesPoints;
  for (int i = 0; i < 30; ++i) {
    svg::Point p;
    p.x = i;
    p.y = 0.5 + 0.01 * (i % 3);
    p.flagged = i == 17;
    s.points.push_back(p);
  }
  ch.series.push_back(s);
  const std::string out = ch.render();
  auto doc = parse_xml(out);
  CHECK(doc->with_class("flag").size() == 1);
  CHECK(doc->with_class("line").size() == 1);
  CHECK(out.find("rotate(-40") != std::string::npos);  // 30 long labels do not fit flat
  auto marks = doc->with_class("mark");
  REQUIRE(marks.size() == 30);
  for (size_t i = 1; i < marks.size(); ++i) CHECK(test::num_attr(*marks[i], "data-px") > test::num_attr(*marks[i - 1], "data-px"));
}
