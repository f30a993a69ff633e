// Device-side decoders of the GGUF block formats the CUDA backend keeps as raw blocks (WFmt
// Q4_1 .. IQ4_XS, see cuda_kernels.h). Only the .cu files include this.
//
// Contract: a weight row is stored exactly as in the GGUF file (K / block_elems blocks of
// block_bytes, row n at n * row_bytes); decode_group<F>(row, g, w) writes the 32 consecutive
// elements 32g .. 32g + 31 of the row into w. Every format splits into such 32-element groups
// (one block of the 32-element types; one of 8 sub-blocks of a 256-element super-block), so
// GEMV lanes, dequantization threads and embedding threads all work group by group.
//
// Values are bit-identical to the host's dequantize_row (engine/gguf/ggml_types.h): the same
// float operations in the same order, with __fmul_rn / __fadd_rn / __fsub_rn so that nvcc does
// not contract a product and a sum into one FMA (which rounds once instead of twice).
//
// Loads: a block's fields are read with the widest load their offset guarantees (every row of a
// type starts at a multiple of the block size from a 256-byte aligned allocation), for example
// 16-byte loads for the quants of Q4_K / Q5_K, single bytes for Q5_0's 22-byte blocks.
#pragma once

#include "engine/backends/cuda/device_utils.cuh"
#include "engine/gguf/ggml_types.h"

namespace sb::cuda {

// True for the formats kept as raw GGUF blocks (decoded 32 elements at a time).
__host__ __device__ constexpr bool is_block_fmt(WFmt f) { return f >= WFmt::Q4_1; }

// Elements and bytes per block of a block format.
template <WFmt F>
__host__ __device__ constexpr int block_elems() {
  return (F == WFmt::Q4_1 || F == WFmt::Q5_0 || F == WFmt::Q5_1 || F == WFmt::IQ4_NL) ? 32 : 256;
}
template <WFmt F>
__host__ __device__ constexpr int block_bytes() {
  switch (F) {
    case WFmt::Q4_1:
      return sizeof(BlockQ4_1);
    case WFmt::Q5_0:
      return sizeof(BlockQ5_0);
    case WFmt::Q5_1:
      return sizeof(BlockQ5_1);
    case WFmt::IQ4_NL:
      return sizeof(BlockIQ4_NL);
    case WFmt::Q2_K:
      return sizeof(BlockQ2_K);
    case WFmt::Q3_K:
      return sizeof(BlockQ3_K);
    case WFmt::Q4_K:
      return sizeof(BlockQ4_K);
    case WFmt::Q5_K:
      return sizeof(BlockQ5_K);
    case WFmt::Q6_K:
      return sizeof(BlockQ6_K);
    case WFmt::IQ4_XS:
      return sizeof(BlockIQ4_XS);
    default:
      return 0;
  }
}
template <WFmt F>
__host__ __device__ constexpr int64_t block_row_bytes(int64_t K) {
  return K / block_elems<F>() * block_bytes<F>();
}

namespace blk {

// N bytes at p into out; A is the alignment p is known to have (bytes).
template <int N, int A>
__device__ __forceinline__ void load_bytes(const uint8_t* p, uint8_t* out) {
  if constexpr (A >= 16 && N % 16 == 0) {
#pragma unroll
    for (int i = 0; i < N / 16; ++i) {
      const uint4 v = __ldg(reinterpret_cast<const uint4*>(p) + i);
      *reinterpret_cast<uint4*>(out + 16 * i) = v;
    }
  } else if constexpr (A >= 8 && N % 8 == 0) {
#pragma unroll
    for (int i = 0; i < N / 8; ++i) {
      const uint2 v = __ldg(reinterpret_cast<const uint2*>(p) + i);
      *reinterpret_cast<uint2*>(out + 8 * i) = v;
    }
  } else if constexpr (A >= 4 && N % 4 == 0) {
#pragma unroll
    for (int i = 0; i < N / 4; ++i) {
      const uint32_t v = __ldg(reinterpret_cast<const uint32_t*>(p) + i);
      *reinterpret_cast<uint32_t*>(out + 4 * i) = v;
    }
  } else if constexpr (A >= 2 && N % 2 == 0) {
#pragma unroll
    for (int i = 0; i < N / 2; ++i) {
      const uint16_t v = __ldg(reinterpret_cast<const uint16_t*>(p) + i);
      *reinterpret_cast<uint16_t*>(out + 2 * i) = v;
    }
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = __ldg(p + i);
  }
}

// An f16 field (every f16 field of every block sits at an even offset).
__device__ __forceinline__ float f16_at(const uint8_t* p) { return half_bits_to_f32(__ldg(reinterpret_cast<const uint16_t*>(p))); }

// The IQ4_NL / IQ4_XS levels (kValuesIQ4NL) packed 8 per 64-bit word, so that looking one up is
// a shift in registers rather than an indexed load.
constexpr uint64_t pack_levels(int first) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(kValuesIQ4NL[first + i])) << (8 * i);
  return v;
}
constexpr uint64_t kLevelsLo = pack_levels(0), kLevelsHi = pack_levels(8);
__device__ __forceinline__ float iq4_level(int nibble) {
  const uint64_t w = nibble < 8 ? kLevelsLo : kLevelsHi;
  return float(int8_t(uint8_t(w >> (8 * (nibble & 7)))));
}

// The 12 packed scale bytes of Q3_K / Q4_K / Q5_K as three little-endian words; byte i is
// picked with selects and shifts, so a sub-block index known only at run time does not put
// the bytes in local memory.
struct Scales12 {
  uint32_t w[3];
  __device__ __forceinline__ int byte(int i) const {
    const uint32_t v = i < 4 ? w[0] : (i < 8 ? w[1] : w[2]);
    return int((v >> (8 * (i & 3))) & 0xFF);
  }
};
template <int A>
__device__ __forceinline__ Scales12 load_scales12(const uint8_t* p) {
  uint8_t b[12];
  load_bytes<12, A>(p, b);
  Scales12 s;
#pragma unroll
  for (int i = 0; i < 3; ++i)
    s.w[i] = uint32_t(b[4 * i]) | uint32_t(b[4 * i + 1]) << 8 | uint32_t(b[4 * i + 2]) << 16 | uint32_t(b[4 * i + 3]) << 24;
  return s;
}

// Q4_K / Q5_K: 6-bit scale and min of sub-block j (0..7).
__device__ __forceinline__ void scale_min_k4(int j, const Scales12& q, int& sc, int& m) {
  if (j < 4) {
    sc = q.byte(j) & 63;
    m = q.byte(j + 4) & 63;
  } else {
    sc = (q.byte(j + 4) & 0xF) | ((q.byte(j - 4) >> 6) << 4);
    m = (q.byte(j + 4) >> 4) | ((q.byte(j) >> 6) << 4);
  }
}

// Q3_K: signed scale i (0..15): low 4 bits in the nibbles of bytes 0..7, high 2 bits in
// bytes 8..11.
__device__ __forceinline__ int scale_q3k(int i, const Scales12& s) {
  const int lo = (s.byte(i % 8) >> (4 * (i / 8))) & 0xF;
  const int hi = (s.byte(8 + i % 4) >> (2 * (i / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float mul_add(float a, float b, float c) { return __fadd_rn(__fmul_rn(a, b), c); }
__device__ __forceinline__ float mul_sub(float a, float b, float c) { return __fsub_rn(__fmul_rn(a, b), c); }

}  // namespace blk

// The 32 elements 32g .. 32g + 31 of a row stored as F (row: the row's first block).
template <WFmt F>
__device__ __forceinline__ void decode_group(const uint8_t* row, int64_t g, float* w) {
  using namespace blk;
  if constexpr (block_elems<F>() == 32) {
    const uint8_t* b = row + g * block_bytes<F>();
    uint8_t qs[16];
    if constexpr (F == WFmt::Q4_1) {  // {d, m, qs[16]}: x = q * d + m
      const float d = f16_at(b), m = f16_at(b + 2);
      load_bytes<16, 4>(b + 4, qs);
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        w[j] = mul_add(float(qs[j] & 0xF), d, m);
        w[j + 16] = mul_add(float(qs[j] >> 4), d, m);
      }
    } else if constexpr (F == WFmt::Q5_0) {  // {d, qh[4], qs[16]}: x = ((q | h << 4) - 16) * d
      const float d = f16_at(b);
      uint8_t h[4];
      load_bytes<4, 2>(b + 2, h);
      load_bytes<16, 2>(b + 6, qs);
      const uint32_t qh = uint32_t(h[0]) | uint32_t(h[1]) << 8 | uint32_t(h[2]) << 16 | uint32_t(h[3]) << 24;
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        w[j] = float(int((qs[j] & 0xF) | ((qh >> j) & 1) << 4) - 16) * d;
        w[j + 16] = float(int((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16) * d;
      }
    } else if constexpr (F == WFmt::Q5_1) {  // {d, m, qh[4], qs[16]}: x = (q | h << 4) * d + m
      const float d = f16_at(b), m = f16_at(b + 2);
      uint8_t h[4];
      load_bytes<4, 4>(b + 4, h);
      load_bytes<16, 8>(b + 8, qs);
      const uint32_t qh = uint32_t(h[0]) | uint32_t(h[1]) << 8 | uint32_t(h[2]) << 16 | uint32_t(h[3]) << 24;
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        w[j] = mul_add(float((qs[j] & 0xF) | ((qh >> j) & 1) << 4), d, m);
        w[j + 16] = mul_add(float((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4), d, m);
      }
    } else {  // IQ4_NL {d, qs[16]}: x = d * level[q]
      static_assert(F == WFmt::IQ4_NL);
      const float d = f16_at(b);
      load_bytes<16, 2>(b + 2, qs);
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        w[j] = mul(d, iq4_level(qs[j] & 0xF));
        w[j + 16] = mul(d, iq4_level(qs[j] >> 4));
      }
    }
  } else {
    const uint8_t* b = row + (g / 8) * block_bytes<F>();
    const int s = int(g % 8);  // sub-block within the super-block
    if constexpr (F == WFmt::Q2_K) {
      // {scales[16], qs[64], d, dmin}: sub-block s uses qs[32 (s / 4) ..][2 (s % 4) bit shift],
      // scale bytes 2s (first 16) and 2s + 1 (last 16): x = d * (sc & 15) * q - dmin * (sc >> 4)
      const float d = f16_at(b + 80), dmin = f16_at(b + 82);
      uint8_t q[32];
      // the 4-byte word holding scale bytes 2s and 2s + 1
      const uint32_t sc = __ldg(reinterpret_cast<const uint32_t*>(b + 2 * s - (2 * s) % 4));
      load_bytes<32, 4>(b + 16 + 32 * (s / 4), q);
      const int shift = 2 * (s % 4);
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int byte = int((sc >> (8 * ((2 * s) % 4 + half))) & 0xFF);
        const float dl = mul(d, float(byte & 0xF)), ml = mul(dmin, float(byte >> 4));
#pragma unroll
        for (int l = 0; l < 16; ++l) w[16 * half + l] = mul_sub(dl, float((q[16 * half + l] >> shift) & 3), ml);
      }
    } else if constexpr (F == WFmt::Q3_K) {
      // {hmask[32], qs[64], scales[12], d}: x = d * (scale - 32) * ((q >> 2(s % 4)) & 3) - 4 * !hbit)
      const float d = f16_at(b + 108);
      uint8_t hm[32], q[32];
      load_bytes<32, 2>(b, hm);
      load_bytes<32, 2>(b + 32 + 32 * (s / 4), q);
      const Scales12 sc = load_scales12<2>(b + 96);
      const int shift = 2 * (s % 4);
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const float dl = mul(d, float(scale_q3k(2 * s + half, sc)));
#pragma unroll
        for (int l = 0; l < 16; ++l) {
          const int i = 16 * half + l;
          w[i] = mul(dl, float(int((q[i] >> shift) & 3) - ((hm[i] >> s) & 1 ? 0 : 4)));
        }
      }
    } else if constexpr (F == WFmt::Q4_K || F == WFmt::Q5_K) {
      // Q4_K {d, dmin, scales[12], qs[128]}; Q5_K {d, dmin, scales[12], qh[32], qs[128]}:
      // sub-block s is the low (s even) or high (s odd) nibbles of qs[32 (s / 2) ..], plus
      // bit s of qh[l] as 16 for Q5_K: x = d * sc * q - dmin * m
      constexpr bool five = F == WFmt::Q5_K;
      const float d = f16_at(b), dmin = f16_at(b + 2);
      uint8_t q[32];
      const Scales12 scales = load_scales12<4>(b + 4);
      load_bytes<32, 16>(b + (five ? 48 : 16) + 32 * (s / 2), q);
      int sc, m;
      scale_min_k4(s, scales, sc, m);
      const float d1 = mul(d, float(sc)), m1 = mul(dmin, float(m));
      const int shift = 4 * (s % 2);
      if constexpr (five) {
        uint8_t qh[32];
        load_bytes<32, 16>(b + 16, qh);
#pragma unroll
        for (int l = 0; l < 32; ++l) w[l] = mul_sub(d1, float(((q[l] >> shift) & 0xF) + ((qh[l] >> s) & 1 ? 16 : 0)), m1);
      } else {
#pragma unroll
        for (int l = 0; l < 32; ++l) w[l] = mul_sub(d1, float((q[l] >> shift) & 0xF), m1);
      }
    } else if constexpr (F == WFmt::Q6_K) {
      // {ql[128], qh[64], scales[16] (int8), d}: sub-block s = 4h + k uses ql[64h + 32 (k & 1) ..]
      // (low nibbles for k < 2, high for k >= 2), bits 2k of qh[32h ..], scales 8h + 2k (first
      // 16) and 8h + 2k + 1: x = d * scale * (q - 32)
      const int h = s / 4, k = s % 4;
      const float d = f16_at(b + 208);
      uint8_t ql[32], qh[32], sc[2];
      load_bytes<32, 2>(b + 64 * h + 32 * (k & 1), ql);
      load_bytes<32, 2>(b + 128 + 32 * h, qh);
      load_bytes<2, 2>(b + 192 + 8 * h + 2 * k, sc);
      const int shift = 4 * (k / 2);
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const float ds = mul(d, float(int8_t(sc[half])));
#pragma unroll
        for (int l = 0; l < 16; ++l) {
          const int i = 16 * half + l;
          const int q = ((ql[i] >> shift) & 0xF) | (((qh[i] >> (2 * k)) & 3) << 4);
          w[i] = mul(ds, float(q - 32));
        }
      }
    } else {
      // IQ4_XS {d, scales_h, scales_l[4], qs[128]}: 6-bit scale of sub-block s from a nibble
      // of scales_l[s / 2] and 2 bits of scales_h: x = d * (ls - 32) * level[q]
      static_assert(F == WFmt::IQ4_XS);
      const float d = f16_at(b);
      const int sh = __ldg(reinterpret_cast<const uint16_t*>(b + 2));
      const int sl = __ldg(b + 4 + s / 2);
      const int ls = ((sl >> (4 * (s % 2))) & 0xF) | (((sh >> (2 * s)) & 3) << 4);
      const float dl = mul(d, float(ls - 32));
      uint8_t qs[16];
      load_bytes<16, 8>(b + 8 + 16 * s, qs);
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        w[j] = mul(dl, iq4_level(qs[j] & 0xF));
        w[j + 16] = mul(dl, iq4_level(qs[j] >> 4));
      }
    }
  }
}

}  // namespace sb::cuda
