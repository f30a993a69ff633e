// FAKE cuda_fp16.h (CPU emulation): bit-exact RNE conversions from engine/core/half.h.
#pragma once
#include <cstdint>
#include "cuda_runtime.h"
#include "engine/core/half.h"
struct __half {
  uint16_t x;
};
struct __half2 {
  __half x, y;
};
inline float __half2float(__half h) { return sb::f16_to_f32(h.x); }
inline __half __float2half_rn(float f) { return __half{sb::f32_to_f16(f)}; }
inline float2 __half22float2(__half2 h) { return float2{__half2float(h.x), __half2float(h.y)}; }
inline __half __ushort_as_half(unsigned short u) { return __half{u}; }
