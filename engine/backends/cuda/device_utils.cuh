// Device-side helpers shared by the CUDA backend's kernels: element conversions, vector loads
// of 8 elements, WFmt dispatch, weight element access for the dense and split formats,
// warp/block reductions, launch checks.
// Only the .cu files include this.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_kernels.h"

namespace sb::cuda {

// ---- element conversions (round to nearest even, as the host's f32_to_f16 / f32_to_bf16) ----
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// The value `v` becomes when stored as T (identity for float).
template <class T>
__device__ __forceinline__ float round_to(float v) {
  return to_f32(from_f32<T>(v));
}

// ---- 8 consecutive elements starting at p (p aligned to 8 elements) ----
__device__ __forceinline__ void load8(const float* p, float* out) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  const float4 b = *reinterpret_cast<const float4*>(p + 4);
  out[0] = a.x;
  out[1] = a.y;
  out[2] = a.z;
  out[3] = a.w;
  out[4] = b.x;
  out[5] = b.y;
  out[6] = b.z;
  out[7] = b.w;
}
__device__ __forceinline__ void load8(const __half* p, float* out) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(h[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}
__device__ __forceinline__ void load8(const __nv_bfloat16* p, float* out) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(h[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

__device__ __forceinline__ float half_bits_to_f32(uint16_t b) { return __half2float(__ushort_as_half(b)); }

// ---- runtime format -> template argument: fn(FmtTag<F>{}) for F == f ----
template <WFmt F>
struct FmtTag {
  static constexpr WFmt value = F;
};
template <class Fn>
void with_fmt(WFmt f, Fn&& fn) {
  switch (f) {
    case WFmt::F32:
      fn(FmtTag<WFmt::F32>{});
      break;
    case WFmt::F16:
      fn(FmtTag<WFmt::F16>{});
      break;
    case WFmt::BF16:
      fn(FmtTag<WFmt::BF16>{});
      break;
    case WFmt::Q8_0:
      fn(FmtTag<WFmt::Q8_0>{});
      break;
    case WFmt::Q4_0:
      fn(FmtTag<WFmt::Q4_0>{});
      break;
    case WFmt::Q4_1:
      fn(FmtTag<WFmt::Q4_1>{});
      break;
    case WFmt::Q5_0:
      fn(FmtTag<WFmt::Q5_0>{});
      break;
    case WFmt::Q5_1:
      fn(FmtTag<WFmt::Q5_1>{});
      break;
    case WFmt::IQ4_NL:
      fn(FmtTag<WFmt::IQ4_NL>{});
      break;
    case WFmt::Q2_K:
      fn(FmtTag<WFmt::Q2_K>{});
      break;
    case WFmt::Q3_K:
      fn(FmtTag<WFmt::Q3_K>{});
      break;
    case WFmt::Q4_K:
      fn(FmtTag<WFmt::Q4_K>{});
      break;
    case WFmt::Q5_K:
      fn(FmtTag<WFmt::Q5_K>{});
      break;
    case WFmt::Q6_K:
      fn(FmtTag<WFmt::Q6_K>{});
      break;
    case WFmt::IQ4_XS:
      fn(FmtTag<WFmt::IQ4_XS>{});
      break;
  }
}

// ---- one weight element W[n][k] of the split and dense formats (the scalar path; matches
// dequantize_row). The raw block formats decode whole groups instead (block_decode.cuh). ----
template <WFmt F>
__device__ __forceinline__ float weight_at(const void* data, const uint16_t* scales, int64_t K, int64_t n, int64_t k) {
  if constexpr (F == WFmt::F32) {
    return static_cast<const float*>(data)[n * K + k];
  } else if constexpr (F == WFmt::F16) {
    return __half2float(static_cast<const __half*>(data)[n * K + k]);
  } else if constexpr (F == WFmt::BF16) {
    return __bfloat162float(static_cast<const __nv_bfloat16*>(data)[n * K + k]);
  } else if constexpr (F == WFmt::Q8_0) {
    const float d = half_bits_to_f32(scales[n * (K / 32) + k / 32]);
    return d * float(static_cast<const int8_t*>(data)[n * K + k]);
  } else {
    static_assert(F == WFmt::Q4_0, "block formats are decoded by decode_group (block_decode.cuh)");
    const float d = half_bits_to_f32(scales[n * (K / 32) + k / 32]);
    const uint8_t* blk = static_cast<const uint8_t*>(data) + n * (K / 2) + (k / 32) * 16;
    const int j = int(k % 32);
    const int q = j < 16 ? (blk[j] & 0x0f) : (blk[j - 16] >> 4);
    return d * float(q - 8);
  }
}

// ---- reductions ----
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum / max; every thread gets the result. blockDim.x must be a multiple of 32
// (at most 1024) and every thread of the block must call it.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float part[32];
  __shared__ float total;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // `part` may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float s = lane < nw ? part[lane] : 0.0f;
    s = warp_sum(s);
    if (lane == 0) total = s;
  }
  __syncthreads();
  return total;
}
__device__ __forceinline__ float block_max(float v) {
  __shared__ float part[32];
  __shared__ float total;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float s = lane < nw ? part[lane] : -INFINITY;
    s = warp_max(s);
    if (lane == 0) total = s;
  }
  __syncthreads();
  return total;
}

__device__ __forceinline__ int pos_of(const PosArg& p) { return p.dev ? *p.dev : p.host; }

// Blocks of `threads` covering n items (at least 1, at most 2^31 - 1 blocks).
inline unsigned blocks_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > 0x7fffffff ? 0x7fffffff : b));
}

}  // namespace sb::cuda
