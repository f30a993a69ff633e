// Store: the results database (one SQLite file, default "sparkbench.db").
//
// The file is opened in WAL mode with a busy timeout (several processes may write at once),
// foreign keys on, and a versioned schema: open() creates a new database or upgrades an older
// one in place with forward migrations (never dropping data); a database written by a newer
// sparkbench is refused. Every add_*() call commits its own transaction, so a process killed at
// any moment leaves a consistent database that contains every unit of work that completed.
// Runs record their process (host, pid, start time); a run still marked "running" whose
// process is gone is reported as "interrupted" (mark_interrupted()).
//
// Failures (unwritable path, not a database, corrupt file, newer schema) throw sb::Error with
// one line naming the path. One Store object is used from one thread; open one per thread or
// process. The schema is documented in docs/SCHEMA.md. open() also marks interrupted runs
// (mark_interrupted()), so listings never show a dead process's run as "running".
// open(":memory:") gives a private in-memory store (no WAL), handy for tests.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/core/metric_direction.h"

namespace sb {

struct RunInfo {
  std::string label;          // user label ("" = none)
  std::string group_id;       // runs started together (a variant sweep) share it
  std::string kind = "eval";  // "eval" | "bench" | "kernels" (ingest) | "distill" | "loadgen"
  std::string git_commit;     // of the evaluated tree, "" if unknown
  bool git_dirty = false;
  std::string tool_version;  // sparkbench version (commit)
  std::string host;
  std::string cpu;  // CPU model name
  std::string gpu;  // "" if none
  std::string backend;
  int threads = 0;
  std::string model_path;
  std::string model_sha256;
  std::string model_arch;
  bool synthetic_weights = false;
  std::string variant;  // "f32", "q4_0", "prune:0.5", ...
  uint64_t seed = 0;
  std::string config_json;  // the full configuration as JSON
};

struct RunRecord {
  int64_t id = 0;
  RunInfo info;
  std::string status;       // "running" | "complete" | "interrupted" | "failed"
  std::string started_at;   // ISO 8601 UTC
  std::string finished_at;  // "" while running
  std::string uuid;         // 32 hex digits, unique across stores (merge keys on it)
};

// Provenance of one process (MPI rank) that worked on a run, one row per rank and attempt
// (a resumed run adds rows); a single-process run has one row with rank 0 of 1.
struct RankRow {
  int rank = 0, n_ranks = 1, local_rank = 0;
  std::string host;
  std::string device;  // backend and device, e.g. "cpu", "cuda:1"
  int threads = 0;
  int64_t pid = 0;
  int64_t items = 0;       // items this rank evaluated in this attempt
  std::string started_at;  // ISO 8601 UTC (set by the store)
};

struct MetricRow {
  std::string task;    // suite name, e.g. "qa"
  std::string metric;  // "exact_match", "pass@1", ...
  double value = 0;
  std::optional<double> stderr_;          // standard error, when a mean
  std::optional<double> ci_low, ci_high;  // interval (bootstrap or analytic)
  int64_t n = 0;
  // From the metric's declaration (evals/metric_registry.h), stored with the row so readers
  // never guess from the name. Rows written before schema version 4: unknown, '', false.
  Direction direction = Direction::unknown;
  std::string unit;      // "fraction", "ppl", "%", ... ('' = not declared)
  bool primary = false;  // the suite's headline metric
};

struct SampleRow {
  std::string task;
  std::string sample_id;    // stable id of the item (e.g. "code-python/3#2" for sample 2)
  std::string prompt_hash;  // sha256 of the prompt text (pairs items across runs)
  std::string prompt;       // the full prompt text ("" for rows stored before schema 3)
  std::string output;       // generated text or chosen answer
  double score = 0;         // 1/0 for pass/fail, graded otherwise
  std::string outcome;      // "passed", "failed", "timeout", "correct", "wrong", ...
  std::optional<double> ttft_ms, tpot_ms, latency_ms;
  int64_t n_prompt_tokens = 0, n_gen_tokens = 0;
  std::string extra_json;  // task-specific details ("" = none)
};

struct SpeedRow {    // one bench configuration (llama-bench fields)
  std::string test;  // "pp128", "tg32", "pp128+tg32"
  int64_t n_prompt = 0, n_gen = 0, n_depth = 0;
  int64_t repetitions = 0;
  double avg_ts = 0, stddev_ts = 0;
  std::vector<double> samples_ts;
  std::vector<double> samples_ns;
  std::optional<double> ttft_ms, tpot_ms, p50_ms, p90_ms, p99_ms;
  std::optional<int64_t> peak_rss_bytes;
  std::optional<double> load_ms;
  std::string extra_json;
};

struct KernelRow {        // one Google Benchmark result row
  std::string name;       // full benchmark name, e.g. "BM_Matmul/f32/M:1/..."
  std::string run_type;   // "iteration" | "aggregate"
  std::string aggregate;  // "", "mean", "median", "stddev", "cv"
  int64_t iterations = 0;
  double real_time_ns = 0, cpu_time_ns = 0;
  std::string counters_json;  // bytes_per_second, FLOP/s, pct_peak ... as JSON
};

// One optimizer step of a training run (`sparkbench distill`, or the +distill:STEPS variant step
// of an eval run): its loss and learning rate, and the held-out KLD where one was measured.
struct TrainStepRow {
  int64_t step = 0;  // 1-based
  double loss = 0;
  double lr = 0;
  std::optional<double> kld;  // held-out KL divergence to the teacher at this step (nats)
};

class Store {
 public:
  static std::unique_ptr<Store> open(const std::string& path);
  virtual ~Store() = default;
  virtual int schema_version() const = 0;

  virtual int64_t begin_run(const RunInfo& info) = 0;                   // status "running"
  virtual void finish_run(int64_t run, const std::string& status) = 0;  // "complete" | "failed"
  // Marks runs "interrupted" whose recorded process (on this host) no longer exists; returns how many.
  virtual int mark_interrupted() = 0;
  virtual std::optional<RunRecord> get_run(int64_t id) = 0;
  // Resolves a run reference: a numeric id, a label (latest run with it), or "latest".
  virtual std::optional<RunRecord> find_run(const std::string& ref) = 0;
  virtual std::vector<RunRecord> list_runs(int limit = 100) = 0;
  // Re-marks an interrupted run as running under this process (for --resume).
  virtual void resume_run(int64_t run) = 0;

  virtual void add_sample(int64_t run, const SampleRow& s) = 0;
  virtual void add_samples(int64_t run, const std::vector<SampleRow>& s) = 0;  // one transaction
  virtual std::vector<SampleRow> samples(int64_t run, const std::string& task = "") = 0;
  virtual std::set<std::string> sample_ids(int64_t run, const std::string& task) = 0;
  virtual void add_metric(int64_t run, const MetricRow& m) = 0;  // replaces (run, task, metric)
  virtual std::vector<MetricRow> metrics(int64_t run) = 0;
  virtual int64_t add_rank(int64_t run, const RankRow& r) = 0;  // returns the row's id
  virtual void set_rank_items(int64_t rank_row, int64_t items) = 0;
  virtual std::vector<RankRow> ranks(int64_t run) = 0;
  virtual void add_speed(int64_t run, const SpeedRow& s) = 0;
  virtual std::vector<SpeedRow> speeds(int64_t run) = 0;
  virtual void add_kernels(int64_t run, const std::vector<KernelRow>& rows) = 0;
  virtual std::vector<KernelRow> kernels(int64_t run) = 0;
  // One transaction; a step already stored for the run is replaced (its kld kept when the new
  // row has none), so a resumed or repeated writer does not fail.
  virtual void add_train_steps(int64_t run, const std::vector<TrainStepRow>& rows) = 0;
  virtual std::vector<TrainStepRow> train_steps(int64_t run) = 0;  // by step

  // --- Read queries for `sparkbench report` (reports/report_data.h) ---
  // Decode timing of one task's generation samples in a run: the samples with a measured TPOT
  // and at least 2 generated tokens (TPOT is undefined below that).
  struct TaskTiming {
    std::string task;
    int64_t n = 0;            // samples counted
    double tpot_mean_ms = 0;  // mean of the per-sample TPOT
    double tpot_sd_ms = 0;    // sample standard deviation (0 when n < 2)
    int64_t n_ttft = 0;       // of those, samples with a TTFT
    double ttft_mean_ms = 0;
  };
  // One row per task (sorted by task) with at least one such sample.
  virtual std::vector<TaskTiming> sample_timings(int64_t run) = 0;
  // --- end of report queries ---

  // Request cache shared by all runs: key = content hash of (model identity, request).
  virtual std::optional<std::string> cache_get(const std::string& key) = 0;
  virtual void cache_put(const std::string& key, const std::string& value) = 0;

  // Checks the whole file (SQLite's PRAGMA quick_check; full = integrity_check, which also
  // compares every index with its table, and checks foreign keys) and throws sb::Error naming
  // the path and the first problem if the file is damaged. It reads every page (measured on a
  // 50 MB file: quick 0.09 s cached / 0.7 s from disk, full 0.22 s, against 1 ms for open()),
  // so open() does not do it (docs/SCHEMA.md); damage surfaces as sb::Error from whichever
  // call reads a damaged page.
  virtual void verify(bool full = false) = 0;
};

}  // namespace sb
