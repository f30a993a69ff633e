// Statistics for comparing runs and reading histories (used by reports/compare and
// reports/history). Pure functions: no I/O, no global state; the bootstrap takes its seed.
//
// Tests (two-sided throughout):
//  - McNemar's exact test for paired pass/fail results: under H0 each discordant pair is
//    equally likely to favour either side, so with b pairs "baseline passed, candidate failed"
//    and c pairs the other way, p = min(1, 2 * P(X <= min(b, c))), X ~ Binomial(b + c, 1/2).
//  - Paired bootstrap of the mean difference (graded scores): resamples the per-item
//    differences d_i = candidate_i - baseline_i with replacement; the interval is the percentile
//    interval of the resampled means; the p-value comes from the same resamples shifted to mean
//    zero (the null), p = (1 + #{|mean* - mean| >= |mean|}) / (1 + B).
//  - Mann-Whitney U (independent samples, e.g. speed repetitions): exact null distribution when
//    there are no ties and both samples have at most 50 values (the counts of the Gaussian
//    binomial coefficient), otherwise the normal approximation with tie correction and a
//    continuity correction of 1/2 (scipy.stats.mannwhitneyu's "asymptotic" method).
//  - Step detection (history): the piecewise-constant fit minimising the L1 cost (sum of absolute
//    deviations from each segment's median) plus a penalty per segment, solved exactly by dynamic
//    programming over all segmentations (O(n^2 log n)); the L1 cost, as in asv's step_detect,
//    keeps a single outlier from becoming two steps. See detect_steps().
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sb::stats {

// Standard normal cumulative distribution function and its inverse (0 < p < 1).
double normal_cdf(double z);
double normal_quantile(double p);

// Median of the values (NaN for none); the mean of the two middle values for an even count.
double median(std::vector<double> v);

// P(X <= k) for X ~ Binomial(n, 1/2), exact (summed in log space; n up to millions).
double binomial_half_cdf(int64_t k, int64_t n);

// McNemar's exact two-sided p-value. b: pairs where only the baseline passed; c: pairs where
// only the candidate passed. 1 when there are no discordant pairs.
double mcnemar_exact_p(int64_t b, int64_t c);

struct PairedDiff {
  double mean = 0;        // mean of candidate - baseline
  double lo = 0, hi = 0;  // interval of the mean difference at the requested level
  double p = 1;           // two-sided p-value for "mean difference = 0"
  int64_t n = 0;          // pairs
};

// Paired pass/fail results (n pairs, b and c as for mcnemar_exact_p): the difference of the two
// pass rates (c - b) / n, its Wald interval for paired proportions,
// se = sqrt((b + c) - (c - b)^2 / n) / n, at confidence 1 - alpha, and McNemar's exact p.
PairedDiff paired_pass_fail(int64_t b, int64_t c, int64_t n, double alpha);

// Paired bootstrap of the mean of candidate[i] - baseline[i] (equal lengths, at least 1):
// `resamples` resamples with a generator seeded by `seed` (the same inputs and seed give the
// same result on every machine), percentile interval at confidence 1 - alpha, p as above.
PairedDiff paired_bootstrap(const std::vector<double>& baseline, const std::vector<double>& candidate, double alpha, int resamples = 2000,
                            uint64_t seed = 1);

struct MannWhitney {
  double u = 0;        // U statistic of the first sample (count of pairs x > y, ties 1/2)
  double p = 1;        // two-sided p-value
  bool exact = false;  // exact distribution (no ties, both n <= 50) or normal approximation
};

// Mann-Whitney U test of x against y (each at least one value; NaNs are the caller's business).
MannWhitney mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y);

// The smallest two-sided p-value the exact test can give for these sample sizes
// (2 / C(n1 + n2, n1), capped at 1): when it is not below alpha, no data can be significant.
double mann_whitney_min_p(size_t n1, size_t n2);

// Robust noise estimate of a series: 1.4826 * median(|y[i+1] - y[i]|) / sqrt(2) (the median
// absolute successive difference, insensitive to a few steps); 0 for fewer than 2 values.
double successive_difference_sigma(const std::vector<double>& y);

// Change points of a series: the indices i (ascending, 0 < i < n) where a new segment of the
// optimal piecewise-constant fit begins. The fit minimises
//   sum over segments of sum_i |y_i - median(segment)|  +  penalty * (number of segments).
// `levels`, if given, receives each point's segment median.
std::vector<size_t> detect_steps(const std::vector<double>& y, double penalty, std::vector<double>* levels = nullptr);

// The penalty used by `sparkbench history`: gamma * sigma * ln(max(n, 2)), with sigma the larger
// of the series' successive_difference_sigma() and `noise_floor` (e.g. the median standard error
// of the points); below 8 points a positive noise_floor is used alone (a few differences, one of
// them the step, estimate nothing). sigma is floored at 1e-9 * max(1, |median(y)|) so that a
// noise-free series still has a positive penalty. gamma = 2 keeps false steps in pure Gaussian noise under about 5% (n = 10..80)
// while finding a 4-sigma step in the middle of 20 points over 90% of the time.
double step_penalty(const std::vector<double>& y, double noise_floor, double gamma = 2.0);

}  // namespace sb::stats
