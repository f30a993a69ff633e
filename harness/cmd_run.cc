// `sparkbench run`: evaluate a model on the bundled suites and record everything in SQLite.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "common/text_table.h"
#include "engine/core/error.h"
#include "harness/commands.h"
#include "harness/runner.h"
#include "harness/text_format.h"
#include "reports/report_data.h"

namespace sb::cli {
namespace {

std::string fmt_metric(const MetricResult& m) {
  if (m.metric == "invalid") return text::format("%.0f items", m.value);  // a count (evals/task.h)
  if (m.stderr_ && *m.stderr_ > 0) return text::format("%.4f +/- %.4f", m.value, *m.stderr_);
  if (m.ci_low && m.ci_high) return text::format("%.4f [%.4f, %.4f]", m.value, *m.ci_low, *m.ci_high);
  return text::format("%.4f", m.value);
}

std::string mib(int64_t b) { return text::format(b >= 10 * 1048576 ? "%.0f MiB" : "%.2f MiB", double(b) / 1048576.0); }

// The suite's primary metric: the rule of reports/report_data.h primary_metric (the first
// declared primary, else the first) on the rows `run` stores for it; nullptr for none.
const MetricResult* primary_result(const SuiteSummary& s) {
  std::vector<MetricRow> rows;
  for (const auto& m : s.metrics) rows.push_back(metric_row(s.name, m.metric, m.value, m.stderr_, m.ci_low, m.ci_high, m.n));
  const std::string name = report::primary_metric(rows);
  for (const auto& m : s.metrics)
    if (m.metric == name) return &m;
  return nullptr;
}

// A metric with its interval: "0.6200 ± 0.0300".
std::string short_metric(const MetricResult& m) {
  if (m.stderr_ && *m.stderr_ > 0) return text::format("%.3f", m.value) + " ± " + text::format("%.3f", *m.stderr_);
  if (m.ci_low && m.ci_high)
    return text::format("%.3f", m.value) + " [" + text::format("%.3f", *m.ci_low) + "," + text::format("%.3f", *m.ci_high) + "]";
  return text::format("%.3f", m.value);
}

// One row per variant: suite scores, fidelity, speed, memory, size.
void print_sweep_table(const std::vector<RunSummary>& runs) {
  std::vector<std::string> head{"variant", "weights"};
  std::vector<std::string> suite_cols;
  for (const auto& r : runs)
    for (const auto& s : r.suites)
      if (const MetricResult* m = primary_result(s);
          m && std::find(suite_cols.begin(), suite_cols.end(), s.name + " " + m->metric) == suite_cols.end())
        suite_cols.push_back(s.name + " " + m->metric);
  for (const auto& c : suite_cols) head.push_back(c);
  for (const char* h : {"KLD mean", "KLD p99", "same top1", "PPL ratio", "RMS dp", "pp t/s", "tg t/s", "pp ms", "peak RSS", "size"})
    head.push_back(h);
  text::Table t(head);
  for (const auto& r : runs) {
    std::vector<std::string> row{r.variant, r.weight_type};
    for (const auto& c : suite_cols) {
      std::string cell;
      for (const auto& s : r.suites)
        if (const MetricResult* m = primary_result(s); m && s.name + " " + m->metric == c) cell = short_metric(*m);
      row.push_back(cell);
    }
    if (r.fidelity) {
      const auto& f = *r.fidelity;
      row.push_back(text::format("%.5f", f.kld_mean) + " ± " + text::format("%.5f", f.kld_mean_stderr));
      row.push_back(text::format("%.4f", f.kld_p99));
      row.push_back(text::format("%.2f%%", f.same_top1));
      row.push_back(text::format("%.4f", f.ppl_ratio));
      row.push_back(text::format("%.3f%%", f.rms_dp));
    } else {
      for (int i = 0; i < 5; ++i) row.push_back("");
    }
    if (r.speed) {
      row.push_back(text::format("%.1f", r.speed->pp.avg_ts));
      row.push_back(text::format("%.2f", r.speed->tg.avg_ts));
      row.push_back(text::format("%.1f", r.speed->pp.avg_ns / 1e6));
    } else {
      for (int i = 0; i < 3; ++i) row.push_back("");
    }
    row.push_back(mib(r.peak_rss_bytes) + (r.peak_per_variant ? "" : "*"));
    row.push_back(mib(r.model_bytes));
    t.add_row(std::move(row));
  }
  std::printf("\nvariants (fidelity against the baseline on the calibration text; speed: quick probe)\n%s", t.text().c_str());
  bool any_star = false;
  for (const auto& r : runs) any_star |= !r.peak_per_variant;
  if (any_star) std::printf("* peak RSS of the process so far (this kernel refused to reset the high-water mark)\n");
  for (const auto& r : runs)
    for (const auto& n : r.notes) std::printf("note [%s]: %s\n", r.variant.c_str(), n.c_str());
}

nlohmann::json fidelity_json(const compress::Fidelity& f) {
  return {{"n_tokens", f.n_tokens},
          {"kld_mean", f.kld_mean},
          {"kld_mean_stderr", f.kld_mean_stderr},
          {"kld_median", f.kld_median},
          {"kld_p99", f.kld_p99},
          {"kld_max", f.kld_max},
          {"same_top1", f.same_top1},
          {"same_top1_stderr", f.same_top1_stderr},
          {"ppl_base", f.ppl_base},
          {"ppl", f.ppl},
          {"ppl_delta", f.ppl_delta},
          {"ppl_delta_stderr", f.ppl_delta_stderr},
          {"ppl_ratio", f.ppl_ratio},
          {"ppl_ratio_stderr", f.ppl_ratio_stderr},
          {"rms_dp", f.rms_dp}};
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Evaluate a model on suites (default: all bundled) and record the results in SQLite");
  cmd->footer(
      "Scale-out: `mpirun -n N sparkbench run ...` (or srun) runs one run over N ranks: rank 0 hands out\n"
      "chunks of items, stores every row and computes the metrics (same outputs and scores as one process;\n"
      "log-likelihoods agree to ~1e-5, see README).\n"
      "A run cut short is left \"interrupted\"; `run --resume` (any N) evaluates only the missing items.");
  static RunOptions o;
  static std::vector<std::string> variants, suites;
  static bool json = false;
  add_model_args(cmd, o.model);
  cmd->add_option("--variant", variants, compress::variant_help())->default_str("base");
  cmd->add_option("--baseline", o.baseline, "Variant the others' fidelity is measured against")->capture_default_str();
  cmd->add_option("--calibration", o.calibration,
                  "Calibration text for fidelity and layer ranking (default: datasets/calibration/stories.txt)");
  cmd->add_option("--calib-ctx", o.calib_ctx, "Fidelity window in tokens")->capture_default_str();
  cmd->add_flag("!--no-fidelity", o.fidelity, "Skip the fidelity metrics of a variant sweep");
  cmd->add_flag("!--no-speed", o.speed, "Skip the speed probe of a variant sweep");
  cmd->add_option("--speed-prompt", o.speed_prompt, "Prompt tokens of the speed probe")->capture_default_str();
  cmd->add_option("--speed-gen", o.speed_gen, "Decode steps of the speed probe")->capture_default_str();
  cmd->add_option("--suite", suites,
                  "Comma-separated suites: bundled names, 'all' (every bundled suite but long-context), suite directories or data files")
      ->default_str("all");
  cmd->add_option("--limit", o.limit, "At most this many items per suite (0 = all)")->capture_default_str();
  cmd->add_option("--lc-lengths", o.long_context.lengths,
                  "long-context: comma-separated context lengths in the model's tokens (default: 5 lengths halving down from the context "
                  "in use; longer ones are skipped and counted)")
      ->delimiter(',');
  cmd->add_option("--lc-depths", o.long_context.depths, "long-context: comma-separated needle depths in percent (default 0,25,50,75,100)")
      ->delimiter(',');
  cmd->add_option("--lc-items", o.long_context.items, "long-context: items per (kind, length, depth) cell (default 3)");
  cmd->add_option("--lc-loss-items", o.long_context.loss_items, "long-context: loss-by-position texts (default 4)");
  cmd->add_option("--samples", o.task.samples, "Completions per code problem (pass@k needs samples >= k)")->capture_default_str();
  cmd->add_option("--temperature", o.task.temperature, "Sampling temperature when --samples > 1")->capture_default_str();
  cmd->add_option("--seed", o.task.seed, "Seed for sampling and few-shot selection")->capture_default_str();
  cmd->add_option("--num-fewshot", o.task.num_fewshot,
                  "Few-shot examples per prompt, rendered with their answers (default: the suite's; GSM8K 8, others 0)");
  cmd->add_option("--fewshot-from", o.task.fewshot_from,
                  "File (or suite) in the same format giving the few-shot examples, e.g. a train/dev split; the item itself is never used")
      ->check(CLI::ExistingPath);
  cmd->add_option("--workers", o.task.workers, "Parallel sandbox workers for code execution")->capture_default_str();
  cmd->add_option("--timeout", o.task.timeout_s, "Seconds per code sample (0 = the suite's timeout_s, else 10)")->capture_default_str();
  cmd->add_flag("--unsafe-no-sandbox", o.task.unsafe_no_sandbox, "Run generated code WITHOUT bubblewrap (dangerous)");
  cmd->add_option("--db", o.db, "Results database")->capture_default_str();
  cmd->add_option("--label", o.label, "Label for the run (compare/report can refer to it)");
  cmd->add_flag("--resume", o.resume, "Finish the latest interrupted run with the same configuration");
  cmd->add_flag("--json", json, "Print the results as JSON");
  add_chat_args(cmd, o.chat, /*scoring_flag=*/true);
  cmd->add_option("--api", o.api.url,
                  "Evaluate the model behind an OpenAI-compatible API instead of a local file: its base URL, "
                  "e.g. http://127.0.0.1:8080/v1 (needs --api-model)");
  cmd->add_option("--api-model", o.api.model, "With --api: the model name to request");
  cmd->add_option("--api-key-env", o.api.key_env, "With --api: environment variable holding the API key (sent as a Bearer token)");
  cmd->add_option("--concurrency", o.api.concurrency, "With --api: requests in flight (items evaluated at once)")->capture_default_str();
  cmd->callback([] {
    o.variants = variants.empty() ? std::vector<std::string>{"base"} : split_commas(variants);
    o.suites = suites.empty() ? std::vector<std::string>{"all"} : split_commas(suites);
    o.progress = ::isatty(2);
    auto runs = run_evaluation(o);
    if (runs.empty()) return;  // an MPI rank other than 0: rank 0 reports (harness/mpi_run.h)
    if (json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& r : runs) {
        nlohmann::json jr{{"run_id", r.run_id},
                          {"status", r.status},
                          {"variant", r.variant},
                          {"model", r.model_path},
                          {"model_sha256", r.model_sha256},
                          {"synthetic_weights", r.synthetic},
                          {"backend", r.backend},
                          {"resumed", r.resumed},
                          {"cache_hits", r.cache_hits},
                          {"items_evaluated", r.items_evaluated},
                          {"db", o.db},
                          {"weight_type", r.weight_type},
                          {"model_bytes", r.model_bytes},
                          {"peak_rss_bytes", r.peak_rss_bytes},
                          {"peak_rss_per_variant", r.peak_per_variant},
                          {"load_ms", r.load_ms},
                          {"notes", r.notes},
                          {"chat", r.chat}};
        if (r.fidelity) {
          jr["kld_mean"] = r.fidelity->kld_mean;
          jr["fidelity"] = fidelity_json(*r.fidelity);
        }
        if (r.speed)
          jr["speed"] = {
              {"n_prompt", r.speed->pp.n_prompt},          {"n_gen", r.speed->tg.n_gen},      {"n_depth", r.speed->tg.n_depth},
              {"prefill_ts", r.speed->pp.avg_ts},          {"decode_ts", r.speed->tg.avg_ts}, {"prompt_ms", r.speed->pp.avg_ns / 1e6},
              {"tpot_ms", r.speed->tg.tpot_ms.value_or(0)}};
        for (const auto& s : r.suites) {
          nlohmann::json js{{"version", s.version}, {"task", s.task}, {"n_items", s.n_items}, {"seconds", s.seconds}};
          for (const auto& m : s.metrics) {
            nlohmann::json jm{{"value", m.value}, {"n", m.n}};
            if (m.stderr_) jm["stderr"] = *m.stderr_;
            if (m.ci_low) jm["ci_low"] = *m.ci_low;
            if (m.ci_high) jm["ci_high"] = *m.ci_high;
            js["metrics"][m.metric] = jm;
          }
          jr["suites"][s.name] = js;
        }
        j.push_back(jr);
      }
      std::printf("%s\n", j.dump(1).c_str());
    } else {
      for (const auto& r : runs) {
        std::printf("run %lld (%s) %s  variant %s  backend %s%s\n", (long long)r.run_id, r.status.c_str(), r.model_path.c_str(),
                    r.variant.c_str(), r.backend.c_str(), r.resumed ? "  (resumed)" : "");
        if (r.synthetic) std::printf("  ** synthetic weights: scores measure the harness, not a trained model **\n");
        if (!r.chat.is_null())
          std::printf("  chat: %s%s%s\n", r.chat["template_source"].get<std::string>().c_str(),
                      r.chat["system"].get<std::string>().empty() ? "" : ", with a system message",
                      r.chat["scoring"].get<bool>() ? ", log-likelihood contexts chat-formatted" : "");
        // The metric column fits the longest name (per-group rows such as selection_acc[contradiction]).
        int mw = 16;
        for (const auto& s : r.suites)
          for (const auto& m : s.metrics) mw = std::max(mw, int(m.metric.size()));
        std::printf("  %-12s %-*s %-30s %6s %8s\n", "suite", mw, "metric", "value", "n", "time s");
        for (const auto& s : r.suites)
          for (size_t k = 0; k < s.metrics.size(); ++k)
            std::printf("  %-12s %-*s %-30s %6lld %8s\n", k ? "" : s.name.c_str(), mw, s.metrics[k].metric.c_str(),
                        fmt_metric(s.metrics[k]).c_str(), (long long)s.metrics[k].n, k ? "" : std::to_string(int(s.seconds + 0.5)).c_str());
      }
      if (!runs.empty() && (runs.size() > 1 || runs[0].fidelity || runs[0].speed || runs[0].variant != "base")) print_sweep_table(runs);
      std::printf("results: %s\n", o.db.c_str());
    }
    for (const auto& r : runs)
      if (r.status == "interrupted") throw ExitCode{130};
  });
}

}  // namespace sb::cli
