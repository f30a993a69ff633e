// Training ops: forward and backward of every op of the llama forward pass, on host memory,
// for T = float (training) and T = double (gradient checks against finite differences).
//
// Layout: row-major, rows = tokens. A weight matrix W is (N, K) as GGUF stores it (row n holds
// the K input weights of output n), so a linear layer is y(R, N) = x(R, K) W^T, the engine's
// Backend::matmul. Backward functions ADD into their gradient outputs (dx, dW, ...), so the
// caller zeroes them once and several uses of a value (residuals, a shared embedding) sum.
// Semantics match the ref backend (engine/backends/ref): the same RMS norm formula, RoPE
// angles computed in float exactly as ref computes them (so f32 training logits equal ref's
// within rounding), causal softmax attention with grouped KV heads and scale kq_scale().
// Not covered (callers refuse them): attention soft-cap, sliding windows, GeGLU, biases.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/rope_style.h"

namespace sb::train {

// out(n, C) = table rows ids[i]. Backward: dtable[ids[i]] += dout[i].
template <class T>
void embed_fwd(const T* table, int64_t C, const int32_t* ids, int64_t n, T* out);
template <class T>
void embed_bwd(const T* dout, int64_t C, const int32_t* ids, int64_t n, T* dtable);

// y = x * r * w per row, r = 1 / sqrt(mean(x^2) + eps); rstd (R) receives r for backward.
template <class T>
void rmsnorm_fwd(const T* x, const T* w, int64_t R, int64_t C, double eps, T* y, T* rstd);
template <class T>
void rmsnorm_bwd(const T* x, const T* w, const T* rstd, const T* dy, int64_t R, int64_t C, T* dx, T* dw);

// y(R, N) = x(R, K) W(N, K)^T (+ y when accumulate). Backward: dx += dy W, dW += dy^T x.
template <class T>
void matmul_fwd(const T* x, const T* W, int64_t R, int64_t K, int64_t N, T* y, bool accumulate = false);
template <class T>
void matmul_bwd(const T* x, const T* W, const T* dy, int64_t R, int64_t K, int64_t N, T* dx, T* dW);

// RoPE angles of rows at positions pos0 .. pos0 + R - 1: cos/sin tables (R, n_rot / 2), with
// the ref backend's float arithmetic (theta *= base^(-2/n_rot) per pair, / freq_factors[i],
// * freq_scale). freq_factors may be null.
struct RopeTable {
  int64_t rows = 0, half = 0;
  std::vector<double> cos, sin;
};
RopeTable rope_table(int64_t R, int64_t pos0, int64_t n_rot, float base, float freq_scale, const float* freq_factors);
// In place on x(R, n_heads * head_dim): rotates pairs (2i, 2i+1) (Interleaved) or (i, i + n_rot/2)
// (NeoX) of each head by the table's angle; backward rotates the gradient by minus the angle.
template <class T>
void rope_fwd(T* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t);
template <class T>
void rope_bwd(T* dx, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t);

// Causal attention of one sequence: q(R, H*D), k, v (R, Hkv*D), out(R, H*D); query t sees keys
// 0..t; s = scale * q.k, p = softmax(s), out = p v. probs (H, R, R) receives p (upper part 0).
template <class T>
void attention_fwd(const T* q, const T* k, const T* v, int64_t R, int64_t H, int64_t Hkv, int64_t D, double scale, T* out, T* probs);
template <class T>
void attention_bwd(const T* q, const T* k, const T* v, const T* probs, const T* dout, int64_t R, int64_t H, int64_t Hkv, int64_t D,
                   double scale, T* dq, T* dk, T* dv);

// out = silu(gate) * up (n values). Backward adds into dgate, dup.
template <class T>
void swiglu_fwd(const T* gate, const T* up, int64_t n, T* out);
template <class T>
void swiglu_bwd(const T* gate, const T* up, const T* dout, int64_t n, T* dgate, T* dup);

}  // namespace sb::train
