// Metrics: the server's counters, gauges and latency histograms, rendered in the Prometheus
// text exposition format (version 0.0.4) for GET /metrics.
//
// Names (all prefixed sparkbench_):
//   requests_total{endpoint,status}   HTTP requests answered, by route and status code
//   prompt_tokens_total, generation_tokens_total   tokens read and generated
//   sequences_active, sequences_queued             gauges: slots in use, sequences waiting
//   time_to_first_token_seconds       histogram: arrival of a sequence to its first token
//   time_per_output_token_seconds     histogram: (last - first token time) / (tokens - 1)
//   request_duration_seconds          histogram: arrival to last token, per sequence
// Thread-safe (one mutex); every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sb::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}
  void observe(double v);
  // Appends the _bucket/_sum/_count lines of `name`.
  void render(const std::string& name, const std::string& help, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request(const std::string& endpoint, int status);
  void tokens(int64_t prompt, int64_t generated);
  void gauges(int64_t active, int64_t queued);
  void sequence_done(double ttft_s, double tpot_s, int64_t n_generated, double total_s);
  int64_t active() const;
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, generation_tokens_ = 0;
  int64_t active_ = 0, queued_ = 0;
  Histogram ttft_, tpot_, duration_;
};

}  // namespace sb::serve
