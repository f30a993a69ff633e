// Metrics and their uncertainty.
//   mean_stat: mean with its standard error (sample standard deviation / sqrt(n)) and a 95%
//     Student t interval (mean +- t(0.975, n - 1) se), clamped into the metric's Range.
//   proportion_stat: the same for 0/1 values (a proportion of items), with the 95% Wilson score
//     interval instead, which stays inside [0, 1] and is not the point [1, 1] when every item
//     succeeded (a normal interval has zero width there).
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
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace sb {

// The values a metric can take; intervals are clamped into it.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
};
inline constexpr Range kUnitRange{0.0, 1.0};
inline constexpr double kZ95 = 1.959963984540054;  // standard normal 0.975 quantile

struct MeanStat {
  double mean = 0;
  double stderr_ = 0;
  double ci_low = 0, ci_high = 0;
  int64_t n = 0;
};
// One value: the interval is the point. None: all zero.
MeanStat mean_stat(const std::vector<double>& x, const Range& range = {});
// x must hold only 0 and 1 (sb::Error otherwise).
MeanStat proportion_stat(const std::vector<double>& x);

// Wilson score interval of successes / n at normal quantile z; [0, 1] for n = 0.
std::pair<double, double> wilson_interval(int64_t successes, int64_t n, double z = kZ95);
// Quantile p (0 < p < 1) of Student's t distribution with df >= 1 degrees of freedom (NaN
// otherwise); by bisection on the CDF, computed from the regularized incomplete beta function.
double student_t_quantile(double p, int64_t df);
// [lo, hi] with both ends moved into the range.
std::pair<double, double> clamp_interval(double lo, double hi, const Range& r);

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
std::pair<double, double> bootstrap_ci(int64_t n, const std::function<double(const std::vector<int64_t>&)>& stat, int resamples = 1000,
                                       uint64_t seed = 1234);

}  // namespace sb
