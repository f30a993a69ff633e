// perplexity: rolling log-likelihood of each item's text; ppl = exp(-sum logprob / sum tokens)
// and bits per byte = -sum logprob / ln 2 / sum bytes over all items, with bootstrap intervals
// over items.
#include <cmath>

#include "engine/core/error.h"
#include "evals/metrics.h"
#include "evals/task.h"

namespace sb {
namespace {

class PerplexityTask : public Task {
 public:
  PerplexityTask(const Suite& s, const TaskOptions& o) : Task(s, o), field_(s.get<std::string>("text_field", "text")) {}

  std::vector<ItemResult> run(size_t i, LanguageModel& lm) override {
    const std::string text = require_string(suite_.items[i], suite_.data_path, field_.c_str());
    RollingResult r = lm.loglikelihood_rolling(text);
    ItemResult out;
    out.item_id = out.sample_id = suite_.item_id(i);
    out.prompt = text;
    out.score = r.n_tokens ? std::exp(-r.logprob / double(r.n_tokens)) : 0.0;
    out.outcome = "scored";
    out.n_prompt_tokens = r.n_tokens;
    out.extra = {{"logprob", r.logprob}, {"n_tokens", r.n_tokens}, {"n_bytes", r.n_bytes}};
    return {out};
  }

  std::vector<MetricResult> aggregate(const std::vector<ItemResult>& rows) const override {
    std::vector<double> lp, nt, nb;
    for (const auto& r : rows) {
      lp.push_back(r.extra.at("logprob"));
      nt.push_back(r.extra.at("n_tokens"));
      nb.push_back(r.extra.at("n_bytes"));
    }
    const int64_t n = int64_t(rows.size());
    auto sum = [&](const std::vector<double>& v, const std::vector<int64_t>& idx) {
      double s = 0;
      for (int64_t k : idx) s += v[size_t(k)];
      return s;
    };
    auto ppl = [&](const std::vector<int64_t>& idx) {
      const double t = sum(nt, idx);
      return t > 0 ? std::exp(-sum(lp, idx) / t) : 0.0;
    };
    auto bpb = [&](const std::vector<int64_t>& idx) {
      const double b = sum(nb, idx);
      return b > 0 ? -sum(lp, idx) / std::log(2.0) / b : 0.0;
    };
    std::vector<int64_t> all(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) all[size_t(k)] = k;
    std::vector<MetricResult> out;
    for (auto& [name, f] :
         std::vector<std::pair<std::string, std::function<double(const std::vector<int64_t>&)>>>{{"ppl", ppl}, {"bits_per_byte", bpb}}) {
      MetricResult m{name, f(all), std::nullopt, std::nullopt, std::nullopt, n};
      if (n > 1) {
        auto [lo, hi] = bootstrap_ci(n, f);
        m.ci_low = lo;
        m.ci_high = hi;
      }
      out.push_back(m);
    }
    return out;
  }

 private:
  std::string field_;
};

}  // namespace

std::unique_ptr<Task> make_perplexity_task(const Suite& s, const TaskOptions& o) { return std::make_unique<PerplexityTask>(s, o); }

}  // namespace sb
