// speed_probe: the one speed measurement of sparkbench, behind `bench` (every row) and the
// speed rows of `run --variant` sweeps (so the two can be compared row for row).
//
// A probe runs on one Context. Depth d pre-fills d random tokens once (untimed, prefill_depth());
// every test then rewinds to d, so each repetition sees exactly a d-token KV cache:
//   pp(P)     P random tokens evaluated as one prompt; t/s = P / time.
//   tg(N)     N single-token decode steps; t/s = N / time; per-step latencies.
//   pg(P, N)  a prompt then N greedy tokens: TTFT (call -> first token picked) and TPOT
//             ((total - TTFT) / (N - 1), MLPerf's definition), end-to-end t/s = (P + N) / time.
// run_pp / run_tg / run_pg run a test once untimed (warm-up) then `reps` timed times and return
// a SpeedResult whose n_prompt, n_gen and n_depth are what was measured: a tg row is decode
// from depth d, never decode after a prompt. Random token ids come from the probe's seeded
// generator and avoid the first three ids (special tokens in every vocab we load).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "reports/store.h"

namespace sb::cli {

// What one test measured (llama-bench's field names): the stored row's fields (test "pp512",
// "tg128", "pp512+tg128", lengths, depth, repetitions, per-repetition samples, t/s averages,
// latencies; peak_rss_bytes, load_ms and extra_json stay unset here) plus the time averages.
struct SpeedResult : SpeedRow {
  double avg_ns = 0, stddev_ns = 0;
};

class SpeedProbe {
 public:
  // `ctx` must hold depth + the longest test (sb::Error otherwise, from the model).
  SpeedProbe(const Model& model, Context& ctx, uint64_t seed, int64_t depth);
  int64_t depth() const { return depth_; }
  // Fills the KV cache with `depth` random tokens (untimed). Call once before the tests.
  void prefill_depth();

  // Single timed runs (ns); steps_ms receives per-token latencies.
  double pp(int64_t P);
  double tg(int64_t N, std::vector<double>& steps_ms);
  double pg(int64_t P, int64_t N, double& ttft_ms, double& tpot_ms, std::vector<double>& steps_ms);

  // One warm-up, then `reps` timed repetitions (reps >= 1).
  SpeedResult run_pp(int64_t P, int reps);
  SpeedResult run_tg(int64_t N, int reps);
  SpeedResult run_pg(int64_t P, int64_t N, int reps);

  std::vector<int32_t> random_tokens(int64_t n);

 private:
  const Model& model_;
  Context& ctx_;
  std::mt19937_64 rng_;
  int64_t depth_;
  std::vector<float> logits_;
};

// The speed rows of a `run --variant` sweep: pp`n_prompt` and tg`n_gen`, both at depth 0 on a
// fresh context of max(n_prompt, n_gen) positions, `reps` repetitions after one warm-up, the
// same tests as `bench -p n_prompt -n n_gen` (so compare pairs them with bench rows).
struct QuickSpeed {
  SpeedResult pp, tg;
};
QuickSpeed quick_speed(const Model& model, ContextOptions co, int64_t n_prompt, int64_t n_gen, int reps, uint64_t seed = 42);

// The stored row of a result (docs/SCHEMA.md `speed`): its SpeedRow part; the caller adds peak
// memory, load time and extra_json.
SpeedRow speed_row(const SpeedResult& r);

// Fills samples, averages and repetitions of `r` from per-repetition times of `tokens` tokens.
void finish_speed(SpeedResult& r, const std::vector<double>& ns, int64_t tokens);
double speed_mean(const std::vector<double>& v);
// Linear-interpolated quantile q in [0, 1] (0 for an empty vector).
double speed_percentile(std::vector<double> v, double q);

}  // namespace sb::cli
