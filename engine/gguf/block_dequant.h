// Exact dequantizers for the llama.cpp block types beyond Q8_0/Q4_0 (layouts in ggml_types.h):
// Q4_1, Q5_0, Q5_1, IQ4_NL (32-element blocks) and Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS
// (256-element super-blocks). Each decodes `nb` consecutive blocks at b into nb * block size
// floats at y, with ggml's formulas and order of float operations (sub-block scale = d * integer
// scale in f32 first, then times the quant, minus the sub-block min), so the reference backend
// reproduces ggml's dequantized weights. dequantize_row (ggml_types.h) dispatches here.
//
// The inline helpers below unpack the packed sub-block scales; they are the one place that
// knows those bit layouts, and vectorized kernels (cpu, cuda host code) use them too.
#pragma once

#include <cstdint>

#include "engine/gguf/ggml_types.h"

namespace sb {

// Q4_K / Q5_K: 8 sub-blocks of 32 elements, 6-bit scale and 6-bit min each, packed in 12 bytes:
// for j < 4 the low 6 bits of bytes j (scale) and j + 4 (min); for j >= 4 the nibbles of byte
// j + 4 (low: scale, high: min) with the top 2 bits of bytes j - 4 (scale) and j (min).
inline void k_scale_min(int j, const uint8_t* s, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = uint8_t((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
    *min = uint8_t((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Q3_K: 16 sub-blocks of 16 elements, 6-bit scales stored with a bias of 32, packed in 12 bytes:
// low 4 bits in the low (j < 8) or high (j >= 8) nibble of byte j % 8, high 2 bits in bits
// 2 * (j / 4) of byte 8 + j % 4. Returns the signed scale (-32..31).
inline int q3k_scale(int j, const uint8_t* s) {
  const int lo = j < 8 ? (s[j] & 0x0f) : (s[j - 8] >> 4);
  const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

// IQ4_XS: 8 sub-blocks of 32 elements, 6-bit scales with a bias of 32: low 4 bits in nibble
// ib % 2 of scales_l[ib / 2], high 2 bits in bits 2 * ib of scales_h. Returns -32..31.
inline int iq4xs_scale(int ib, const BlockIQ4_XS& b) {
  const int lo = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
  const int hi = (b.scales_h >> (2 * ib)) & 3;
  return (lo | (hi << 4)) - 32;
}

// Q6_K: the unsigned 6-bit quant (0..63; the value is d * scale * (q - 32)) of element e:
// per 128-element half h, quarter r = (e % 128) / 32 takes nibble r / 2 of ql[64 h + 32 (r % 2)
// + e % 32] and bits 2 r, 2 r + 1 of qh[32 h + e % 32].
inline int q6_k_quant(const BlockQ6_K& b, int e) {
  const int h = e / 128, r = (e % 128) / 32, l = e % 32;
  const int lo = (b.ql[64 * h + 32 * (r % 2) + l] >> (4 * (r / 2))) & 0x0f;
  return lo | (((b.qh[32 * h + l] >> (2 * r)) & 3) << 4);
}

// q6_k_quant(b, 32 j + e) for e = 0..31 (sub-block j = 0..7) into q, the indexing hoisted so the
// loop vectorizes (the repacking code decodes whole sub-blocks).
inline void q6_k_quants32(const BlockQ6_K& b, int j, uint8_t* q) {
  const int h = j / 4, r = j % 4, sl = 4 * (r / 2), sh = 2 * r;
  const uint8_t *ql = b.ql + 64 * h + 32 * (r % 2), *qh = b.qh + 32 * h;
  for (int e = 0; e < 32; ++e) q[e] = uint8_t(((ql[e] >> sl) & 15) | ((qh[e] >> sh) & 3) << 4);
}

void dequantize_q4_1(const BlockQ4_1* b, float* y, int64_t nb);
void dequantize_q5_0(const BlockQ5_0* b, float* y, int64_t nb);
void dequantize_q5_1(const BlockQ5_1* b, float* y, int64_t nb);
void dequantize_iq4_nl(const BlockIQ4_NL* b, float* y, int64_t nb);
void dequantize_q2_k(const BlockQ2_K* b, float* y, int64_t nb);
void dequantize_q3_k(const BlockQ3_K* b, float* y, int64_t nb);
void dequantize_q4_k(const BlockQ4_K* b, float* y, int64_t nb);
void dequantize_q5_k(const BlockQ5_K* b, float* y, int64_t nb);
void dequantize_q6_k(const BlockQ6_K* b, float* y, int64_t nb);
void dequantize_iq4_xs(const BlockIQ4_XS* b, float* y, int64_t nb);

}  // namespace sb
