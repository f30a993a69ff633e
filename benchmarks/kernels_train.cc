#include "benchmarks/kernels_train.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/model/config.h"
#include "engine/train/ops_cpu.h"
#include "engine/train/train_model.h"

namespace sb::bench {
namespace {

using benchmark::Counter;
using train::TrainBackend;
using train::TrainModel;

// The matrix products of one training step of `m` over n rows (forward y = x W^T, backward
// dx += dy W and dW += dy^T x, for every layer matrix and the output projection), on the model's
// own weight and gradient buffers, through cpu::matmul_*: what the step would cost if it were
// products only. Returns the products' FLOP count.
double step_products(TrainModel<float>& m, int64_t n, std::vector<float>& a, std::vector<float>& b, std::vector<float>& c) {
  const ModelConfig& cf = m.config();
  double flop = 0;
  auto prod = [&](int64_t w, int64_t K, int64_t N) {
    float* W = m.params()[size_t(w)].w.data();
    float* dW = m.grads()[size_t(w)].data();
    train::cpu::matmul_fwd(a.data(), W, n, K, N, c.data());
    train::cpu::matmul_bwd(a.data(), W, c.data(), n, K, N, b.data(), dW);
    flop += 6.0 * double(n) * double(K) * double(N);
  };
  for (const auto& L : m.layers) {
    prod(L.wq, cf.n_embd, cf.q_dim());
    prod(L.wk, cf.n_embd, cf.kv_dim());
    prod(L.wv, cf.n_embd, cf.kv_dim());
    prod(L.wo, cf.q_dim(), cf.n_embd);
    prod(L.gate, cf.n_embd, cf.n_ff);
    prod(L.up, cf.n_embd, cf.n_ff);
    prod(L.down, cf.n_ff, cf.n_embd);
  }
  prod(m.output, cf.n_embd, cf.n_vocab);
  return flop;
}

struct Setup {
  TrainModel<float> m;
  std::vector<int32_t> ids, targets;
  std::vector<float> a, b, c;  // step_products buffers
};

std::shared_ptr<Setup> make_setup(const std::string& preset, int64_t n, TrainBackend backend, int threads) {
  const Preset& p = find_preset(preset);
  auto s = std::make_shared<Setup>(Setup{TrainModel<float>::random(p.config, 1, 0.02, 0.0), {}, {}, {}, {}, {}});
  s->m.set_backend(backend, threads);
  std::mt19937_64 rng(2);
  for (int64_t i = 0; i <= n; ++i) s->ids.push_back(int32_t(rng() % uint64_t(p.config.n_vocab)));
  s->targets.assign(s->ids.begin() + 1, s->ids.end());
  s->ids.pop_back();
  const int64_t width = std::max({p.config.n_embd, p.config.q_dim(), p.config.n_ff, p.config.n_vocab});
  s->a.assign(size_t(n * width), 0.01f);
  s->b.assign(size_t(n * width), 0.0f);
  s->c.assign(size_t(n * width), 0.0f);
  return s;
}

// FLOP/s of step_products, best of `reps` (untimed by the framework: called outside the loop).
double sgemm_shapes_rate(Setup& s, int64_t n, int reps) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double flop = step_products(s.m, n, s.a, s.b, s.c);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, flop / sec);
  }
  return best;
}

}  // namespace

void register_train_kernels(bool short_mode, int threads, double f32_peak) {
  const std::string preset = "codex-spark-mini";
  const std::vector<int64_t> lens = short_mode ? std::vector<int64_t>{64} : std::vector<int64_t>{128, 256, 512};
  for (int64_t n : lens) {
    const std::string tail = "/" + preset + "/n:" + std::to_string(n);
    for (bool recompute : {false, true}) {
      if (short_mode && recompute) continue;
      const std::string name = std::string("train/step") + (recompute ? "_recompute" : "") + tail;
      benchmark::RegisterBenchmark(name.c_str(),
                                   [=](benchmark::State& st) {
                                     auto s = make_setup(preset, n, TrainBackend::Cpu, threads);
                                     s->m.set_recompute(recompute);
                                     // the products alone at this step's shapes, measured beside the step (before and after)
                                     double sgemm = sgemm_shapes_rate(*s, n, 2);
                                     s->m.zero_grad();
                                     for (auto _ : st) s->m.forward_backward(s->ids.data(), s->targets.data(), n, nullptr, 1.0, 0.0, 1.0);
                                     sgemm = std::max(sgemm, sgemm_shapes_rate(*s, n, 2));
                                     const double flop = double(train::train_flops(s->m.config(), n));
                                     st.counters["tok/s"] = Counter(double(n), Counter::kIsIterationInvariantRate);
                                     st.counters["FLOP/s"] = Counter(flop, Counter::kIsIterationInvariantRate);
                                     st.counters["pct_sgemm_shapes"] = Counter(flop / sgemm * 100.0, Counter::kIsIterationInvariantRate);
                                     st.counters["sgemm_shapes_FLOP/s"] = sgemm;
                                     if (f32_peak > 0)
                                       st.counters["pct_peak_flops"] = Counter(flop / f32_peak * 100.0, Counter::kIsIterationInvariantRate);
                                   })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
    benchmark::RegisterBenchmark(("train/sgemm_shapes" + tail).c_str(),
                                 [=](benchmark::State& st) {
                                   auto s = make_setup(preset, n, TrainBackend::Cpu, threads);
                                   double flop = 0;
                                   for (auto _ : st) flop = step_products(s->m, n, s->a, s->b, s->c);
                                   st.counters["FLOP/s"] = Counter(flop, Counter::kIsIterationInvariantRate);
                                   if (f32_peak > 0)
                                     st.counters["pct_peak_flops"] = Counter(flop / f32_peak * 100.0, Counter::kIsIterationInvariantRate);
                                 })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  if (!short_mode) {  // the reference ops, for the speed-up (slow: one short sequence)
    const int64_t n = 64;
    benchmark::RegisterBenchmark(("train/step_ref/" + preset + "/n:" + std::to_string(n)).c_str(),
                                 [=](benchmark::State& st) {
                                   auto s = make_setup(preset, n, TrainBackend::Ref, threads);
                                   for (auto _ : st) s->m.forward_backward(s->ids.data(), s->targets.data(), n, nullptr, 1.0, 0.0, 1.0);
                                   const double flop = double(train::train_flops(s->m.config(), n));
                                   st.counters["tok/s"] = Counter(double(n), Counter::kIsIterationInvariantRate);
                                   st.counters["FLOP/s"] = Counter(flop, Counter::kIsIterationInvariantRate);
                                 })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
  }
}

}  // namespace sb::bench
