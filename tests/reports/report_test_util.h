// Helpers for the report tests: a strict little XML parser (to check that the SVG and the HTML
// are well-formed and to read their attributes back), a PNG decoder (for the screenshot test),
// and a results database with several runs, variants and histories built through the Store API.
#pragma once

#include <zlib.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/runner.h"
#include "reports/store.h"

namespace sb::test {

// ---- XML ----------------------------------------------------------------------------------

struct XmlNode {
  std::string name;                          // "" for a text node
  std::map<std::string, std::string> attrs;  // entity-decoded
  std::vector<std::unique_ptr<XmlNode>> children;
  std::string text;  // text nodes: decoded content

  std::string attr(const std::string& k) const {
    auto it = attrs.find(k);
    return it == attrs.end() ? std::string() : it->second;
  }
  bool has(const std::string& k) const { return attrs.count(k) != 0; }
  std::string text_content() const {
    if (name.empty()) return text;
    std::string s;
    for (const auto& c : children) s += c->text_content();
    return s;
  }
  // Every descendant element (depth first) for which pred holds.
  void find_all(const std::function<bool(const XmlNode&)>& pred, std::vector<const XmlNode*>& out) const {
    for (const auto& c : children) {
      if (c->name.empty()) continue;
      if (pred(*c)) out.push_back(c.get());
      c->find_all(pred, out);
    }
  }
  std::vector<const XmlNode*> elements(const std::string& tag) const {
    std::vector<const XmlNode*> out;
    find_all([&](const XmlNode& n) { return n.name == tag; }, out);
    return out;
  }
  std::vector<const XmlNode*> with_class(const std::string& cls) const {
    std::vector<const XmlNode*> out;
    find_all(
        [&](const XmlNode& n) {
          std::istringstream ss(n.attr("class"));
          std::string w;
          while (ss >> w)
            if (w == cls) return true;
          return false;
        },
        out);
    return out;
  }
};

// Parses a document (an optional <?xml?> declaration, comments and one <!DOCTYPE ...> are
// allowed before the root) and throws std::runtime_error with the byte offset on anything that
// is not well-formed: unbalanced or mismatched tags, unquoted or duplicate attributes, a bare
// '&' or '<', unknown entities, text after the root.
class XmlParser {
 public:
  explicit XmlParser(const std::string& s) : s_(s) {}

  std::unique_ptr<XmlNode> parse() {
    skip_prolog();
    auto root = element();
    skip_misc();
    if (i_ != s_.size()) error("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    throw std::runtime_error("XML error at byte " + std::to_string(i_) + ": " + what + " near '" + s_.substr(i_, 40) + "'");
  }
  bool starts(const char* p) const { return s_.compare(i_, std::strlen(p), p) == 0; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  void skip_until(const char* end) {
    const size_t k = s_.find(end, i_);
    if (k == std::string::npos) error(std::string("unterminated construct, expected ") + end);
    i_ = k + std::strlen(end);
  }
  void skip_misc() {
    for (;;) {
      ws();
      if (starts("<!--"))
        skip_until("-->");
      else if (starts("<?"))
        skip_until("?>");
      else
        return;
    }
  }
  void skip_prolog() {
    skip_misc();
    if (starts("<!DOCTYPE") || starts("<!doctype")) skip_until(">");
    skip_misc();
  }
  static bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.'; }
  std::string name() {
    const size_t b = i_;
    while (i_ < s_.size() && name_char(s_[i_])) ++i_;
    if (i_ == b) error("expected a name");
    return s_.substr(b, i_ - b);
  }
  std::string decode(const std::string& raw) {
    std::string o;
    for (size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '<') error("'<' in text or attribute value");
      if (raw[k] != '&') {
        o += raw[k];
        continue;
      }
      const size_t semi = raw.find(';', k);
      if (semi == std::string::npos) error("bare '&'");
      const std::string ent = raw.substr(k + 1, semi - k - 1);
      if (ent == "amp")
        o += '&';
      else if (ent == "lt")
        o += '<';
      else if (ent == "gt")
        o += '>';
      else if (ent == "quot")
        o += '"';
      else if (ent == "apos")
        o += '\'';
      else if (ent.size() > 1 && ent[0] == '#') {
        unsigned long cp = ent[1] == 'x' ? std::stoul(ent.substr(2), nullptr, 16) : std::stoul(ent.substr(1));
        if (cp < 0x80)
          o += char(cp);
        else
          o += "?";  // enough for tests: only ASCII references are compared
      } else {
        error("unknown entity &" + ent + ";");
      }
      k = semi;
    }
    return o;
  }
  std::unique_ptr<XmlNode> element() {
    if (i_ >= s_.size() || s_[i_] != '<') error("expected '<'");
    ++i_;
    auto n = std::make_unique<XmlNode>();
    n->name = name();
    for (;;) {
      const size_t before = i_;
      ws();
      if (starts("/>")) {
        i_ += 2;
        return n;
      }
      if (starts(">")) {
        ++i_;
        break;
      }
      if (i_ == before) error("expected whitespace before an attribute");
      const std::string k = name();
      ws();
      if (i_ >= s_.size() || s_[i_] != '=') error("attribute without '='");
      ++i_;
      ws();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) error("unquoted attribute value");
      const char q = s_[i_++];
      const size_t end = s_.find(q, i_);
      if (end == std::string::npos) error("unterminated attribute value");
      if (n->attrs.count(k)) error("duplicate attribute " + k);
      n->attrs[k] = decode(s_.substr(i_, end - i_));
      i_ = end + 1;
    }
    for (;;) {
      if (i_ >= s_.size()) error("unclosed element <" + n->name + ">");
      if (starts("</")) {
        i_ += 2;
        const std::string close = name();
        if (close != n->name) error("</" + close + "> closes <" + n->name + ">");
        ws();
        if (i_ >= s_.size() || s_[i_] != '>') error("expected '>'");
        ++i_;
        return n;
      }
      if (starts("<!--")) {
        skip_until("-->");
        continue;
      }
      if (starts("<![CDATA[")) error("CDATA is not used by the report");
      if (s_[i_] == '<') {
        n->children.push_back(element());
        continue;
      }
      const size_t end = s_.find('<', i_);
      if (end == std::string::npos) error("text runs to the end");
      auto t = std::make_unique<XmlNode>();
      t->text = decode(s_.substr(i_, end - i_));
      n->children.push_back(std::move(t));
      i_ = end;
    }
  }

  const std::string& s_;
  size_t i_ = 0;
};

inline std::unique_ptr<XmlNode> parse_xml(const std::string& s) { return XmlParser(s).parse(); }

inline double num_attr(const XmlNode& n, const std::string& k) {
  const std::string v = n.attr(k);
  if (v.empty()) throw std::runtime_error("<" + n.name + "> has no attribute " + k);
  return std::stod(v);
}

// Inverts a pixel coordinate to data through the scale a <g class="plot"> declares.
inline double invert_axis(const XmlNode& plot, char axis, double px) {
  const std::string a(1, axis);
  const double d0 = num_attr(plot, "data-" + a + "-min"), d1 = num_attr(plot, "data-" + a + "-max");
  const bool log = plot.attr("data-" + a + "-log") == "1";
  const double r0 = axis == 'x' ? num_attr(plot, "data-px-left") : num_attr(plot, "data-py-bottom");
  const double r1 = axis == 'x' ? num_attr(plot, "data-px-right") : num_attr(plot, "data-py-top");
  const double f = (px - r0) / (r1 - r0);
  if (log) return std::pow(10.0, std::log10(d0) + f * (std::log10(d1) - std::log10(d0)));
  return d0 + f * (d1 - d0);
}

// ---- PNG ----------------------------------------------------------------------------------

struct Png {
  uint32_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  std::vector<uint8_t> pixels;  // unfiltered, bytes per pixel = channels (8-bit only)
  int channels = 0;
};

// Decodes an 8-bit RGB/RGBA/grey PNG (what Chromium writes); throws std::runtime_error otherwise.
inline Png decode_png(const std::string& bytes) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (bytes.size() < 8 || std::memcmp(bytes.data(), sig, 8) != 0) throw std::runtime_error("not a PNG (bad signature)");
  auto be32 = [&](size_t o) {
    return (uint32_t(uint8_t(bytes[o])) << 24) | (uint32_t(uint8_t(bytes[o + 1])) << 16) | (uint32_t(uint8_t(bytes[o + 2])) << 8) |
           uint32_t(uint8_t(bytes[o + 3]));
  };
  Png p;
  std::string idat;
  int interlace = 0;
  for (size_t o = 8; o + 12 <= bytes.size();) {
    const uint32_t len = be32(o);
    const std::string type = bytes.substr(o + 4, 4);
    if (o + 12 + len > bytes.size()) throw std::runtime_error("truncated chunk " + type);
    if (type == "IHDR") {
      p.width = be32(o + 8);
      p.height = be32(o + 12);
      p.bit_depth = uint8_t(bytes[o + 16]);
      p.color_type = uint8_t(bytes[o + 17]);
      interlace = uint8_t(bytes[o + 20]);
    } else if (type == "IDAT") {
      idat.append(bytes, o + 8, len);
    } else if (type == "IEND") {
      break;
    }
    o += 12 + len;
  }
  if (!p.width || !p.height) throw std::runtime_error("no IHDR");
  if (p.bit_depth != 8 || interlace) throw std::runtime_error("only 8-bit non-interlaced PNGs are decoded here");
  p.channels = p.color_type == 6 ? 4 : p.color_type == 2 ? 3 : p.color_type == 0 ? 1 : p.color_type == 4 ? 2 : 0;
  if (!p.channels) throw std::runtime_error("unsupported PNG color type " + std::to_string(p.color_type));
  const size_t stride = size_t(p.width) * size_t(p.channels);
  std::vector<uint8_t> raw((stride + 1) * p.height);
  uLongf out_len = uLongf(raw.size());
  if (uncompress(raw.data(), &out_len, reinterpret_cast<const Bytef*>(idat.data()), uLong(idat.size())) != Z_OK || out_len != raw.size())
    throw std::runtime_error("IDAT does not inflate to height x (1 + stride) bytes");
  p.pixels.resize(stride * p.height);
  const int bpp = p.channels;
  for (uint32_t y = 0; y < p.height; ++y) {
    const uint8_t f = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &p.pixels[y * stride];
    const uint8_t* up = y ? &p.pixels[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= size_t(bpp) ? out[x - bpp] : 0, b = up ? up[x] : 0, c = (up && x >= size_t(bpp)) ? up[x - bpp] : 0;
      int v = in[x];
      switch (f) {
        case 0:
          break;
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) / 2;
          break;
        case 4: {
          const int pp = a + b - c, pa = std::abs(pp - a), pb = std::abs(pp - b), pc = std::abs(pp - c);
          v += (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          break;
        }
        default:
          throw std::runtime_error("bad PNG filter type " + std::to_string(f));
      }
      out[x] = uint8_t(v);
    }
  }
  return p;
}

// ---- a results database -------------------------------------------------------------------

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

// Ids of the runs make_report_db() writes, in order.
struct ReportDb {
  std::string path;
  int64_t f32_old = 0, f32_mid = 0, f32 = 0;  // history of the f32 configuration (the last regresses on qa)
  int64_t q8 = 0, q4 = 0, prune = 0;          // one run each
  int64_t bf16 = 0;                           // no generation samples: latency from bench_bf16
  int64_t nolat = 0;                          // scored, no latency anywhere
  int64_t failed = 0;                         // status "failed": excluded by default
  int64_t bench_bf16 = 0, bench_f32 = 0, kernels = 0;
};

// Builds the reference database through the Store API:
//   configuration   pass@1 (code-python)   TPOT ms (samples)  qa exact_match
//   f32  (3 runs)   0.40                   10                 0.50, 0.49, 0.30 (se 0.02: the last regresses)
//   q8_0            0.39                   6                  0.48
//   q4_0            0.30                   4                  0.41
//   prune:0.5       0.20                   5                  0.35    (dominated by q4_0)
//   bf16            sentiment acc 0.71 only, latency 7.5 from a bench run (pp64+tg32)
//   nolat           sentiment acc 0.60, no latency at all
// so the code-python frontier is q4_0 (4 ms) -> q8_0 (6 ms) -> f32 (10 ms).
inline ReportDb make_report_db(const std::string& path) {
  ReportDb db;
  db.path = path;
  auto store = Store::open(path);
  const std::string sha = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";
  auto info = [&](const std::string& variant, const std::string& commit, const std::string& label = "") {
    RunInfo i;
    i.label = label;
    i.kind = "eval";
    i.git_commit = commit;
    i.tool_version = "test";
    i.host = "testhost";
    i.cpu = "Test CPU";
    i.backend = "cpu";
    i.threads = 4;
    i.model_path = "/models/tiny-llama.gguf";
    i.model_sha256 = sha;
    i.model_arch = "llama";
    i.variant = variant;
    i.config_json = R"({"kv_type":"f32","compute":"f32"})";
    return i;
  };
  auto metric = [](const std::string& task, const std::string& m, double v, double se, int64_t n) {
    return cli::metric_row(task, m, v, se, v - 1.96 * se, v + 1.96 * se, n);
  };
  auto gen_samples = [](const std::vector<double>& tpots) {
    std::vector<SampleRow> rows;
    for (size_t i = 0; i < tpots.size(); ++i) {
      SampleRow s;
      s.task = "code-python";
      s.sample_id = "code-python/" + std::to_string(i);
      s.output = "return x";
      s.score = i % 2 ? 1 : 0;
      s.outcome = i % 2 ? "passed" : "failed";
      s.ttft_ms = 20.0;
      s.tpot_ms = tpots[i];
      s.n_prompt_tokens = 30;
      s.n_gen_tokens = 16;
      rows.push_back(s);
    }
    // Not counted: one generated token (TPOT undefined) and a request without timing.
    SampleRow one;
    one.task = "qa";
    one.sample_id = "qa/0";
    one.tpot_ms = 500.0;
    one.n_gen_tokens = 1;
    rows.push_back(one);
    SampleRow untimed;
    untimed.task = "qa";
    untimed.sample_id = "qa/1";
    untimed.n_gen_tokens = 8;
    rows.push_back(untimed);
    return rows;
  };
  auto eval_run = [&](const std::string& variant, const std::string& commit, double pass1, double qa_em, double sent,
                      const std::vector<double>& tpots, const std::string& label = "", const std::string& status = "complete") {
    const int64_t id = store->begin_run(info(variant, commit, label));
    if (!tpots.empty()) store->add_samples(id, gen_samples(tpots));
    if (pass1 >= 0) {
      store->add_metric(id, metric("code-python", "pass@1", pass1, 0.04, 122));
      store->add_metric(id, metric("code-python", "pass@10", std::min(1.0, pass1 + 0.2), 0.04, 122));
    }
    if (qa_em >= 0) {
      store->add_metric(id, metric("qa", "exact_match", qa_em, 0.02, 186));
      store->add_metric(id, metric("qa", "f1", qa_em + 0.1, 0.02, 186));
    }
    if (sent >= 0) store->add_metric(id, metric("sentiment", "acc", sent, 0.03, 250));
    store->finish_run(id, status);
    return id;
  };
  db.f32_old = eval_run("f32", "1111111aaaa", 0.40, 0.50, 0.80, {10, 10, 10, 10});
  db.f32_mid = eval_run("f32", "2222222bbbb", 0.41, 0.49, 0.80, {10, 10, 10, 10}, "nightly <&> \"quoted\"");
  db.q8 = eval_run("q8_0", "2222222bbbb", 0.39, 0.48, 0.79, {5, 7, 6, 6});
  db.q4 = eval_run("q4_0", "2222222bbbb", 0.30, 0.41, 0.75, {4, 4, 4, 4});
  db.prune = eval_run("prune:0.5", "2222222bbbb", 0.20, 0.35, 0.70, {5, 5, 5, 5});
  db.failed = eval_run("f32", "2222222bbbb", 0.10, 0.10, 0.10, {50, 50}, "broken", "failed");
  db.bf16 = eval_run("bf16", "2222222bbbb", -1, -1, 0.71, {});
  db.nolat = eval_run("nolat", "2222222bbbb", -1, -1, 0.60, {});
  db.f32 = eval_run("f32", "3333333cccc", 0.40, 0.30, 0.80, {9, 11, 10, 10});

  auto bench = [&](const std::string& variant, double tpot, double tg_ts) {
    RunInfo i = info(variant, "3333333cccc");
    i.kind = "bench";
    i.config_json = "[]";
    i.synthetic_weights = variant == "f32";
    const int64_t id = store->begin_run(i);
    SpeedRow pp;
    pp.test = "pp64";
    pp.n_prompt = 64;
    pp.repetitions = 3;
    pp.avg_ts = 812.5;
    pp.stddev_ts = 10.5;
    pp.samples_ts = {800, 815, 822.5};
    pp.peak_rss_bytes = int64_t(96) << 20;
    store->add_speed(id, pp);
    SpeedRow tg;
    tg.test = "tg32";
    tg.n_gen = 32;
    tg.repetitions = 3;
    tg.avg_ts = tg_ts;
    tg.stddev_ts = 2;
    tg.p50_ms = 1000 / tg_ts;
    tg.p99_ms = 1100 / tg_ts;
    store->add_speed(id, tg);
    SpeedRow pg;
    pg.test = "pp64+tg32";
    pg.n_prompt = 64;
    pg.n_gen = 32;
    pg.repetitions = 3;
    pg.avg_ts = 100;
    pg.ttft_ms = 78.75;
    pg.tpot_ms = tpot;
    pg.peak_rss_bytes = int64_t(100) << 20;
    store->add_speed(id, pg);
    store->finish_run(id, "complete");
    return id;
  };
  db.bench_bf16 = bench("bf16", 7.5, 140);
  db.bench_f32 = bench("f32", 9.5, 105);

  RunInfo k;
  k.kind = "kernels";
  k.git_commit = "3333333cccc";
  k.host = "testhost";
  db.kernels = store->begin_run(k);
  auto krow = [](const std::string& name, const std::string& agg, double ns, const std::string& counters) {
    KernelRow r;
    r.name = name;
    r.run_type = agg.empty() ? "iteration" : "aggregate";
    r.aggregate = agg;
    r.iterations = 1000;
    r.real_time_ns = ns;
    r.cpu_time_ns = ns;
    r.counters_json = counters;
    return r;
  };
  store->add_kernels(
      db.kernels,
      {krow("BM_Matmul/f32/M:1", "", 51000, R"({"bytes_per_second":2.0e10,"FLOP/s":4.1e10,"pct_peak_bw":61.5,"pct_peak_flops":7.25})"),
       krow("BM_Matmul/f32/M:1", "mean", 50000, R"({"bytes_per_second":2.1e10,"FLOP/s":4.2e10,"pct_peak_bw":62.5,"pct_peak_flops":7.5})"),
       krow("BM_Matmul/f32/M:1", "stddev", 500, R"({"pct_peak_bw":0.5})"),
       krow("BM_Softmax/2048", "mean", 1200, R"({"bytes_per_second":1.3e10,"pct_peak_bw":38.75})")});
  store->finish_run(db.kernels, "complete");
  return db;
}

}  // namespace sb::test
