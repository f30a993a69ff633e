// The cpu training ops (engine/train/ops_cpu.h: oneDNN sgemm + OpenMP, f32) against the
// reference ops (ops.h) run in double on the same inputs, forward and backward, on shapes large
// enough to take the threaded paths; whole-model gradients of TrainModel<float> on the cpu ops
// against TrainModel<double> on the ref ops (whose gradients test_train_model.cc checks against
// finite differences), plus a directional finite-difference check in f32 through the cpu path;
// activation recomputation gives bit-identical gradients and keeps only layer inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "engine/core/error.h"
#include "engine/train/ops.h"
#include "engine/train/ops_cpu.h"
#include "engine/train/train_model.h"
#include "tests/test_support.h"

using namespace sb;
using namespace sb::train;
using sb::test::max_abs_err;
using sb::test::max_rel_err;
using sb::test::nmse;

namespace {

std::vector<float> randf(size_t n, uint64_t seed, double std = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, std);
  std::vector<float> v(n);
  for (float& x : v) x = float(nd(rng));
  return v;
}
std::vector<double> d(const std::vector<float>& v) { return {v.begin(), v.end()}; }
std::vector<float> f(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// f32 result `got` against the double reference `ref`: max |ref - got| / max(1, |ref|) and the
// normalized squared error, both NaN-aware (test_support.h).
void check_close(const char* what, const std::vector<double>& ref, const std::vector<float>& got, double tol = 1e-4) {
  const std::vector<float> rf = f(ref);
  const double rel = max_rel_err(rf, got), e2 = nmse(rf, got);
  INFO(what << ": max_rel_err " << rel << ", nmse " << e2);
  CHECK(rel < tol);
  CHECK(e2 < 1e-9);
}

ModelConfig small_config(bool qwen) {
  ModelConfig c;
  c.arch = qwen ? "qwen3" : "llama";
  c.n_vocab = 61;
  c.n_ctx = 128;
  c.n_embd = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = qwen ? 4 : 2;
  c.head_dim = 16;
  c.n_rot = 16;
  c.n_ff = 96;
  c.tied_output = qwen;
  if (qwen) {
    c.rope_style = RopeStyle::NeoX;
    c.qk_norm = true;
    c.rope_freqs = true;
  }
  return c;
}

std::vector<int32_t> token_ids(int64_t n, int64_t V, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int32_t& x : v) x = int32_t(rng() % uint64_t(V));
  return v;
}

}  // namespace

TEST_CASE("train cpu ops: matmul forward and backward equal the double reference", "[train][unit]") {
  const int64_t R = 67, K = 300, N = 130;  // odd sizes, over the threading threshold (2^21)
  const auto x = randf(size_t(R * K), 1), W = randf(size_t(N * K), 2), dy = randf(size_t(R * N), 3);
  const auto y0 = randf(size_t(R * N), 4), dx0 = randf(size_t(R * K), 5), dW0 = randf(size_t(N * K), 6);
  for (bool acc : {false, true}) {
    std::vector<double> yr = d(y0);
    matmul_fwd(d(x).data(), d(W).data(), R, K, N, yr.data(), acc);
    std::vector<float> yc = y0;
    cpu::matmul_fwd(x.data(), W.data(), R, K, N, yc.data(), acc);
    check_close(acc ? "y (accumulate)" : "y", yr, yc);
  }
  std::vector<double> dxr = d(dx0), dWr = d(dW0);
  matmul_bwd(d(x).data(), d(W).data(), d(dy).data(), R, K, N, dxr.data(), dWr.data());
  std::vector<float> dxc = dx0, dWc = dW0;
  cpu::matmul_bwd(x.data(), W.data(), dy.data(), R, K, N, dxc.data(), dWc.data());
  check_close("dx", dxr, dxc);
  check_close("dW", dWr, dWc);
}

TEST_CASE("train cpu ops: RMS norm, SwiGLU and RoPE equal the double reference", "[train][unit]") {
  const int64_t R = 71, C = 515;
  const auto x = randf(size_t(R * C), 7), w = randf(size_t(C), 8), dy = randf(size_t(R * C), 9);
  const auto dx0 = randf(size_t(R * C), 10), dw0 = randf(size_t(C), 11);
  std::vector<double> yr(size_t(R * C)), rr(static_cast<size_t>(R));
  rmsnorm_fwd(d(x).data(), d(w).data(), R, C, 1e-5, yr.data(), rr.data());
  std::vector<float> yc(size_t(R * C)), rc(static_cast<size_t>(R));
  cpu::rmsnorm_fwd(x.data(), w.data(), R, C, 1e-5, yc.data(), rc.data());
  check_close("rmsnorm y", yr, yc);
  check_close("rmsnorm rstd", rr, rc);
  std::vector<double> dxr = d(dx0), dwr = d(dw0);
  rmsnorm_bwd(d(x).data(), d(w).data(), rr.data(), d(dy).data(), R, C, dxr.data(), dwr.data());
  std::vector<float> dxc = dx0, dwc = dw0;
  cpu::rmsnorm_bwd(x.data(), w.data(), rc.data(), dy.data(), R, C, dxc.data(), dwc.data());
  check_close("rmsnorm dx", dxr, dxc);
  check_close("rmsnorm dw", dwr, dwc);

  const int64_t n = R * C;
  const auto g = randf(size_t(n), 12, 3.0), u = randf(size_t(n), 13);
  std::vector<double> outr(static_cast<size_t>(n));
  swiglu_fwd(d(g).data(), d(u).data(), n, outr.data());
  std::vector<float> outc(static_cast<size_t>(n));
  cpu::swiglu_fwd(g.data(), u.data(), n, outc.data());
  check_close("swiglu out", outr, outc);
  std::vector<double> dgr = d(dx0), dur = d(dy);
  swiglu_bwd(d(g).data(), d(u).data(), d(dy).data(), n, dgr.data(), dur.data());
  std::vector<float> dgc = dx0, duc = dy;
  cpu::swiglu_bwd(g.data(), u.data(), dy.data(), n, dgc.data(), duc.data());
  check_close("swiglu dgate", dgr, dgc);
  check_close("swiglu dup", dur, duc);

  const float ff[8] = {1, 1.5f, 2, 3, 4, 6, 8, 16};
  for (RopeStyle style : {RopeStyle::Interleaved, RopeStyle::NeoX}) {
    const int64_t H = 5, D = 32, n_rot = 16;
    const RopeTable t = rope_table(R, 0, n_rot, 10000.0f, 1.0f, ff);
    const auto q = randf(size_t(R * H * D), 14);
    std::vector<double> qr = d(q);
    rope_fwd(qr.data(), H, D, n_rot, style, t);
    std::vector<float> qc = q;
    cpu::rope_fwd(qc.data(), H, D, n_rot, style, t);
    check_close("rope fwd", qr, qc);
    rope_bwd(qr.data(), H, D, n_rot, style, t);
    cpu::rope_bwd(qc.data(), H, D, n_rot, style, t);
    check_close("rope bwd", qr, qc);
    check_close("rope bwd(fwd(q)) = q", qr, q);
  }
}

TEST_CASE("train cpu ops: causal attention equals the double reference (MHA, GQA, one KV head)", "[train][unit]") {
  const int64_t R = 150, D = 32;  // 2 H R^2 D over the threading threshold (2^21)
  for (int64_t Hkv : {int64_t(6), int64_t(2), int64_t(1)}) {
    const int64_t H = 6;
    INFO("H " << H << ", Hkv " << Hkv);
    const double scale = 1.0 / std::sqrt(double(D));
    const auto q = randf(size_t(R * H * D), 20), k = randf(size_t(R * Hkv * D), 21), v = randf(size_t(R * Hkv * D), 22);
    const auto dout = randf(q.size(), 23), dq0 = randf(q.size(), 24), dk0 = randf(k.size(), 25), dv0 = randf(v.size(), 26);
    std::vector<double> outr(q.size()), pr(size_t(H * R * R));
    attention_fwd(d(q).data(), d(k).data(), d(v).data(), R, H, Hkv, D, scale, outr.data(), pr.data());
    std::vector<float> outc(q.size()), pc(size_t(H * R * R), NAN);
    cpu::attention_fwd(q.data(), k.data(), v.data(), R, H, Hkv, D, scale, outc.data(), pc.data());
    check_close("attention out", outr, outc);
    check_close("attention probs", pr, pc);  // the upper triangle is 0 in both
    std::vector<double> dqr = d(dq0), dkr = d(dk0), dvr = d(dv0);
    attention_bwd(d(q).data(), d(k).data(), d(v).data(), pr.data(), d(dout).data(), R, H, Hkv, D, scale, dqr.data(), dkr.data(),
                  dvr.data());
    std::vector<float> dqc = dq0, dkc = dk0, dvc = dv0;
    cpu::attention_bwd(q.data(), k.data(), v.data(), pc.data(), dout.data(), R, H, Hkv, D, scale, dqc.data(), dkc.data(), dvc.data());
    check_close("attention dq", dqr, dqc);
    check_close("attention dk", dkr, dkc);
    check_close("attention dv", dvr, dvc);
  }
}

TEST_CASE("train cpu ops: whole-model logits and gradients equal the double reference", "[train][unit]") {
  for (bool qwen : {false, true}) {
    INFO((qwen ? "qwen3 (NeoX, q/k norms, tied output, rope_freqs)" : "llama (GQA, separate output)"));
    const ModelConfig c = small_config(qwen);
    TrainModel<double> ref = TrainModel<double>::random(c, 7, 0.15);
    TrainModel<float> fast = ref.cast<float>();
    fast.set_backend(TrainBackend::Cpu);
    const int64_t n = 53;
    const auto ids = token_ids(n, c.n_vocab, 8), targets = token_ids(n, c.n_vocab, 9);
    std::vector<double> zr;
    ref.forward(ids.data(), n, zr);
    std::vector<float> zc;
    fast.forward(ids.data(), n, zc);
    check_close("logits", zr, zc);
    ref.zero_grad();
    fast.zero_grad();
    const double lr = ref.forward_backward(ids.data(), targets.data(), n, nullptr, 1.0, 0.0, 1.0);
    const double lc = fast.forward_backward(ids.data(), targets.data(), n, nullptr, 1.0, 0.0, 1.0);
    CHECK(std::fabs(lr - lc) < 1e-5 * std::fabs(lr));
    // Gradients are small: compare each tensor relative to its own scale (nmse) and absolutely.
    for (size_t t = 0; t < ref.params().size(); ++t) {
      const std::vector<float> gr = f(ref.grads()[t]);
      const double e2 = nmse(gr, fast.grads()[t]), abs_err = max_abs_err(gr, fast.grads()[t]);
      double scale = 0;
      for (float g : gr) scale = std::max(scale, double(std::fabs(g)));
      INFO(ref.params()[t].name << ": nmse " << e2 << ", max abs err " << abs_err << ", max |g| " << scale);
      CHECK(scale > 0);
      CHECK(e2 < 1e-8);
      CHECK(abs_err < 1e-4 * scale);
    }
  }
}

TEST_CASE("train cpu ops: f32 gradients through the cpu path match finite differences along a direction", "[train][unit]") {
  const ModelConfig c = small_config(false);
  TrainModel<float> m = TrainModel<float>::random(c, 11, 0.15);
  m.set_backend(TrainBackend::Cpu);
  const int64_t n = 40;
  const auto ids = token_ids(n, c.n_vocab, 12), targets = token_ids(n, c.n_vocab, 13);
  m.zero_grad();
  m.forward_backward(ids.data(), targets.data(), n, nullptr, 1.0, 0.0, 1.0);
  // unit direction d = normalize(g / |g| + r / |r|), r random (so that g.d is not tiny); g.d
  // against (L(w + h d) - L(w - h d)) / 2h
  std::mt19937_64 rng(14);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<std::vector<double>> dir;
  double gg = 0, rr = 0;
  for (size_t t = 0; t < m.params().size(); ++t) {
    dir.emplace_back(m.params()[t].w.size());
    for (size_t i = 0; i < dir[t].size(); ++i) {
      dir[t][i] = nd(rng);
      rr += dir[t][i] * dir[t][i];
      gg += double(m.grads()[t][i]) * double(m.grads()[t][i]);
    }
  }
  double norm2 = 0, gd = 0;
  for (size_t t = 0; t < dir.size(); ++t)
    for (size_t i = 0; i < dir[t].size(); ++i) {
      dir[t][i] = double(m.grads()[t][i]) / std::sqrt(gg) + dir[t][i] / std::sqrt(rr);
      norm2 += dir[t][i] * dir[t][i];
    }
  for (size_t t = 0; t < dir.size(); ++t)
    for (size_t i = 0; i < dir[t].size(); ++i) gd += double(m.grads()[t][i]) * dir[t][i] / std::sqrt(norm2);
  const std::vector<std::vector<float>> keep = [&] {
    std::vector<std::vector<float>> k;
    for (const auto& p : m.params()) k.push_back(p.w);
    return k;
  }();
  auto loss_at = [&](double h) {
    for (size_t t = 0; t < dir.size(); ++t)
      for (size_t i = 0; i < dir[t].size(); ++i) m.params()[t].w[i] = float(double(keep[t][i]) + h * dir[t][i] / std::sqrt(norm2));
    std::vector<float> z;
    m.forward(ids.data(), n, z);
    return cross_entropy<float>(z.data(), n, c.n_vocab, targets.data(), 1.0, nullptr);
  };
  const double h = 1e-2;
  const double num = (loss_at(h) - loss_at(-h)) / (2 * h);
  INFO("g.d " << gd << ", finite difference " << num);
  CHECK(std::fabs(gd) > 1e-2);
  CHECK(std::fabs(num - gd) < 1e-3 * std::fabs(gd));
}

TEST_CASE("train recompute: gradients equal those without recomputation; only layer inputs are kept", "[train][unit]") {
  for (TrainBackend b : {TrainBackend::Ref, TrainBackend::Cpu}) {
    INFO("backend " << train_backend_name(b));
    const ModelConfig c = small_config(b == TrainBackend::Cpu);  // qwen3 features on one of the two
    TrainModel<float> m = TrainModel<float>::random(c, 21, 0.15);
    m.set_backend(b);
    const int64_t n = 29;
    const auto ids = token_ids(n, c.n_vocab, 22), targets = token_ids(n, c.n_vocab, 23);
    m.zero_grad();
    const double l0 = m.forward_backward(ids.data(), targets.data(), n, nullptr, 1.0, 0.0, 1.0);
    const int64_t saved_full = m.saved_activation_values();
    const std::vector<std::vector<float>> g0 = m.grads();
    m.set_recompute(true);
    m.zero_grad();
    const double l1 = m.forward_backward(ids.data(), targets.data(), n, nullptr, 1.0, 0.0, 1.0);
    CHECK(l0 == l1);
    CHECK(m.saved_activation_values() == c.n_layer * n * c.n_embd);
    CHECK(saved_full > 5 * m.saved_activation_values());
    size_t differ = 0, total = 0;
    for (size_t t = 0; t < g0.size(); ++t)
      for (size_t i = 0; i < g0[t].size(); ++i, ++total)
        if (!(g0[t][i] == m.grads()[t][i])) ++differ;  // NaN counts as different
    CHECK(total > 0);
    CHECK(differ == 0);
  }
}

TEST_CASE("train backend: names, the choice from --backend, cpu refused for double", "[train][unit]") {
  CHECK(train_backend_for("ref") == TrainBackend::Ref);
  CHECK(train_backend_for("cpu") == TrainBackend::Cpu);
  CHECK(train_backend_for("cuda") == TrainBackend::Cpu);
  CHECK(std::string(train_backend_name(TrainBackend::Cpu)) == "cpu");
  TrainModel<double> m = TrainModel<double>::random(small_config(false), 1);
  CHECK_THROWS_AS(m.set_backend(TrainBackend::Cpu), Error);
  CHECK(m.backend() == TrainBackend::Ref);
  // FLOP count: 6 * matrix parameters * n + causal attention
  const ModelConfig c = small_config(false);
  const int64_t per_layer = 64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 96;
  CHECK(train_flops(c, 10) == 6 * (2 * per_layer + 61 * 64) * 10 + 6 * 2 * 4 * 16 * 10 * 11);
}
