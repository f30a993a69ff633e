#include "evals/metric_registry.h"

#include <deque>
#include <mutex>

#include "engine/core/error.h"

namespace sb {

namespace metric_table {  // named: the module is built in unity batches

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Direction H = Direction::higher, L = Direction::lower;
using A = Aggregation;
using I = IntervalKind;

// One line per metric. Keep direction honest: it decides regressions in compare and history
// and the Pareto front in report.
std::vector<MetricInfo> builtin() {
  return {
      // name, direction, unit, lo, hi, aggregation, interval, primary, description
      {"pass@1", H, "fraction", 0, 1, A::mean, I::wilson, true, "share of problems whose first sample passes (unbiased pass@k estimator)"},
      {"pass@*", H, "fraction", 0, 1, A::mean, I::student_t, false, "pass@k for k > 1 (unbiased estimator over n samples)"},
      {"acc", H, "fraction", 0, 1, A::mean, I::wilson, true,
       "multiple choice: share of items whose gold choice has the highest log-likelihood"},
      {"acc_macro", H, "fraction", 0, 1, A::mean, I::student_t, false, "unweighted mean of the groups' acc (MMLU: over subjects)"},
      {"acc_norm", H, "fraction", 0, 1, A::mean, I::wilson, false,
       "acc with log-likelihoods divided by the choice's length in characters (lm-eval)"},
      {"macro_f1", H, "fraction", 0, 1, A::corpus, I::none, false, "macro-averaged F1 over the label set"},
      {"exact_match", H, "fraction", 0, 1, A::mean, I::wilson, true, "share of answers equal to a gold answer after SQuAD normalization"},
      {"f1", H, "fraction", 0, 1, A::mean, I::student_t, false, "token F1 against the best gold answer"},
      {"selection_acc", H, "fraction", 0, 1, A::mean, I::wilson, true, "dialogue: share of turns whose gold response is selected"},
      {"gold_ppl", L, "ppl", 1, kInf, A::corpus, I::bootstrap, false, "perplexity of the gold responses"},
      {"distinct_*", H, "fraction", 0, 1, A::corpus, I::jackknife, false,
       "distinct-n: unique word n-grams over all n-grams of the responses"},
      {"repetition_rate", L, "fraction", 0, 1, A::mean, I::student_t, false, "share of a response's word trigrams already seen in it"},
      {"passkey_acc", H, "fraction", 0, 1, A::mean, I::wilson, false,
       "long-context: share of passkey items answered exactly (per cell: passkey_acc@L=LEN,d=DEPTH)"},
      {"multikey_acc", H, "fraction", 0, 1, A::mean, I::wilson, false,
       "long-context: share of multi-key items answered exactly (per cell: multikey_acc@L=LEN,d=DEPTH)"},
      {"effective_ctx", H, "tokens", 0, kInf, A::corpus, I::none, false,
       "long-context: longest length whose accuracy stays within 0.1 of the shortest length's"},
      {"loss", L, "nats", 0, kInf, A::mean, I::student_t, false, "long-context: mean token log-loss (per position bucket: loss@pos=LO-HI)"},
      {"skipped", L, "items", 0, kInf, A::count, I::none, false, "items not run because they do not fit the model's context"},
      {"invalid", L, "items", 0, kInf, A::count, I::none, false, "items with a non-finite score (no prediction)"},
      {"ppl", L, "ppl", 1, kInf, A::corpus, I::bootstrap, true, "perplexity, exp of the mean negative log-likelihood per token"},
      {"bits_per_byte", L, "bits/byte", 0, kInf, A::corpus, I::bootstrap, false, "negative log2-likelihood per UTF-8 byte"},
      // Distillation (harness/distill_job.h), task "distill": held-out KL divergence of the student to the teacher.
      {"kld_before", L, "nats", 0, kInf, A::mean, I::none, false,
       "held-out KL divergence of the student to its teacher before distillation"},
      {"kld_after", L, "nats", 0, kInf, A::mean, I::none, true, "held-out KL divergence of the student to its teacher after distillation"},
      // Variant fidelity against the base model (engine/compress/fidelity.h), task "fidelity".
      {"kld_mean", L, "nats", 0, kInf, A::mean, I::normal, true,
       "mean KL divergence of the variant's next-token distribution from the base's"},
      {"kld_median", L, "nats", 0, kInf, A::quantile, I::none, false, "median per-token KL divergence"},
      {"kld_p99", L, "nats", 0, kInf, A::quantile, I::none, false, "99th percentile per-token KL divergence"},
      {"kld_max", L, "nats", 0, kInf, A::quantile, I::none, false, "largest per-token KL divergence"},
      {"same_top1", H, "%", 0, 100, A::mean, I::normal, false, "percentage of tokens where both models' most likely token agrees"},
      {"ppl_delta", L, "ppl", -kInf, kInf, A::corpus, I::normal, false, "PPL(variant) - PPL(base)"},
      {"ppl_ratio", L, "ratio", 0, kInf, A::corpus, I::normal, false, "PPL(variant) / PPL(base)"},
      {"rms_dp", L, "%", 0, 100, A::corpus, I::none, false, "root mean square of p_variant - p_base of the next token, in percent"},
  };
}

struct Table {
  std::mutex mu;
  std::deque<MetricInfo> metrics;  // a deque: declare_metric keeps earlier pointers valid
  Table() {
    for (auto& m : builtin()) metrics.push_back(std::move(m));
  }
};

Table& table() {
  static Table t;
  return t;
}

const MetricInfo* find_in(const std::deque<MetricInfo>& v, std::string_view name) {
  for (const auto& m : v)
    if (m.name == name) return &m;
  // Prefix declarations ("pass@*"): the longest prefix wins.
  const MetricInfo* best = nullptr;
  for (const auto& m : v) {
    if (m.name.empty() || m.name.back() != '*') continue;
    const std::string_view pre(m.name.data(), m.name.size() - 1);
    if (name.size() > pre.size() && name.substr(0, pre.size()) == pre && (!best || pre.size() + 1 > best->name.size())) best = &m;
  }
  return best;
}

}  // namespace metric_table

using metric_table::find_in;
using metric_table::Table;
using metric_table::table;

std::string metric_base_name(std::string_view name) {
  const size_t cut = name.find_first_of("[@");
  if (cut == std::string_view::npos || cut == 0) return std::string(name);
  return std::string(name.substr(0, cut));
}

const MetricInfo* lookup_metric(std::string_view name) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  if (const MetricInfo* m = find_in(t.metrics, name)) return m;
  const std::string base = metric_base_name(name);
  if (base != name) return find_in(t.metrics, base);
  return nullptr;
}

MetricInfo describe_metric(std::string_view name) {
  MetricInfo out;
  if (const MetricInfo* m = lookup_metric(name)) out = *m;
  out.name = std::string(name);
  return out;
}

std::vector<MetricInfo> all_metrics() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  return {t.metrics.begin(), t.metrics.end()};
}

void declare_metric(const MetricInfo& m) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  for (auto& x : t.metrics) {
    if (x.name != m.name) continue;
    if (x.direction != m.direction)
      fail("metric '", m.name, "' declared again with direction ", direction_name(m.direction), " (was ", direction_name(x.direction), ")");
    x = m;
    return;
  }
  t.metrics.push_back(m);
}

const char* aggregation_name(Aggregation a) {
  switch (a) {
    case Aggregation::mean:
      return "mean";
    case Aggregation::corpus:
      return "corpus";
    case Aggregation::count:
      return "count";
    case Aggregation::quantile:
      return "quantile";
  }
  return "?";
}

const char* interval_name(IntervalKind k) {
  switch (k) {
    case IntervalKind::none:
      return "none";
    case IntervalKind::student_t:
      return "student-t";
    case IntervalKind::wilson:
      return "wilson";
    case IntervalKind::bootstrap:
      return "bootstrap";
    case IntervalKind::jackknife:
      return "jackknife";
    case IntervalKind::normal:
      return "normal";
  }
  return "?";
}

}  // namespace sb
