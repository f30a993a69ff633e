// The main job behind `sparkbench run`: model x variants x suites -> results database.
//
// Each variant is one run (runs started together share a group id). Every evaluated item is
// committed to the database as soon as it is scored, together with the request cache, so a run
// killed at any moment can be finished with resume=true: completed items are skipped, cached
// requests are not recomputed, and metrics are always computed from all stored rows. SIGINT and
// SIGTERM stop after the current item and leave the run "interrupted".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/compress/apply.h"
#include "engine/compress/fidelity.h"
#include "evals/long_context.h"
#include "evals/task.h"
#include "harness/chat_args.h"
#include "harness/model_loader.h"
#include "harness/speed_probe.h"
#include "harness/variants.h"
#include "reports/store.h"

namespace sb::cli {

// Variant sweeps (docs/VARIANTS.md): every variant is applied to the model in memory and
// evaluated on the suites as its own run; runs of one invocation share RunInfo::group_id. When
// the list holds anything but "base", each run also gets
//   - fidelity against the baseline variant on the calibration text, stored as metrics of the
//     task "fidelity" (kld_mean, kld_median, kld_p99, kld_max, same_top1, ppl_delta, ppl_ratio,
//     rms_dp, ppl; see engine/compress/fidelity.h for units)
//   - a quick speed probe (harness/speed_probe.h: pp and tg at depth 0) stored as speed rows
//   - the model size (bytes of weights as held) and the peak resident memory of the variant.
// run --api: the model behind an OpenAI-compatible API (evals/remote_lm.h) instead of a local
// file; see run_remote_evaluation().
struct ApiArgs {
  std::string url;      // API base, e.g. http://127.0.0.1:8080/v1 ("" = local model)
  std::string model;    // --api-model
  std::string key_env;  // --api-key-env: environment variable holding the API key
  int concurrency = 1;  // requests in flight (items evaluated in parallel)
};

struct RunOptions {
  ModelArgs model;
  ApiArgs api;
  std::vector<std::string> variants{"base"};
  std::string baseline = "base";  // fidelity reference variant
  std::string calibration;        // calibration text file ("" = datasets/calibration/stories.txt)
  int64_t calib_ctx = 256;        // fidelity window (tokens)
  bool fidelity = true;           // only for sweeps (a list other than just "base")
  bool speed = true;              // likewise
  int64_t speed_prompt = 64, speed_gen = 16;
  int speed_reps = 2;
  std::vector<std::string> suites{"all"};  // "all": the bundled suites whose manifest has no "in_all": false
  // Grid overrides for long_context suites (--lc-lengths, --lc-depths, --lc-items,
  // --lc-loss-items); their items are generated per variant for the context in use.
  LongContextOverrides long_context;
  int64_t limit = 0;  // items per suite (0 = all)
  TaskOptions task;
  // --chat: generate/dialogue prompts rendered by the chat template (task.chat is filled from
  // this); the template, system text and mode are part of the cache identity and run config.
  ChatArgs chat;
  std::string db = "sparkbench.db";
  std::string label;
  bool resume = false;
  bool progress = false;  // progress lines on stderr
};

struct SuiteSummary {
  std::string name, version, task;
  int64_t n_items = 0;
  std::vector<MetricResult> metrics;
  double seconds = 0;
};

struct RunSummary {
  int64_t run_id = 0;
  std::string status;
  std::string variant;             // canonical spec
  std::vector<std::string> notes;  // what the variant did (honesty notes included)
  std::optional<compress::Fidelity> fidelity;
  std::optional<QuickSpeed> speed;
  int64_t model_bytes = 0;  // weight matrices in their loaded format (Model::matrix_bytes)
  int64_t peak_rss_bytes = 0;
  bool peak_per_variant = false;  // false: process peak so far (reset refused)
  double load_ms = 0;
  std::string weight_type;
  std::string model_path, model_sha256;
  bool synthetic = false;
  std::string backend;
  bool resumed = false;
  nlohmann::json chat;  // chat_config() of the run: null without --chat
  int64_t cache_hits = 0;
  int64_t items_evaluated = 0;  // items evaluated by this invocation (all ranks), not already stored
  std::vector<SuiteSummary> suites;
};

std::vector<RunSummary> run_evaluation(const RunOptions& opt);

// run_evaluation() with opt.api.url set (harness/remote_run.cc): one run of kind "eval" whose
// model_path is "<base URL>/models/<name>" and model_sha256 is empty (the endpoint stands for
// the weights), backend "api"; its configuration holds api_url and api_model. Variants,
// fidelity and the speed probe need local weights and are refused; --chat sends generation
// prompts as messages to /chat/completions (the server's template; --chat-template and
// --chat-scoring are refused). Before any item is
// scored, a server that returns no prompt log-probs is caught with one probe request when a
// selected suite needs them (multiple_choice, dialogue, perplexity), and the error names those
// suites. With concurrency C, C items are evaluated at once (code suites stay one at a time:
// their sandbox runs are not shared between threads); rows are stored in item order.
std::vector<RunSummary> run_remote_evaluation(const RunOptions& opt);
// The metric row the runner stores: the values given plus the metric's declaration
// (evals/metric_registry.h: direction, unit, primary), so readers never guess from the name.
MetricRow metric_row(const std::string& task, const std::string& metric, double value, std::optional<double> stderr_,
                     std::optional<double> ci_low, std::optional<double> ci_high, int64_t n);

}  // namespace sb::cli
