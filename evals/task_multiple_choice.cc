// multiple_choice: each choice is scored by log P(choice | prompt); the prediction is the
// argmax of the sum (acc) and of the sum divided by the choice's length in characters (acc_norm,
// as lm-eval: Unicode code points of the choice text without the one leading space that
// separates it from the prompt, at least 1), chosen
// by select_choice (evals/metrics.h): a tie with the gold is not a win, and an item with any
// non-finite score is wrong for both and counted in `invalid` (number of such items).
// Choices come either from a per-item list ("choices_field" + "answer_field" index) or from a
// label set ("labels" + "label_field", each label rendered with "choices_template").
// Optional manifest fields: "contexts_field" (per-choice contexts, Winogrande's partial
// scoring: choice k is scored as continuation of contexts[k]; prompt_template then unused),
// "description_field" (text put before the few-shot examples, MMLU's description),
// "group_field" (per-group metrics "acc[<group>]" as for every task with groups, and their unweighted mean "acc_macro").
// Few-shot examples are rendered with their gold answer: prompt + gold continuation.
#include <cmath>
#include <map>

#include "common/text.h"
#include "engine/core/error.h"
#include "evals/metrics.h"
#include "evals/task.h"

namespace sb {
namespace {

// lm-eval's len(choice): code points (UTF-8 bytes that do not continue a sequence) of the
// choice text, the " " target delimiter not counted.
size_t choice_chars(const std::string& c) { return text::utf8_length(std::string_view(c).substr(c.rfind(' ', 0) == 0 ? 1 : 0)); }

class MultipleChoiceTask : public Task {
 public:
  MultipleChoiceTask(const Suite& s, const TaskOptions& o) : Task(s, o) {
    tmpl_ = s.get<std::string>("prompt_template", "");
    contexts_field_ = s.get<std::string>("contexts_field", "");
    description_field_ = s.get<std::string>("description_field", "");
    if (tmpl_.empty() && contexts_field_.empty()) fail(s.source, ": multiple_choice needs a prompt_template");
    if (s.manifest.contains("labels")) {
      labels_ = s.manifest["labels"].get<std::vector<std::string>>();
      label_field_ = s.get<std::string>("label_field", "label");
      choices_tmpl_ = s.get<std::string>("choices_template", " {label}");
      if (labels_.size() < 2) fail(s.source, ": 'labels' needs at least two labels");
    } else {
      choices_field_ = s.get<std::string>("choices_field", "choices");
      answer_field_ = s.get<std::string>("answer_field", "answer");
    }
  }

  // The item's choices (continuations), per-choice contexts (empty unless contexts_field) and gold.
  struct Choices {
    std::vector<std::string> conts, contexts;
    int gold = -1;
  };
  Choices choices_of(const JsonlRecord& rec, const std::string& path) const {
    const std::string where = path + ":" + std::to_string(rec.line);
    Choices out;
    if (!labels_.empty()) {
      const std::string label = require_string(rec, path, label_field_.c_str());
      for (size_t l = 0; l < labels_.size(); ++l) {
        out.conts.push_back(fill_template(choices_tmpl_, {{"label", labels_[l]}}, where));
        if (labels_[l] == label) out.gold = int(l);
      }
      if (out.gold < 0) fail(where, ": label '", label, "' is not in the manifest's labels");
    } else {
      const auto& c = require_field(rec, path, choices_field_.c_str());
      if (!c.is_array() || c.size() < 2) fail(where, ": field '", choices_field_, "' must be an array of at least 2 strings");
      for (const auto& x : c) {
        if (!x.is_string()) fail(where, ": choices must be strings");
        out.conts.push_back(x.get<std::string>());
      }
      const auto& a = require_field(rec, path, answer_field_.c_str());
      if (!a.is_number_integer() || a.get<int>() < 0 || a.get<size_t>() >= out.conts.size())
        fail(where, ": field '", answer_field_, "' must be an index into the choices");
      out.gold = a.get<int>();
    }
    if (!contexts_field_.empty()) {
      const auto& c = require_field(rec, path, contexts_field_.c_str());
      if (!c.is_array() || c.size() != out.conts.size()) fail(where, ": field '", contexts_field_, "' must hold one context per choice");
      for (const auto& x : c) {
        if (!x.is_string()) fail(where, ": contexts must be strings");
        out.contexts.push_back(x.get<std::string>());
      }
    }
    return out;
  }

  std::vector<ItemResult> run(size_t i, LanguageModel& lm) override {
    const auto& rec = suite_.items[i];
    const std::string where = suite_.data_path + ":" + std::to_string(rec.line);
    const Choices ch = choices_of(rec, suite_.data_path);
    const std::vector<std::string>& choices = ch.conts;
    const int gold = ch.gold;
    std::string prefix = few_shot_prefix(i, [&](const JsonlRecord& ex, const std::string& w) {
      const std::string path = w.substr(0, w.rfind(':'));
      const Choices e = choices_of(ex, path);
      const std::string ctx = e.contexts.empty() ? fill_template(tmpl_, ex.value, w) : e.contexts[size_t(e.gold)];
      return ctx + e.conts[size_t(e.gold)];
    });
    if (!description_field_.empty()) prefix = require_string(rec, suite_.data_path, description_field_.c_str()) + prefix;
    std::vector<std::string> contexts;
    if (ch.contexts.empty())
      contexts.assign(choices.size(), prefix + fill_template(tmpl_, rec.value, where));
    else
      for (const auto& c : ch.contexts) contexts.push_back(prefix + c);
    std::string prompt = contexts[0];
    const bool chat = opt_.chat.on() && opt_.chat.scoring;
    if (chat) {
      for (auto& c : contexts) c = opt_.chat.prompt(c);
      prompt = contexts[0];
    }
    std::vector<double> ll, norm;
    for (size_t k = 0; k < choices.size(); ++k) {
      const std::string& c = choices[k];
      LLResult r = lm.loglikelihood({contexts[k], c, chat});
      ll.push_back(r.logprob);
      norm.push_back(r.logprob / double(std::max<size_t>(1, choice_chars(c))));
    }
    const int pred = select_choice(ll, gold);
    const int pred_norm = select_choice(norm, gold);
    const bool invalid = pred < 0;
    ItemResult out;
    out.item_id = out.sample_id = suite_.item_id(i);
    out.prompt = prompt;
    out.output = invalid ? std::string() : choices[size_t(pred)];
    out.score = pred == gold ? 1.0 : 0.0;
    out.outcome = invalid ? "invalid" : pred == gold ? "correct" : "wrong";
    out.extra = {{"pred", pred}, {"pred_norm", pred_norm}, {"gold", gold}, {"loglikelihoods", ll}, {"invalid", invalid}};
    if (ch.contexts.size() > 1) out.extra["contexts"] = contexts;  // prompt holds the first
    if (const std::string g = group_of(i); !g.empty()) out.extra["group"] = g;
    return {out};
  }

  std::vector<MetricResult> aggregate(const std::vector<ItemResult>& rows) const override {
    std::vector<MetricResult> out = with_group_metrics(rows, [this](const std::vector<ItemResult>& r) { return metrics_of(r); });
    // With groups (MMLU's subjects), the unweighted mean of the groups' acc (MMLU's headline
    // figure); its interval is the t interval over groups.
    std::vector<double> means;
    for (const auto& m : out)
      if (m.metric.rfind("acc[", 0) == 0) means.push_back(m.value);
    if (!means.empty()) out.push_back(mean_metric("acc_macro", means, kUnitRange));
    return out;
  }

 private:
  std::vector<MetricResult> metrics_of(const std::vector<ItemResult>& rows) const {
    std::vector<double> acc, acc_norm;
    std::vector<int> pred, gold;
    for (const auto& r : rows) {
      const int g = r.extra.at("gold");
      acc.push_back(r.extra.at("pred").get<int>() == g ? 1.0 : 0.0);
      acc_norm.push_back(r.extra.at("pred_norm").get<int>() == g ? 1.0 : 0.0);
      pred.push_back(r.extra.at("pred"));
      gold.push_back(g);
    }
    std::vector<MetricResult> out{rate_metric("acc", acc), rate_metric("acc_norm", acc_norm), invalid_metric(rows)};
    if (!labels_.empty() && !rows.empty()) {
      const int nl = int(labels_.size());
      MetricResult m{"macro_f1", macro_f1(pred, gold, nl), std::nullopt, std::nullopt, std::nullopt, int64_t(rows.size())};
      auto [lo, hi] = bootstrap_ci(int64_t(rows.size()), [&](const std::vector<int64_t>& idx) {
        std::vector<int> p, g;
        for (int64_t k : idx) {
          p.push_back(pred[size_t(k)]);
          g.push_back(gold[size_t(k)]);
        }
        return macro_f1(p, g, nl);
      });
      m.ci_low = lo;
      m.ci_high = hi;
      out.push_back(m);
    }
    return out;
  }

  std::string tmpl_, choices_tmpl_, label_field_, choices_field_, answer_field_, contexts_field_, description_field_;
  std::vector<std::string> labels_;
};

}  // namespace

std::unique_ptr<Task> make_multiple_choice_task(const Suite& s, const TaskOptions& o) { return std::make_unique<MultipleChoiceTask>(s, o); }

}  // namespace sb
