#include "harness/speed_probe.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "engine/core/error.h"
#include "engine/generate/sampler.h"

namespace sb::cli {

namespace {
using probe_clock = std::chrono::steady_clock;
double probe_ns_since(probe_clock::time_point t) { return std::chrono::duration<double, std::nano>(probe_clock::now() - t).count(); }

double probe_stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = speed_mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}
}  // namespace

double speed_mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / double(v.size());
}

double speed_percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

void finish_speed(SpeedResult& r, const std::vector<double>& ns, int64_t tokens) {
  r.samples_ns = ns;
  r.samples_ts.clear();
  for (double x : ns) r.samples_ts.push_back(x > 0 ? double(tokens) * 1e9 / x : 0);
  r.avg_ns = speed_mean(ns);
  r.stddev_ns = probe_stddev(ns);
  r.avg_ts = speed_mean(r.samples_ts);
  r.stddev_ts = probe_stddev(r.samples_ts);
  r.repetitions = int64_t(ns.size());
}

SpeedProbe::SpeedProbe(const Model& model, Context& ctx, uint64_t seed, int64_t depth)
    : model_(model), ctx_(ctx), rng_(seed), depth_(depth) {}

std::vector<int32_t> SpeedProbe::random_tokens(int64_t n) {
  const int64_t V = model_.config().n_vocab;
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& t : ids) t = int32_t(3 + rng_() % uint64_t(V - 3));
  return ids;
}

void SpeedProbe::prefill_depth() {
  ctx_.rewind(0);
  if (depth_ > 0) {
    auto ids = random_tokens(depth_);
    ctx_.eval(ids.data(), depth_, false, logits_);
  }
}

double SpeedProbe::pp(int64_t P) {
  auto ids = random_tokens(P);
  ctx_.rewind(depth_);
  const auto t0 = probe_clock::now();
  ctx_.eval(ids.data(), P, false, logits_);
  return probe_ns_since(t0);
}

double SpeedProbe::tg(int64_t N, std::vector<double>& steps) {
  auto ids = random_tokens(N);
  ctx_.rewind(depth_);
  const auto t0 = probe_clock::now();
  for (int64_t i = 0; i < N; ++i) {
    const auto s = probe_clock::now();
    ctx_.eval(&ids[size_t(i)], 1, false, logits_);
    steps.push_back(probe_ns_since(s) / 1e6);
  }
  return probe_ns_since(t0);
}

double SpeedProbe::pg(int64_t P, int64_t N, double& ttft, double& tpot, std::vector<double>& steps) {
  auto ids = random_tokens(P);
  const int64_t V = model_.config().n_vocab;
  ctx_.rewind(depth_);
  const auto t0 = probe_clock::now();
  ctx_.eval(ids.data(), P, false, logits_);
  int32_t next = argmax(logits_.data(), V);
  ttft = probe_ns_since(t0) / 1e6;
  double last = ttft;
  for (int64_t i = 1; i < N; ++i) {
    ctx_.eval(&next, 1, false, logits_);
    next = argmax(logits_.data(), V);
    const double now = probe_ns_since(t0) / 1e6;
    steps.push_back(now - last);
    last = now;
  }
  tpot = N > 1 ? (last - ttft) / double(N - 1) : 0.0;
  return probe_ns_since(t0);
}

namespace {
void set_step_percentiles(SpeedResult& r, const std::vector<double>& steps_ms) {
  r.p50_ms = speed_percentile(steps_ms, 0.50);
  r.p90_ms = speed_percentile(steps_ms, 0.90);
  r.p99_ms = speed_percentile(steps_ms, 0.99);
}

SpeedResult probe_named(std::string test, int64_t P, int64_t N, int64_t depth) {
  SpeedResult r;
  r.test = std::move(test);
  r.n_prompt = P;
  r.n_gen = N;
  r.n_depth = depth;
  return r;
}
}  // namespace

SpeedResult SpeedProbe::run_pp(int64_t P, int reps) {
  if (reps < 1) fail("speed probe: repetitions must be at least 1");
  SpeedResult r = probe_named("pp" + std::to_string(P), P, 0, depth_);
  pp(P);  // warm-up
  std::vector<double> ns;
  for (int i = 0; i < reps; ++i) ns.push_back(pp(P));
  finish_speed(r, ns, P);
  return r;
}

SpeedResult SpeedProbe::run_tg(int64_t N, int reps) {
  if (reps < 1) fail("speed probe: repetitions must be at least 1");
  SpeedResult r = probe_named("tg" + std::to_string(N), 0, N, depth_);
  std::vector<double> warm, steps, ns;
  tg(N, warm);
  for (int i = 0; i < reps; ++i) ns.push_back(tg(N, steps));
  finish_speed(r, ns, N);
  set_step_percentiles(r, steps);
  r.tpot_ms = speed_mean(steps);
  return r;
}

SpeedResult SpeedProbe::run_pg(int64_t P, int64_t N, int reps) {
  if (reps < 1) fail("speed probe: repetitions must be at least 1");
  SpeedResult r = probe_named("pp" + std::to_string(P) + "+tg" + std::to_string(N), P, N, depth_);
  double ttft = 0, tpot = 0;
  std::vector<double> warm, steps, ttfts, tpots, ns;
  pg(P, N, ttft, tpot, warm);
  for (int i = 0; i < reps; ++i) {
    ns.push_back(pg(P, N, ttft, tpot, steps));
    ttfts.push_back(ttft);
    tpots.push_back(tpot);
  }
  finish_speed(r, ns, P + N);
  r.ttft_ms = speed_mean(ttfts);
  r.tpot_ms = speed_mean(tpots);
  set_step_percentiles(r, steps);
  return r;
}

SpeedRow speed_row(const SpeedResult& r) { return SpeedRow(r); }

QuickSpeed quick_speed(const Model& model, ContextOptions co, int64_t n_prompt, int64_t n_gen, int reps, uint64_t seed) {
  const int64_t P = std::max<int64_t>(1, n_prompt), N = std::max<int64_t>(1, n_gen);
  const int64_t n_ctx = model.config().n_ctx;
  if (std::max(P, N) > n_ctx) fail("speed probe of pp", P, " and tg", N, " exceeds the model context ", n_ctx);
  co.n_ctx = std::max(P, N);
  Context ctx(model, co);
  SpeedProbe probe(model, ctx, seed, 0);
  probe.prefill_depth();
  QuickSpeed q;
  q.pp = probe.run_pp(P, reps);
  q.tg = probe.run_tg(N, reps);
  return q;
}

}  // namespace sb::cli
