#include "engine/gguf/block_dequant.h"

#include <cstring>

#include "engine/core/half.h"

namespace sb {

void dequantize_q4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = float(b[i].qs[j] & 0x0f) * d + m;
      y[j + kQK / 2] = float(b[i].qs[j] >> 4) * d + m;
    }
  }
}

namespace {
// The 5-bit quant of element j of a Q5_0 / Q5_1 block: nibble plus bit j of qh as bit 4.
inline int q5_quant(const uint8_t* qs, uint32_t qh, int j) {
  const int nib = j < kQK / 2 ? (qs[j] & 0x0f) : (qs[j - kQK / 2] >> 4);
  return nib | int((qh >> j) & 1) << 4;
}
}  // namespace

void dequantize_q5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < kQK; ++j) y[j] = float(q5_quant(b[i].qs, qh, j) - 16) * d;
  }
}

void dequantize_q5_1(const BlockQ5_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < kQK; ++j) y[j] = float(q5_quant(b[i].qs, qh, j)) * d + m;
  }
}

void dequantize_iq4_nl(const BlockIQ4_NL* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * float(kValuesIQ4NL[b[i].qs[j] & 0x0f]);
      y[j + kQK / 2] = d * float(kValuesIQ4NL[b[i].qs[j] >> 4]);
    }
  }
}

// Q2_K and Q3_K share one element order: the super-block is two halves of 128; in half h,
// byte qs[32 h + l] holds four 2-bit quants at bit offsets 2 s (s = 0..3), for elements
// 128 h + 32 s + l (l < 32). Sub-block (16 elements) index: 8 h + 2 s + l / 16.
void dequantize_q2_k(const BlockQ2_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s)
        for (int l = 0; l < 32; ++l) {
          const uint8_t sc = b[i].scales[8 * h + 2 * s + l / 16];
          const float dl = d * float(sc & 0x0f), ml = dmin * float(sc >> 4);
          const int q = (b[i].qs[32 * h + l] >> (2 * s)) & 3;
          y[128 * h + 32 * s + l] = dl * float(q) - ml;
        }
  }
}

// Q3_K: the 2-bit quants as in Q2_K, the third bit of element 128 h + 32 s + l is bit 4 h + s
// of hmask[l]; a clear bit subtracts 4 (quant range -4..3).
void dequantize_q3_k(const BlockQ3_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = f16_to_f32(b[i].d);
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s)
        for (int l = 0; l < 32; ++l) {
          const float dl = d * float(q3k_scale(8 * h + 2 * s + l / 16, b[i].scales));
          const int lo = (b[i].qs[32 * h + l] >> (2 * s)) & 3;
          const int hbit = (b[i].hmask[l] >> (4 * h + s)) & 1;
          y[128 * h + 32 * s + l] = dl * float(lo - (hbit ? 0 : 4));
        }
  }
}

// Q4_K / Q5_K: four chunks of 64; chunk c's byte qs[32 c + l] holds element 64 c + l (low
// nibble, sub-block 2 c) and 64 c + 32 + l (high nibble, sub-block 2 c + 1). Q5_K's fifth bit
// of those two elements is bit 2 c (resp. 2 c + 1) of qh[l].
void dequantize_q4_k(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      k_scale_min(2 * c, b[i].scales, &sc, &m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      k_scale_min(2 * c + 1, b[i].scales, &sc, &m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      const uint8_t* q = b[i].qs + 32 * c;
      for (int l = 0; l < 32; ++l) y[64 * c + l] = d1 * float(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) y[64 * c + 32 + l] = d2 * float(q[l] >> 4) - m2;
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      k_scale_min(2 * c, b[i].scales, &sc, &m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      k_scale_min(2 * c + 1, b[i].scales, &sc, &m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      const uint8_t* q = b[i].qs + 32 * c;
      const uint8_t* qh = b[i].qh;
      for (int l = 0; l < 32; ++l) y[64 * c + l] = d1 * float((q[l] & 0x0f) | (((qh[l] >> (2 * c)) & 1) << 4)) - m1;
      for (int l = 0; l < 32; ++l) y[64 * c + 32 + l] = d2 * float((q[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) - m2;
    }
  }
}

// Q6_K: two halves of 128; in half h, element 128 h + 32 r + l (r = 0..3, l < 32) takes the
// low (r < 2) or high (r >= 2) nibble of ql[64 h + 32 (r % 2) + l] and bits 2 r, 2 r + 1 of
// qh[32 h + l] as its top two bits; quant range -32..31; sub-block (16 elements) 8 h + 2 r + l / 16.
void dequantize_q6_k(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = f16_to_f32(b[i].d);
    for (int e = 0; e < kQK_K; ++e) y[e] = d * float(b[i].scales[e / 16]) * float(q6_k_quant(b[i], e) - 32);
  }
}

void dequantize_iq4_xs(const BlockIQ4_XS* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = f16_to_f32(b[i].d);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const float dl = d * float(iq4xs_scale(ib, b[i]));
      const uint8_t* qs = b[i].qs + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        y[32 * ib + j] = dl * float(kValuesIQ4NL[qs[j] & 0x0f]);
        y[32 * ib + j + 16] = dl * float(kValuesIQ4NL[qs[j] >> 4]);
      }
    }
  }
}

}  // namespace sb
