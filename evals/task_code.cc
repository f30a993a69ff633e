// code: function completion scored by execution (HumanEval protocol).
//
// For each problem the model completes the prompt `samples` times (greedy when samples == 1,
// otherwise sampled at TaskOptions::temperature with a per-sample seed), each completion cut at
// the suite's stop strings (default: a new top-level def/class/if/print/comment). The prompt is
// code_prompt() of the item (evals/code_problems.h: MBPP gets its test asserts, HumanEvalFix
// the buggy code and its tests), after K few-shot examples rendered as prompt + reference
// solution (+ "\n[DONE]" for MBPP, as lm-eval's mbpp.yaml) when --num-fewshot asks. Every
// program (prompt + completion + test + check(entry_point)) runs in the bubblewrap sandbox
// (evals/sandbox.h) on `workers` parallel workers; a sample passes only when its tests run to
// the end. One row per sample (sample_id "task_id" or "task_id#k"); pass@k (unbiased
// estimator) for k in {1, 10, 100} that every problem reaches, with the standard error over
// problems; with a manifest "group_field" (code-repair: bug_type) also pass@k[group]
// (evals/task.h). Each sample may run for --timeout seconds, else the manifest's timeout_s,
// else 10. The sandbox is created on the first item, so a missing bubblewrap is reported
// before any generation work (run --unsafe-no-sandbox is the loud opt-out).
#include <cstdio>
#include <map>
#include <memory>

#include "engine/core/error.h"
#include "evals/code_problems.h"
#include "evals/metrics.h"
#include "evals/pass_at_k.h"
#include "evals/sandbox.h"
#include "evals/task.h"

namespace sb {
namespace {

const std::vector<std::string> kDefaultStops = {"\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"};

class CodeTask : public Task {
 public:
  CodeTask(const Suite& s, const TaskOptions& o) : Task(s, o) {
    for (const auto& r : s.items) problems_.push_back(code_problem_from_json(r.value, s.data_path, r.line));
    stop_ = s.get<std::vector<std::string>>("stop", kDefaultStops);
    max_tokens_ = s.get<int>("max_tokens", 256);
    if (opt_.samples < 1) fail("code: --samples must be >= 1 (got ", opt_.samples, ")");
  }

  std::vector<ItemResult> run(size_t i, LanguageModel& lm) override {
    const std::string id = suite_.item_id(i);
    const CodeProblem* p = &problems_[i];
    const Sandbox& box = sandbox();
    const std::string prompt =
        few_shot_prefix(i,
                        [](const JsonlRecord& ex, const std::string& w) {
                          const CodeProblem e = code_problem_from_json(ex.value, w.substr(0, w.rfind(':')), ex.line);
                          return code_prompt(e) + e.canonical_solution + (e.format == CodeFormat::Mbpp ? "\n[DONE]" : "");
                        }) +
        code_prompt(*p);
    std::vector<GenResult> gens;
    std::vector<std::string> programs;
    for (int k = 0; k < opt_.samples; ++k) {
      GenRequest g;
      g.prompt = prompt;
      g.stop = stop_;
      g.max_tokens = max_tokens_;
      if (opt_.samples > 1) {
        g.temperature = opt_.temperature;
        g.top_p = 0.95f;
        g.seed = opt_.seed * 1000003u + uint64_t(i) * 1009u + uint64_t(k);
      }
      gens.push_back(lm.generate(g));
      programs.push_back(assemble_program(*p, gens.back().text));
    }
    const std::vector<SandboxResult> results = box.check_all(programs, opt_.workers);
    std::vector<ItemResult> rows;
    for (int k = 0; k < opt_.samples; ++k) {
      const GenResult& r = gens[size_t(k)];
      const SandboxResult& s = results[size_t(k)];
      ItemResult out;
      out.item_id = id;
      out.sample_id = opt_.samples == 1 ? id : id + "#" + std::to_string(k);
      out.prompt = prompt;
      out.output = r.text;
      out.score = s.passed() ? 1.0 : 0.0;
      out.outcome = outcome_name(s.outcome);
      out.ttft_ms = r.ttft_ms;
      out.tpot_ms = r.tpot_ms;
      out.latency_ms = r.total_ms;
      out.n_prompt_tokens = r.n_prompt_tokens;
      out.n_gen_tokens = r.n_gen_tokens;
      out.extra = {{"passed", s.passed()}, {"detail", s.detail}, {"exec_s", s.seconds}, {"sandboxed", s.sandboxed}};
      if (const std::string g = group_of(i); !g.empty()) out.extra["group"] = g;
      if (s.outcome == Outcome::SandboxError)
        fail(suite_.data_path, ": ", id, ": the sandbox could not run the sample (", s.detail, "); refusing to score it as a failure");
      rows.push_back(std::move(out));
    }
    return rows;
  }

  std::vector<MetricResult> aggregate(const std::vector<ItemResult>& rows) const override {
    return with_group_metrics(rows, [this](const std::vector<ItemResult>& r) { return metrics_of(r); });
  }

 private:
  std::vector<MetricResult> metrics_of(const std::vector<ItemResult>& rows) const {
    std::map<std::string, std::pair<int64_t, int64_t>> nc;  // item -> (n, c)
    for (const auto& r : rows) {
      auto& [n, c] = nc[r.item_id];
      n += 1;
      c += r.score > 0.5 ? 1 : 0;
    }
    int64_t min_n = -1;
    for (const auto& [id, v] : nc) min_n = min_n < 0 ? v.first : std::min(min_n, v.first);
    std::vector<MetricResult> out;
    for (int64_t k : {1, 10, 100}) {
      if (nc.empty() || k > min_n) continue;
      std::vector<double> per_problem;
      for (const auto& [id, v] : nc) per_problem.push_back(pass_at_k(v.first, v.second, k));
      out.push_back(rate_metric("pass@" + std::to_string(k), per_problem));
    }
    return out;
  }

  const Sandbox& sandbox() {
    if (!sandbox_) {
      SandboxOptions so;
      so.limits.timeout_s = opt_.timeout_s > 0 ? opt_.timeout_s : suite_.get<double>("timeout_s", 10.0);
      so.unsafe_no_sandbox = opt_.unsafe_no_sandbox;
      sandbox_ = std::make_unique<Sandbox>(so);
      if (!sandbox_->warning().empty()) std::fprintf(stderr, "%s\n", sandbox_->warning().c_str());
    }
    return *sandbox_;
  }

  std::vector<CodeProblem> problems_;  // one per suite item
  std::vector<std::string> stop_;
  int max_tokens_;
  std::unique_ptr<Sandbox> sandbox_;
};

}  // namespace

std::unique_ptr<Task> make_code_task(const Suite& s, const TaskOptions& o) { return std::make_unique<CodeTask>(s, o); }

}  // namespace sb
