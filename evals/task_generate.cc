// generate: greedy generation until a stop string, scored by exact match and token F1 (SQuAD
// normalization) against the item's answers (the best-matching gold counts).
// Manifest "extract": "gsm8k" scores the answer extracted by lm-eval's gsm8k filters instead:
// exact_match (strict: the number after "#### ") and exact_match_flexible (the last number in
// the output), each against the gold number; f1 is then not computed.
#include "engine/core/error.h"
#include "evals/metrics.h"
#include "evals/public_formats.h"
#include "evals/task.h"

namespace sb {
namespace {

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

class GenerateTask : public Task {
 public:
  GenerateTask(const Suite& s, const TaskOptions& o) : Task(s, o) {
    tmpl_ = s.get<std::string>("prompt_template", "");
    if (tmpl_.empty()) fail(s.source, ": generate needs a prompt_template");
    answers_field_ = s.get<std::string>("answers_field", "answers");
    target_tmpl_ = s.get<std::string>("target_template", " {" + answers_field_ + "[0]}");
    stop_ = s.get<std::vector<std::string>>("stop", {"\n"});
    max_tokens_ = s.get<int>("max_tokens", 32);
    extract_ = s.get<std::string>("extract", "");
    if (!extract_.empty() && extract_ != "gsm8k") fail(s.source, ": unknown extract '", extract_, "' (gsm8k)");
  }

  std::vector<ItemResult> run(size_t i, LanguageModel& lm) override {
    const auto& rec = suite_.items[i];
    const std::string where = suite_.data_path + ":" + std::to_string(rec.line);
    const auto& a = require_field(rec, suite_.data_path, answers_field_.c_str());
    std::vector<std::string> golds;
    if (a.is_string())
      golds.push_back(a);
    else if (a.is_array())
      for (const auto& x : a)
        if (x.is_string()) golds.push_back(x);
    if (golds.empty()) fail(where, ": field '", answers_field_, "' must be a string or a non-empty array of strings");
    GenRequest g;
    g.prompt = few_shot_prefix(i,
                               [&](const JsonlRecord& ex, const std::string& w) {
                                 return fill_template(tmpl_, ex.value, w) + fill_template(target_tmpl_, ex.value, w);
                               }) +
               fill_template(tmpl_, rec.value, where);
    if (opt_.chat.on()) {
      g.prompt = opt_.chat.prompt(g.prompt);
      g.chat = true;
    }
    g.stop = stop_;
    g.max_tokens = max_tokens_;
    GenResult r = lm.generate(g);
    const std::string pred = trim(r.text);
    ItemResult out;
    out.item_id = out.sample_id = suite_.item_id(i);
    out.prompt = g.prompt;
    out.output = pred;
    out.ttft_ms = r.ttft_ms;
    if (extract_ == "gsm8k") {
      const std::string strict = gsm8k_strict(r.text), flexible = gsm8k_flexible(r.text);
      const double em = !strict.empty() && strict == golds[0] ? 1.0 : 0.0;
      const double emf = !flexible.empty() && flexible == golds[0] ? 1.0 : 0.0;
      out.output = r.text;
      out.score = em;
      out.outcome = em == 1.0 ? "exact" : (emf == 1.0 ? "flexible" : "wrong");
      out.tpot_ms = r.tpot_ms;
      out.latency_ms = r.total_ms;
      out.n_prompt_tokens = r.n_prompt_tokens;
      out.n_gen_tokens = r.n_gen_tokens;
      out.extra = {{"em", em}, {"em_flexible", emf}, {"extracted", strict}, {"extracted_flexible", flexible}, {"answers", golds}};
      return {out};
    }
    const double em = exact_match(pred, golds), f1 = token_f1(pred, golds);
    out.score = em;
    out.outcome = em == 1.0 ? "exact" : (f1 > 0 ? "partial" : "wrong");
    out.ttft_ms = r.ttft_ms;
    out.tpot_ms = r.tpot_ms;
    out.latency_ms = r.total_ms;
    out.n_prompt_tokens = r.n_prompt_tokens;
    out.n_gen_tokens = r.n_gen_tokens;
    out.extra = {{"em", em}, {"f1", f1}, {"answers", golds}};
    return {out};
  }

  std::vector<MetricResult> aggregate(const std::vector<ItemResult>& rows) const override {
    std::vector<double> em, f1;
    if (extract_ == "gsm8k") {
      for (const auto& r : rows) {
        em.push_back(r.extra.at("em"));
        f1.push_back(r.extra.at("em_flexible"));
      }
      return {rate_metric("exact_match", em), rate_metric("exact_match_flexible", f1)};
    }
    for (const auto& r : rows) {
      em.push_back(r.extra.at("em"));
      f1.push_back(r.extra.at("f1"));
    }
    return {rate_metric("exact_match", em), rate_metric("f1", f1)};
  }

 private:
  std::string tmpl_, target_tmpl_, answers_field_, extract_;
  std::vector<std::string> stop_;
  int max_tokens_;
};

}  // namespace

std::unique_ptr<Task> make_generate_task(const Suite& s, const TaskOptions& o) { return std::make_unique<GenerateTask>(s, o); }

}  // namespace sb
