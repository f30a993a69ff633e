// Metrics and their uncertainty.
//   mean_stat: mean with its standard error (sample standard deviation / sqrt(n)) and a 95%
//     normal interval (mean +- 1.96 se).
//   SQuAD answer normalization (lower-case, drop punctuation and the articles a/an/the, collapse
//     whitespace), exact match and token F1 against the best of several gold answers.
//   macro_f1 over a label set; corpus-level distinct-n; repetition rate of one response (the
//     share of its word trigrams that already occurred earlier in it).
//   select_choice: the prediction of a log-likelihood selection task (multiple choice, dialogue
//     response selection) from its candidates' scores, hardened against faulty models: any
//     non-finite score (NaN, +inf, -inf) makes the item invalid (no prediction), and a tie for
//     the maximum that includes the gold candidate goes to another tied candidate (a tie is
//     not a win, so a model that scores every choice the same scores 0, not the gold's share).
//   bootstrap_ci: percentile interval of a statistic over items resampled with replacement
//     (seeded, so reports are reproducible).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sb {

struct MeanStat {
  double mean = 0;
  double stderr_ = 0;
  double ci_low = 0, ci_high = 0;
  int64_t n = 0;
};
MeanStat mean_stat(const std::vector<double>& x);

// Index of the chosen candidate (see above); -1 when any score is not finite. `gold` is the
// gold candidate's index (ties are broken against it), or -1 for none.
int select_choice(const std::vector<double>& scores, int gold);

std::string squad_normalize(const std::string& s);
double exact_match(const std::string& pred, const std::vector<std::string>& golds);
double token_f1(const std::string& pred, const std::vector<std::string>& golds);

// Macro-averaged F1 over `labels` (a label never predicted nor gold contributes F1 = 0 only if
// it appears in gold; labels absent from both are skipped).
double macro_f1(const std::vector<int>& pred, const std::vector<int>& gold, int n_labels);

// Whitespace-separated words, lower-cased.
std::vector<std::string> words(const std::string& s);
// Unique n-grams / total n-grams over all responses together (0 when there are none).
double distinct_n(const std::vector<std::string>& responses, int n);
double repetition_rate(const std::string& response);

// Jackknife (leave-one-out) standard error of stat(indices) over n items; for corpus-level
// statistics such as distinct-n, where resampling with replacement is biased (duplicates lower
// the unique count).
double jackknife_stderr(int64_t n, const std::function<double(const std::vector<int64_t>&)>& stat);

// Percentile bootstrap interval (2.5%, 97.5%) of stat(indices) over n items.
std::pair<double, double> bootstrap_ci(int64_t n, const std::function<double(const std::vector<int64_t>&)>& stat,
                                       int resamples = 1000, uint64_t seed = 1234);

}  // namespace sb
