// loadgen: a load generator for OpenAI-compatible servers (`sparkbench loadgen`), in the manner
// of vLLM's benchmark_serving.py, genai-perf and MLPerf Inference's scenarios.
//
// Scenarios (one "run point" each; a rate list gives one point per rate):
//   server        Poisson arrivals at `rate` requests/s: exponential gaps drawn from a
//                 mt19937_64 seeded with `seed`, so the schedule is the same every time.
//   offline       every request issued at once.
//   single-stream one request at a time.
// `concurrency` > 0 caps the requests in flight in any scenario (an arrival waits for a slot).
// Every request streams (evals/openai_api.h) and every token chunk is timestamped on arrival.
//
// Per request: TTFT = first chunk - send; TPOT = (end - first chunk) / (tokens - 1) for requests
// with at least 2 output tokens (vLLM's definition); inter-token latencies = gaps between
// consecutive chunks; end-to-end latency = end - send. Output tokens come from the stream's usage
// when the server sends it, else the number of chunks (`token_source` says which: "usage",
// "chunks" or "mixed"). A point's wall time runs from the first send to the last end; request
// and output-token throughput divide by it. Goodput counts requests meeting every SLO given
// (TTFT <= slo_ttft_ms and TPOT <= slo_tpot_ms; a request with one token meets a TPOT SLO); with
// no SLO it is not computed. Failed requests count as errors and are left out of the latencies.
//
// Prompts: "random" (words drawn with the seed, about input_len tokens), a bundled suite name or
// suite directory (its items' prompts), or a file (.jsonl with a "prompt" or "text" field per
// line, else one prompt per non-empty line); requests cycle through them in a seeded order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sb::cli {

struct LoadgenOptions {
  std::string url;            // API base URL (evals/http_client.h)
  std::string model;          // "" = the first model of GET /models
  std::string scenario;       // server | offline | single-stream ("" = server with rates, else offline)
  std::vector<double> rates;  // server scenario
  int concurrency = 0;        // 0 = no cap
  int64_t requests = 0;       // per point; 0 = 64, or unlimited with a duration
  double duration_s = 0;      // stop issuing after this long (0 = no limit)
  std::string prompts = "random";
  int input_len = 128, output_len = 128;
  std::optional<double> slo_ttft_ms, slo_tpot_ms;
  uint64_t seed = 0;
  std::string api_key_env;
  bool chat = false;        // /chat/completions with the prompt as one user message
  bool ignore_eos = false;  // send "ignore_eos": true (llama-server, vLLM extension)
  bool progress = false;    // live progress line on stderr
};

struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
  int64_t n = 0;
};
Percentiles summarize(std::vector<double> v);

struct RequestResult {
  bool ok = false;
  std::string error;
  double ttft_ms = 0, e2e_ms = 0;
  std::optional<double> tpot_ms;  // >= 2 output tokens
  std::vector<double> itl_ms;     // gaps between chunks
  int64_t output_tokens = 0, prompt_tokens = 0;
  bool usage = false;  // counts from the server's usage
};

struct LoadPoint {
  std::string test;  // "server@2rps", "offline", "single-stream" (+ "/cN" with a cap)
  std::string scenario;
  double rate = 0;  // server scenario
  int concurrency = 0;
  int64_t issued = 0, ok = 0, errors = 0;
  std::string first_error;
  double wall_s = 0;
  double request_throughput = 0;  // ok requests / s
  double output_throughput = 0;   // output tokens / s
  std::optional<double> goodput;  // requests meeting the SLOs / s
  std::optional<double> goodput_fraction;
  Percentiles ttft, tpot, itl, e2e, output_tokens, prompt_tokens;
  std::string token_source;            // usage | chunks | mixed
  std::vector<double> per_request_ts;  // output tokens / s of each ok request (compare's samples)
  std::vector<double> e2e_ns;          // each ok request's end-to-end latency
  nlohmann::json to_json() const;
};

// The test names of the points `opt` describes, in order (for messages before running).
std::vector<std::string> planned_tests(const LoadgenOptions& opt);
// Runs every point. Throws sb::Error for bad options, unreadable prompts or an unreachable
// server (checked with GET /models before the first point); failed requests are counted, not thrown.
// `on_point` is called after each point (printing, storing).
std::vector<LoadPoint> run_loadgen(const LoadgenOptions& opt, std::string* model_used,
                                   const std::function<void(const LoadPoint&)>& on_point = {});

}  // namespace sb::cli
