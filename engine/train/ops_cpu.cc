#include "engine/train/ops_cpu.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/core/error.h"

#if SPARKBENCH_WITH_DNNL
#include <oneapi/dnnl/dnnl.h>

#include "engine/backends/cpu/onednn_isa.h"
#endif

namespace sb::train {

const char* train_backend_name(TrainBackend b) { return b == TrainBackend::Ref ? "ref" : "cpu"; }

TrainBackend train_backend_for(const std::string& backend) { return backend == "ref" ? TrainBackend::Ref : TrainBackend::Cpu; }

namespace cpu {
namespace {

// Below this many multiply-adds (or elements) a loop runs in one thread.
constexpr int64_t kParallelWork = 1 << 15;
// Below this many multiply-adds a product (or a whole attention call) runs in one thread: a
// parallel region costs microseconds on an idle machine and far more on a loaded one, which
// made tiny models (stories260K) train 10x slower with 2 threads than with 1.
constexpr double kParallelGemm = double(1 << 21);

// Row-major C(M, N) = alpha op(A)(M, K) op(B)(K, N) + beta C; op = transpose when ta / tb.
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
          float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
#if SPARKBENCH_WITH_DNNL
  // oneDNN's OpenMP runtime uses omp_get_max_threads() threads: 1 for a small product
  const int team = omp_in_parallel() || double(M) * double(N) * double(K) >= kParallelGemm ? 0 : omp_get_max_threads();
  sb::cpu::cap_onednn_isa();
  if (team > 1) omp_set_num_threads(1);
  const dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (team > 1) omp_set_num_threads(team);
  if (st != dnnl_success) fail("training matmul: dnnl_sgemm failed (status ", int(st), ") at M=", M, " N=", N, " K=", K);
#else
  const bool par = !omp_in_parallel() && double(M) * double(N) * double(K) >= kParallelGemm;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += (ta ? A[k * lda + m] : A[m * lda + k]) * (tb ? B[n * ldb + k] : B[k * ldb + n]);
      C[m * ldc + n] = alpha * acc + (beta == 0.0f ? 0.0f : beta * C[m * ldc + n]);
    }
#endif
}

}  // namespace

void matmul_fwd(const float* x, const float* W, int64_t R, int64_t K, int64_t N, float* y, bool accumulate) {
  gemm(false, true, R, N, K, 1.0f, x, K, W, K, accumulate ? 1.0f : 0.0f, y, N);
}

void matmul_bwd(const float* x, const float* W, const float* dy, int64_t R, int64_t K, int64_t N, float* dx, float* dW) {
  gemm(false, false, R, K, N, 1.0f, dy, N, W, K, 1.0f, dx, K);  // dx(R, K) += dy(R, N) W(N, K)
  gemm(true, false, N, K, R, 1.0f, dy, N, x, K, 1.0f, dW, K);   // dW(N, K) += dy^T(N, R) x(R, K)
}

void rmsnorm_fwd(const float* x, const float* w, int64_t R, int64_t C, double eps, float* y, float* rstd) {
#pragma omp parallel for schedule(static) if (R * C > kParallelWork)
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * C;
    float ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += xr[c] * xr[c];
    const float s = float(1.0 / std::sqrt(double(ss) / double(C) + eps));
    rstd[r] = s;
    float* yr = y + r * C;
    for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * s * w[c];
  }
}

void rmsnorm_bwd(const float* x, const float* w, const float* rstd, const float* dy, int64_t R, int64_t C, float* dx, float* dw) {
  const bool par = R * C > kParallelWork;
#pragma omp parallel if (par)
  {
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; ++r) {
      const float* xr = x + r * C;
      const float* g = dy + r * C;
      const float s = rstd[r];
      float dot = 0;
      for (int64_t c = 0; c < C; ++c) dot += g[c] * w[c] * xr[c];
      const float k = s * s * s * dot / float(C);
      float* dxr = dx + r * C;
      for (int64_t c = 0; c < C; ++c) dxr[c] += s * g[c] * w[c] - k * xr[c];
    }
    // dw by column blocks, so that no two threads add into the same element
    constexpr int64_t kCols = 64;
#pragma omp for schedule(static)
    for (int64_t c0 = 0; c0 < C; c0 += kCols) {
      const int64_t c1 = std::min(C, c0 + kCols);
      float acc[kCols] = {};
      for (int64_t r = 0; r < R; ++r) {
        const float s = rstd[r];
        const float* xr = x + r * C;
        const float* g = dy + r * C;
        for (int64_t c = c0; c < c1; ++c) acc[c - c0] += g[c] * xr[c] * s;
      }
      for (int64_t c = c0; c < c1; ++c) dw[c] += acc[c - c0];
    }
  }
}

namespace {
void rotate(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t, float sign) {
  const int64_t cols = n_heads * head_dim;
#pragma omp parallel for schedule(static) if (t.rows * cols > kParallelWork)
  for (int64_t r = 0; r < t.rows; ++r) {
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + r * cols + h * head_dim;
      for (int64_t i = 0; i < t.half; ++i) {
        const int64_t a = style == RopeStyle::Interleaved ? 2 * i : i;
        const int64_t b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + n_rot / 2;
        const float c = float(t.cos[size_t(r * t.half + i)]), s = sign * float(t.sin[size_t(r * t.half + i)]);
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
      }
    }
  }
}

// Calls f(kh) for every KV head: in parallel over KV heads when there are at least as many as
// threads (each call then runs its products in one thread), otherwise serially (the products
// use all threads when large enough). `work`: the call's multiply-adds; small calls run serially.
template <class F>
void for_kv_heads(int64_t Hkv, double work, F&& f) {
  if (Hkv >= omp_get_max_threads() && work >= kParallelGemm) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t kh = 0; kh < Hkv; ++kh) f(kh);
  } else {
    for (int64_t kh = 0; kh < Hkv; ++kh) f(kh);
  }
}
}  // namespace

void rope_fwd(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t) {
  rotate(x, n_heads, head_dim, n_rot, style, t, 1.0f);
}
void rope_bwd(float* dx, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t) {
  rotate(dx, n_heads, head_dim, n_rot, style, t, -1.0f);
}

void attention_fwd(const float* q, const float* k, const float* v, int64_t R, int64_t H, int64_t Hkv, int64_t D, double scale, float* out,
                   float* probs) {
  const int64_t group = H / Hkv, qc = H * D, kc = Hkv * D;
  for_kv_heads(Hkv, 2.0 * double(H * R * R * D), [&](int64_t kh) {
    for (int64_t h = kh * group; h < (kh + 1) * group; ++h) {
      float* P = probs + h * R * R;
      gemm(false, true, R, R, D, float(scale), q + h * D, qc, k + kh * D, kc, 0.0f, P, R);  // S = scale Q K^T
      for (int64_t t = 0; t < R; ++t) {
        float* p = P + t * R;
        float mx = -INFINITY;
        for (int64_t j = 0; j <= t; ++j) mx = std::max(mx, p[j]);
        float sum = 0;
        for (int64_t j = 0; j <= t; ++j) sum += (p[j] = std::exp(p[j] - mx));
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j <= t; ++j) p[j] *= inv;
        for (int64_t j = t + 1; j < R; ++j) p[j] = 0.0f;
      }
      gemm(false, false, R, D, R, 1.0f, P, R, v + kh * D, kc, 0.0f, out + h * D, qc);  // O = P V
    }
  });
}

void attention_bwd(const float* q, const float* k, const float* v, const float* probs, const float* dout, int64_t R, int64_t H, int64_t Hkv,
                   int64_t D, double scale, float* dq, float* dk, float* dv) {
  const int64_t group = H / Hkv, qc = H * D, kc = Hkv * D;
  const float sc = float(scale);
  for_kv_heads(Hkv, 4.0 * double(H * R * R * D), [&](int64_t kh) {
    thread_local std::vector<float> dS;  // kept between calls: no fresh pages per head
    dS.resize(size_t(R * R));
    for (int64_t h = kh * group; h < (kh + 1) * group; ++h) {
      const float* P = probs + h * R * R;
      gemm(false, true, R, R, D, 1.0f, dout + h * D, qc, v + kh * D, kc, 0.0f, dS.data(), R);  // dP = dO V^T
      gemm(true, false, R, D, R, 1.0f, P, R, dout + h * D, qc, 1.0f, dv + kh * D, kc);         // dV += P^T dO
      for (int64_t t = 0; t < R; ++t) {
        const float* p = P + t * R;
        float* d = dS.data() + t * R;
        float dot = 0;
        for (int64_t j = 0; j <= t; ++j) dot += p[j] * d[j];
        for (int64_t j = 0; j <= t; ++j) d[j] = p[j] * (d[j] - dot) * sc;
        for (int64_t j = t + 1; j < R; ++j) d[j] = 0.0f;
      }
      gemm(false, false, R, D, R, 1.0f, dS.data(), R, k + kh * D, kc, 1.0f, dq + h * D, qc);  // dQ += dS K
      gemm(true, false, R, D, R, 1.0f, dS.data(), R, q + h * D, qc, 1.0f, dk + kh * D, kc);   // dK += dS^T Q
    }
  });
}

void swiglu_fwd(const float* gate, const float* up, int64_t n, float* out) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void swiglu_bwd(const float* gate, const float* up, const float* dout, int64_t n, float* dgate, float* dup) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i], sg = 1.0f / (1.0f + std::exp(-g));
    const float silu = g * sg, dsilu = sg * (1.0f + g * (1.0f - sg));
    dgate[i] += dout[i] * up[i] * dsilu;
    dup[i] += dout[i] * silu;
  }
}

}  // namespace cpu
}  // namespace sb::train
