// svg_chart: a small SVG plotting layer for the HTML report (reports/report_html.h).
//
// A Chart has two axes (linear, logarithmic or categorical), any number of series drawn as
// points, lines with points, or horizontal bars, optional whiskers (an interval on the value
// axis), text labels beside points (placed to avoid each other), overlay paths (e.g. a Pareto
// frontier), flagged points (e.g. regressions) and a legend. render() returns one <svg> element
// that is well-formed XML (text escaped, invalid UTF-8 replaced), uses no scripts, fonts, images
// or external references, and carries its numbers as data attributes so tests can check that
// what is drawn is what was given:
//   <g class="plot" data-x-min/max data-x-log data-px-left/right data-y-min/max data-y-log
//      data-py-bottom/top>  the scale of each axis (domain and pixel range);
//   class="mark" elements (one per point or bar) with data-x, data-y (data values), data-px,
//      data-py (the pixel centre or bar end), data-lo/data-hi (interval) and the Point's own
//      data-* attributes.
// Colors come from the Okabe-Ito palette (safe for the common color-vision deficiencies) and
// every series also has its own marker shape, so nothing depends on color alone.
// Not thread-hostile: a Chart is a value; rendering has no global state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::svg {

// Text in SVG/HTML is escaped with text::xml_escape (common/text.h).

// Compact decimal for labels and attributes: `sig` significant digits, no trailing zeros,
// exponent form only for very large or small magnitudes ("0.25", "12.5", "1.5e-06").
std::string fmt(double v, int sig = 4);
// Full precision (round-trips a double), for data attributes.
std::string fmt_exact(double v);

// The Okabe-Ito palette, reordered so that the first colors have the most contrast on white.
// style i uses color(i) and shape(i); these cycle (8 colors, 7 shapes: 56 distinct pairs).
const char* color(int style);
enum class Shape { Circle, Square, Triangle, Diamond, TriangleDown, Plus, Star };
Shape shape(int style);
// A marker of `style` centred at (x, y) with radius r, as one SVG element (with `extra`
// attributes appended inside the tag, which must already be escaped and must not repeat fill,
// stroke or stroke-width), outlined with `stroke` at `stroke_width`.
std::string marker(int style, double x, double y, double r, const std::string& extra = "", const std::string& stroke = "#222222",
                   double stroke_width = 0.8);

// "Nice" ticks (steps of 1, 2, 2.5 or 5 times a power of ten) covering [lo, hi] with about
// `target` ticks; the first tick is <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// Ticks for a log axis over [lo, hi] (lo > 0), all inside it: 1-2-5 per decade when that gives
// 4 to 10 ticks, every digit (1..9) over about a decade, powers of ten (every n-th decade) over
// many decades, and nice linear ticks when the range spans less than a factor of 3.
std::vector<double> log_ticks(double lo, double hi);

// Maps a domain [d0, d1] to pixels [r0, r1], linearly or in log10 space.
struct Scale {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  bool log = false;
  double operator()(double v) const;
  double invert(double px) const;
};

struct Axis {
  std::string title;                    // with units, e.g. "decode latency (ms/token)"
  bool log = false;                     // log10 scale (values <= 0 are not drawable and are skipped)
  std::optional<double> min, max;       // fixed domain ends (otherwise from the data, padded)
  bool include_zero = false;            // linear: extend the domain to 0
  std::vector<std::string> categories;  // non-empty: categorical axis; values are indexes
};

struct Point {
  double x = 0, y = 0;                                    // categorical axes take the category index
  std::optional<double> lo, hi;                           // interval on the value axis (y; x for horizontal bars)
  std::string label;                                      // drawn beside the mark ("" = none)
  std::string tooltip;                                    // <title> of the mark (hover text)
  std::vector<std::pair<std::string, std::string>> data;  // extra data-* attributes (name without "data-")
  bool emphasis = false;                                  // drawn with a heavy outline (e.g. on the Pareto frontier)
  bool flagged = false;                                   // drawn with the flag ring (e.g. a regression)
};

enum class SeriesKind { Points, LinesPoints, HBars };

struct Series {
  std::string name;  // legend text
  int style = 0;     // color(style), shape(style)
  SeriesKind kind = SeriesKind::Points;
  std::vector<Point> points;
};

// A polyline through data coordinates drawn under the marks, with a legend entry.
struct Path {
  std::string name;
  std::vector<std::pair<double, double>> points;
  bool step = false;  // draw as a staircase (horizontal then vertical), as a Pareto frontier is
  std::string css_class = "frontier";
  std::string stroke = "#444444";
  std::string dash = "6 3";  // stroke-dasharray ("" = solid)
};

class Chart {
 public:
  Chart(std::string id, std::string title, int width = 880, int height = 420)
      : id_(std::move(id)), title_(std::move(title)), width_(width), height_(height) {}

  Axis x, y;
  std::vector<Series> series;
  std::vector<Path> paths;
  std::string description;      // <desc> (read by screen readers)
  std::string flag_legend;      // legend text for flagged points ("" = no entry)
  std::string emphasis_legend;  // legend text for emphasised points ("" = no entry)
  bool legend = true;

  const std::string& id() const { return id_; }
  // One <svg> element (see the header comment for its attributes).
  std::string render() const;

 private:
  std::string id_, title_;
  int width_, height_;
};

}  // namespace sb::svg
