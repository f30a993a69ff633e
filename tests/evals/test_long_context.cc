// The long-context task (evals/long_context.h): names, grid, exact lengths, scoring, and the
// suite end to end through `run`, `report` and compare.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "evals/engine_lm.h"
#include "evals/long_context.h"
#include "evals/long_context_names.h"
#include "evals/metric_registry.h"
#include "evals/metrics.h"
#include "evals/task.h"
#include "reports/compare.h"
#include "reports/report_data.h"
#include "reports/store.h"
#include "tests/evals/fake_lm.h"
#include "tests/reports/report_test_util.h"

namespace {
// A metric row as the runner stores it: with its declaration's direction, unit and primary flag.
sb::MetricRow declared(sb::MetricRow m) {
  const sb::MetricInfo info = sb::describe_metric(m.metric);
  m.direction = info.direction;
  m.unit = info.unit;
  m.primary = info.primary;
  return m;
}
}  // namespace
#include "tests/test_support.h"

using namespace sb;
namespace lc = sb::long_context;

namespace {

// A scripted model for the scoring logic only: one token per 4 bytes (plus BOS), a context of
// `ctx` tokens, and an answer read from the prompt by `answer`.
class ScriptedLM : public test::FakeLM {
 public:
  int64_t ctx = 1024;
  int64_t context_length() const override { return ctx; }
  int64_t count_tokens(const std::string& t) const override { return 1 + int64_t(t.size() + 3) / 4; }
  TokenLogprobs token_logprobs(const std::string& t) override {
    TokenLogprobs out;
    for (int64_t p = 1; p < count_tokens(t); ++p) out.logprob.push_back(-4.0 / std::sqrt(double(p)));  // falls with position
    return out;
  }
};

// The key asked for in a prompt, as a model that reads the needle would answer it.
std::string key_in(const std::string& prompt) {
  std::smatch m;
  static const std::regex door("What is the pass key for the (\\w+) door");
  if (std::regex_search(prompt, m, door)) {
    std::smatch k;
    if (std::regex_search(prompt, k, std::regex("pass key for the " + m[1].str() + " door is (\\d+)\\."))) return k[1];
    return "";
  }
  if (std::regex_search(prompt, m, std::regex("The pass key is (\\d+)\\."))) return m[1];
  return "";
}

struct Stories {
  std::unique_ptr<Backend> backend = create_backend(available_backends().back(), {.threads = 2});
  std::shared_ptr<const GgufFile> file = GgufFile::open(test::shared_path("models/stories260K.gguf"));
  std::unique_ptr<Tokenizer> tok = Tokenizer::from_gguf(*file);
  std::unique_ptr<Model> model = Model::load(file, *backend);
};

}  // namespace

TEST_CASE("long-context: metric names round-trip and carry their direction", "[long-context][unit]") {
  const std::string c = lc::cell_metric("passkey", 1024, 50);
  CHECK(c == "passkey_acc@L=1024,d=50");
  auto p = lc::parse_cell_metric(c);
  REQUIRE(p);
  CHECK(p->kind == "passkey");
  CHECK(p->length == 1024);
  CHECK(p->depth == 50);
  CHECK_FALSE(lc::parse_cell_metric("passkey_acc"));
  CHECK_FALSE(lc::parse_cell_metric("passkey_acc@L=x,d=5"));
  auto b = lc::parse_loss_metric(lc::loss_metric(64, 127));
  REQUIRE(b);
  CHECK(b->first == 64);
  CHECK(b->second == 127);
  CHECK_FALSE(lc::parse_loss_metric("loss"));
  // the registry declares every name this task writes (cells and buckets via their base names)
  for (const std::string& m : {c, std::string("multikey_acc@L=64,d=0"), std::string("effective_ctx"), std::string("passkey_acc")}) {
    INFO(m);
    CHECK(describe_metric(m).direction == Direction::higher);
  }
  for (const std::string& m : {lc::loss_metric(1, 15), std::string("loss"), std::string("skipped")}) {
    INFO(m);
    CHECK(describe_metric(m).direction == Direction::lower);
  }
  const auto buckets = loss_buckets(100);
  REQUIRE(buckets.size() == 4);
  CHECK(buckets.front() == std::make_pair<int64_t, int64_t>(1, 15));
  CHECK(buckets.back() == std::make_pair<int64_t, int64_t>(64, 99));
}

TEST_CASE("long-context: the suite's grid follows the context, overrides and rejects bad values", "[long-context][unit]") {
  Suite s = load_suite("long-context");
  CHECK(s.task == "long_context");
  CHECK(s.items.empty());
  CHECK(s.filler.size() > 200);
  CHECK_FALSE(s.get<bool>("in_all", true));
  Suite g = long_context_items(s, 2048);
  CHECK(g.manifest["grid"]["lengths"] == nlohmann::json({128, 256, 512, 1024, 2048}));
  CHECK(g.items.size() == 2 * 5 * 5 * 3 + 4);
  std::set<std::string> ids;
  for (size_t i = 0; i < g.items.size(); ++i) ids.insert(g.item_id(i));
  CHECK(ids.size() == g.items.size());
  CHECK(ids.count("passkey/L=512/d=25/2"));
  CHECK(ids.count("loss/L=2048/1"));
  LongContextOverrides ov;
  ov.lengths = {4096, 100};
  ov.depths = {50};
  ov.items = 1;
  Suite o = long_context_items(s, 2048, ov);
  CHECK(o.manifest["grid"]["lengths"] == nlohmann::json({100, 4096}));
  CHECK(o.items.size() == 2 * 2 * 1 + 4);
  CHECK(o.items.back().value["length"] == 100);  // the longest length that fits carries the loss texts
  ov.depths = {150};
  CHECK_THROWS_AS(long_context_items(s, 2048, ov), Error);
  ov.depths = {};
  ov.lengths = {0};
  CHECK_THROWS_AS(long_context_items(s, 2048, ov), Error);
}

TEST_CASE("long-context: scoring, skipping and aggregation (scripted model)", "[long-context][unit]") {
  Suite s = load_suite("long-context");
  LongContextOverrides ov;
  ov.lengths = {256, 512, 2048};
  ov.depths = {0, 50, 100};
  ov.items = 2;
  ov.loss_items = 2;
  Suite g = long_context_items(s, 1024, ov);
  auto task = Task::create(g, {});
  ScriptedLM reader;  // answers with the key it finds in the prompt
  reader.gen = [](const GenRequest& r) { return " " + key_in(r.prompt) + ".\n"; };
  ScriptedLM guesser;  // answers a fixed number
  guesser.gen = [](const GenRequest&) { return std::string(" 12345."); };
  std::vector<ItemResult> a, b;
  for (size_t i = 0; i < task->size(); ++i) {
    for (auto& r : task->run(i, reader)) a.push_back(r);
    for (auto& r : task->run(i, guesser)) b.push_back(r);
  }
  auto metric = [](const std::vector<MetricResult>& ms, const std::string& name) -> const MetricResult& {
    for (const auto& m : ms)
      if (m.metric == name) return m;
    FAIL("no metric " << name);
    return ms.front();
  };
  const auto ma = task->aggregate(a), mb = task->aggregate(b);
  CHECK(ma.front().metric == "acc");
  CHECK(metric(ma, "acc").value == 1.0);
  CHECK(metric(ma, "acc").n == 2 * 2 * 3 * 2);      // lengths 256 and 512 only
  CHECK(metric(ma, "skipped").value == 2 * 3 * 2);  // L = 2048 > 1024: skipped, not truncated
  CHECK(metric(ma, "effective_ctx").value == 512);
  CHECK(metric(ma, lc::cell_metric("multikey", 512, 100)).value == 1.0);
  CHECK(metric(ma, lc::cell_metric("multikey", 512, 100)).ci_low.value() < 1.0);  // Wilson, not a point
  CHECK(metric(mb, "acc").value == 0.0);
  CHECK(metric(mb, "effective_ctx").value == 0);  // the shortest length already fails
  for (const auto& r : a) {
    const std::string kind = r.extra["kind"];
    if (r.extra.value("skipped", false)) {
      CHECK(std::isnan(r.score));
      CHECK(r.extra["length"] == 2048);
    } else if (kind == "loss") {
      CHECK(std::isnan(r.score));
      CHECK(r.extra["prompt_tokens"] == 512);  // the longest length that fits
    } else {
      CHECK(r.score == 1.0);
      CHECK(r.n_prompt_tokens == r.extra["length"].get<int64_t>() - 8);
    }
  }
  // Loss by position: the scripted loss falls with position, and so do the buckets.
  double prev = 1e9;
  int n_buckets = 0;
  for (const auto& m : ma)
    if (auto bk = lc::parse_loss_metric(m.metric)) {
      CHECK(m.value < prev);
      prev = m.value;
      ++n_buckets;
      CHECK(m.n == 2);
    }
  CHECK(n_buckets == int(loss_buckets(512).size()));
  // A model that cannot count tokens cannot run the task: a clear error, not a guess.
  test::FakeLM plain;
  CHECK_THROWS_AS(task->run(0, plain), Error);
}

TEST_CASE("long-context: texts are deterministic and exactly L tokens in stories260K's tokenizer", "[long-context][shared]") {
  if (test::skip_without_shared()) return;
  Stories f;
  EngineLM lm(*f.model, *f.tok, {}, {});
  Suite s = load_suite("long-context");
  const LongContextGrid grid = long_context_grid(s);
  auto count = [&](const std::string& t) { return int64_t(f.tok->encode(t, f.tok->add_bos_default()).size()); };
  // stories260K's tokens are short (512-token vocab): the passkey prompt alone takes ~115 tokens,
  // the multikey prompt ~240.
  for (const char* kind : {"passkey", "multikey", "loss"})
    for (int64_t L : {300, 257, 512, 1000, 2048})
      for (int d : {0, 40, 100}) {
        const nlohmann::json item{{"id", std::string(kind) + "/L=" + std::to_string(L) + "/d=" + std::to_string(d) + "/0"},
                                  {"kind", kind},
                                  {"length", L},
                                  {"depth", d},
                                  {"index", 0}};
        std::string ans1, ans2;
        auto a = build_long_context_text(item, grid, s.filler, L, count, ans1);
        auto b = build_long_context_text(item, grid, s.filler, L, count, ans2);
        INFO(kind << " L=" << L << " d=" << d);
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->prompt == b->prompt);
        CHECK(ans1 == ans2);
        CHECK(count(a->prompt) == L);
        CHECK(lm.count_tokens(a->prompt) == L);
        CHECK(a->n_tokens == L);
        if (std::string(kind) != "loss") {
          CHECK(ans1.size() == 5);
          CHECK(a->prompt.find(ans1) != std::string::npos);
          // the needle sits near its depth (sentence boundaries and the instruction move it a little)
          const double at = double(a->needle_token) / double(L);
          CHECK(std::fabs(at - d / 100.0) < 0.3);
        }
      }
  {
    std::string ans;
    // too short for the prompt: no text (the task reports it as skipped), not a cut one
    const nlohmann::json item{{"id", "passkey/L=64/d=0/0"}, {"kind", "passkey"}, {"length", 64}, {"depth", 0}, {"index", 0}};
    CHECK_FALSE(build_long_context_text(item, grid, s.filler, 64, count, ans));
    const nlohmann::json multi{{"id", "multikey/L=128/d=0/0"}, {"kind", "multikey"}, {"length", 128}, {"depth", 0}, {"index", 0}};
    CHECK_FALSE(build_long_context_text(multi, grid, s.filler, 128, count, ans));
  }
  // Another seed gives another text.
  Suite other = s;
  other.manifest["seed"] = 21;
  std::string x, y;
  const nlohmann::json item{{"id", "passkey/L=256/d=50/0"}, {"kind", "passkey"}, {"length", 256}, {"depth", 50}, {"index", 0}};
  CHECK(build_long_context_text(item, grid, s.filler, 248, count, x)->prompt !=
        build_long_context_text(item, long_context_grid(other), s.filler, 248, count, y)->prompt);
}

TEST_CASE("long-context: stories260K sees the needle it is given, and scores zero without it", "[long-context][shared]") {
  // stories260K cannot answer a pass-key question (greedy: "The pass key is a picture of"), so
  // exact-match scoring is checked with the scripted model above; here the real model shows
  // that the generated prompt puts the key where it reads it: the key's log-likelihood is
  // higher with the needle than with the needle sentence removed, and without it the key is
  // never generated.
  if (test::skip_without_shared()) return;
  Stories f;
  EngineLM lm(*f.model, *f.tok, {}, {});
  Suite s = load_suite("long-context");
  s.manifest["kinds"] = {"passkey"};
  LongContextOverrides ov;
  ov.lengths = {192, 320};
  ov.depths = {0, 50, 100};
  ov.items = 2;
  Suite g = long_context_items(s, lm.context_length(), ov);
  auto task = Task::create(g, {});
  int n = 0, higher = 0, without_needle = 0;
  double gain = 0;
  for (size_t i = 0; i < task->size(); ++i)
    for (auto& r : task->run(i, lm)) {
      INFO(r.sample_id << ": " << r.extra.dump());
      REQUIRE_FALSE(r.extra.value("skipped", false));
      ++n;
      CHECK((r.score == 0.0 || r.score == 1.0));
      CHECK(r.n_prompt_tokens == r.extra["length"].get<int64_t>() - 8);
      const std::string key = r.extra["answer"];
      std::string p = r.prompt;
      const std::string needle = "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
      const size_t at = p.find(needle);
      REQUIRE(at != std::string::npos);
      p.erase(at, needle.size());
      const double with = lm.loglikelihood({r.prompt, " " + key}).logprob, without = lm.loglikelihood({p, " " + key}).logprob;
      if (r.extra["length"] == 192) higher += with > without;
      gain += with - without;
      GenRequest q;
      q.prompt = p;
      q.stop = {"\n"};
      q.max_tokens = 8;
      without_needle += long_context_answer_matches(lm.generate(q).text, key);
    }
  CHECK(n == 2 * 3 * 2);
  // Measured: +0.3 to +3 nats at L = 192 (every item); at 320 only a needle near the end helps.
  CHECK(higher == 2 * 3);
  CHECK(gain > 0);
  CHECK(without_needle == 0);
}

TEST_CASE("long-context: compare flags a drop at one cell", "[long-context][compare][unit]") {
  auto run_with = [](int64_t id, int correct_at_cell) {
    compare::RunData d;
    d.run.id = id;
    d.run.status = "complete";
    d.run.info.kind = "eval";
    for (int64_t L : {256, 512})
      for (int dp : {0, 100}) {
        const int k = (L == 512 && dp == 100) ? correct_at_cell : 10;
        const auto [lo, hi] = wilson_interval(k, 10);
        d.metrics.push_back(declared(MetricRow{"long-context", lc::cell_metric("passkey", L, dp), k / 10.0, std::nullopt, lo, hi, 10}));
      }
    d.metrics.push_back(declared(MetricRow{"long-context", lc::loss_metric(1, 15), 3.0, 0.01, std::nullopt, std::nullopt, 4}));
    return d;
  };
  const auto r = compare::compare(run_with(1, 10), run_with(2, 1), {});
  int regressions = 0;
  for (const auto& row : r.rows) {
    INFO(row.metric << ": " << row.note);
    if (row.metric == lc::cell_metric("passkey", 512, 100)) {
      CHECK(row.status == compare::Status::regression);
      CHECK(row.direction == Direction::higher);
    } else {
      CHECK(row.status == compare::Status::ok);
    }
    regressions += row.status == compare::Status::regression;
  }
  CHECK(regressions == 1);
  CHECK(r.exit_code() == 1);
  // a higher loss in one position bucket is a regression too (lower is better)
  auto worse = run_with(2, 10);
  worse.metrics.back().value = 3.5;
  const auto r2 = compare::compare(run_with(1, 10), worse, {});
  CHECK(r2.count(compare::Status::regression) == 1);
}

TEST_CASE("cli run: long-context on stories260K stores the grid and the report draws it", "[long-context][cli][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("longctx");
  const std::string db = dir + "/lc.db";
  auto r = test::run_cli({"run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", "long-context", "--lc-lengths",
                          "256,512,4096", "--lc-depths", "0,100", "--lc-items", "2", "--lc-loss-items", "1", "--db", db, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  const auto& m = j[0]["suites"]["long-context"]["metrics"];
  CHECK(m["skipped"]["value"] == 2 * 2 * 2);  // L = 4096 does not fit stories260K's 2048
  CHECK(m.contains("passkey_acc@L=256,d=100"));
  CHECK(m.contains("multikey_acc@L=512,d=0"));
  CHECK(m.contains("loss@pos=256-511"));
  CHECK_FALSE(m.contains("passkey_acc@L=4096,d=0"));
  // The report's heatmap cells carry exactly the stored values.
  auto rep = test::run_cli({"report", "--db", db, "-o", dir + "/r.html", "--markdown", dir + "/r.md"});
  INFO(rep.err);
  REQUIRE(rep.exit_code == 0);
  std::ifstream in(dir + "/r.html");
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = test::parse_xml(ss.str());
  auto store = Store::open(db);
  std::map<std::string, double> stored;
  for (const auto& row : store->metrics(j[0]["run_id"].get<int64_t>())) stored[row.metric] = row.value;
  int cells = 0, valued = 0;
  for (const auto* c : doc->with_class("cell")) {
    ++cells;
    const std::string name = lc::cell_metric(c->attr("data-kind"), std::stoll(c->attr("data-length")), std::stoi(c->attr("data-depth")));
    INFO(name);
    if (!c->has("data-value")) {
      CHECK(stored.count(name) == 0);
      continue;
    }
    ++valued;
    REQUIRE(stored.count(name) == 1);
    CHECK(std::stod(c->attr("data-value")) == stored[name]);
  }
  CHECK(cells == 2 * 2 * 2);  // two kinds, lengths 256 and 512 (4096 was skipped), two depths
  CHECK(valued == cells);
  // the printed value is the stored one
  int printed = 0;
  for (const auto* t : doc->with_class("cell-value")) printed += !t->text_content().empty();
  CHECK(printed == cells);
  // the loss curve: one mark per bucket
  int loss_marks = 0;
  for (const auto* mk : doc->with_class("mark"))
    if (lc::parse_loss_metric(mk->attr("data-metric"))) {
      ++loss_marks;
      CHECK(std::stod(mk->attr("data-y")) == stored[mk->attr("data-metric")]);
    }
  CHECK(loss_marks == int(loss_buckets(512).size()));
  std::ifstream md(dir + "/r.md");
  std::stringstream ms;
  ms << md.rdbuf();
  CHECK(ms.str().find("## Long context") != std::string::npos);
  CHECK(ms.str().find("| passkey: L (tokens) | 0% | 100% |") != std::string::npos);
}
