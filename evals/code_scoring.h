// Scoring executed code samples the way OpenAI's human-eval does: per problem n samples of
// which c passed, pass@k averaged over problems with the unbiased estimator (pass_at_k.h),
// reported only for k that every problem with samples reaches (n >= k).
// Pure functions over plain data, except write_jsonl_atomically (file system). Errors:
// sb::Error (bad k, I/O failures naming the file).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/code_problems.h"
#include "evals/sandbox.h"

namespace sb {

struct ProblemTally {
  std::string task_id;
  int64_t n = 0;  // samples
  int64_t c = 0;  // passed
};

// One tally per problem that has samples, in the problems file's order.
// `results[i]` belongs to `samples[i]`.
std::vector<ProblemTally> tally_by_problem(const CodeProblemSet& problems, const std::vector<CodeSample>& samples,
                                           const std::vector<SandboxResult>& results);

struct PassAtKReport {
  std::map<int64_t, double> values;        // k -> mean pass@k over problems
  std::map<int64_t, std::string> dropped;  // k -> why it is not reported
};

// Every k must be >= 1 (sb::Error otherwise). A k is dropped when some problem has n < k.
PassAtKReport compute_pass_at_k(const std::vector<ProblemTally>& tallies, const std::vector<int64_t>& ks);

// Parses "1,10,100" into sorted, distinct positive integers; sb::Error on anything else.
std::vector<int64_t> parse_k_list(const std::string& text);

// The sample's input object plus "passed" (bool), "outcome" (outcome_name) and "result"
// (the one-line detail, e.g. "failed: AssertionError").
nlohmann::ordered_json sample_result_record(const CodeSample& sample, const SandboxResult& result);

// Writes one JSON object per line to `path` through a temporary file in the same directory
// and rename(), so readers see the old file or the complete new one. Invalid UTF-8 in strings
// is replaced, not fatal.
void write_jsonl_atomically(const std::string& path, const std::vector<nlohmann::ordered_json>& lines);

}  // namespace sb
