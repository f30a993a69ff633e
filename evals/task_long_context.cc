// long_context: passkey / multi-key retrieval on a (length, depth) grid and loss by position
// (evals/long_context.h builds the texts; metric names in evals/long_context_names.h).
// Rows: retrieval items score 1 or 0; loss items and skipped items have no score (NaN, so
// compare pairs only retrieval outcomes) and keep their numbers in `extra`. Prompts stay plain
// text (no chat template): lengths are counted on exactly what the model reads.
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "engine/core/error.h"
#include "evals/long_context.h"
#include "evals/long_context_names.h"
#include "evals/metrics.h"
#include "evals/task.h"

namespace sb {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class LongContextTask : public Task {
 public:
  LongContextTask(const Suite& s, const TaskOptions& o) : Task(s, o), grid_(long_context_grid(s)) {}

  std::vector<ItemResult> run(size_t i, LanguageModel& lm) override {
    const auto& v = suite_.items[i].value;
    const std::string kind = v.at("kind");
    const int64_t L = v.at("length");
    ItemResult out;
    out.item_id = out.sample_id = suite_.item_id(i);
    out.score = kNaN;
    out.extra = {{"kind", kind}, {"length", L}, {"depth", v.at("depth")}, {"index", v.at("index")}};
    auto skip = [&](const std::string& why) {
      out.outcome = "skipped";
      out.extra["skipped"] = true;
      out.extra["reason"] = why;
      return std::vector<ItemResult>{out};
    };
    const int64_t n_ctx = lm.context_length();
    if (L > n_ctx) return skip("longer than the model's context of " + std::to_string(n_ctx) + " tokens");
    const bool loss = kind == "loss";
    const int64_t target = loss ? L : L - grid_.answer_tokens;
    std::string answer;
    auto counter = [&](const std::string& t) { return lm.count_tokens(t); };
    auto text = target < 1 ? std::nullopt : build_long_context_text(v, grid_, suite_.filler, target, counter, answer);
    if (!text) return skip("too short for the instruction, facts and question");
    out.prompt = text->prompt;
    out.n_prompt_tokens = text->n_tokens;
    out.extra["prompt_tokens"] = text->n_tokens;
    out.extra["filler_words"] = text->filler_words;
    out.extra["pads"] = text->pads;
    if (loss) {
      const TokenLogprobs lp = lm.token_logprobs(text->prompt);
      if (int64_t(lp.logprob.size()) != L - 1)
        fail(suite_.source, ": item ", out.item_id, ": the model scored ", lp.logprob.size(), " tokens, expected ", L - 1);
      nlohmann::json lo = nlohmann::json::array(), hi = nlohmann::json::array(), mean = nlohmann::json::array();
      double total = 0;
      for (const auto& [a, b] : loss_buckets(L)) {
        double s = 0;
        for (int64_t p = a; p <= b; ++p) s -= lp.logprob[size_t(p - 1)];  // logprob[p - 1] predicts token p
        total += s;
        lo.push_back(a);
        hi.push_back(b);
        mean.push_back(s / double(b - a + 1));
      }
      out.outcome = "scored";
      out.extra["bucket_lo"] = lo;
      out.extra["bucket_hi"] = hi;
      out.extra["bucket_loss"] = mean;
      out.extra["loss"] = total / double(L - 1);
      return {out};
    }
    GenRequest g;
    g.prompt = text->prompt;
    g.stop = {"\n"};
    g.max_tokens = grid_.answer_tokens;
    GenResult r = lm.generate(g);
    const bool ok = long_context_answer_matches(r.text, answer);
    out.output = r.text;
    out.score = ok ? 1.0 : 0.0;
    out.outcome = ok ? "correct" : "wrong";
    out.ttft_ms = r.ttft_ms;
    out.tpot_ms = r.tpot_ms;
    out.latency_ms = r.total_ms;
    out.n_gen_tokens = r.n_gen_tokens;
    out.extra["answer"] = answer;
    out.extra["needle_token"] = text->needle_token;
    return {out};
  }

  std::vector<MetricResult> aggregate(const std::vector<ItemResult>& rows) const override {
    namespace lc = long_context;
    std::vector<double> all;
    std::map<std::string, std::vector<double>> by_kind;
    std::map<std::tuple<std::string, int64_t, int>, std::vector<double>> cells;
    std::map<int64_t, std::vector<double>> by_length;
    std::map<std::pair<int64_t, int64_t>, std::vector<double>> buckets;
    std::vector<double> losses;
    int64_t skipped = 0;
    for (const auto& r : rows) {
      if (r.extra.value("skipped", false)) {
        ++skipped;
        continue;
      }
      const std::string kind = r.extra.value("kind", "");
      if (kind == "loss") {
        const auto& lo = r.extra.at("bucket_lo");
        for (size_t b = 0; b < lo.size(); ++b)
          buckets[{lo[b].get<int64_t>(), r.extra.at("bucket_hi")[b].get<int64_t>()}].push_back(r.extra.at("bucket_loss")[b].get<double>());
        losses.push_back(r.extra.at("loss").get<double>());
        continue;
      }
      const double s = r.score == 1.0 ? 1.0 : 0.0;  // a NaN score (never produced) counts as wrong
      all.push_back(s);
      by_kind[kind].push_back(s);
      cells[{kind, r.extra.at("length").get<int64_t>(), r.extra.at("depth").get<int>()}].push_back(s);
      by_length[r.extra.at("length").get<int64_t>()].push_back(s);
    }
    std::vector<MetricResult> out{rate_metric("acc", all)};
    for (const char* k : {"passkey", "multikey"})
      if (by_kind.count(k)) out.push_back(rate_metric(std::string(k) + "_acc", by_kind.at(k)));
    if (!by_length.empty()) {
      auto mean = [](const std::vector<double>& x) {
        double s = 0;
        for (double v : x) s += v;
        return s / double(x.size());
      };
      const double base = mean(by_length.begin()->second);
      int64_t eff = 0, n = 0;
      if (base >= grid_.effective_min_acc)
        for (const auto& [len, xs] : by_length) {
          if (mean(xs) < base - grid_.effective_threshold) break;
          eff = len;
        }
      for (const auto& [len, xs] : by_length) n += int64_t(xs.size());
      out.push_back(MetricResult{"effective_ctx", double(eff), std::nullopt, std::nullopt, std::nullopt, n});
    }
    if (!losses.empty()) out.push_back(mean_metric("loss", losses, Range{0.0, std::numeric_limits<double>::infinity()}));
    out.push_back(MetricResult{"skipped", double(skipped), std::nullopt, std::nullopt, std::nullopt, int64_t(rows.size())});
    for (const auto& [key, xs] : cells)
      out.push_back(rate_metric(lc::cell_metric(std::get<0>(key), std::get<1>(key), std::get<2>(key)), xs));
    for (const auto& [b, xs] : buckets)
      out.push_back(mean_metric(lc::loss_metric(b.first, b.second), xs, Range{0.0, std::numeric_limits<double>::infinity()}));
    return out;
  }

 private:
  LongContextGrid grid_;
};

}  // namespace

std::unique_ptr<Task> make_long_context_task(const Suite& s, const TaskOptions& o) { return std::make_unique<LongContextTask>(s, o); }

}  // namespace sb
