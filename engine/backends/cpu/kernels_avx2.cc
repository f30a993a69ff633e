// AVX2 + FMA + F16C implementations of kernels.h (this file is compiled with -mavx2 -mfma
// -mf16c; nothing here runs unless cpu_supported() said yes).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "engine/backends/cpu/kernels.h"
#include "engine/core/half.h"

namespace sb::cpu {

bool cpu_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

const char* cpu_isa_string() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bf16")) return "avx2+fma+f16c, avx512 (bf16, vnni)";
  if (__builtin_cpu_supports("avx512vnni")) return "avx2+fma+f16c, avx512 (vnni)";
  if (__builtin_cpu_supports("avx512f")) return "avx2+fma+f16c, avx512";
  return "avx2+fma+f16c";
}

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

float dot_row(GgmlType type, const uint8_t* w, const float* x, int64_t k) {
  switch (type) {
    case GgmlType::F32: return dot_f32(x, reinterpret_cast<const float*>(w), k);
    case GgmlType::F16: return dot_f16(x, reinterpret_cast<const uint16_t*>(w), k);
    case GgmlType::BF16: return dot_bf16(x, reinterpret_cast<const uint16_t*>(w), k);
    case GgmlType::Q8_0: return dot_q8_0(x, reinterpret_cast<const BlockQ8_0*>(w), k);
    case GgmlType::Q4_0: return dot_q4_0(x, reinterpret_cast<const BlockQ4_0*>(w), k);
  }
  return 0.0f;
}

void dequant_row(GgmlType type, const uint8_t* w, float* out, int64_t k) {
  switch (type) {
    case GgmlType::F32: std::memcpy(out, w, size_t(k) * 4); return;
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
    case GgmlType::Q4_0:
      dequantize_row(GgmlType::Q4_0, w, out, k);
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
    case DType::F32: return dot_f32(a, static_cast<const float*>(b), n);
    case DType::F16: return dot_f16(a, static_cast<const uint16_t*>(b), n);
    case DType::BF16: return dot_bf16(a, static_cast<const uint16_t*>(b), n);
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

void gemv_rows(GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, const float* x, int64_t ldx, int64_t m,
               float* y, int64_t ldy, int64_t n0, int64_t n1, const float* bias, bool accumulate) {
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
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = std::exp(x[i] - mx);
    sum += y[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

void swiglu_row(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void add_row(float* x, const float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) x[i] += y[i];
}

void convert_from_f32(DType dt, const float* src, void* dst, int64_t n) {
  int64_t i = 0;
  switch (dt) {
    case DType::F32: std::memcpy(dst, src, size_t(n) * 4); return;
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
    case DType::F32: std::memcpy(dst, src, size_t(n) * 4); return;
    case DType::F16: dequant_row(GgmlType::F16, static_cast<const uint8_t*>(src), dst, n); return;
    case DType::BF16: dequant_row(GgmlType::BF16, static_cast<const uint8_t*>(src), dst, n); return;
  }
}

}  // namespace sb::cpu
