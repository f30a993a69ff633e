// dialogue: next-response selection among the gold response and its distractors (by
// log-likelihood given the conversation), the perplexity of the gold response, and — from one
// greedy response generated per conversation — distinct-1/2 and the repetition rate.
// Selection uses select_choice (evals/metrics.h): a tie with the gold is a miss, and an item with
// a non-finite score is a miss counted in `invalid`; gold_ppl leaves out items whose gold score
// is not finite (its n says how many it covers).
// Distractor types: an item may give "distractor_types", one of contradiction, off_topic,
// generic, repetition per distractor (same order); the task then also reports
// selection_acc[TYPE]: over the items with a distractor of that type, the share whose gold
// scores strictly above every distractor of that type (a non-finite score is a miss), so the
// hard kind (contradictions) can be read apart from the easy ones.
// In chat mode (TaskOptions::chat) the whole plain prompt, history and "A:" cue included, is
// one user message: the suite's conversations open with the speaker who answers next, which
// templates that require user/assistant alternation starting with the user would reject if
// each turn were its own message.
#include <cmath>
#include <limits>
#include <map>

#include "engine/core/error.h"
#include "evals/metrics.h"
#include "evals/task.h"

namespace sb {
namespace {

bool is_distractor_type(const std::string& t) { return t == "contradiction" || t == "off_topic" || t == "generic" || t == "repetition"; }

class DialogueTask : public Task {
 public:
  DialogueTask(const Suite& s, const TaskOptions& o) : Task(s, o) {
    tmpl_ = s.get<std::string>("prompt_template", "{history}\n{next_speaker}:");
    turn_tmpl_ = s.get<std::string>("turn_template", "{speaker}: {text}");
    max_tokens_ = s.get<int>("max_tokens", 48);
  }

  std::vector<ItemResult> run(size_t i, LanguageModel& lm) override {
    const auto& rec = suite_.items[i];
    const std::string where = suite_.data_path + ":" + std::to_string(rec.line);
    const auto& turns = require_field(rec, suite_.data_path, "turns");
    if (!turns.is_array() || turns.empty()) fail(where, ": 'turns' must be a non-empty array");
    std::string history;
    std::string last;
    std::vector<std::string> speakers;
    for (const auto& t : turns) {
      if (!t.is_object() || !t.contains("speaker") || !t.contains("text")) fail(where, ": each turn needs 'speaker' and 'text'");
      history += (history.empty() ? "" : "\n") + fill_template(turn_tmpl_, t, where);
      speakers.push_back(t["speaker"]);
    }
    // The next speaker: the one who spoke before the last turn (two-party alternation).
    const std::string next = speakers.size() >= 2 ? speakers[speakers.size() - 2] : (speakers.back() == "A" ? "B" : "A");
    const std::string prompt = fill_template(tmpl_, {{"history", history}, {"next_speaker", next}}, where);
    const std::string gold = require_string(rec, suite_.data_path, "gold");
    const auto& dis = require_field(rec, suite_.data_path, "distractors");
    if (!dis.is_array() || dis.empty()) fail(where, ": 'distractors' must be a non-empty array");
    std::vector<std::string> cands{gold};
    for (const auto& d : dis) cands.push_back(d.get<std::string>());
    nlohmann::json types = nlohmann::json::array();
    if (rec.value.contains("distractor_types")) {
      const auto& t = rec.value["distractor_types"];
      if (!t.is_array() || t.size() != dis.size()) fail(where, ": 'distractor_types' must be an array with one type per distractor");
      for (const auto& x : t) {
        if (!x.is_string() || !is_distractor_type(x.get<std::string>()))
          fail(where, ": distractor type ", x.dump(), " is not one of contradiction, off_topic, generic, repetition");
        types.push_back(x);
      }
    }
    // Chat mode: the plain prompt (history + "A:") is the user message; the assistant answers.
    const std::string chat_prompt = opt_.chat.on() ? opt_.chat.prompt(prompt) : std::string();
    const bool chat_ll = opt_.chat.on() && opt_.chat.scoring;
    std::vector<double> ll;
    LLResult gold_r;
    for (size_t c = 0; c < cands.size(); ++c) {
      LLResult r = lm.loglikelihood({chat_ll ? chat_prompt : prompt, " " + cands[c], chat_ll});
      if (c == 0) gold_r = r;
      ll.push_back(r.logprob);
    }
    const int pred = select_choice(ll, 0);
    const bool invalid = pred < 0;
    GenRequest g;
    g.prompt = opt_.chat.on() ? chat_prompt : prompt;
    g.chat = opt_.chat.on();
    g.stop = {"\n"};
    g.max_tokens = max_tokens_;
    GenResult gen = lm.generate(g);
    ItemResult out;
    out.item_id = out.sample_id = suite_.item_id(i);
    out.prompt = g.prompt;
    out.output = gen.text;
    out.score = pred == 0 ? 1.0 : 0.0;
    out.outcome = invalid ? "invalid" : pred == 0 ? "correct" : "wrong";
    out.ttft_ms = gen.ttft_ms;
    out.tpot_ms = gen.tpot_ms;
    out.latency_ms = gen.total_ms;
    out.n_prompt_tokens = gen.n_prompt_tokens;
    out.n_gen_tokens = gen.n_gen_tokens;
    out.extra = {{"selected", pred},
                 {"gold_logprob", gold_r.logprob},
                 {"gold_tokens", gold_r.n_tokens},
                 {"loglikelihoods", ll},
                 {"invalid", invalid}};
    if (!types.empty()) out.extra["distractor_types"] = types;
    return {out};
  }

  std::vector<MetricResult> aggregate(const std::vector<ItemResult>& rows) const override {
    std::vector<double> sel;
    std::vector<std::string> responses;
    std::vector<double> lp, ntok, rep;
    for (const auto& r : rows) {
      sel.push_back(r.extra.at("selected").get<int>() == 0 ? 1.0 : 0.0);
      // A non-finite gold score is stored as JSON null.
      const auto& glp = r.extra.at("gold_logprob");
      if (glp.is_number() && std::isfinite(glp.get<double>())) {
        lp.push_back(glp.get<double>());
        ntok.push_back(r.extra.at("gold_tokens"));
      }
      responses.push_back(r.output);
      rep.push_back(repetition_rate(r.output));
    }
    const int64_t n = int64_t(rows.size());
    auto ppl_of = [&](const std::vector<int64_t>& idx) {
      double a = 0, b = 0;
      for (int64_t k : idx) {
        a += lp[size_t(k)];
        b += ntok[size_t(k)];
      }
      return b > 0 ? std::exp(-a / b) : 0.0;
    };
    auto all_of = [](int64_t count) {
      std::vector<int64_t> idx(static_cast<size_t>(count));
      for (int64_t k = 0; k < count; ++k) idx[size_t(k)] = k;
      return idx;
    };
    const std::vector<int64_t> all = all_of(n);
    std::vector<MetricResult> out{rate_metric("selection_acc", sel), invalid_metric(rows)};
    {
      const int64_t n_ppl = int64_t(lp.size());
      MetricResult m{"gold_ppl", ppl_of(all_of(n_ppl)), std::nullopt, std::nullopt, std::nullopt, n_ppl};
      auto [lo, hi] = bootstrap_ci(n_ppl, ppl_of);
      m.ci_low = lo;
      m.ci_high = hi;
      out.push_back(m);
    }
    for (int k : {1, 2}) {
      auto f = [&, k](const std::vector<int64_t>& idx) {
        std::vector<std::string> sub;
        for (int64_t j : idx) sub.push_back(responses[size_t(j)]);
        return distinct_n(sub, k);
      };
      const double se = jackknife_stderr(n, f);
      const double v = f(all);
      const auto [lo, hi] = clamp_interval(v - kZ95 * se, v + kZ95 * se, kUnitRange);
      out.push_back(MetricResult{"distinct_" + std::to_string(k), v, se, lo, hi, n});
    }
    out.push_back(rate_metric("repetition_rate", rep));
    // Per distractor type: does the gold beat every distractor of that type?
    std::map<std::string, std::vector<double>> by_type;
    for (const auto& r : rows) {
      auto it = r.extra.find("distractor_types");
      if (it == r.extra.end() || !it->is_array()) continue;
      const auto& ll = r.extra.at("loglikelihoods");
      auto score = [&](size_t k) {
        return k < ll.size() && ll[k].is_number() ? ll[k].get<double>() : std::numeric_limits<double>::quiet_NaN();
      };
      const double g = score(0);
      std::map<std::string, bool> beats;
      for (size_t d = 0; d < it->size(); ++d) {
        const std::string t = (*it)[d].get<std::string>();
        const double v = score(d + 1);
        const bool win = std::isfinite(g) && std::isfinite(v) && g > v;
        auto [b, fresh] = beats.emplace(t, win);
        if (!fresh) b->second = b->second && win;
      }
      for (const auto& [t, win] : beats) by_type[t].push_back(win ? 1.0 : 0.0);
    }
    for (const auto& [t, v] : by_type) out.push_back(rate_metric("selection_acc[" + t + "]", v));
    return out;
  }

 private:
  std::string tmpl_, turn_tmpl_;
  int max_tokens_;
};

}  // namespace

std::unique_ptr<Task> make_dialogue_task(const Suite& s, const TaskOptions& o) { return std::make_unique<DialogueTask>(s, o); }

}  // namespace sb
