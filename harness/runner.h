// The main job behind `sparkbench run`: model x variants x suites -> results database.
//
// Each variant is one run (runs started together share a group id). Every evaluated item is
// committed to the database as soon as it is scored, together with the request cache, so a run
// killed at any moment can be finished with resume=true: completed items are skipped, cached
// requests are not recomputed, and metrics are always computed from all stored rows. SIGINT and
// SIGTERM stop after the current item and leave the run "interrupted".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/task.h"
#include "harness/model_loader.h"

namespace sb::cli {

struct RunOptions {
  ModelArgs model;
  std::vector<std::string> variants{"base"};
  std::vector<std::string> suites{"all"};
  int64_t limit = 0;  // items per suite (0 = all)
  TaskOptions task;
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
  std::string variant;
  std::string model_path, model_sha256;
  bool synthetic = false;
  std::string backend;
  bool resumed = false;
  int64_t cache_hits = 0;
  std::vector<SuiteSummary> suites;
};

std::vector<RunSummary> run_evaluation(const RunOptions& opt);

}  // namespace sb::cli
