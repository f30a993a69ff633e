// Task: turns a Suite's items into LanguageModel requests and scores them.
//
// run(i) evaluates one item and returns its rows (one row per item; `samples` rows per problem
// for code). aggregate() computes the suite's metrics from rows alone — rows read back from the
// results database after a resumed run give the same metrics as rows from one uninterrupted
// run — so everything a metric needs is kept in ItemResult (`extra` holds task details).
// Task types (manifest "task"):
//   multiple_choice  acc, acc_norm (log-likelihood / choice characters), invalid, macro_f1 (with labels)
//   generate         exact_match, f1 (SQuAD normalization) against "answers"
//   dialogue         selection_acc, invalid, gold_ppl, distinct_1, distinct_2, repetition_rate
//   perplexity       ppl, bits_per_byte (rolling log-likelihood of "text")
//   code             pass@k (unbiased estimator; a k only when every problem has n >= k)
//   long_context     acc, passkey_acc, multikey_acc, effective_ctx, loss, skipped, per-cell
//                    accuracy and loss by position (evals/long_context.h; its items are
//                    generated per model by long_context_items() before the task is created)
// `invalid` (selection tasks) is the number of items with a non-finite candidate score (a broken
// model or variant): such an item is wrong, its outcome is "invalid", and its row's
// extra["invalid"] is true.
// Groups: a suite whose manifest names a "group_field" (stories: "group", code-repair:
// "bug_type") stores each item's value of that field in its rows' extra["group"], and its
// task reports every metric (but `invalid`) once more per group as "metric[group]", e.g.
// acc[easy] or pass@1[off_by_one]. The dialogue task reports selection_acc[TYPE] per
// distractor type (task_dialogue.cc).
// ItemResult::prompt is the text the model was given (the rendered chat prompt in chat mode).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/language_model.h"
#include "evals/metrics.h"
#include "evals/suite.h"

namespace sb {

struct ItemResult {
  std::string item_id;    // the suite item
  std::string sample_id;  // unique row id: item_id, or item_id#k for repeated samples
  std::string prompt;
  std::string output;
  double score = 0;
  std::string outcome;
  std::optional<double> ttft_ms, tpot_ms, latency_ms;
  int64_t n_prompt_tokens = 0, n_gen_tokens = 0;
  nlohmann::json extra = nlohmann::json::object();
};

struct MetricResult {
  std::string metric;
  double value = 0;
  std::optional<double> stderr_, ci_low, ci_high;
  int64_t n = 0;
};

class ChatTemplate;

// Chat prompting (`run --chat`): generate and dialogue tasks send their prompt as one user
// message (after a system message when `system` is set), rendered by the model's chat template
// with the generation prompt; log-likelihood contexts (multiple choice, dialogue selection)
// stay plain text unless `scoring` is set. Perplexity and code prompts always stay plain.
struct ChatMode {
  ChatTemplate* tmpl = nullptr;  // null: plain prompts (not owned)
  std::string system;            // sent as a system message when non-empty
  bool scoring = false;
  // No local template: prompt() returns the messages themselves as a JSON array of
  // {role, content} for a server that applies its own (run --api --chat, evals/remote_lm.h).
  bool messages_json = false;
  bool on() const { return tmpl != nullptr || messages_json; }
  // The rendered prompt for one user message. Throws sb::Error from the template.
  std::string prompt(const std::string& user) const;
};

struct TaskOptions {
  int samples = 1;           // completions per code problem (> 1 samples at temperature)
  float temperature = 0.8f;  // for samples > 1
  uint64_t seed = 0;         // also steers few-shot selection
  int num_fewshot = -1;      // few-shot examples per prompt; < 0: the manifest's few_shot.k (else 0)
  std::string fewshot_from;  // a file or suite in the same format supplying the examples ("" = the manifest's pool, else the suite)
  int workers = 2;           // sandbox workers
  double timeout_s = 0;      // per code sample; 0: the manifest's timeout_s, else 10
  bool unsafe_no_sandbox = false;
  ChatMode chat;
};

class Task {
 public:
  static std::unique_ptr<Task> create(const Suite& suite, const TaskOptions& opt);
  virtual ~Task() = default;
  const Suite& suite() const { return suite_; }
  size_t size() const { return suite_.items.size(); }
  virtual std::vector<ItemResult> run(size_t i, LanguageModel& lm) = 0;
  virtual std::vector<MetricResult> aggregate(const std::vector<ItemResult>& rows) const = 0;

 protected:
  Task(const Suite& s, const TaskOptions& o);
  // Renders one example with its answer (prompt + target) for a few-shot prefix.
  using ExampleRenderer = std::function<std::string(const JsonlRecord& example, const std::string& where)>;
  // The few-shot prefix for item i: K examples (K = --num-fewshot, else the manifest's
  // few_shot.k, else 0), each rendered with its answer and followed by few_shot.delimiter
  // (default a blank line, lm-eval's fewshot_delimiter). The examples come from
  // --fewshot-from (a file or suite in the same format), else the manifest's few_shot.from
  // (a bundled pool under datasets/), else the suite itself; never item i itself (nor an
  // example equal to it), nor one sharing few_shot.exclude_same, and only ones sharing
  // few_shot.same_field (MMLU: the subject). Selection: a seeded shuffle per item (the
  // manifest's few_shot.seed, default 1234, mixed with --seed), or the pool's first K when the
  // manifest's pool has few_shot.sampler "first_n" (fixed exemplars, as lm-eval's gsm8k-cot).
  std::string few_shot_prefix(size_t i, const ExampleRenderer& render) const;
  // Item i's group: its value of the manifest's "group_field" ("" when the suite has none).
  // sb::Error naming the file and line when the item lacks the field or it is not a string.
  std::string group_of(size_t i) const;
  const Suite& suite_;
  TaskOptions opt_;
  std::shared_ptr<const Suite> few_shot_pool_;  // null: the suite itself
  bool pool_first_n_ = false;
};

// A metric that is a mean of per-row values, with its standard error and 95% Student t
// interval clamped into `range`.
MetricResult mean_metric(const std::string& name, const std::vector<double>& values, const Range& range = {});
// A mean of per-row values in [0, 1] (acc, exact_match, f1, pass@k, rates): the Wilson score
// interval when every value is 0 or 1 (a proportion of items), else the t interval clamped to
// [0, 1].
MetricResult rate_metric(const std::string& name, const std::vector<double>& values);

// The `invalid` metric: the number of rows whose extra["invalid"] is true (rows stored before
// the flag existed count as valid); n is the number of rows.
MetricResult invalid_metric(const std::vector<ItemResult>& rows);

// The per-group metrics: for every distinct non-empty extra["group"] of `rows` (sorted), the
// metrics `base` computes from that group's rows, renamed "metric[group]"; `invalid` is left out.
using MetricsOf = std::function<std::vector<MetricResult>(const std::vector<ItemResult>&)>;
std::vector<MetricResult> group_metrics(const std::vector<ItemResult>& rows, const MetricsOf& base);
// `base` of all rows followed by group_metrics(rows, base).
std::vector<MetricResult> with_group_metrics(const std::vector<ItemResult>& rows, const MetricsOf& base);

std::unique_ptr<Task> make_multiple_choice_task(const Suite& s, const TaskOptions& o);
std::unique_ptr<Task> make_generate_task(const Suite& s, const TaskOptions& o);
std::unique_ptr<Task> make_dialogue_task(const Suite& s, const TaskOptions& o);
std::unique_ptr<Task> make_perplexity_task(const Suite& s, const TaskOptions& o);
std::unique_ptr<Task> make_code_task(const Suite& s, const TaskOptions& o);
std::unique_ptr<Task> make_long_context_task(const Suite& s, const TaskOptions& o);

}  // namespace sb
