// Training ops and losses (engine/train): every backward pass against central finite
// differences in double precision, on small shapes.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "engine/train/loss.h"
#include "engine/train/ops.h"

using namespace sb;
using namespace sb::train;

namespace {

std::vector<double> randn(size_t n, uint64_t seed, double std = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, std);
  std::vector<double> v(n);
  for (double& x : v) x = nd(rng);
  return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Largest relative error between analytic gradient `grad` of loss() w.r.t. `x` and central
// differences; NaN-aware (a non-finite value gives infinity).
double fd_error(std::vector<double>& x, const std::vector<double>& grad, const std::function<double()>& loss, double h = 1e-5) {
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double lp = loss();
    x[i] = keep - h;
    const double lm = loss();
    x[i] = keep;
    const double num = (lp - lm) / (2 * h);
    const double err = std::fabs(num - grad[i]) / std::max(1e-6, std::fabs(num) + std::fabs(grad[i]));
    if (!std::isfinite(err) || !std::isfinite(grad[i])) return INFINITY;
    worst = std::max(worst, std::fabs(num - grad[i]) < 1e-9 ? 0.0 : err);
  }
  return worst;
}

constexpr double kTol = 1e-6;

}  // namespace

TEST_CASE("train ops: embedding backward scatters into the used rows", "[train][unit]") {
  const int64_t V = 5, C = 3, n = 4;
  std::vector<double> table = randn(size_t(V * C), 1);
  const int32_t ids[n] = {2, 0, 2, 4};
  std::vector<double> r = randn(size_t(n * C), 2), out(size_t(n * C));
  auto loss = [&] {
    embed_fwd(table.data(), C, ids, n, out.data());
    return dot(out, r);
  };
  std::vector<double> g(table.size(), 0.0);
  embed_bwd(r.data(), C, ids, n, g.data());
  CHECK(fd_error(table, g, loss) < kTol);
  CHECK(g[size_t(1 * C)] == 0.0);  // row 1 unused
}

TEST_CASE("train ops: RMS norm gradients of x and w", "[train][unit]") {
  const int64_t R = 3, C = 7;
  std::vector<double> x = randn(size_t(R * C), 3), w = randn(size_t(C), 4), r = randn(size_t(R * C), 5);
  std::vector<double> y(x.size()), rs(static_cast<size_t>(R));
  auto loss = [&] {
    rmsnorm_fwd(x.data(), w.data(), R, C, 1e-5, y.data(), rs.data());
    return dot(y, r);
  };
  loss();
  std::vector<double> dx(x.size(), 0.0), dw(w.size(), 0.0);
  rmsnorm_bwd(x.data(), w.data(), rs.data(), r.data(), R, C, dx.data(), dw.data());
  CHECK(fd_error(x, dx, loss) < kTol);
  CHECK(fd_error(w, dw, loss) < kTol);
}

TEST_CASE("train ops: matmul gradients of x and W (y = x W^T)", "[train][unit]") {
  const int64_t R = 3, K = 5, N = 4;
  std::vector<double> x = randn(size_t(R * K), 6), W = randn(size_t(N * K), 7), r = randn(size_t(R * N), 8);
  std::vector<double> y(size_t(R * N));
  auto loss = [&] {
    matmul_fwd(x.data(), W.data(), R, K, N, y.data());
    return dot(y, r);
  };
  loss();
  // y[0][1] = sum_k x[0][k] W[1][k]
  double want = 0;
  for (int64_t k = 0; k < K; ++k) want += x[size_t(k)] * W[size_t(K + k)];
  CHECK(std::fabs(y[1] - want) < 1e-12);
  std::vector<double> dx(x.size(), 0.0), dW(W.size(), 0.0);
  matmul_bwd(x.data(), W.data(), r.data(), R, K, N, dx.data(), dW.data());
  CHECK(fd_error(x, dx, loss) < kTol);
  CHECK(fd_error(W, dW, loss) < kTol);
}

TEST_CASE("train ops: RoPE backward (adjacent pairs, NeoX, partial rotation, frequency factors)", "[train][unit]") {
  const int64_t R = 5, H = 2, D = 8;
  const float ff[3] = {1.0f, 2.0f, 8.0f};
  struct Case {
    RopeStyle style;
    int64_t n_rot;
    const float* ff;
    float scale;
  };
  for (const Case& cs : {Case{RopeStyle::Interleaved, 8, nullptr, 1.0f}, Case{RopeStyle::NeoX, 8, nullptr, 1.0f},
                         Case{RopeStyle::NeoX, 6, ff, 0.5f}, Case{RopeStyle::Interleaved, 6, ff, 1.0f}}) {
    const RopeTable t = rope_table(R, 3, cs.n_rot, 10000.0f, cs.scale, cs.ff);
    std::vector<double> x = randn(size_t(R * H * D), 9), r = randn(x.size(), 10), y;
    auto loss = [&] {
      y = x;
      rope_fwd(y.data(), H, D, cs.n_rot, cs.style, t);
      return dot(y, r);
    };
    loss();
    // a rotation keeps each pair's norm; dimensions past n_rot pass through
    double nx = 0, ny = 0;
    for (size_t i = 0; i < x.size(); ++i) nx += x[i] * x[i], ny += y[i] * y[i];
    CHECK(std::fabs(nx - ny) < 1e-6 * nx);  // cos, sin are float values (as ref)
    CHECK(y[size_t(D - 1)] == (cs.n_rot < D ? x[size_t(D - 1)] : y[size_t(D - 1)]));
    std::vector<double> g = r;
    rope_bwd(g.data(), H, D, cs.n_rot, cs.style, t);
    CHECK(fd_error(x, g, loss) < kTol);
  }
}

TEST_CASE("train ops: causal attention gradients of q, k, v with grouped KV heads", "[train][unit]") {
  const int64_t R = 5, H = 4, Hkv = 2, D = 3;
  const double scale = 1.0 / std::sqrt(double(D));
  std::vector<double> q = randn(size_t(R * H * D), 11), k = randn(size_t(R * Hkv * D), 12), v = randn(size_t(R * Hkv * D), 13),
                      r = randn(q.size(), 14);
  std::vector<double> out(q.size()), probs(size_t(H * R * R));
  auto loss = [&] {
    attention_fwd(q.data(), k.data(), v.data(), R, H, Hkv, D, scale, out.data(), probs.data());
    return dot(out, r);
  };
  loss();
  // causal: row 0 attends to itself only, so head 0's output is v's row 0 (kv head 0)
  for (int64_t d = 0; d < D; ++d) CHECK(std::fabs(out[size_t(d)] - v[size_t(d)]) < 1e-12);
  std::vector<double> dq(q.size(), 0.0), dk(k.size(), 0.0), dv(v.size(), 0.0);
  attention_bwd(q.data(), k.data(), v.data(), probs.data(), r.data(), R, H, Hkv, D, scale, dq.data(), dk.data(), dv.data());
  CHECK(fd_error(q, dq, loss) < kTol);
  CHECK(fd_error(k, dk, loss) < kTol);
  CHECK(fd_error(v, dv, loss) < kTol);
}

TEST_CASE("train ops: SwiGLU gradients of gate and up", "[train][unit]") {
  const int64_t n = 9;
  std::vector<double> g = randn(size_t(n), 15, 2.0), u = randn(size_t(n), 16), r = randn(size_t(n), 17), out(static_cast<size_t>(n));
  auto loss = [&] {
    swiglu_fwd(g.data(), u.data(), n, out.data());
    return dot(out, r);
  };
  loss();
  std::vector<double> dg(size_t(n), 0.0), du(size_t(n), 0.0);
  swiglu_bwd(g.data(), u.data(), r.data(), n, dg.data(), du.data());
  CHECK(fd_error(g, dg, loss) < kTol);
  CHECK(fd_error(u, du, loss) < kTol);
}

TEST_CASE("train losses: log-softmax, cross-entropy, top-k KL and their mix", "[train][unit]") {
  const int64_t R = 4, V = 11;
  std::vector<double> z = randn(size_t(R * V), 18, 2.0), ls(z.size());
  log_softmax(z.data(), R, V, ls.data());
  double total = 0;
  for (int64_t v = 0; v < V; ++v) total += std::exp(ls[size_t(v)]);
  CHECK(std::fabs(total - 1.0) < 1e-12);
  const int32_t targets[R] = {3, -1, 0, 10};  // row 1 is skipped
  std::vector<float> tz(size_t(R * V));
  std::vector<double> tzd = randn(tz.size(), 19, 2.0);
  for (size_t i = 0; i < tz.size(); ++i) tz[i] = float(tzd[i]);
  SECTION("cross-entropy") {
    std::vector<double> d(z.size(), 0.0);
    const double l = cross_entropy(z.data(), R, V, targets, 1.0, d.data());
    CHECK(std::fabs(l - -(ls[3] + ls[size_t(2 * V)] + ls[size_t(3 * V + 10)]) / 3) < 1e-12);
    CHECK(fd_error(z, d, [&] { return cross_entropy<double>(z.data(), R, V, targets, 1.0, nullptr); }) < kTol);
  }
  SECTION("top-k KL: zero against itself at full k, gradient by finite differences at k < V") {
    std::vector<float> zf(z.begin(), z.end());
    const TopK self = top_k(zf.data(), R, V, V);
    CHECK(std::fabs(kl_topk<double>(z.data(), R, V, self, 2.0, 1.0, nullptr)) < 1e-6);
    for (int64_t k : {int64_t(1), int64_t(4)}) {
      const TopK t = top_k(tz.data(), R, V, k);
      for (int64_t r = 0; r < R; ++r)  // descending, and really the largest
        for (int64_t i = 1; i < k; ++i) CHECK(t.val[size_t(r * k + i - 1)] >= t.val[size_t(r * k + i)]);
      for (double tau : {1.0, 2.5}) {
        std::vector<double> d(z.size(), 0.0);
        const double l = kl_topk(z.data(), R, V, t, tau, 1.0, d.data());
        CHECK(l > 0);
        CHECK(fd_error(z, d, [&] { return kl_topk<double>(z.data(), R, V, t, tau, 1.0, nullptr); }) < kTol);
      }
    }
  }
  SECTION("alpha mixes KL and cross-entropy") {
    const TopK t = top_k(tz.data(), R, V, 5);
    const double kl = kl_topk<double>(z.data(), R, V, t, 2.0, 1.0, nullptr);
    const double ce = cross_entropy<double>(z.data(), R, V, targets, 1.0, nullptr);
    std::vector<double> d(z.size(), 0.0);
    const double l = distill_loss(z.data(), R, V, t, targets, 2.0, 0.3, 0.5, d.data());
    CHECK(std::fabs(l - (0.3 * kl + 0.7 * ce)) < 1e-12);
    // weight 0.5 scales the gradient, not the returned loss
    for (double& x : d) x *= 2;
    CHECK(fd_error(z, d, [&] { return distill_loss<double>(z.data(), R, V, t, targets, 2.0, 0.3, 1.0, nullptr); }) < kTol);
  }
}
