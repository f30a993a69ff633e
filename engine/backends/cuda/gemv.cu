// Matrix-vector products for decode-sized batches (M <= kGemvMaxRows) and whole-weight
// dequantization for the cuBLAS path (large M). See cuda_kernels.h for the contract.
//
// Why a hand-written GEMV: at M = 1 a product is a pure stream over the weight (512 x 2048 f16
// is 2 MiB, a few microseconds of HBM time), so what matters is issuing wide loads from every
// SM at once and finishing in one launch. One warp per output feature reads its weight row once
// with 16-byte loads, applies it to all M rows of x (x stays in L1/L2), reduces with shuffles and
// fuses bias and the residual accumulate. cuBLAS at M = 1 either picks a GEMV of its own (no
// fused accumulate or quantized formats) or a tiled GEMM that wastes most of its tile; and the
// quantized formats would need a dequantized copy first.
#include "engine/backends/cuda/block_decode.cuh"

namespace sb::cuda {
namespace {

constexpr int kWarps = 4;  // output features per block (one per warp)

// Elements per 16-byte weight load for each format (block formats: one decoded group).
template <WFmt F>
__host__ __device__ constexpr int chunk_elems() {
  return F == WFmt::F32 ? 4 : (F == WFmt::F16 || F == WFmt::BF16) ? 8 : F == WFmt::Q8_0 ? 16 : 32;
}
static_assert(chunk_elems<WFmt::Q4_K>() == 32, "block formats decode 32-element groups");

// Loads chunk_elems<F>() consecutive weights of row n starting at k0 (a multiple of the chunk).
template <WFmt F>
__device__ __forceinline__ void load_chunk(const void* data, const uint16_t* scales, int64_t K, int64_t n, int64_t k0, float* w) {
  if constexpr (F == WFmt::F32) {
    const float4 v = __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(data) + n * K + k0));
    w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
  } else if constexpr (F == WFmt::F16) {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(static_cast<const __half*>(data) + n * K + k0));
    const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __half22float2(h[i]);
      w[2 * i] = f.x, w[2 * i + 1] = f.y;
    }
  } else if constexpr (F == WFmt::BF16) {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(data) + n * K + k0));
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __bfloat1622float2(h[i]);
      w[2 * i] = f.x, w[2 * i + 1] = f.y;
    }
  } else if constexpr (F == WFmt::Q8_0) {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(static_cast<const int8_t*>(data) + n * K + k0));
    const int8_t* q = reinterpret_cast<const int8_t*>(&raw);
    const float d = half_bits_to_f32(scales[n * (K / 32) + k0 / 32]);
#pragma unroll
    for (int i = 0; i < 16; ++i) w[i] = d * float(q[i]);
  } else if constexpr (is_block_fmt(F)) {
    decode_group<F>(static_cast<const uint8_t*>(data) + n * block_row_bytes<F>(K), k0 / 32, w);
  } else {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(static_cast<const uint8_t*>(data) + n * (K / 2) + k0 / 2));
    const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
    const float d = half_bits_to_f32(scales[n * (K / 32) + k0 / 32]);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      w[j] = d * float(int(q[j] & 0x0f) - 8);
      w[j + 16] = d * float(int(q[j] >> 4) - 8);
    }
  }
}

// y[m][n] for one n per warp. VEC: 16-byte weight loads and float4 x loads (K a multiple of the
// chunk and x 16-byte aligned); otherwise one element per lane per step. Block formats always
// take the VEC path (a lane decodes a whole group).
template <WFmt F, bool VEC>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(const void* data, const uint16_t* scales, int64_t N, int64_t K, const float* x,
                                                           int M, float* y, const float* bias, bool accumulate) {
  const int lane = threadIdx.x & 31;
  const int64_t n = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (n >= N) return;  // warp-uniform
  float acc[kGemvMaxRows];
#pragma unroll
  for (int m = 0; m < kGemvMaxRows; ++m) acc[m] = 0.0f;
  if constexpr (VEC) {
    constexpr int E = chunk_elems<F>();
    constexpr int kUnroll = E >= 32 ? 1 : E >= 16 ? 2 : 4;  // several 16-byte loads in flight per lane
#pragma unroll kUnroll
    for (int64_t k0 = int64_t(lane) * E; k0 < K; k0 += 32 * E) {
      float w[E];
      load_chunk<F>(data, scales, K, n, k0, w);
#pragma unroll
      for (int m = 0; m < kGemvMaxRows; ++m) {
        if (m < M) {
          const float4* xp = reinterpret_cast<const float4*>(x + int64_t(m) * K + k0);
#pragma unroll
          for (int e = 0; e < E / 4; ++e) {
            const float4 xv = __ldg(xp + e);
            acc[m] += w[4 * e] * xv.x + w[4 * e + 1] * xv.y + w[4 * e + 2] * xv.z + w[4 * e + 3] * xv.w;
          }
        }
      }
    }
  } else {
    for (int64_t k = lane; k < K; k += 32) {
      const float wv = weight_at<F>(data, scales, K, n, k);
#pragma unroll
      for (int m = 0; m < kGemvMaxRows; ++m)
        if (m < M) acc[m] += wv * x[int64_t(m) * K + k];
    }
  }
#pragma unroll
  for (int m = 0; m < kGemvMaxRows; ++m)
    if (m < M) acc[m] = warp_sum(acc[m]);
  if (lane == 0) {
    const float b = bias ? bias[n] : 0.0f;
#pragma unroll
    for (int m = 0; m < kGemvMaxRows; ++m) {
      if (m < M) {
        float* o = y + int64_t(m) * N + n;
        const float v = acc[m] + b;
        *o = accumulate ? *o + v : v;
      }
    }
  }
}

template <WFmt F>
void launch_gemv(const WeightView& w, const float* x, int64_t M, float* y, const float* bias, bool accumulate, cudaStream_t st) {
  const unsigned grid = blocks_for(w.rows, kWarps);
  const bool x_aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0;
  if constexpr (is_block_fmt(F)) {
    // Rows of x are K floats apart with K a multiple of 32, so backend tensors are always aligned.
    if (!x_aligned) fail("cuda gemv: x is not 16-byte aligned (", w.cols, " columns)");
    gemv_kernel<F, true><<<grid, kWarps * 32, 0, st>>>(w.data, w.scales, w.rows, w.cols, x, int(M), y, bias, accumulate);
  } else {
    const bool vec = w.cols % chunk_elems<F>() == 0 && x_aligned && reinterpret_cast<uintptr_t>(w.data) % 16 == 0;
    if (vec)
      gemv_kernel<F, true><<<grid, kWarps * 32, 0, st>>>(w.data, w.scales, w.rows, w.cols, x, int(M), y, bias, accumulate);
    else
      gemv_kernel<F, false><<<grid, kWarps * 32, 0, st>>>(w.data, w.scales, w.rows, w.cols, x, int(M), y, bias, accumulate);
  }
  SB_CUDA_CHECK_LAUNCH();
}

template <WFmt F, class OutT>
__global__ void dequantize_kernel(const void* data, const uint16_t* scales, int64_t N, int64_t K, OutT* out) {
  const int64_t total = N * K;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = from_f32<OutT>(weight_at<F>(data, scales, K, i / K, i % K));
}

// Block formats: one thread per 32-element group (decoded once, written as 32 outputs).
template <WFmt F, class OutT>
__global__ void dequantize_blocks_kernel(const uint8_t* data, int64_t N, int64_t K, OutT* out) {
  const int64_t G = K / 32, total = N * G;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / G, g = i % G;
    float w[32];
    decode_group<F>(data + n * block_row_bytes<F>(K), g, w);
    OutT* o = out + n * K + g * 32;
#pragma unroll
    for (int j = 0; j < 32; ++j) o[j] = from_f32<OutT>(w[j]);
  }
}

template <class OutT>
void launch_dequantize(const WeightView& w, OutT* out, cudaStream_t st) {
  with_fmt(w.fmt, [&](auto tag) {
    constexpr WFmt F = decltype(tag)::value;
    unsigned grid = blocks_for(is_block_fmt(F) ? w.rows * (w.cols / 32) : w.rows * w.cols, 256);
    if (grid > 65535u) grid = 65535u;
    if constexpr (is_block_fmt(F))
      dequantize_blocks_kernel<F, OutT><<<grid, 256, 0, st>>>(static_cast<const uint8_t*>(w.data), w.rows, w.cols, out);
    else
      dequantize_kernel<F, OutT><<<grid, 256, 0, st>>>(w.data, w.scales, w.rows, w.cols, out);
  });
  SB_CUDA_CHECK_LAUNCH();
}

}  // namespace

void gemv(const WeightView& w, const float* x, int64_t M, float* y, const float* bias, bool accumulate, cudaStream_t st) {
  if (M < 1 || M > kGemvMaxRows) fail("cuda gemv: ", M, " rows (1..", kGemvMaxRows, " supported)");
  with_fmt(w.fmt, [&](auto tag) { launch_gemv<decltype(tag)::value>(w, x, M, y, bias, accumulate, st); });
}

void dequantize(const WeightView& w, void* out, Elem out_dt, cudaStream_t st) {
  switch (out_dt) {
    case Elem::F32:
      launch_dequantize(w, static_cast<float*>(out), st);
      break;
    case Elem::BF16:
      launch_dequantize(w, static_cast<__nv_bfloat16*>(out), st);
      break;
    case Elem::F16:
      launch_dequantize(w, static_cast<__half*>(out), st);
      break;
  }
}

}  // namespace sb::cuda
