// Kernels of the int8 weight format (WeightFormat::Int8PerChannel): per-token activation
// quantization exactly as sb::quantize_row_s8 (engine/backends/host.h), products as exact
// int32 sums with __dp4a, then y = float(sum) * d_x[t] * scale_w[n] (+ bias) (+ y).
#include "engine/backends/cuda/device_utils.cuh"

namespace sb::cuda {
namespace {

constexpr int kQuantThreads = 256;
constexpr int kS8Warps = 4;                  // output features per block (one per warp)
constexpr int kFusedWarps = 8;               // the same for the fused decode kernel (more outputs per quantization)
constexpr size_t kFusedMaxSmem = 48 * 1024;  // the default dynamic shared-memory limit

// Quantizes one row of K values into q (ldq bytes, zero padded) and *d; every thread of the
// block calls it (block_max has barriers). amax ignores NaN (fmaxf); an all-zero, all-NaN or
// non-finite row gives zeros and d = 0; q = round-to-nearest-even(x * (127 / amax)), NaN -> 0.
__device__ void quantize_row_block(const float* xr, int64_t K, int64_t ldq, int8_t* qr, float* d) {
  float amax = 0.0f;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) amax = fmaxf(amax, fabsf(xr[k]));
  amax = block_max(amax);
  const bool zero = amax == 0.0f || !isfinite(amax);
  const float id = zero ? 0.0f : __fdiv_rn(127.0f, amax);
  for (int64_t k = threadIdx.x; k < ldq; k += blockDim.x) {
    int8_t v = 0;
    if (!zero && k < K) {
      const float s = __fmul_rn(xr[k], id);
      v = s == s ? int8_t(__float2int_rn(s)) : int8_t(0);
    }
    qr[k] = v;
  }
  if (threadIdx.x == 0) *d = zero ? 0.0f : __fdiv_rn(amax, 127.0f);
}

// One warp: y[m][n] for m < mt = d[m] * ws_n * (exact int32 sum_k xq[m][k] * wr[k]) (+ bias_n)
// (+ y). Rows of wr and xq are ld bytes, a multiple of 16, zero-padded past K; y rows are N
// apart. kSharedX: xq is in shared memory (plain loads; __ldg is for global memory only).
template <bool kSharedX>
__device__ __forceinline__ void warp_rows_s8(const int8_t* wr, const int8_t* xq, const float* xd, int64_t ld, int mt, float ws_n,
                                             float bias_n, bool accumulate, float* y, int64_t N) {
  const int lane = threadIdx.x & 31;
  int acc[kGemvMaxRows];
#pragma unroll
  for (int m = 0; m < kGemvMaxRows; ++m) acc[m] = 0;
  for (int64_t k = int64_t(lane) * 16; k < ld; k += 32 * 16) {
    const int4 wv = __ldg(reinterpret_cast<const int4*>(wr + k));
#pragma unroll
    for (int m = 0; m < kGemvMaxRows; ++m) {
      if (m < mt) {
        const int4* xp = reinterpret_cast<const int4*>(xq + int64_t(m) * ld + k);
        int4 xv;
        if constexpr (kSharedX)
          xv = *xp;
        else
          xv = __ldg(xp);
        acc[m] = __dp4a(wv.x, xv.x, acc[m]);
        acc[m] = __dp4a(wv.y, xv.y, acc[m]);
        acc[m] = __dp4a(wv.z, xv.z, acc[m]);
        acc[m] = __dp4a(wv.w, xv.w, acc[m]);
      }
    }
  }
#pragma unroll
  for (int m = 0; m < kGemvMaxRows; ++m) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) acc[m] += __shfl_xor_sync(0xffffffffu, acc[m], o);
  }
  if (lane == 0) {
#pragma unroll
    for (int m = 0; m < kGemvMaxRows; ++m) {
      if (m < mt) {
        float* o = y + int64_t(m) * N;
        const float v = float(acc[m]) * xd[m] * ws_n + bias_n;
        *o = accumulate ? *o + v : v;
      }
    }
  }
}

// One block per row of x.
__global__ void __launch_bounds__(kQuantThreads) quantize_s8_kernel(const float* x, int64_t K, int64_t ldq, int8_t* q, float* d) {
  const int64_t t = blockIdx.x;
  quantize_row_block(x + t * K, K, ldq, q + t * ldq, d + t);
}

// y[t][n] for one n per warp and up to kGemvMaxRows tokens (blockIdx.y picks the token tile).
__global__ void __launch_bounds__(kS8Warps * 32) gemm_s8_kernel(const int8_t* w, const float* ws, int64_t N, int64_t ld, const int8_t* xq,
                                                                const float* xd, int64_t M, float* y, const float* bias, bool accumulate) {
  const int64_t n = int64_t(blockIdx.x) * kS8Warps + (threadIdx.x >> 5);
  if (n >= N) return;  // warp-uniform
  const int64_t t0 = int64_t(blockIdx.y) * kGemvMaxRows;
  const int mt = M - t0 < kGemvMaxRows ? int(M - t0) : kGemvMaxRows;
  warp_rows_s8<false>(w + n * ld, xq + t0 * ld, xd + t0, ld, mt, ws[n], bias ? bias[n] : 0.0f, accumulate, y + t0 * N + n, N);
}

// Decode-sized products (M <= kGemvMaxRows) in one launch: every block quantizes the M rows of
// x into shared memory itself (quantize_row_block, so bit-identical to the two-launch path),
// then each warp computes one output feature. Re-quantizing x per block reads M * K floats
// from L2, far cheaper than the launch it saves.
__global__ void __launch_bounds__(kFusedWarps * 32)
    gemv_s8_fused_kernel(const int8_t* w, const float* ws, int64_t N, int64_t K, int64_t ld, const float* x, int M, float* y,
                         const float* bias, bool accumulate) {
  extern __shared__ float smem[];
  float* xd = smem;                                             // kGemvMaxRows scales
  int8_t* xq = reinterpret_cast<int8_t*>(smem + kGemvMaxRows);  // M rows of ld bytes (16-aligned)
  for (int m = 0; m < M; ++m) quantize_row_block(x + int64_t(m) * K, K, ld, xq + int64_t(m) * ld, xd + m);
  __syncthreads();
  const int64_t n = int64_t(blockIdx.x) * kFusedWarps + (threadIdx.x >> 5);
  if (n >= N) return;  // warp-uniform, after the last barrier
  warp_rows_s8<true>(w + n * ld, xq, xd, ld, M, ws[n], bias ? bias[n] : 0.0f, accumulate, y + n, N);
}

__global__ void embed_s8_kernel(const int8_t* w, const float* ws, int64_t ldw, int64_t K, const int32_t* ids, float* x) {
  const int64_t t = blockIdx.x;
  const int64_t r = ids[t];
  const float s = ws[r];
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) x[t * K + k] = s * float(w[r * ldw + k]);
}

}  // namespace

void quantize_rows_s8(const float* x, int64_t M, int64_t K, int64_t ldq, int8_t* q, float* d, cudaStream_t st) {
  if (M <= 0) return;
  if (M > 0x7fffffff) fail("cuda: ", M, " rows are too many for one quantize launch");
  quantize_s8_kernel<<<unsigned(M), kQuantThreads, 0, st>>>(x, K, ldq, q, d);
  SB_CUDA_CHECK_LAUNCH();
}

void gemm_s8(const Int8View& w, const int8_t* xq, const float* xd, int64_t ldq, int64_t M, float* y, const float* bias, bool accumulate,
             cudaStream_t st) {
  if (M <= 0) return;
  if (w.ld % 16 != 0 || ldq != w.ld || reinterpret_cast<uintptr_t>(w.data) % 16 || reinterpret_cast<uintptr_t>(xq) % 16)
    fail("cuda gemm_s8: rows must be 16-byte aligned and padded alike");
  const int64_t tiles = (M + kGemvMaxRows - 1) / kGemvMaxRows;
  if (tiles > 65535) fail("cuda gemm_s8: ", M, " rows are too many for one launch");
  const dim3 grid(blocks_for(w.rows, kS8Warps), unsigned(tiles));
  gemm_s8_kernel<<<grid, kS8Warps * 32, 0, st>>>(w.data, w.scales, w.rows, w.ld, xq, xd, M, y, bias, accumulate);
  SB_CUDA_CHECK_LAUNCH();
}

bool gemv_s8_fused(const Int8View& w, const float* x, int64_t M, float* y, const float* bias, bool accumulate, cudaStream_t st) {
  const size_t smem = kGemvMaxRows * sizeof(float) + size_t(M) * size_t(w.ld);
  if (M < 1 || M > kGemvMaxRows || smem > kFusedMaxSmem || w.ld % 16 != 0 || reinterpret_cast<uintptr_t>(w.data) % 16) return false;
  gemv_s8_fused_kernel<<<blocks_for(w.rows, kFusedWarps), kFusedWarps * 32, smem, st>>>(w.data, w.scales, w.rows, w.cols, w.ld, x, int(M),
                                                                                        y, bias, accumulate);
  SB_CUDA_CHECK_LAUNCH();
  return true;
}

void embed_rows_s8(const Int8View& w, const int32_t* ids, int64_t n, float* x, cudaStream_t st) {
  if (n <= 0) return;
  embed_s8_kernel<<<unsigned(n), 256, 0, st>>>(w.data, w.scales, w.ld, w.cols, ids, x);
  SB_CUDA_CHECK_LAUNCH();
}

}  // namespace sb::cuda
