// AVX2 + FMA + F16C implementations of kernels.h (this file is compiled with -mavx2 -mfma
// -mf16c; nothing here runs unless cpu_supported() said yes).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/backends/cpu/hgemv.h"
#include "engine/backends/cpu/kernels.h"
#include "engine/backends/cpu/prefetch.h"
#include "engine/backends/cpu_isa.h"
#include "engine/core/half.h"
#include "engine/gguf/block_dequant.h"

namespace sb::cpu {

bool cpu_supported() { return isa_available(Isa::Avx2); }

namespace {

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  lo = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, lo);
  lo = _mm_add_ss(lo, sh);
  return _mm_cvtss_f32(lo);
}

// exp(x) per lane (exp_row's contract in kernels.h): x = n ln2 + r with n = round(x / ln2),
// |r| <= ln2 / 2 (ln2 in two parts, Cody-Waite), exp(r) by Cephes expf's degree-7 polynomial,
// times 2^n built in the exponent bits.
inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447505531f);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 nf = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 e = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n in two factors (n = 128 at the top of the range would not fit one exponent field)
  const __m256i ni = _mm256_cvtps_epi32(nf);
  const __m256i h = _mm256_srai_epi32(ni, 1);
  const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
  const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), _mm256_set1_epi32(127)), 23));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(e, p1), p2);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN stays NaN
}
inline float exp1(float x) { return _mm256_cvtss_f32(exp8(_mm256_set1_ps(x))); }

inline __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 load_bf16(const uint16_t* p) {
  __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
inline __m256 load_i8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

float dot_f16(const float* x, const uint16_t* w, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load_f16(w + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), load_f16(w + i + 8), a1);
  }
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += x[i] * f16_to_f32(w[i]);
  return s;
}

float dot_bf16(const float* x, const uint16_t* w, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load_bf16(w + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), load_bf16(w + i + 8), a1);
  }
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += x[i] * bf16_to_f32(w[i]);
  return s;
}

float dot_q8_0(const float* x, const BlockQ8_0* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float* xb = x + i * kQK;
    __m256 s = _mm256_mul_ps(_mm256_loadu_ps(xb), load_i8(b[i].qs));
    s = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 8), load_i8(b[i].qs + 8), s);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 16), load_i8(b[i].qs + 16), s);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 24), load_i8(b[i].qs + 24), s);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_to_f32(b[i].d)), s, acc);
  }
  return hsum(acc);
}

float dot_q4_0(const float* x, const BlockQ4_0* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  const __m128i mask = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float* xb = x + i * kQK;
    __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
    __m128i lo = _mm_sub_epi8(_mm_and_si128(q, mask), eight);                     // elements 0..15
    __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), mask), eight);  // elements 16..31
    __m256 s = _mm256_mul_ps(_mm256_loadu_ps(xb), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)));
    s = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 8), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), s);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 16), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), s);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 24), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), s);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_to_f32(b[i].d)), s, acc);
  }
  return hsum(acc);
}

// ---- block decoders for the llama.cpp block types beyond Q8_0/Q4_0 ----
// Each decodes one block (32 elements) or super-block (256) of its type into f32 at y, with the
// layouts and scale packings of engine/gguf/block_dequant.h: quants are gathered into 32 int8
// lanes in element order, then scaled (sub-block scale d * sc computed in f32 as the reference
// does; the "- min" term fused into one FMA, so a value may differ from the reference by 1 ulp).

// y[0..15] = d0 * q + a0, y[16..31] = d1 * q + a1 for 32 int8 quants q in element order.
inline void store_q32(__m256i q, __m256 d0, __m256 a0, __m256 d1, __m256 a1, float* y) {
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  auto f = [](__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); };
  _mm256_storeu_ps(y, _mm256_fmadd_ps(d0, f(lo), a0));
  _mm256_storeu_ps(y + 8, _mm256_fmadd_ps(d0, f(_mm_srli_si128(lo, 8)), a0));
  _mm256_storeu_ps(y + 16, _mm256_fmadd_ps(d1, f(hi), a1));
  _mm256_storeu_ps(y + 24, _mm256_fmadd_ps(d1, f(_mm_srli_si128(hi, 8)), a1));
}
// Same without an offset (y = d * q).
inline void store_q32(__m256i q, __m256 d0, __m256 d1, float* y) {
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  auto f = [](__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); };
  _mm256_storeu_ps(y, _mm256_mul_ps(d0, f(lo)));
  _mm256_storeu_ps(y + 8, _mm256_mul_ps(d0, f(_mm_srli_si128(lo, 8))));
  _mm256_storeu_ps(y + 16, _mm256_mul_ps(d1, f(hi)));
  _mm256_storeu_ps(y + 24, _mm256_mul_ps(d1, f(_mm_srli_si128(hi, 8))));
}

// 16 bytes of packed nibbles -> 32 lanes: low nibbles (elements 0..15), then high ones (16..31).
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)), m = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}
// 32 bytes -> nibble `hi` of each byte, in 32 lanes.
inline __m256i nibble_of(__m256i q, int hi) { return _mm256_and_si256(hi ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(0x0f)); }
// Lane j = 0x10 when bit j of the 32-bit qh is set (the fifth bit of Q5_0 / Q5_1 quants).
inline __m256i q5_high_bits(const uint8_t* qh4) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
  const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(int32_t(qh)), shuf), bit);
  return _mm256_and_si256(_mm256_cmpeq_epi8(v, bit), _mm256_set1_epi8(0x10));
}
// Lanes where (byte & mask) != 0 become 0xff.
inline __m256i bit_set(__m256i v, int mask) {
  const __m256i m = _mm256_set1_epi8(char(mask));
  return _mm256_cmpeq_epi8(_mm256_and_si256(v, m), m);
}
inline __m256i iq4_lookup(__m256i idx) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kValuesIQ4NL));
  return _mm256_shuffle_epi8(_mm256_set_m128i(t, t), idx);
}

inline void decode(const BlockQ4_1& b, float* y) {
  const __m256 d = _mm256_set1_ps(f16_to_f32(b.d)), m = _mm256_set1_ps(f16_to_f32(b.m));
  store_q32(nibbles32(b.qs), d, m, d, m, y);
}
inline void decode(const BlockQ5_0& b, float* y) {
  const __m256 d = _mm256_set1_ps(f16_to_f32(b.d));
  const __m256i q = _mm256_sub_epi8(_mm256_or_si256(nibbles32(b.qs), q5_high_bits(b.qh)), _mm256_set1_epi8(16));
  store_q32(q, d, d, y);
}
inline void decode(const BlockQ5_1& b, float* y) {
  const __m256 d = _mm256_set1_ps(f16_to_f32(b.d)), m = _mm256_set1_ps(f16_to_f32(b.m));
  store_q32(_mm256_or_si256(nibbles32(b.qs), q5_high_bits(b.qh)), d, m, d, m, y);
}
inline void decode(const BlockIQ4_NL& b, float* y) {
  const __m256 d = _mm256_set1_ps(f16_to_f32(b.d));
  store_q32(iq4_lookup(nibbles32(b.qs)), d, d, y);
}
inline void decode(const BlockQ2_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int h = 0; h < 2; ++h) {
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * h));
    for (int s = 0; s < 4; ++s) {
      const __m256i q = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * s), _mm256_set1_epi8(3));
      const uint8_t s0 = b.scales[8 * h + 2 * s], s1 = b.scales[8 * h + 2 * s + 1];
      store_q32(q, _mm256_set1_ps(d * float(s0 & 0x0f)), _mm256_set1_ps(-(dmin * float(s0 >> 4))), _mm256_set1_ps(d * float(s1 & 0x0f)),
                _mm256_set1_ps(-(dmin * float(s1 >> 4))), y + 128 * h + 32 * s);
    }
  }
}
inline void decode(const BlockQ3_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.hmask));
  for (int h = 0; h < 2; ++h) {
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * h));
    for (int s = 0; s < 4; ++s) {
      const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * s), _mm256_set1_epi8(3));
      // a clear high bit subtracts 4
      const __m256i q = _mm256_sub_epi8(lo, _mm256_andnot_si256(bit_set(hm, 1 << (4 * h + s)), _mm256_set1_epi8(4)));
      const int j = 8 * h + 2 * s;
      store_q32(q, _mm256_set1_ps(d * float(q3k_scale(j, b.scales))), _mm256_set1_ps(d * float(q3k_scale(j + 1, b.scales))),
                y + 128 * h + 32 * s);
    }
  }
}
template <class B>  // BlockQ4_K or BlockQ5_K
inline void decode_k45(const B& b, const uint8_t* qh, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  const __m256i h = qh ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh)) : _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * c));
    for (int hi = 0; hi < 2; ++hi) {
      __m256i q = nibble_of(qs, hi);
      if (qh) q = _mm256_or_si256(q, _mm256_and_si256(bit_set(h, 1 << (2 * c + hi)), _mm256_set1_epi8(0x10)));
      uint8_t sc, m;
      k_scale_min(2 * c + hi, b.scales, &sc, &m);
      const __m256 dv = _mm256_set1_ps(d * float(sc)), mv = _mm256_set1_ps(-(dmin * float(m)));
      store_q32(q, dv, mv, dv, mv, y + 64 * c + 32 * hi);
    }
  }
}
inline void decode(const BlockQ4_K& b, float* y) { decode_k45(b, nullptr, y); }
inline void decode(const BlockQ5_K& b, float* y) { decode_k45(b, b.qh, y); }
inline void decode(const BlockQ6_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int h = 0; h < 2; ++h) {
    const __m256i ql[2] = {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h)),
                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32))};
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
    for (int r = 0; r < 4; ++r) {
      const __m256i top = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * r), _mm256_set1_epi8(3)), 4);
      const __m256i q = _mm256_sub_epi8(_mm256_or_si256(nibble_of(ql[r % 2], r / 2), top), _mm256_set1_epi8(32));
      const int j = 8 * h + 2 * r;
      store_q32(q, _mm256_set1_ps(d * float(b.scales[j])), _mm256_set1_ps(d * float(b.scales[j + 1])), y + 128 * h + 32 * r);
    }
  }
}
inline void decode(const BlockIQ4_XS& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    const __m256 dl = _mm256_set1_ps(d * float(iq4xs_scale(ib, b)));
    store_q32(iq4_lookup(nibbles32(b.qs + 16 * ib)), dl, dl, y + 32 * ib);
  }
}

// Fused decode: each block is decoded into a stack buffer (L1) and multiplied with x at once.
template <class B, int64_t QK>
float dot_decoded(const float* x, const B* b, int64_t n) {
  alignas(32) float buf[QK];
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK; ++i) {
    decode(b[i], buf);
    const float* xb = x + i * QK;
    for (int j = 0; j < QK; j += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xb + j), _mm256_load_ps(buf + j), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xb + j + 8), _mm256_load_ps(buf + j + 8), a1);
    }
  }
  return hsum(_mm256_add_ps(a0, a1));
}
template <class B, int64_t QK>
void dequant_decoded(const B* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n / QK; ++i) decode(b[i], out + i * QK);
}

// The types decoded above: X(ggml type, block struct, elements per block).
#define SB_DECODED_TYPES(X)   \
  X(Q4_1, BlockQ4_1, kQK)     \
  X(Q5_0, BlockQ5_0, kQK)     \
  X(Q5_1, BlockQ5_1, kQK)     \
  X(IQ4_NL, BlockIQ4_NL, kQK) \
  X(Q2_K, BlockQ2_K, kQK_K)   \
  X(Q3_K, BlockQ3_K, kQK_K)   \
  X(Q4_K, BlockQ4_K, kQK_K)   \
  X(Q5_K, BlockQ5_K, kQK_K)   \
  X(Q6_K, BlockQ6_K, kQK_K)   \
  X(IQ4_XS, BlockIQ4_XS, kQK_K)

float dot_row(GgmlType type, const uint8_t* w, const float* x, int64_t k) {
  switch (type) {
    case GgmlType::F32:
      return dot_f32(x, reinterpret_cast<const float*>(w), k);
    case GgmlType::F16:
      return dot_f16(x, reinterpret_cast<const uint16_t*>(w), k);
    case GgmlType::BF16:
      return dot_bf16(x, reinterpret_cast<const uint16_t*>(w), k);
    case GgmlType::Q8_0:
      return dot_q8_0(x, reinterpret_cast<const BlockQ8_0*>(w), k);
    case GgmlType::Q4_0:
      return dot_q4_0(x, reinterpret_cast<const BlockQ4_0*>(w), k);
#define SB_DOT_CASE(T, B, QK) \
  case GgmlType::T:           \
    return dot_decoded<B, QK>(x, reinterpret_cast<const B*>(w), k);
      SB_DECODED_TYPES(SB_DOT_CASE)
#undef SB_DOT_CASE
    default:
      break;
  }
  return 0.0f;  // not reached: the backend loads only the types listed in kernels.h
}

void dequant_row(GgmlType type, const uint8_t* w, float* out, int64_t k) {
  switch (type) {
    case GgmlType::F32:
      std::memcpy(out, w, size_t(k) * 4);
      return;
    case GgmlType::F16: {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(w);
      int64_t i = 0;
      for (; i + 8 <= k; i += 8) _mm256_storeu_ps(out + i, load_f16(h + i));
      for (; i < k; ++i) out[i] = f16_to_f32(h[i]);
      return;
    }
    case GgmlType::BF16: {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(w);
      int64_t i = 0;
      for (; i + 8 <= k; i += 8) _mm256_storeu_ps(out + i, load_bf16(h + i));
      for (; i < k; ++i) out[i] = bf16_to_f32(h[i]);
      return;
    }
    case GgmlType::Q8_0: {
      const BlockQ8_0* b = reinterpret_cast<const BlockQ8_0*>(w);
      for (int64_t i = 0; i < k / kQK; ++i) {
        const __m256 d = _mm256_set1_ps(f16_to_f32(b[i].d));
        for (int j = 0; j < kQK; j += 8) _mm256_storeu_ps(out + i * kQK + j, _mm256_mul_ps(d, load_i8(b[i].qs + j)));
      }
      return;
    }
    case GgmlType::Q4_0: {
      const BlockQ4_0* b = reinterpret_cast<const BlockQ4_0*>(w);
      const __m128i mask = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
      for (int64_t i = 0; i < k / kQK; ++i) {
        const __m256 d = _mm256_set1_ps(f16_to_f32(b[i].d));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(q, mask), eight);
        const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), mask), eight);
        float* o = out + i * kQK;
        _mm256_storeu_ps(o, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
        _mm256_storeu_ps(o + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
        _mm256_storeu_ps(o + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
        _mm256_storeu_ps(o + 24, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
      }
      return;
    }
#define SB_DEQUANT_CASE(T, B, QK)                                  \
  case GgmlType::T:                                                \
    dequant_decoded<B, QK>(reinterpret_cast<const B*>(w), out, k); \
    return;
      SB_DECODED_TYPES(SB_DEQUANT_CASE)
#undef SB_DEQUANT_CASE
    default:
      return;
  }
}

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_dtype(const float* a, DType dt, const void* b, int64_t n) {
  switch (dt) {
    case DType::F32:
      return dot_f32(a, static_cast<const float*>(b), n);
    case DType::F16:
      return dot_f16(a, static_cast<const uint16_t*>(b), n);
    case DType::BF16:
      return dot_bf16(a, static_cast<const uint16_t*>(b), n);
  }
  return 0.0f;
}

void axpy_dtype(float alpha, DType dt, const void* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(alpha);
  int64_t i = 0;
  switch (dt) {
    case DType::F32: {
      const float* xf = static_cast<const float*>(x);
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(xf + i), _mm256_loadu_ps(y + i)));
      for (; i < n; ++i) y[i] += alpha * xf[i];
      return;
    }
    case DType::F16: {
      const uint16_t* xh = static_cast<const uint16_t*>(x);
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16(xh + i), _mm256_loadu_ps(y + i)));
      for (; i < n; ++i) y[i] += alpha * f16_to_f32(xh[i]);
      return;
    }
    case DType::BF16: {
      const uint16_t* xh = static_cast<const uint16_t*>(x);
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_bf16(xh + i), _mm256_loadu_ps(y + i)));
      for (; i < n; ++i) y[i] += alpha * bf16_to_f32(xh[i]);
      return;
    }
  }
}

// Cached rows prefetched ahead by the decode-attention kernels. A head's slice of a KV row is
// 64-256 bytes at a stride of the whole row (1 KiB on codex-spark), a pattern the hardware
// prefetchers leave latency-bound. cpu/attention/*/ctx:2048/decode, Intel Xeon, 2 threads, three
// rounds: none: spark 403-424 us, 1B 1156-1204; 4 rows: 293-339, 593-896; 8 rows: 289-309,
// 660-735; 16 rows: 290-398, 697-798. At ctx 512 (the layer's cache within L2) no change.
constexpr int64_t kAhead = 8;

void dot_rows_dtype(const float* a, DType dt, const void* b, size_t stride, int64_t rows, int64_t n, float scale, float* out) {
  const char* p = static_cast<const char*>(b);
  const size_t bytes = size_t(n) * dtype_size(dt);
  for (int64_t r = 0; r < rows; ++r) {
    const char* row = p + size_t(r) * stride;
    if (r + kAhead < rows) prefetch_lines(row + size_t(kAhead) * stride, bytes);
    switch (dt) {
      case DType::F32:
        out[r] = dot_f32(a, reinterpret_cast<const float*>(row), n) * scale;
        break;
      case DType::F16:
        out[r] = dot_f16(a, reinterpret_cast<const uint16_t*>(row), n) * scale;
        break;
      case DType::BF16:
        out[r] = dot_bf16(a, reinterpret_cast<const uint16_t*>(row), n) * scale;
        break;
    }
  }
}

namespace {

// axpy_rows_dtype for one dtype: columns in blocks of up to 64 (eight 8-lane accumulators held
// across all rows), the tail columns one by one, each element as axpy_dtype computes it.
template <class Load, class Scalar>
void axpy_rows(const float* alpha, const char* x, size_t stride, int64_t rows, float* y, int64_t n, size_t esz, Load load, Scalar scalar) {
  int64_t i = 0;
  for (; i + 8 <= n;) {
    const int64_t nv = std::min<int64_t>(8, (n - i) / 8);
    __m256 acc[8];
    for (int64_t j = 0; j < nv; ++j) acc[j] = _mm256_loadu_ps(y + i + 8 * j);
    for (int64_t r = 0; r < rows; ++r) {
      const __m256 va = _mm256_set1_ps(alpha[r]);
      const char* xr = x + size_t(r) * stride;
      if (r + kAhead < rows) prefetch_lines(xr + size_t(kAhead) * stride + size_t(i) * esz, size_t(8 * nv) * esz);
      for (int64_t j = 0; j < nv; ++j) acc[j] = _mm256_fmadd_ps(va, load(xr, i + 8 * j), acc[j]);
    }
    for (int64_t j = 0; j < nv; ++j) _mm256_storeu_ps(y + i + 8 * j, acc[j]);
    i += 8 * nv;
  }
  for (; i < n; ++i)
    for (int64_t r = 0; r < rows; ++r) y[i] += alpha[r] * scalar(x + size_t(r) * stride, i);
}

}  // namespace

void axpy_rows_dtype(const float* alpha, DType dt, const void* x, size_t stride, int64_t rows, float* y, int64_t n) {
  const char* p = static_cast<const char*>(x);
  switch (dt) {
    case DType::F32:
      axpy_rows(
          alpha, p, stride, rows, y, n, 4, [](const char* r, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(r) + i); },
          [](const char* r, int64_t i) { return reinterpret_cast<const float*>(r)[i]; });
      return;
    case DType::F16:
      axpy_rows(
          alpha, p, stride, rows, y, n, 2, [](const char* r, int64_t i) { return load_f16(reinterpret_cast<const uint16_t*>(r) + i); },
          [](const char* r, int64_t i) { return f16_to_f32(reinterpret_cast<const uint16_t*>(r)[i]); });
      return;
    case DType::BF16:
      axpy_rows(
          alpha, p, stride, rows, y, n, 2, [](const char* r, int64_t i) { return load_bf16(reinterpret_cast<const uint16_t*>(r) + i); },
          [](const char* r, int64_t i) { return bf16_to_f32(reinterpret_cast<const uint16_t*>(r)[i]); });
      return;
  }
}

void gemv_rows(GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, const float* x, int64_t ldx, int64_t m, float* y, int64_t ldy,
               int64_t n0, int64_t n1, const float* bias, bool accumulate) {
  // F16/BF16: the streaming kernel of the active ISA level; SPARKBENCH_CPU_HGEMV=0 keeps the
  // row-at-a-time dot below (a comparison switch, docs/VARIANTS.md).
  static const HgemvKernels* hk = [] {
    const char* e = std::getenv("SPARKBENCH_CPU_HGEMV");
    return e && std::strcmp(e, "0") == 0 ? nullptr : &hgemv_kernels(active_isa());
  }();
  if (hk && (type == GgmlType::F16 || type == GgmlType::BF16)) {
    hk->gemv(type == GgmlType::BF16, w, row_bytes, k, x, ldx, m, y, ldy, n0, n1, bias, accumulate);
    return;
  }
  if (m == 1) {
    for (int64_t n = n0; n < n1; ++n) {
      float v = dot_row(type, w + size_t(n) * row_bytes, x, k);
      if (bias) v += bias[n];
      y[n] = accumulate ? y[n] + v : v;
    }
    return;
  }
  // Several rows of x: expand each weight row once (L1-resident) and reuse it for every row.
  alignas(64) float buf[16384];
  float* row = buf;
  std::unique_ptr<float[]> big;
  if (k > 16384) {
    big.reset(new float[size_t(k)]);
    row = big.get();
  }
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* wr = w + size_t(n) * row_bytes;
    const float* wf = type == GgmlType::F32 ? reinterpret_cast<const float*>(wr) : row;
    if (type != GgmlType::F32) dequant_row(type, wr, row, k);
    for (int64_t t = 0; t < m; ++t) {
      float v = dot_f32(x + t * ldx, wf, k);
      if (bias) v += bias[n];
      float& out = y[t * ldy + n];
      out = accumulate ? out + v : v;
    }
  }
}

namespace {

// acc[r][j] = dot(x row r, w row j) for an MR x NR block (k elements, rows ldx / ldw apart).
template <int MR, int NR>
inline void f32_block(const float* x, int64_t ldx, const float* w, int64_t ldw, int64_t k, float* y, int64_t ldy, const float* bias,
                      bool accumulate) {
  __m256 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) acc[r][j] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 wv[NR];
    for (int j = 0; j < NR; ++j) wv[j] = _mm256_loadu_ps(w + j * ldw + i);
    for (int r = 0; r < MR; ++r) {
      const __m256 xv = _mm256_loadu_ps(x + r * ldx + i);
      for (int j = 0; j < NR; ++j) acc[r][j] = _mm256_fmadd_ps(xv, wv[j], acc[r][j]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) {
      float v = hsum(acc[r][j]);
      for (int64_t t = i; t < k; ++t) v += x[r * ldx + t] * w[j * ldw + t];
      if (bias) v += bias[j];
      float& out = y[r * ldy + j];
      out = accumulate ? out + v : v;
    }
}

template <int MR>
inline void f32_rows(const float* x, int64_t ldx, const float* w, int64_t nb, int64_t k, float* y, int64_t ldy, const float* bias,
                     bool accumulate) {
  int64_t j = 0;
  for (; j + 2 <= nb; j += 2) f32_block<MR, 2>(x, ldx, w + j * k, k, k, y + j, ldy, bias ? bias + j : nullptr, accumulate);
  if (j < nb) f32_block<MR, 1>(x, ldx, w + j * k, k, k, y + j, ldy, bias ? bias + j : nullptr, accumulate);
}

}  // namespace

void gemm_rows_tiled(GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, const float* x, int64_t ldx, int64_t m, float* y,
                     int64_t ldy, int64_t n0, int64_t n1, const float* bias, bool accumulate) {
  thread_local std::vector<float> tile;
  const int64_t nb = n1 - n0;
  const float* wt;
  if (type == GgmlType::F32) {
    wt = reinterpret_cast<const float*>(w + size_t(n0) * row_bytes);
  } else {
    if (tile.size() < size_t(nb * k)) tile.resize(size_t(nb * k));
    for (int64_t n = n0; n < n1; ++n) dequant_row(type, w + size_t(n) * row_bytes, tile.data() + (n - n0) * k, k);
    wt = tile.data();
  }
  const float* b = bias ? bias + n0 : nullptr;
  int64_t t = 0;
  for (; t + 4 <= m; t += 4) f32_rows<4>(x + t * ldx, ldx, wt, nb, k, y + t * ldy + n0, ldy, b, accumulate);
  switch (m - t) {
    case 3:
      f32_rows<3>(x + t * ldx, ldx, wt, nb, k, y + t * ldy + n0, ldy, b, accumulate);
      break;
    case 2:
      f32_rows<2>(x + t * ldx, ldx, wt, nb, k, y + t * ldy + n0, ldy, b, accumulate);
      break;
    case 1:
      f32_rows<1>(x + t * ldx, ldx, wt, nb, k, y + t * ldy + n0, ldy, b, accumulate);
      break;
    default:
      break;
  }
}

float quantize_row_s8(const float* x, int8_t* q, int64_t n, int64_t npad) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 vmax = _mm256_setzero_ps();
  int64_t i = 0;
  // maxps returns its second operand when either is NaN: the running max goes second, so a NaN
  // is skipped (as std::max(amax, NaN) does in sb::quantize_row_s8) instead of replacing it
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), vmax);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  float amax = 0.0f;
  for (float v : lanes) amax = std::max(amax, v);
  for (; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0.0f || !std::isfinite(amax)) {
    std::memset(q, 0, size_t(npad));
    return 0.0f;
  }
  const float id = 127.0f / amax;
  const __m256 vid = _mm256_set1_ps(id);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  i = 0;
  auto scaled = [&](const float* p) {  // x * id with NaN lanes zeroed, rounded to nearest even
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(p), vid);
    return _mm256_cvtps_epi32(_mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)));
  };
  for (; i + 32 <= n; i += 32) {
    const __m256i a = scaled(x + i), b = scaled(x + i + 8), c = scaled(x + i + 16), d = scaled(x + i + 24);
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i abcd = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), abcd);
  }
  for (; i < n; ++i) {
    const float v = x[i] * id;
    q[i] = v == v ? int8_t(std::nearbyint(v)) : 0;
  }
  if (npad > n) std::memset(q + n, 0, size_t(npad - n));
  return amax / 127.0f;
}

namespace {

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Integer dot products of an MR x NR block: |x| (u8) times w with x's sign (s8) by vpmaddubsw
// (pairs stay within 2 * 127 * 127, no saturation), widened to s32 by vpmaddwd.
template <int MR, int NR>
inline void s8_block(const int8_t* x, const float* xd, const int8_t* w, const float* ws, int64_t kpad, float* y, int64_t ldy,
                     const float* bias, bool accumulate) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) acc[r][j] = _mm256_setzero_si256();
  for (int64_t i = 0; i < kpad; i += 32) {
    __m256i wv[NR];
    for (int j = 0; j < NR; ++j) wv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + j * kpad + i));
    for (int r = 0; r < MR; ++r) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + r * kpad + i));
      const __m256i ax = _mm256_abs_epi8(xv);
      for (int j = 0; j < NR; ++j) {
        const __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv[j], xv));
        acc[r][j] = _mm256_add_epi32(acc[r][j], _mm256_madd_epi16(p, ones));
      }
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) {
      float v = float(hsum_i32(acc[r][j])) * (xd[r] * ws[j]);
      if (bias) v += bias[j];
      float& out = y[r * ldy + j];
      out = accumulate ? out + v : v;
    }
}

// NR weight rows per block. Decode-sized products (stream = true) take one row at a time: a
// single sequential stream runs at DRAM speed (measured on Zen 3: about 7 GB/s against 4 GB/s
// for four interleaved 512-byte rows), while prompt-sized ones, computing from cache, reuse
// each x load across rows.
template <int MR, bool stream>
inline void s8_rows(const int8_t* x, const float* xd, const int8_t* w, const float* ws, int64_t nb, int64_t kpad, float* y, int64_t ldy,
                    const float* bias, bool accumulate) {
  constexpr int NR = stream ? 1 : MR >= 3 ? 2 : 4;
  int64_t j = 0;
  for (; j + NR <= nb; j += NR) s8_block<MR, NR>(x, xd, w + j * kpad, ws + j, kpad, y + j, ldy, bias ? bias + j : nullptr, accumulate);
  for (; j < nb; ++j) s8_block<MR, 1>(x, xd, w + j * kpad, ws + j, kpad, y + j, ldy, bias ? bias + j : nullptr, accumulate);
}

// All m activation rows in groups of 4 (then the 3, 2 or 1 left).
template <bool stream>
void s8_all_rows(const int8_t* xq, const float* xd, int64_t m, const int8_t* wb, const float* sb, int64_t nb, int64_t kpad, float* y,
                 int64_t ldy, const float* b, bool accumulate) {
  int64_t t = 0;
  for (; t + 4 <= m; t += 4) s8_rows<4, stream>(xq + t * kpad, xd + t, wb, sb, nb, kpad, y + t * ldy, ldy, b, accumulate);
  switch (m - t) {
    case 3:
      s8_rows<3, stream>(xq + t * kpad, xd + t, wb, sb, nb, kpad, y + t * ldy, ldy, b, accumulate);
      break;
    case 2:
      s8_rows<2, stream>(xq + t * kpad, xd + t, wb, sb, nb, kpad, y + t * ldy, ldy, b, accumulate);
      break;
    case 1:
      s8_rows<1, stream>(xq + t * kpad, xd + t, wb, sb, nb, kpad, y + t * ldy, ldy, b, accumulate);
      break;
    default:
      break;
  }
}

}  // namespace

void gemm_s8_rows(const int8_t* xq, const float* xd, int64_t m, const int8_t* w, const float* ws, int64_t kpad, float* y, int64_t ldy,
                  int64_t n0, int64_t n1, const float* bias, bool accumulate) {
  const int8_t* wb = w + n0 * kpad;
  const float* sb = ws + n0;
  const float* b = bias ? bias + n0 : nullptr;
  if (m <= 8)  // decode: weights stream from memory once
    s8_all_rows<true>(xq, xd, m, wb, sb, n1 - n0, kpad, y + n0, ldy, b, accumulate);
  else
    s8_all_rows<false>(xq, xd, m, wb, sb, n1 - n0, kpad, y + n0, ldy, b, accumulate);
}

void dequantize_rows(GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, int64_t n0, int64_t n1, float* out) {
  for (int64_t n = n0; n < n1; ++n) dequant_row(type, w + size_t(n) * row_bytes, out + (n - n0) * k, k);
}

void rmsnorm_row(const float* x, const float* w, float eps, float* out, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    a0 = _mm256_fmadd_ps(v0, v0, a0);
    a1 = _mm256_fmadd_ps(v1, v1, a1);
  }
  double ss = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) ss += double(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(float(ss / double(n)) + eps);
  const __m256 vs = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
  for (; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void softmax_row(const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  int64_t i = 0;
  __m256 vmx = _mm256_set1_ps(x[0]);
  for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(x + i));
  float lanes[8];
  _mm256_storeu_ps(lanes, vmx);
  float mx = x[0];
  for (float v : lanes) mx = std::max(mx, v);
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  const __m256 vm = _mm256_set1_ps(mx);
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(y + i, e);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  double part[4];
  _mm256_storeu_pd(part, _mm256_add_pd(s0, s1));
  double sum = (part[0] + part[1]) + (part[2] + part[3]);
  for (; i < n; ++i) {
    y[i] = exp1(x[i] - mx);
    sum += y[i];
  }
  const float inv = float(1.0 / sum);
  const __m256 vi = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), vi));
  for (; i < n; ++i) y[i] *= inv;
}

void swiglu_row(const float* g, const float* u, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gv = _mm256_loadu_ps(g + i);
    const __m256 e = exp8(_mm256_xor_ps(gv, sign));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
  }
  for (; i < n; ++i) out[i] = g[i] / (1.0f + exp1(-g[i])) * u[i];
}

void exp_row(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = exp1(x[i]);
}

void add_row(float* x, const float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) x[i] += y[i];
}

void convert_from_f32(DType dt, const float* src, void* dst, int64_t n) {
  int64_t i = 0;
  switch (dt) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case DType::F16: {
      uint16_t* h = static_cast<uint16_t*>(dst);
      for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
      for (; i < n; ++i) h[i] = f32_to_f16(src[i]);
      return;
    }
    case DType::BF16: {
      uint16_t* h = static_cast<uint16_t*>(dst);
      for (; i < n; ++i) h[i] = f32_to_bf16(src[i]);
      return;
    }
  }
}

void convert_to_f32(DType dt, const void* src, float* dst, int64_t n) {
  switch (dt) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case DType::F16:
      dequant_row(GgmlType::F16, static_cast<const uint8_t*>(src), dst, n);
      return;
    case DType::BF16:
      dequant_row(GgmlType::BF16, static_cast<const uint8_t*>(src), dst, n);
      return;
  }
}

}  // namespace sb::cpu
