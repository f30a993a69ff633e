#include "server/metrics.h"

#include <cmath>
#include <cstdio>

namespace sb::serve {

namespace {
std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char b[64];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}
}  // namespace

void Histogram::observe(double v) {
  if (!std::isfinite(v)) return;
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(const std::string& name, const std::string& help, std::string& out) const {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cum = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cum += counts_[i];
    const std::string le = i < bounds_.size() ? num(bounds_[i]) : "+Inf";
    out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cum) + "\n";
  }
  out += name + "_sum " + num(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      tpot_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}),
      duration_({0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}) {}

void Metrics::request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::tokens(int64_t prompt, int64_t generated) {
  std::lock_guard<std::mutex> l(mu_);
  prompt_tokens_ += uint64_t(prompt);
  generation_tokens_ += uint64_t(generated);
}

void Metrics::gauges(int64_t active, int64_t queued) {
  std::lock_guard<std::mutex> l(mu_);
  active_ = active;
  queued_ = queued;
}

void Metrics::sequence_done(double ttft_s, double tpot_s, int64_t n_generated, double total_s) {
  std::lock_guard<std::mutex> l(mu_);
  if (n_generated >= 1) ttft_.observe(ttft_s);
  if (n_generated >= 2) tpot_.observe(tpot_s);
  duration_.observe(total_s);
}

int64_t Metrics::active() const {
  std::lock_guard<std::mutex> l(mu_);
  return active_;
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> l(mu_);
  std::string o;
  o += "# HELP sparkbench_requests_total HTTP requests answered, by endpoint and status\n";
  o += "# TYPE sparkbench_requests_total counter\n";
  for (const auto& [k, v] : requests_)
    o += "sparkbench_requests_total{endpoint=\"" + k.first + "\",status=\"" + std::to_string(k.second) + "\"} " + std::to_string(v) + "\n";
  o += "# HELP sparkbench_prompt_tokens_total Prompt tokens processed\n# TYPE sparkbench_prompt_tokens_total counter\n";
  o += "sparkbench_prompt_tokens_total " + std::to_string(prompt_tokens_) + "\n";
  o += "# HELP sparkbench_generation_tokens_total Tokens generated\n# TYPE sparkbench_generation_tokens_total counter\n";
  o += "sparkbench_generation_tokens_total " + std::to_string(generation_tokens_) + "\n";
  o += "# HELP sparkbench_sequences_active Sequences in a slot (prompt or decoding)\n# TYPE sparkbench_sequences_active gauge\n";
  o += "sparkbench_sequences_active " + std::to_string(active_) + "\n";
  o += "# HELP sparkbench_sequences_queued Sequences waiting for a slot\n# TYPE sparkbench_sequences_queued gauge\n";
  o += "sparkbench_sequences_queued " + std::to_string(queued_) + "\n";
  ttft_.render("sparkbench_time_to_first_token_seconds", "Arrival of a sequence to its first generated token", o);
  tpot_.render("sparkbench_time_per_output_token_seconds", "Mean time between generated tokens after the first", o);
  duration_.render("sparkbench_request_duration_seconds", "Arrival of a sequence to its last token", o);
  return o;
}

}  // namespace sb::serve
