#include "engine/train/ops.h"

#include <cmath>
#include <cstring>

namespace sb::train {

template <class T>
void embed_fwd(const T* table, int64_t C, const int32_t* ids, int64_t n, T* out) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * C, table + int64_t(ids[i]) * C, size_t(C) * sizeof(T));
}

template <class T>
void embed_bwd(const T* dout, int64_t C, const int32_t* ids, int64_t n, T* dtable) {
  for (int64_t i = 0; i < n; ++i) {
    T* d = dtable + int64_t(ids[i]) * C;
    for (int64_t c = 0; c < C; ++c) d[c] += dout[i * C + c];
  }
}

template <class T>
void rmsnorm_fwd(const T* x, const T* w, int64_t R, int64_t C, double eps, T* y, T* rstd) {
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * C;
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += double(xr[c]) * double(xr[c]);
    const T s = T(1.0 / std::sqrt(ss / double(C) + eps));
    rstd[r] = s;
    for (int64_t c = 0; c < C; ++c) y[r * C + c] = xr[c] * s * w[c];
  }
}

template <class T>
void rmsnorm_bwd(const T* x, const T* w, const T* rstd, const T* dy, int64_t R, int64_t C, T* dx, T* dw) {
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * C;
    const T* g = dy + r * C;
    const double s = double(rstd[r]);
    double dot = 0;  // sum_c (dy * w) * x
    for (int64_t c = 0; c < C; ++c) {
      dot += double(g[c]) * double(w[c]) * double(xr[c]);
      dw[c] += T(double(g[c]) * double(xr[c]) * s);
    }
    const double k = s * s * s * dot / double(C);
    for (int64_t c = 0; c < C; ++c) dx[r * C + c] += T(s * double(g[c]) * double(w[c]) - k * double(xr[c]));
  }
}

template <class T>
void matmul_fwd(const T* x, const T* W, int64_t R, int64_t K, int64_t N, T* y, bool accumulate) {
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * K;
    for (int64_t n = 0; n < N; ++n) {
      const T* wn = W + n * K;
      T acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += xr[k] * wn[k];
      y[r * N + n] = accumulate ? y[r * N + n] + acc : acc;
    }
  }
}

template <class T>
void matmul_bwd(const T* x, const T* W, const T* dy, int64_t R, int64_t K, int64_t N, T* dx, T* dW) {
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * K;
    T* dxr = dx + r * K;
    for (int64_t n = 0; n < N; ++n) {
      const T g = dy[r * N + n];
      if (g == T(0)) continue;
      const T* wn = W + n * K;
      T* dwn = dW + n * K;
      for (int64_t k = 0; k < K; ++k) {
        dxr[k] += g * wn[k];
        dwn[k] += g * xr[k];
      }
    }
  }
}

RopeTable rope_table(int64_t R, int64_t pos0, int64_t n_rot, float base, float freq_scale, const float* ff) {
  RopeTable t;
  t.rows = R;
  t.half = n_rot / 2;
  t.cos.resize(size_t(R * t.half));
  t.sin.resize(size_t(R * t.half));
  const float theta_scale = std::pow(base, -2.0f / float(n_rot));  // as the ref backend
  for (int64_t r = 0; r < R; ++r) {
    float theta = float(pos0 + r);
    for (int64_t i = 0; i < t.half; ++i) {
      const float angle = freq_scale * (ff ? theta / ff[i] : theta);
      t.cos[size_t(r * t.half + i)] = double(std::cos(angle));
      t.sin[size_t(r * t.half + i)] = double(std::sin(angle));
      theta *= theta_scale;
    }
  }
  return t;
}

namespace {
template <class T>
void rotate(T* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t, double sign) {
  const int64_t cols = n_heads * head_dim;
  for (int64_t r = 0; r < t.rows; ++r) {
    for (int64_t h = 0; h < n_heads; ++h) {
      T* v = x + r * cols + h * head_dim;
      for (int64_t i = 0; i < t.half; ++i) {
        const int64_t a = style == RopeStyle::Interleaved ? 2 * i : i;
        const int64_t b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + n_rot / 2;
        const T c = T(t.cos[size_t(r * t.half + i)]), s = T(sign * t.sin[size_t(r * t.half + i)]);
        const T x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
      }
    }
  }
}
}  // namespace

template <class T>
void rope_fwd(T* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t) {
  rotate(x, n_heads, head_dim, n_rot, style, t, 1.0);
}
template <class T>
void rope_bwd(T* dx, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t) {
  rotate(dx, n_heads, head_dim, n_rot, style, t, -1.0);  // the transpose of a rotation
}

template <class T>
void attention_fwd(const T* q, const T* k, const T* v, int64_t R, int64_t H, int64_t Hkv, int64_t D, double scale, T* out, T* probs) {
  const int64_t group = H / Hkv, qc = H * D, kc = Hkv * D;
  for (int64_t h = 0; h < H; ++h) {
    const int64_t kh = h / group;
    for (int64_t t = 0; t < R; ++t) {
      T* p = probs + (h * R + t) * R;
      const T* qt = q + t * qc + h * D;
      double mx = -INFINITY;
      for (int64_t j = 0; j <= t; ++j) {
        const T* kj = k + j * kc + kh * D;
        double acc = 0;
        for (int64_t d = 0; d < D; ++d) acc += double(qt[d]) * double(kj[d]);
        p[j] = T(acc * scale);
        mx = std::max(mx, double(p[j]));
      }
      double sum = 0;
      for (int64_t j = 0; j <= t; ++j) {
        const double e = std::exp(double(p[j]) - mx);
        p[j] = T(e);
        sum += e;
      }
      for (int64_t j = 0; j <= t; ++j) p[j] = T(double(p[j]) / sum);
      for (int64_t j = t + 1; j < R; ++j) p[j] = 0;
      T* o = out + t * qc + h * D;
      for (int64_t d = 0; d < D; ++d) {
        double acc = 0;
        for (int64_t j = 0; j <= t; ++j) acc += double(p[j]) * double(v[j * kc + kh * D + d]);
        o[d] = T(acc);
      }
    }
  }
}

template <class T>
void attention_bwd(const T* q, const T* k, const T* v, const T* probs, const T* dout, int64_t R, int64_t H, int64_t Hkv, int64_t D,
                   double scale, T* dq, T* dk, T* dv) {
  const int64_t group = H / Hkv, qc = H * D, kc = Hkv * D;
  std::vector<double> dp(static_cast<size_t>(R));
  for (int64_t h = 0; h < H; ++h) {
    const int64_t kh = h / group;
    for (int64_t t = 0; t < R; ++t) {
      const T* p = probs + (h * R + t) * R;
      const T* go = dout + t * qc + h * D;
      double dot = 0;
      for (int64_t j = 0; j <= t; ++j) {
        const T* vj = v + j * kc + kh * D;
        T* dvj = dv + j * kc + kh * D;
        double acc = 0;
        for (int64_t d = 0; d < D; ++d) {
          acc += double(go[d]) * double(vj[d]);
          dvj[d] += p[j] * go[d];
        }
        dp[size_t(j)] = acc;
        dot += double(p[j]) * acc;
      }
      const T* qt = q + t * qc + h * D;
      T* dqt = dq + t * qc + h * D;
      for (int64_t j = 0; j <= t; ++j) {
        const T ds = T(double(p[j]) * (dp[size_t(j)] - dot) * scale);
        const T* kj = k + j * kc + kh * D;
        T* dkj = dk + j * kc + kh * D;
        for (int64_t d = 0; d < D; ++d) {
          dqt[d] += ds * kj[d];
          dkj[d] += ds * qt[d];
        }
      }
    }
  }
}

template <class T>
void swiglu_fwd(const T* gate, const T* up, int64_t n, T* out) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = double(gate[i]);
    out[i] = T(g / (1.0 + std::exp(-g)) * double(up[i]));
  }
}

template <class T>
void swiglu_bwd(const T* gate, const T* up, const T* dout, int64_t n, T* dgate, T* dup) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = double(gate[i]), sg = 1.0 / (1.0 + std::exp(-g));
    const double silu = g * sg, dsilu = sg * (1.0 + g * (1.0 - sg));
    dgate[i] += T(double(dout[i]) * double(up[i]) * dsilu);
    dup[i] += T(double(dout[i]) * silu);
  }
}

#define SB_TRAIN_OPS(T)                                                                                                                \
  template void embed_fwd<T>(const T*, int64_t, const int32_t*, int64_t, T*);                                                          \
  template void embed_bwd<T>(const T*, int64_t, const int32_t*, int64_t, T*);                                                          \
  template void rmsnorm_fwd<T>(const T*, const T*, int64_t, int64_t, double, T*, T*);                                                  \
  template void rmsnorm_bwd<T>(const T*, const T*, const T*, const T*, int64_t, int64_t, T*, T*);                                      \
  template void matmul_fwd<T>(const T*, const T*, int64_t, int64_t, int64_t, T*, bool);                                                \
  template void matmul_bwd<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, T*, T*);                                        \
  template void rope_fwd<T>(T*, int64_t, int64_t, int64_t, RopeStyle, const RopeTable&);                                               \
  template void rope_bwd<T>(T*, int64_t, int64_t, int64_t, RopeStyle, const RopeTable&);                                               \
  template void attention_fwd<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, int64_t, double, T*, T*);                    \
  template void attention_bwd<T>(const T*, const T*, const T*, const T*, const T*, int64_t, int64_t, int64_t, int64_t, double, T*, T*, \
                                 T*);                                                                                                  \
  template void swiglu_fwd<T>(const T*, const T*, int64_t, T*);                                                                        \
  template void swiglu_bwd<T>(const T*, const T*, const T*, int64_t, T*, T*);
SB_TRAIN_OPS(float)
SB_TRAIN_OPS(double)

}  // namespace sb::train
