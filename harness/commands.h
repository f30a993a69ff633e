// Registration of the `sparkbench` subcommands. Each add_*_command() adds one CLI11 subcommand
// to the app with its options and a callback that does the work. Callbacks report expected
// failures by throwing sb::Error; main() prints "error: <message>" and exits with status 1
// (compare uses its own documented codes through ExitCode).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include "reports/store.h"

namespace sb::cli {

// Thrown by a command to end the process with a specific status after printing nothing more.
struct ExitCode {
  int code;
};

// For commands whose errors exit with status 2 (compare, history): runs `body`; an exception
// prints "error: <message>" and becomes status 2; a non-zero status throws ExitCode.
void run_with_status_2_on_error(const std::function<int()>& body);

void add_model_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_score_code_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_ingest_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_compare_command(CLI::App& app);  // errors exit 2 (ExitCode), regressions 1
void add_history_command(CLI::App& app);  // errors exit 2 (ExitCode)
void add_serve_command(CLI::App& app);
void add_loadgen_command(CLI::App& app);
void add_decontam_command(CLI::App& app);  // items flagged exit 3 (ExitCode)
void add_merge_command(CLI::App& app);
void add_distill_command(CLI::App& app);  // engine/train/distill.h

// Parses Google Benchmark JSON output into kernel rows (failed benchmarks are skipped);
// `context` receives its "context" object. Throws sb::Error naming `file` on malformed input.
std::vector<KernelRow> parse_gbench_json(const std::string& text, const std::string& file, nlohmann::json* context);

}  // namespace sb::cli
