// Speed measurement behind `sparkbench bench` (llama-bench's test matrix and field names).
//
// For each configuration (model x backend x variant x threads x KV type x depth) and each test:
//   ppP  (n_prompt P, n_gen 0): P random tokens evaluated as one prompt; t/s = P / time.
//   tgN  (n_prompt 0, n_gen N): N single-token decode steps; t/s = N / time; per-step latency
//        percentiles (p50/p90/p99) over all repetitions.
//   ppP+tgN: a prompt then N greedy tokens: TTFT (call -> first token sampled) and TPOT
//        ((total - TTFT) / (N - 1), MLPerf's definition), plus end-to-end t/s.
// Depth d pre-fills d random tokens (untimed) so the test runs against a d-token KV cache.
// Each test runs once untimed (warm-up), then `repetitions` timed times. Random token ids are
// drawn from a fixed seed, avoiding special tokens. Peak resident memory is the process's
// high-water mark after the configuration ran, reset before each configuration where the kernel
// allows it (harness/variants.h), so each row reports its own configuration's peak.
// Variants (--variant, docs/VARIANTS.md) are applied in memory at load, one configuration each.
//
// Scenarios (MLPerf LoadGen vocabulary): "single-stream" issues one query (ppP+tgN) at a time
// and reports the 90th-percentile query latency; "offline" runs a batch of queries back to back
// and reports throughput (generated tokens/s and queries/s). The engine runs one sequence at a
// time today; the server scenario (Poisson arrivals) needs multi-sequence batching.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/model_loader.h"
#include "harness/speed_probe.h"

namespace sb::cli {

struct BenchConfig {
  std::vector<std::string> models;  // paths or "preset:NAME"
  std::vector<std::string> backends;
  std::vector<int> threads;
  std::vector<std::string> kv_types;
  std::vector<std::string> variants{"base"};  // variant specs
  std::string calibration;                    // text file for prune-layers ("" = bundled)
  std::vector<int64_t> depths{0};
  std::vector<int64_t> n_prompt{512};
  std::vector<int64_t> n_gen{128};
  std::vector<std::pair<int64_t, int64_t>> pg;  // combined tests
  int repetitions = 5;
  int64_t n_batch = 512;
  std::string compute = "f32";
  std::string scenario;  // "", "single-stream", "offline"
  int queries = 8;       // scenario queries
  uint64_t seed = 42;
};

// One row: the configuration plus what the speed probe measured (harness/speed_probe.h: test,
// n_prompt, n_gen, n_depth, repetitions, per-repetition samples, averages, TTFT/TPOT, percentiles).
struct BenchRow : SpeedResult {
  // identification (llama-bench field names where they exist)
  std::string model_filename, model_type, backend, backend_info, type_k, scenario;
  std::string variant = "base";
  std::vector<std::string> variant_notes;
  bool peak_rss_per_config = false;
  int64_t model_size = 0, model_n_params = 0, n_batch = 0, n_threads = 0;
  bool synthetic = false;
  std::optional<double> queries_per_s;
  int64_t peak_rss_bytes = 0;
  int64_t weight_bytes = 0, kv_bytes = 0;
  double load_ms = 0;
};

// Runs the matrix; `on_row` is called as each row completes (for streaming output).
std::vector<BenchRow> run_bench(const BenchConfig& cfg, const std::function<void(const BenchRow&)>& on_row);

// Renders rows: "table" (terminal), "md", "json", "jsonl", "csv", "sql".
std::string render_bench(const std::vector<BenchRow>& rows, const std::string& format);

}  // namespace sb::cli
