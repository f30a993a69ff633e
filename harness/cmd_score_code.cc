// `sparkbench score-code`: executes precomputed completions (HumanEval / MBPP JSONL) in the
// sandbox and reports pass@k, like human-eval's evaluate_functional_correctness.
// `score-code --problems FILE --check-problems` checks a problems file instead: every
// canonical solution must pass its tests and every buggy_solution (repair problems) must fail
// them. Exit status 0 when all hold, 1 otherwise (one "FAIL task_id: why" line each).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <map>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "evals/code_problems.h"
#include "evals/code_scoring.h"
#include "evals/sandbox.h"
#include "harness/commands.h"

namespace sb::cli {

namespace {

struct ScoreCodeArgs {
  std::string problems, samples, ks = "1,10,100", results, isolation = "fork-server";
  double timeout_s = 10;
  int workers = 0;
  bool json = false;
  bool unsafe = false;
  bool check_problems = false;
};

Sandbox make_sandbox(const ScoreCodeArgs& a) {
  SandboxOptions so;
  so.limits.timeout_s = a.timeout_s;
  // Only the one-line detail is reported (the end of stderr is kept separately), so keep
  // little of each program's output: memory stays small for large sample files.
  so.limits.output_keep_bytes = 8 << 10;
  so.unsafe_no_sandbox = a.unsafe;
  so.isolation = a.isolation == "process" ? Isolation::Process : Isolation::ForkServer;
  return Sandbox(so);
}

// --check-problems: canonical solutions pass, buggy solutions fail.
void check_problems(const ScoreCodeArgs& a) {
  if (a.workers < 0) fail("--workers must be >= 0 (0: one per core), got ", a.workers);
  const CodeProblemSet problems = load_code_problems(a.problems);
  std::vector<std::string> programs;
  std::vector<std::pair<size_t, bool>> what;  // (problem, is the buggy version)
  for (size_t i = 0; i < problems.problems.size(); ++i) {
    programs.push_back(canonical_program(problems.problems[i]));
    what.push_back({i, false});
    if (!problems.problems[i].buggy_solution.empty()) {
      programs.push_back(buggy_program(problems.problems[i]));
      what.push_back({i, true});
    }
  }
  const Sandbox sandbox = make_sandbox(a);
  if (!sandbox.warning().empty()) std::fprintf(stderr, "%s\n", sandbox.warning().c_str());
  const int workers = a.workers > 0 ? a.workers : int(std::max(1u, std::thread::hardware_concurrency()));
  const std::vector<SandboxResult> results = sandbox.check_all(programs, workers);
  int64_t n_canonical = 0, canonical_ok = 0, n_buggy = 0, buggy_ok = 0;
  nlohmann::json failures = nlohmann::json::array();
  const SandboxResult* first_error = nullptr;
  for (size_t k = 0; k < results.size(); ++k) {
    const auto& [i, buggy] = what[k];
    const SandboxResult& r = results[k];
    if (r.outcome == Outcome::SandboxError && !first_error) first_error = &r;
    const bool ok = buggy ? r.outcome == Outcome::Failed || r.outcome == Outcome::Timeout : r.passed();
    (buggy ? n_buggy : n_canonical) += 1;
    (buggy ? buggy_ok : canonical_ok) += ok ? 1 : 0;
    if (!ok)
      failures.push_back({{"task_id", problems.problems[i].task_id},
                          {"check", buggy ? "buggy_fails" : "canonical_passes"},
                          {"outcome", outcome_name(r.outcome)},
                          {"detail", r.detail}});
  }
  if (a.json) {
    nlohmann::json j = {{"problems", a.problems},   {"n_problems", problems.problems.size()},
                        {"canonical", n_canonical}, {"canonical_passed", canonical_ok},
                        {"buggy", n_buggy},         {"buggy_failed", buggy_ok},
                        {"failures", failures},     {"sandbox", sandbox.kind()},
                        {"ok", failures.empty()}};
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    for (const auto& f : failures)
      std::printf("FAIL %s: %s (%s: %s)\n", f["task_id"].get<std::string>().c_str(),
                  f["check"] == "buggy_fails" ? "the buggy version passes the tests" : "the canonical solution fails",
                  f["outcome"].get<std::string>().c_str(), f["detail"].get<std::string>().c_str());
    std::printf("check-problems: %zu problems in %s: canonical passes %lld/%lld, buggy version fails %lld/%lld (sandbox: %s)\n",
                problems.problems.size(), a.problems.c_str(), (long long)canonical_ok, (long long)n_canonical, (long long)buggy_ok,
                (long long)n_buggy, sandbox.kind());
  }
  std::fflush(stdout);
  if (first_error) fail("the sandbox could not run some programs; first: ", first_error->detail);
  if (!failures.empty()) fail(a.problems, ": ", failures.size(), " check(s) failed");
}

void score_code(const ScoreCodeArgs& a) {
  if (a.check_problems) return check_problems(a);
  if (a.samples.empty()) fail("score-code: --samples is required (or --check-problems to check the problems file)");
  const std::vector<int64_t> ks = parse_k_list(a.ks);
  if (a.workers < 0) fail("--workers must be >= 0 (0: one per core), got ", a.workers);
  const CodeProblemSet problems = load_code_problems(a.problems);
  const std::vector<CodeSample> samples = load_code_samples(a.samples, problems);
  std::vector<std::string> programs;
  programs.reserve(samples.size());
  for (const auto& s : samples) programs.push_back(assemble_program(*problems.find(s.task_id), s.completion));

  const Sandbox sandbox = make_sandbox(a);
  if (!sandbox.warning().empty()) std::fprintf(stderr, "%s\n", sandbox.warning().c_str());
  const int workers = a.workers > 0 ? a.workers : int(std::max(1u, std::thread::hardware_concurrency()));

  const bool tty = ::isatty(2);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<SandboxResult> results = sandbox.check_all(programs, workers, [&](size_t done, size_t total) {
    if (tty && (done == total || done % 8 == 0)) std::fprintf(stderr, "\rscore-code: %zu/%zu samples", done, total);
  });
  if (tty) std::fprintf(stderr, "\n");
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!a.results.empty()) {
    std::vector<nlohmann::ordered_json> lines;
    lines.reserve(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) lines.push_back(sample_result_record(samples[i], results[i]));
    write_jsonl_atomically(a.results, lines);
  }

  const std::vector<ProblemTally> tallies = tally_by_problem(problems, samples, results);
  const PassAtKReport pak = compute_pass_at_k(tallies, ks);
  std::map<Outcome, int64_t> counts;
  for (Outcome o : kAllOutcomes) counts[o] = 0;
  const SandboxResult* first_error = nullptr;
  for (const auto& r : results) {
    counts[r.outcome] += 1;
    if (r.outcome == Outcome::SandboxError && !first_error) first_error = &r;
  }
  int64_t n_min = INT64_MAX, n_max = 0;
  for (const auto& t : tallies) {
    n_min = std::min(n_min, t.n);
    n_max = std::max(n_max, t.n);
  }
  const double rate = elapsed > 0 ? double(samples.size()) / elapsed : 0;

  if (a.json) {
    nlohmann::json j;
    j["pass_at_k"] = nlohmann::json::object();
    for (const auto& [k, v] : pak.values) j["pass_at_k"][std::to_string(k)] = v;
    j["dropped_k"] = nlohmann::json::object();
    for (const auto& [k, why] : pak.dropped) j["dropped_k"][std::to_string(k)] = why;
    j["outcomes"] = nlohmann::json::object();
    for (const auto& [o, n] : counts) j["outcomes"][outcome_name(o)] = n;
    j["n_samples"] = samples.size();
    j["n_problems"] = tallies.size();
    j["n_problems_in_file"] = problems.problems.size();
    j["sandbox"] = sandbox.kind();
    j["isolation"] = sandbox.sandboxed() ? a.isolation : "none";
    if (!sandbox.warning().empty()) j["warning"] = sandbox.warning();
    j["problems"] = a.problems;
    j["samples"] = a.samples;
    if (!a.results.empty()) j["results"] = a.results;
    j["timeout_s"] = a.timeout_s;
    j["workers"] = workers;
    j["elapsed_s"] = elapsed;
    j["samples_per_s"] = rate;
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::string n_desc = n_min == n_max ? std::to_string(n_min) : cat(n_min, "..", n_max);
    std::printf("score-code: %zu samples for %zu of %zu problems (n = %s per problem)\n", samples.size(), tallies.size(),
                problems.problems.size(), n_desc.c_str());
    std::printf("sandbox: %s (%s), timeout %g s, %d workers\n", sandbox.kind(), sandbox.sandboxed() ? a.isolation.c_str() : "none",
                a.timeout_s, workers);
    if (!sandbox.warning().empty()) std::printf("%s\n", sandbox.warning().c_str());
    std::printf("\n  %-14s %s\n", "metric", "value");
    for (int64_t k : ks) {
      std::string name = cat("pass@", k);
      auto it = pak.values.find(k);
      if (it != pak.values.end())
        std::printf("  %-14s %.4f\n", name.c_str(), it->second);
      else
        std::printf("  %-14s dropped: %s\n", name.c_str(), pak.dropped.at(k).c_str());
    }
    std::printf("\n  %-14s %s\n", "outcome", "samples");
    for (const auto& [o, n] : counts) std::printf("  %-14s %lld\n", outcome_name(o), (long long)n);
    std::printf("\n%zu samples in %.2f s (%.1f samples/s)\n", samples.size(), elapsed, rate);
    if (!a.results.empty()) std::printf("results: %s\n", a.results.c_str());
  }
  std::fflush(stdout);
  if (first_error)
    fail(counts[Outcome::SandboxError], " of ", samples.size(),
         " samples could not be run, so pass@k is not reliable; first: ", first_error->detail);
}

}  // namespace

void add_score_code_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("score-code", "Run precomputed code completions (HumanEval/MBPP JSONL) in the sandbox and report pass@k");
  static ScoreCodeArgs a;
  cmd->add_option("--problems", a.problems, "Problems JSONL (HumanEval or MBPP fields; .gz accepted)")->required();
  cmd->add_option("--samples", a.samples, "Samples JSONL: task_id + completion per line (.gz accepted); required unless --check-problems");
  cmd->add_flag("--check-problems", a.check_problems,
                "Check the problems file instead: every canonical solution passes and every buggy_solution (repair "
                "problems) fails; exit 1 with a FAIL line per problem otherwise");
  cmd->add_option("-k", a.ks, "pass@k values, comma-separated")->capture_default_str();
  cmd->add_option("--timeout", a.timeout_s, "Wall-clock seconds per sample")->capture_default_str();
  cmd->add_option("--workers", a.workers, "Samples run at once (0: one per core)")->capture_default_str();
  cmd->add_option("--results", a.results, "Write every sample with \"passed\", \"outcome\" and \"result\" added, in input order (JSONL)");
  cmd->add_option("--isolation", a.isolation,
                  "fork-server: one sandbox and warm interpreter per worker, one forked process per sample; "
                  "process: one sandbox and fresh interpreter per sample")
      ->check(CLI::IsMember({"fork-server", "process"}))
      ->capture_default_str();
  cmd->add_flag("--json", a.json, "Print one JSON object");
  cmd->add_flag("--unsafe-no-sandbox", a.unsafe,
                "Run generated code WITHOUT bubblewrap (rlimits and a process group only); for machines without bwrap");
  cmd->callback([] { score_code(a); });
}

}  // namespace sb::cli
