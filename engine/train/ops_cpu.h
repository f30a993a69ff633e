// Fast f32 training ops (TrainBackend::Cpu): the same functions and contracts as ops.h (shapes,
// layouts, "backward ADDS into its gradient outputs"), computed in f32 with OpenMP threads and,
// in builds with oneDNN (SPARKBENCH_WITH_DNNL), every matrix product through dnnl_sgemm
// (row-major, threaded by oneDNN's OpenMP runtime). Without oneDNN the products are threaded
// loops (correct, slow). The ops.h templates stay the reference (TrainBackend::Ref, the oracle,
// and T = double for gradient checks); tests/engine/test_train_cpu.cc compares every op here
// against them.
//
// Threads: the OpenMP default team (omp_set_num_threads; TrainModel::set_backend sets it from
// the CLI's -t). Results are deterministic for a given thread count but differ from ref's in
// rounding: ref accumulates dot products and softmax sums in double, these in float.
// Attention computes each head's full R x R score block with two products and masks the upper
// triangle (twice the causal work, but at gemm speed); heads sharing a KV head run in one
// thread so that their dk/dv sums need no locks. Scratch is 2 R^2 floats per thread.
#pragma once

#include <cstdint>
#include <string>

#include "engine/train/ops.h"

namespace sb::train {

// Which implementation of the training ops a TrainModel runs (train_model.h).
enum class TrainBackend { Ref, Cpu };
const char* train_backend_name(TrainBackend b);
// The training ops for a sampling backend name (distill's --backend): "ref" -> Ref (the naive
// oracle); anything else ("cpu", "cuda") -> Cpu (training always runs on the host).
TrainBackend train_backend_for(const std::string& backend);

namespace cpu {

// y(R, N) = x(R, K) W(N, K)^T (+ y when accumulate); dx += dy W; dW += dy^T x.
void matmul_fwd(const float* x, const float* W, int64_t R, int64_t K, int64_t N, float* y, bool accumulate = false);
void matmul_bwd(const float* x, const float* W, const float* dy, int64_t R, int64_t K, int64_t N, float* dx, float* dW);
void rmsnorm_fwd(const float* x, const float* w, int64_t R, int64_t C, double eps, float* y, float* rstd);
void rmsnorm_bwd(const float* x, const float* w, const float* rstd, const float* dy, int64_t R, int64_t C, float* dx, float* dw);
void rope_fwd(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t);
void rope_bwd(float* dx, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeStyle style, const RopeTable& t);
void attention_fwd(const float* q, const float* k, const float* v, int64_t R, int64_t H, int64_t Hkv, int64_t D, double scale, float* out,
                   float* probs);
void attention_bwd(const float* q, const float* k, const float* v, const float* probs, const float* dout, int64_t R, int64_t H, int64_t Hkv,
                   int64_t D, double scale, float* dq, float* dk, float* dv);
void swiglu_fwd(const float* gate, const float* up, int64_t n, float* out);
void swiglu_bwd(const float* gate, const float* up, const float* dout, int64_t n, float* dgate, float* dup);

}  // namespace cpu
}  // namespace sb::train
