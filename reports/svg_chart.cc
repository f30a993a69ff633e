// SVG plotting for the HTML report: see reports/svg_chart.h.
#include "reports/svg_chart.h"

#include "common/text.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numbers>

namespace sb::svg {

namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length (0 if invalid) and the code point.
using text::utf8_next;

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    uint32_t cp;
    size_t k = utf8_next(s, i, &cp);
    i += k ? k : 1;
  }
  return n;
}

// At most `max` code points, the last replaced by an ellipsis when cut.
std::string truncate(std::string_view s, size_t max) {
  if (code_points(s) <= max) return std::string(s);
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size() && n + 1 < max; ++n) {
    uint32_t cp;
    size_t k = utf8_next(s, i, &cp);
    if (!k) k = 1;
    out.append(s.substr(i, k));
    i += k;
  }
  return out + "\xE2\x80\xA6";
}

// Estimated rendered width of text at `px` font size (sans-serif averages about 0.58 em).
double text_width(std::string_view s, double px = 11) { return double(code_points(s)) * px * 0.6; }

std::string num(double v) {  // pixel coordinates
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

struct Rect {
  double x0, y0, x1, y1;
  double overlap(const Rect& o) const {
    const double w = std::min(x1, o.x1) - std::max(x0, o.x0);
    const double h = std::min(y1, o.y1) - std::max(y0, o.y0);
    return w > 0 && h > 0 ? w * h : 0;
  }
};

constexpr const char* kFont = "font-family=\"DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif\"";

}  // namespace

std::string fmt(double v, int sig) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return "0";
  char buf[64];
  const double a = std::fabs(v);
  if (a >= 1e-4 && a < 1e9) {
    const int mag = int(std::floor(std::log10(a)));
    const int dec = std::max(0, sig - 1 - mag);
    std::snprintf(buf, sizeof buf, "%.*f", dec, v);
    std::string s = buf;
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    if (s == "-0") s = "0";
    return s;
  }
  std::snprintf(buf, sizeof buf, "%.*g", sig, v);
  return buf;
}

std::string fmt_exact(double v) {
  if (!std::isfinite(v)) return fmt(v);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

const char* color(int style) {
  static const char* kColors[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"};
  return kColors[((style % 8) + 8) % 8];
}

Shape shape(int style) {
  static const Shape kShapes[] = {Shape::Circle,       Shape::Square, Shape::Triangle, Shape::Diamond,
                                  Shape::TriangleDown, Shape::Plus,   Shape::Star};
  return kShapes[((style % 7) + 7) % 7];
}

std::string marker(int style, double x, double y, double r, const std::string& extra, const std::string& stroke, double stroke_width) {
  const std::string paint = std::string("fill=\"") + color(style) + "\"";
  std::string body;
  auto poly = [&](const std::vector<std::pair<double, double>>& pts) {
    std::string d;
    for (size_t i = 0; i < pts.size(); ++i) d += (i ? " L" : "M") + num(x + pts[i].first) + "," + num(y + pts[i].second);
    return "<path d=\"" + d + " Z\" " + paint;
  };
  switch (shape(style)) {
    case Shape::Circle:
      body = "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\" " + paint;
      break;
    case Shape::Square: {
      const double h = r * 0.88;
      body = "<rect x=\"" + num(x - h) + "\" y=\"" + num(y - h) + "\" width=\"" + num(2 * h) + "\" height=\"" + num(2 * h) + "\" " + paint;
      break;
    }
    case Shape::Triangle:
      body = poly({{0, -1.2 * r}, {1.1 * r, 0.8 * r}, {-1.1 * r, 0.8 * r}});
      break;
    case Shape::TriangleDown:
      body = poly({{0, 1.2 * r}, {1.1 * r, -0.8 * r}, {-1.1 * r, -0.8 * r}});
      break;
    case Shape::Diamond:
      body = poly({{0, -1.25 * r}, {1.05 * r, 0}, {0, 1.25 * r}, {-1.05 * r, 0}});
      break;
    case Shape::Plus: {
      const double a = 0.38 * r, b = 1.1 * r;
      body = poly({{-a, -b}, {a, -b}, {a, -a}, {b, -a}, {b, a}, {a, a}, {a, b}, {-a, b}, {-a, a}, {-b, a}, {-b, -a}, {-a, -a}});
      break;
    }
    case Shape::Star: {
      std::vector<std::pair<double, double>> pts;
      for (int i = 0; i < 10; ++i) {
        const double ang = -std::numbers::pi / 2 + i * std::numbers::pi / 5;
        const double rr = (i % 2 ? 0.5 : 1.3) * r;
        pts.emplace_back(rr * std::cos(ang), rr * std::sin(ang));
      }
      body = poly(pts);
      break;
    }
  }
  return body + " stroke=\"" + text::xml_escape(stroke) + "\" stroke-width=\"" + num(stroke_width) + "\"" +
         (extra.empty() ? "" : " " + extra) + "/>";
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= d, hi += d;
  }
  target = std::max(2, target);
  const double raw = (hi - lo) / double(target - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw * 0.999) {
      step = m * mag;
      break;
    }
  const double k0 = std::floor(lo / step + 1e-9), k1 = std::ceil(hi / step - 1e-9);
  std::vector<double> t;
  for (double k = k0; k <= k1 && t.size() < 60; k += 1) {
    double v = k * step;
    if (std::fabs(v) < step * 1e-9) v = 0;
    t.push_back(v);
  }
  return t;
}

std::vector<double> log_ticks(double lo, double hi) {
  if (!(lo > 0) || !(hi > 0) || !std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi / lo < 3) {
    std::vector<double> t;
    for (double v : nice_ticks(lo, hi, 5))
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) && v > 0) t.push_back(v);
    if (t.size() < 2) t = {lo, hi};
    return t;
  }
  const int e0 = int(std::floor(std::log10(lo))), e1 = int(std::ceil(std::log10(hi)));
  auto make = [&](const std::vector<double>& mults, int every) {
    std::vector<double> t;
    for (int e = e0; e <= e1; ++e) {
      if ((e - e0) % every) continue;
      for (double m : mults) {
        const double v = m * std::pow(10.0, e);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
      }
    }
    return t;
  };
  // 1-2-5 per decade when that gives 4..10 ticks; every digit when the range is short (under
  // about a decade); only powers of ten (every n-th decade) when it is long.
  auto t125 = make({1, 2, 5}, 1);
  if (t125.size() >= 4 && t125.size() <= 10) return t125;
  if (t125.size() < 4) {
    auto all = make({1, 2, 3, 4, 5, 6, 7, 8, 9}, 1);
    return all.size() <= 12 ? all : t125;
  }
  const int decades = e1 - e0;
  return make({1}, std::max(1, (decades + 7) / 8));
}

double Scale::operator()(double v) const {
  if (log) {
    const double a = std::log10(d0), b = std::log10(d1);
    return r0 + (std::log10(v) - a) / (b - a) * (r1 - r0);
  }
  return r0 + (v - d0) / (d1 - d0) * (r1 - r0);
}

double Scale::invert(double px) const {
  const double f = (px - r0) / (r1 - r0);
  if (log) return std::pow(10.0, std::log10(d0) + f * (std::log10(d1) - std::log10(d0)));
  return d0 + f * (d1 - d0);
}

namespace {

struct AxisLayout {
  Scale scale;
  std::vector<double> ticks;
  bool categorical = false;
};

// Domain and ticks of a value axis from the values it must show.
AxisLayout layout_axis(const Axis& a, std::vector<double> vals, double r0, double r1) {
  AxisLayout L;
  L.scale.r0 = r0, L.scale.r1 = r1;
  if (!a.categories.empty()) {
    L.categorical = true;
    L.scale.d0 = -0.5, L.scale.d1 = double(a.categories.size()) - 0.5;
    for (size_t i = 0; i < a.categories.size(); ++i) L.ticks.push_back(double(i));
    return L;
  }
  vals.erase(std::remove_if(vals.begin(), vals.end(), [&](double v) { return !std::isfinite(v) || (a.log && v <= 0); }), vals.end());
  if (a.log) {
    L.scale.log = true;
    double lo = vals.empty() ? 1 : *std::min_element(vals.begin(), vals.end());
    double hi = vals.empty() ? 10 : *std::max_element(vals.begin(), vals.end());
    if (a.min && *a.min > 0) lo = *a.min;
    if (a.max && *a.max > 0) hi = *a.max;
    if (hi <= lo) hi = lo * 2, lo = lo / 2;
    if (!a.min) lo /= 1.25;
    if (!a.max) hi *= 1.25;
    L.scale.d0 = lo, L.scale.d1 = hi;
    L.ticks = log_ticks(lo, hi);
    return L;
  }
  double lo = vals.empty() ? 0 : *std::min_element(vals.begin(), vals.end());
  double hi = vals.empty() ? 1 : *std::max_element(vals.begin(), vals.end());
  if (a.include_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (a.min) lo = *a.min;
  if (a.max) hi = *a.max;
  if (hi == lo) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    if (!a.min) lo -= d;
    if (!a.max) hi += d;
  }
  const double pad = (hi - lo) * 0.06;
  if (!a.min && !(a.include_zero && lo == 0)) lo -= pad;
  if (!a.max && !(a.include_zero && hi == 0)) hi += pad;
  L.ticks = nice_ticks(lo, hi, 6);
  if (!a.min && !L.ticks.empty()) lo = L.ticks.front();
  if (!a.max && !L.ticks.empty()) hi = L.ticks.back();
  std::vector<double> in;
  for (double t : L.ticks)
    if (t >= lo - (hi - lo) * 1e-9 && t <= hi + (hi - lo) * 1e-9) in.push_back(t);
  L.ticks = in;
  L.scale.d0 = lo, L.scale.d1 = hi;
  return L;
}

std::string tick_label(double v, const std::vector<double>& ticks, bool log) {
  if (log) return fmt(v, 3);
  double step = 0;
  for (size_t i = 1; i < ticks.size(); ++i) step = std::max(step, std::fabs(ticks[i] - ticks[i - 1]));
  if (step <= 0) return fmt(v, 4);
  // enough digits to tell neighbouring ticks apart
  const int dec = std::max(
      0, int(std::ceil(-std::log10(step) - 1e-9)) + (std::fabs(step / std::pow(10.0, std::floor(std::log10(step))) - 2.5) < 1e-6 ? 1 : 0));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::min(dec, 12), v);
  std::string s = buf;
  if (s == "-0" || s.find_first_not_of("-0.") == std::string::npos) s = "0";
  return s;
}

struct LegendEntry {
  std::string name;
  std::string swatch;  // SVG drawn in a 24x14 box at the origin, then translated
};

constexpr size_t kLegendChars = 34;
constexpr size_t kCatChars = 40;

bool drawable(double v, const Axis& a) { return std::isfinite(v) && (!a.log || v > 0); }

// The legend's entries (series, overlay paths, emphasis and flag keys): drawn last, but they
// decide the right margin first.
std::vector<LegendEntry> make_legend_entries(const Chart& c) {
  const auto& series = c.series;
  const auto& paths = c.paths;
  const auto& emphasis_legend = c.emphasis_legend;
  const auto& flag_legend = c.flag_legend;
  const bool legend = c.legend;
  std::vector<LegendEntry> legend_entries;
  if (legend) {
    for (const auto& s : series) {
      std::string sw;
      if (s.kind == SeriesKind::LinesPoints)
        sw = std::string("<line x1=\"0\" y1=\"7\" x2=\"24\" y2=\"7\" stroke=\"") + color(s.style) + "\" stroke-width=\"2\"/>";
      if (s.kind == SeriesKind::HBars)
        sw = std::string("<rect x=\"2\" y=\"1\" width=\"20\" height=\"12\" fill=\"") + color(s.style) +
             "\" stroke=\"#222222\" stroke-width=\"0.8\"/>" + marker(s.style, 12, 7, 3.5);
      else
        sw += marker(s.style, 12, 7, 5);
      legend_entries.push_back({s.name, sw});
    }
    for (const auto& p : paths)
      legend_entries.push_back({p.name, "<line x1=\"0\" y1=\"7\" x2=\"24\" y2=\"7\" class=\"" + text::xml_escape(p.css_class) +
                                            "\" stroke=\"" + text::xml_escape(p.stroke) + "\" stroke-width=\"2\"" +
                                            (p.dash.empty() ? "" : " stroke-dasharray=\"" + text::xml_escape(p.dash) + "\"") + "/>"});
    if (!emphasis_legend.empty())
      legend_entries.push_back(
          {emphasis_legend, "<circle cx=\"12\" cy=\"7\" r=\"5\" fill=\"#BBBBBB\" stroke=\"#000000\" stroke-width=\"2.2\"/>"});
    if (!flag_legend.empty())
      legend_entries.push_back({flag_legend,
                                "<circle cx=\"12\" cy=\"7\" r=\"6\" fill=\"none\" stroke=\"#000000\" stroke-width=\"2\" "
                                "stroke-dasharray=\"3 2\"/>"});
  }
  return legend_entries;
}

// Where everything goes: margins, the plot box and both axes' scales and ticks.
struct Frame {
  double height = 0;
  double px_left = 0, px_right = 0, px_top = 0, px_bottom = 0;
  bool rotate_x = false;
  size_t x_every = 1;
  AxisLayout XL, YL;
};

Frame layout_frame(const Chart& c, const std::vector<LegendEntry>& legend_entries, int width_, int height_, bool hbars) {
  const Axis& x = c.x;
  const Axis& y = c.y;
  const auto& series = c.series;
  const auto& paths = c.paths;
  double legend_w = 0;
  for (const auto& e : legend_entries) legend_w = std::max(legend_w, 34 + text_width(truncate(e.name, kLegendChars)));
  const double right = legend_entries.empty() ? 24 : std::min(300.0, legend_w + 24);

  // Left margin: tick labels (or category names) and the rotated axis title.
  double left = 84;
  if (!y.categories.empty()) {
    double w = 0;
    for (const auto& c : y.categories) w = std::max(w, text_width(truncate(c, kCatChars)));
    left = std::min(320.0, std::max(84.0, w + 40));
  }
  // Bottom margin: rotated category labels need room.
  const double top = 44;
  double bottom = 60;
  bool rotate_x = false;
  size_t x_every = 1;
  double height = double(height_);
  const double legend_h = 18.0 * double(legend_entries.size()) + top + 20;
  height = std::max(height, legend_h);
  const double plot_w = double(width_) - left - right;
  if (!x.categories.empty()) {
    double w = 0;
    for (const auto& c : x.categories) w = std::max(w, text_width(truncate(c, 24)));
    const double band = plot_w / double(x.categories.size());
    if (w + 6 > band) {
      rotate_x = true;
      x_every = std::max<size_t>(1, size_t(std::ceil(16.0 / band)));
      bottom = std::min(150.0, 44 + w * 0.7);
      height += bottom - 60;
    }
  }
  const double px_left = left, px_right = double(width_) - right, px_top = top, px_bottom = height - bottom;

  // Scales from the data.
  std::vector<double> xs, ys;
  for (const auto& s : series)
    for (const auto& p : s.points) {
      xs.push_back(p.x), ys.push_back(p.y);
      auto& v = s.kind == SeriesKind::HBars ? xs : ys;
      if (p.lo) v.push_back(*p.lo);
      if (p.hi) v.push_back(*p.hi);
    }
  for (const auto& pa : paths)
    for (const auto& [a, b] : pa.points) xs.push_back(a), ys.push_back(b);
  Axis xa = x, ya = y;
  if (hbars && x.categories.empty() && !x.log) xa.include_zero = true;
  const AxisLayout XL = layout_axis(xa, xs, px_left, px_right);
  const AxisLayout YL = layout_axis(ya, ys, ya.categories.empty() ? px_bottom : px_top, ya.categories.empty() ? px_top : px_bottom);

  return {height, px_left, px_right, px_top, px_bottom, rotate_x, x_every, XL, YL};
}

// Grid, ticks, tick labels and axis titles.
void draw_axes(std::string& o, const Chart& c, const Frame& f) {
  const Axis& x = c.x;
  const Axis& y = c.y;
  const AxisLayout& XL = f.XL;
  const AxisLayout& YL = f.YL;
  const Scale& X = XL.scale;
  const Scale& Y = YL.scale;
  const double px_left = f.px_left, px_right = f.px_right, px_top = f.px_top, px_bottom = f.px_bottom, height = f.height;
  const bool rotate_x = f.rotate_x;
  const size_t x_every = f.x_every;
  o += "<g class=\"x-axis\">\n";
  for (size_t i = 0; i < XL.ticks.size(); ++i) {
    const double t = XL.ticks[i], px = X(t);
    if (!XL.categorical)
      o += "<line x1=\"" + num(px) + "\" y1=\"" + num(px_top) + "\" x2=\"" + num(px) + "\" y2=\"" + num(px_bottom) +
           "\" stroke=\"#e4e4e4\"/>\n";
    o += "<line x1=\"" + num(px) + "\" y1=\"" + num(px_bottom) + "\" x2=\"" + num(px) + "\" y2=\"" + num(px_bottom + 5) +
         "\" stroke=\"#555555\"/>\n";
    if (XL.categorical && i % x_every) continue;
    const std::string label = XL.categorical ? truncate(x.categories[i], 24) : tick_label(t, XL.ticks, X.log);
    if (rotate_x)
      o += "<text class=\"tick\" x=\"" + num(px) + "\" y=\"" + num(px_bottom + 12) + "\" text-anchor=\"end\" transform=\"rotate(-40 " +
           num(px) + " " + num(px_bottom + 12) + ")\" fill=\"#333333\">" + text::xml_escape(label) + "</text>\n";
    else
      o += "<text class=\"tick\" x=\"" + num(px) + "\" y=\"" + num(px_bottom + 18) + "\" text-anchor=\"middle\" fill=\"#333333\">" +
           text::xml_escape(label) + "</text>\n";
  }
  o += "</g>\n<g class=\"y-axis\">\n";
  for (size_t i = 0; i < YL.ticks.size(); ++i) {
    const double t = YL.ticks[i], py = Y(t);
    if (!YL.categorical)
      o += "<line x1=\"" + num(px_left) + "\" y1=\"" + num(py) + "\" x2=\"" + num(px_right) + "\" y2=\"" + num(py) +
           "\" stroke=\"#e4e4e4\"/>\n";
    o += "<line x1=\"" + num(px_left - 5) + "\" y1=\"" + num(py) + "\" x2=\"" + num(px_left) + "\" y2=\"" + num(py) +
         "\" stroke=\"#555555\"/>\n";
    const std::string label = YL.categorical ? truncate(y.categories[i], kCatChars) : tick_label(t, YL.ticks, Y.log);
    o += "<text class=\"tick\" x=\"" + num(px_left - 8) + "\" y=\"" + num(py + 4) + "\" text-anchor=\"end\" fill=\"#333333\">" +
         text::xml_escape(label) +
         (YL.categorical && label != y.categories[i] ? "<title>" + text::xml_escape(y.categories[i]) + "</title>" : "") + "</text>\n";
  }
  o += "</g>\n";
  o += "<text class=\"axis-title x-title\" x=\"" + num((px_left + px_right) / 2) + "\" y=\"" + num(height - 12) +
       "\" text-anchor=\"middle\" font-size=\"12\" fill=\"#111111\">" + text::xml_escape(x.title) + "</text>\n";
  const double ytx = 18, yty = (px_top + px_bottom) / 2;
  o += "<text class=\"axis-title y-title\" x=\"" + num(ytx) + "\" y=\"" + num(yty) + "\" text-anchor=\"middle\" transform=\"rotate(-90 " +
       num(ytx) + " " + num(yty) + ")\" font-size=\"12\" fill=\"#111111\">" + text::xml_escape(y.title) + "</text>\n";
}

// Overlay paths, under the marks.
void draw_paths(std::string& o, const Chart& c, const Frame& f) {
  const Axis& x = c.x;
  const Axis& y = c.y;
  const Scale& X = f.XL.scale;
  const Scale& Y = f.YL.scale;
  const auto& paths = c.paths;
  for (const auto& pa : paths) {
    std::string pts;
    std::vector<std::pair<double, double>> P;
    for (const auto& [a, b] : pa.points)
      if (drawable(a, x) && drawable(b, y)) P.emplace_back(X(a), Y(b));
    for (size_t i = 0; i < P.size(); ++i) {
      if (pa.step && i) pts += num(P[i].first) + "," + num(P[i - 1].second) + " ";
      pts += num(P[i].first) + "," + num(P[i].second) + " ";
    }
    if (!pts.empty()) pts.pop_back();
    o += "<polyline class=\"" + text::xml_escape(pa.css_class) + "\" data-name=\"" + text::xml_escape(pa.name) + "\" points=\"" + pts +
         "\" fill=\"none\" stroke=\"" + text::xml_escape(pa.stroke) + "\" stroke-width=\"2\"" +
         (pa.dash.empty() ? "" : " stroke-dasharray=\"" + text::xml_escape(pa.dash) + "\"") + "/>\n";
  }
}

// A point label to place once every mark is drawn.
struct LabelReq {
  std::string text;
  double x, y, r;
  bool bold;
};

// The series' marks (lines, points, bars, whiskers); collects the point labels and the
// rectangles the marks take.
void draw_series(std::string& o, const Chart& c, const Frame& f, std::vector<LabelReq>& labels, std::vector<Rect>& taken) {
  const Axis& x = c.x;
  const Axis& y = c.y;
  const auto& series = c.series;
  const AxisLayout& YL = f.YL;
  const Scale& X = f.XL.scale;
  const Scale& Y = YL.scale;
  const double band = YL.categorical ? std::fabs(Y(1) - Y(0)) : 0;
  for (size_t si = 0; si < series.size(); ++si) {
    const Series& s = series[si];
    const char* col = color(s.style);
    o += "<g class=\"series\" data-series=\"" + text::xml_escape(s.name) + "\" data-style=\"" + std::to_string(s.style) + "\">\n";
    if (s.kind == SeriesKind::LinesPoints) {
      std::vector<const Point*> ps;
      for (const auto& p : s.points)
        if (drawable(p.x, x) && drawable(p.y, y)) ps.push_back(&p);
      std::sort(ps.begin(), ps.end(), [](const Point* a, const Point* b) { return a->x < b->x; });
      std::string pts;
      for (const Point* p : ps) pts += num(X(p->x)) + "," + num(Y(p->y)) + " ";
      if (!pts.empty()) pts.pop_back();
      if (ps.size() > 1)
        o += std::string("<polyline class=\"line\" points=\"") + pts + "\" fill=\"none\" stroke=\"" + col + "\" stroke-width=\"2\"/>\n";
    }
    for (const auto& p : s.points) {
      const bool bar = s.kind == SeriesKind::HBars;
      if (!drawable(p.x, x) || !drawable(p.y, y)) continue;
      std::string attrs = "class=\"mark\" data-x=\"" + fmt_exact(p.x) + "\" data-y=\"" + fmt_exact(p.y) + "\"";
      if (p.lo) attrs += " data-lo=\"" + fmt_exact(*p.lo) + "\"";
      if (p.hi) attrs += " data-hi=\"" + fmt_exact(*p.hi) + "\"";
      for (const auto& [k, v] : p.data) attrs += " data-" + text::xml_escape(k) + "=\"" + text::xml_escape(v) + "\"";
      o += "<g class=\"point\">";
      if (!p.tooltip.empty()) o += "<title>" + text::xml_escape(p.tooltip) + "</title>";
      if (bar) {
        const double cy = Y(p.y), h = std::max(4.0, band * 0.56);
        const double base = X.log ? X.d0 : std::clamp(0.0, X.d0, X.d1);
        const double x0 = X(base), x1 = X(p.x);
        attrs += " data-px=\"" + num(x1) + "\" data-py=\"" + num(cy) + "\"";
        o += "<rect " + attrs + " x=\"" + num(std::min(x0, x1)) + "\" y=\"" + num(cy - h / 2) + "\" width=\"" + num(std::fabs(x1 - x0)) +
             "\" height=\"" + num(h) + "\" fill=\"" + col + "\" fill-opacity=\"0.85\" stroke=\"#222222\" stroke-width=\"" +
             (p.emphasis ? "2.2" : "0.8") + "\"/>";
        double end = x1;
        if (p.lo && p.hi && drawable(*p.lo, x) && drawable(*p.hi, x)) {
          const double a = X(*p.lo), b = X(*p.hi), c = h * 0.35;
          o += "<path class=\"whisker\" d=\"M" + num(a) + "," + num(cy) + " H" + num(b) + " M" + num(a) + "," + num(cy - c) + " V" +
               num(cy + c) + " M" + num(b) + "," + num(cy - c) + " V" + num(cy + c) +
               "\" stroke=\"#111111\" stroke-width=\"1.4\" fill=\"none\"/>";
          end = std::max(end, b);
        }
        if (!p.label.empty())
          o += "<text class=\"bar-label\" x=\"" + num(end + 5) + "\" y=\"" + num(cy + 4) + "\" fill=\"#111111\">" +
               text::xml_escape(p.label) + "</text>";
      } else {
        const double cx = X(p.x), cy = Y(p.y), r = 5.5;
        attrs += " data-px=\"" + num(cx) + "\" data-py=\"" + num(cy) + "\"";
        if (p.lo && p.hi && drawable(*p.lo, y) && drawable(*p.hi, y)) {
          const double a = Y(*p.lo), b = Y(*p.hi);
          o += "<path class=\"whisker\" d=\"M" + num(cx) + "," + num(a) + " V" + num(b) + " M" + num(cx - 4) + "," + num(a) + " H" +
               num(cx + 4) + " M" + num(cx - 4) + "," + num(b) + " H" + num(cx + 4) + "\" stroke=\"" + col +
               "\" stroke-width=\"1.4\" fill=\"none\"/>";
        }
        if (p.emphasis) attrs += " data-emphasis=\"1\"";
        o += marker(s.style, cx, cy, r, attrs);
        if (p.emphasis) o += marker(s.style, cx, cy, r, "class=\"outline\" fill-opacity=\"0\"", "#000000", 2.2);
        if (p.flagged)
          o += "<circle class=\"flag\" cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" + num(r + 5) +
               "\" fill=\"none\" stroke=\"#000000\" stroke-width=\"2\" stroke-dasharray=\"3 2\"/>";
        taken.push_back({cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2});
        if (!p.label.empty()) labels.push_back({truncate(p.label, 44), cx, cy, r, p.emphasis});
      }
      o += "</g>\n";
    }
    o += "</g>\n";
  }
}

// Point labels: try positions around the mark; keep the first that is inside the plot and
// overlaps nothing, else the one that overlaps least.
void place_labels(std::string& o, const Frame& f, const std::vector<LabelReq>& labels, std::vector<Rect>& taken) {
  const double px_left = f.px_left, px_right = f.px_right, px_top = f.px_top, px_bottom = f.px_bottom;
  if (!labels.empty()) {
    o += "<g class=\"labels\">\n";
    for (const auto& L : labels) {
      const double w = text_width(L.text) + 2, h = 13;
      struct Cand {
        double x, y;  // text anchor point (start anchor, baseline)
      };
      const double d = L.r + 4;
      const Cand cands[] = {{L.x + d, L.y + 4}, {L.x - d - w, L.y + 4}, {L.x - w / 2, L.y - d - 2}, {L.x - w / 2, L.y + d + 11},
                            {L.x + d, L.y - d}, {L.x + d, L.y + d + 8}, {L.x - d - w, L.y - d},     {L.x - d - w, L.y + d + 8}};
      double best = std::numeric_limits<double>::infinity();
      Rect best_r{};
      Cand best_c{};
      for (const auto& c : cands) {
        Rect r{c.x, c.y - h + 3, c.x + w, c.y + 3};
        double cost = 0;
        for (const auto& t : taken) cost += r.overlap(t);
        if (r.x0 < px_left || r.x1 > px_right || r.y0 < px_top || r.y1 > px_bottom) cost += 1e6;
        if (cost < best) best = cost, best_r = r, best_c = c;
        if (cost == 0) break;
      }
      taken.push_back(best_r);
      o += "<text class=\"point-label\" x=\"" + num(best_c.x) + "\" y=\"" + num(best_c.y) +
           "\" fill=\"#111111\" stroke=\"#ffffff\" "
           "stroke-width=\"3\" paint-order=\"stroke\"" +
           (L.bold ? " font-weight=\"bold\"" : "") + ">" + text::xml_escape(L.text) + "</text>\n";
    }
    o += "</g>\n";
  }
}

void draw_legend(std::string& o, const Frame& f, const std::vector<LegendEntry>& legend_entries) {
  const double px_right = f.px_right, px_top = f.px_top;
  if (!legend_entries.empty()) {
    const double lx = px_right + 14;
    o += "<g class=\"legend\">\n";
    for (size_t i = 0; i < legend_entries.size(); ++i) {
      const double ly = px_top + 18.0 * double(i);
      const auto& e = legend_entries[i];
      const std::string shown = truncate(e.name, kLegendChars);
      o += "<g class=\"legend-entry\" transform=\"translate(" + num(lx) + " " + num(ly) + ")\">" + e.swatch +
           "<text x=\"30\" y=\"11\" fill=\"#111111\">" + text::xml_escape(shown) +
           (shown != e.name ? "<title>" + text::xml_escape(e.name) + "</title>" : "") + "</text></g>\n";
    }
    o += "</g>\n";
  }
}

}  // namespace

std::string Chart::render() const {
  const bool hbars = std::any_of(series.begin(), series.end(), [](const Series& s) { return s.kind == SeriesKind::HBars; });
  const std::vector<LegendEntry> legend_entries = make_legend_entries(*this);
  const Frame f = layout_frame(*this, legend_entries, width_, height_, hbars);
  const double height = f.height, px_left = f.px_left, px_right = f.px_right, px_top = f.px_top, px_bottom = f.px_bottom;
  const Scale& X = f.XL.scale;
  const Scale& Y = f.YL.scale;

  std::string o;
  o.reserve(16384);
  const std::string tid = text::xml_escape(id_) + "-title", did = text::xml_escape(id_) + "-desc";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"" + text::xml_escape(id_) + "\" width=\"" + std::to_string(width_) +
       "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + std::to_string(width_) + " " + num(height) +
       "\" role=\"img\" aria-labelledby=\"" + tid + " " + did + "\" " + kFont + " font-size=\"11\">\n";
  o += "<title id=\"" + tid + "\">" + text::xml_escape(title_) + "</title>\n";
  o += "<desc id=\"" + did + "\">" + text::xml_escape(description.empty() ? title_ : description) + "</desc>\n";
  o += "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" + std::to_string(width_) + "\" height=\"" + num(height) +
       "\" fill=\"#ffffff\"/>\n";
  o += "<text class=\"chart-title\" x=\"" + num(px_left) + "\" y=\"24\" font-size=\"14\" font-weight=\"bold\" fill=\"#111111\">" +
       text::xml_escape(title_) + "</text>\n";

  o += "<g class=\"plot\" data-x-min=\"" + fmt_exact(X.d0) + "\" data-x-max=\"" + fmt_exact(X.d1) + "\" data-x-log=\"" +
       (X.log ? "1" : "0") + "\" data-px-left=\"" + num(X.r0) + "\" data-px-right=\"" + num(X.r1) + "\" data-y-min=\"" + fmt_exact(Y.d0) +
       "\" data-y-max=\"" + fmt_exact(Y.d1) + "\" data-y-log=\"" + (Y.log ? "1" : "0") + "\" data-py-bottom=\"" + num(Y.r0) +
       "\" data-py-top=\"" + num(Y.r1) + "\">\n";
  o += "<rect class=\"plot-area\" x=\"" + num(px_left) + "\" y=\"" + num(px_top) + "\" width=\"" + num(px_right - px_left) +
       "\" height=\"" + num(px_bottom - px_top) + "\" fill=\"#fcfcfc\" stroke=\"#bbbbbb\"/>\n";

  draw_axes(o, *this, f);
  draw_paths(o, *this, f);
  // Marks. Labels are collected and placed afterwards, avoiding marks and each other.
  std::vector<LabelReq> labels;
  std::vector<Rect> taken;
  draw_series(o, *this, f, labels, taken);
  place_labels(o, f, labels, taken);
  o += "</g>\n";  // plot
  draw_legend(o, f, legend_entries);
  o += "</svg>\n";
  return o;
}

}  // namespace sb::svg
