#include "engine/gguf/block_quant.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "engine/core/half.h"
#include "engine/gguf/block_dequant.h"  // the packed-scale readers

namespace sb {
namespace {

// Below this a group counts as all zeros (ggml's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// Round half to even for |v| < 2^22: adding 1.5 * 2^23 leaves the rounded integer in the low
// mantissa bits (the rounding the quantizers must share bit for bit).
inline int round_even(float v) {
  const float t = v + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// The element with the largest magnitude, sign kept; its magnitude in *amax.
inline float signed_absmax(const float* x, int n, float* amax) {
  float a = 0, m = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > a) {
      a = ax;
      m = x[i];
    }
  }
  *amax = a;
  return m;
}

// ---------------------------------------------------------------- 32-value blocks

void q4_1_row(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      if (x[j] < lo) lo = x[j];
      if (x[j] > hi) hi = x[j];
    }
    const float d = (hi - lo) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(lo);
    for (int j = 0; j < kQK / 2; ++j) {
      const int a = std::min(15, int(int8_t((x[j] - lo) * id + 0.5f)));
      const int b = std::min(15, int(int8_t((x[j + kQK / 2] - lo) * id + 0.5f)));
      y[i].qs[j] = uint8_t(a | (b << 4));
    }
  }
}

void q5_0_row(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax;
    const float vmax = signed_absmax(x, kQK, &amax);
    const float d = vmax / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t a = uint8_t(std::min(31, int(int8_t(x[j] * id + 16.5f))));
      const uint8_t b = uint8_t(std::min(31, int(int8_t(x[j + kQK / 2] * id + 16.5f))));
      y[i].qs[j] = uint8_t((a & 0x0f) | ((b & 0x0f) << 4));
      qh |= uint32_t((a >> 4) & 1) << j;
      qh |= uint32_t((b >> 4) & 1) << (j + kQK / 2);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void q5_1_row(const float* x, BlockQ5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      if (x[j] < lo) lo = x[j];
      if (x[j] > hi) hi = x[j];
    }
    const float d = (hi - lo) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(lo);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t a = uint8_t((x[j] - lo) * id + 0.5f);
      const uint8_t b = uint8_t((x[j + kQK / 2] - lo) * id + 0.5f);
      y[i].qs[j] = uint8_t((a & 0x0f) | ((b & 0x0f) << 4));
      qh |= uint32_t((a >> 4) & 1) << j;
      qh |= uint32_t((b >> 4) & 1) << (j + kQK / 2);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

// ---------------------------------------------------------------- scale searches

// Asymmetric fit of n values to levels 0..nmax: x ~ scale * L - min_out (min_out >= 0 returned
// through *neg_min). Starts from the full range, then tries nstep+1 level counts
// nmax + rmin + rdelta * s and keeps the weighted least-squares (scale, offset) with the least
// weighted error (|error| when use_abs, else error^2). L gets the levels, aux is scratch.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min, uint8_t* aux, float rmin, float rdelta,
                    int nstep, bool use_abs) {
  float lo = x[0], hi = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    const float wi = w[i];
    sum_w += wi;
    sum_x += wi * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *neg_min = -lo;
    return 0.0f;
  }
  float iscale = nmax / (hi - lo);
  float scale = 1 / iscale;
  float best_err = 0;
  for (int i = 0; i < n; ++i) {
    const int l = round_even(iscale * (x[i] - lo));
    L[i] = uint8_t(std::max(0, std::min(nmax, l)));
    float diff = scale * L[i] + lo - x[i];
    diff = use_abs ? std::fabs(diff) : diff * diff;
    best_err += w[i] * diff;
  }
  // A better fit moves lo, which the later trials then start from.
  for (int s = 0; s <= nstep; ++s) {
    iscale = (rmin + rdelta * s + nmax) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = round_even(iscale * (x[i] - lo));
      l = std::max(0, std::min(nmax, l));
      aux[i] = uint8_t(l);
      const float wi = w[i];
      sum_l += wi * l;
      sum_l2 += wi * l * l;
      sum_xl += wi * l * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float err = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * aux[i] + this_min - x[i];
        diff = use_abs ? std::fabs(diff) : diff * diff;
        err += w[i] * diff;
      }
      if (err < best_err) {
        for (int i = 0; i < n; ++i) L[i] = aux[i];
        best_err = err;
        scale = this_scale;
        lo = this_min;
      }
    }
  }
  *neg_min = -lo;
  return scale;
}

// Symmetric fit of n values to levels -nmax..nmax-1 (stored in L offset by +nmax), weights x^2:
// the scale from the largest |x|, then 18 trial scales (nmax +- 0.1 k) / max keeping the best
// weighted least-squares fit. All-zero groups give scale 0 and L = 0.
float fit_scale_sym(int n, int nmax, const float* x, int8_t* L) {
  float amax;
  const float vmax = signed_absmax(x, n, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  float iscale = -nmax / vmax;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = round_even(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int k = -9; k <= 9; ++k) {
    if (k == 0) continue;
    iscale = -(nmax + 0.1f * k) / vmax;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = round_even(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = round_even(iscale * x[i]);
        L[i] = int8_t(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q3_K's symmetric fit (levels -nmax..nmax-1, stored +nmax), weights x^2: start from the largest
// |x|, then up to 5 passes moving single values to the level that most improves the weighted
// least-squares fit.
float fit_scale_q3(int n, int nmax, const float* x, int8_t* L) {
  float amax;
  const float vmax = signed_absmax(x, n, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = -nmax / vmax;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = round_even(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        int nl = round_even(x[i] * sl2 / slx);
        nl = std::max(-nmax, std::min(nmax - 1, nl));
        if (nl != L[i]) {
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(nl);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return sumlx / suml2;
}

// Packs 2-bit levels as Q2_K/Q3_K store them: byte l of each 32-byte group of 128 values holds
// values l, l+32, l+64, l+96 in bits 0-1, 2-3, 4-5, 6-7.
template <typename T>
void pack_2bit(const T* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128)
    for (int l = 0; l < 32; ++l) qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// ---------------------------------------------------------------- K-quants

void q2_k_row(const float* x, BlockQ2_K* y, int64_t nb) {
  uint8_t L[kQK_K], aux[16];
  float w[16], mins[kQK_K / 16], scales[kQK_K / 16];
  const float q4scale = 15.0f;
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < kQK_K / 16; ++j) {
      for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
      scales[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], aux, -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < kQK_K / 16; ++j) y[i].scales[j] = uint8_t(round_even(iscale * scales[j]));
      y[i].d = f32_to_f16(max_scale / q4scale);
    } else {
      for (int j = 0; j < kQK_K / 16; ++j) y[i].scales[j] = 0;
      y[i].d = f32_to_f16(0.0f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < kQK_K / 16; ++j) y[i].scales[j] |= uint8_t(round_even(iscale * mins[j]) << 4);
      y[i].dmin = f32_to_f16(max_min / q4scale);
    } else {
      y[i].dmin = f32_to_f16(0.0f);
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = f16_to_f32(y[i].d) * (y[i].scales[j] & 0xF);
      if (d == 0.0f) continue;
      const float dm = f16_to_f32(y[i].dmin) * (y[i].scales[j] >> 4);
      for (int k = 0; k < 16; ++k) {
        const int l = round_even((x[16 * j + k] + dm) / d);
        L[16 * j + k] = uint8_t(std::max(0, std::min(3, l)));
      }
    }
    pack_2bit(L, y[i].qs);
  }
}

void q3_k_row(const float* x, BlockQ3_K* y, int64_t nb) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < kQK_K / 16; ++j) {
      scales[j] = fit_scale_q3(16, 4, x + 16 * j, L + 16 * j);
      const float a = std::fabs(scales[j]);
      if (a > amax) {
        amax = a;
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, sizeof y[i].scales);
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (int j = 0; j < kQK_K / 16; ++j) {
        int8_t l = int8_t(round_even(iscale * scales[j]));
        l = int8_t(std::max(-32, std::min(31, int(l))) + 32);
        if (j < 8)
          y[i].scales[j] = uint8_t(l & 0xF);
        else
          y[i].scales[j - 8] |= uint8_t((l & 0xF) << 4);
        l = int8_t(l >> 4);
        y[i].scales[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
      }
      y[i].d = f32_to_f16(1 / iscale);
    } else {
      y[i].d = f32_to_f16(0.0f);
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = f16_to_f32(y[i].d) * float(q3k_scale(j, y[i].scales));
      if (d == 0.0f) continue;
      for (int k = 0; k < 16; ++k) {
        const int l = round_even(x[16 * j + k] / d);
        L[16 * j + k] = int8_t(std::max(-4, std::min(3, l)) + 4);
      }
    }
    // high bit of value j goes to bit j / 32 of hmask[j % 32]
    std::memset(y[i].hmask, 0, sizeof y[i].hmask);
    for (int j = 0; j < kQK_K; ++j) {
      if (L[j] > 3) {
        y[i].hmask[j % 32] |= uint8_t(1u << (j / 32));
        L[j] = int8_t(L[j] - 4);
      }
    }
    pack_2bit(L, y[i].qs);
  }
}

// Q4_K and Q5_K share the scale/min fit and the 12-byte 6-bit packing: scales and mins of
// sub-blocks 0-3 in the low 6 bits of bytes 0-3 and 4-7, those of 4-7 as nibbles in bytes 8-11
// with their top 2 bits in the high bits of bytes 0-7.
template <int Nmax>
void k_scales_fit(const float* x, uint8_t* L, uint8_t packed[kKScaleSize], uint16_t* d, uint16_t* dmin, float rmin, int nstep) {
  uint8_t aux[32];
  float w[32], mins[kQK_K / 32], scales[kQK_K / 32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = fit_scale_min(32, Nmax, x + 32 * j, w, L + 32 * j, &mins[j], aux, rmin, 0.1f, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t ls = uint8_t(round_even(inv_scale * scales[j]));
    uint8_t lm = uint8_t(round_even(inv_min * mins[j]));
    ls = std::min<uint8_t>(63, ls);
    lm = std::min<uint8_t>(63, lm);
    if (j < 4) {
      packed[j] = ls;
      packed[j + 4] = lm;
    } else {
      packed[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
      packed[j - 4] |= uint8_t((ls >> 4) << 6);
      packed[j] |= uint8_t((lm >> 4) << 6);
    }
  }
  *d = f32_to_f16(max_scale / 63.0f);
  *dmin = f32_to_f16(max_min / 63.0f);
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t sc, m;
    k_scale_min(j, packed, &sc, &m);
    const float dd = f16_to_f32(*d) * sc;
    if (dd == 0.0f) continue;
    const float dm = f16_to_f32(*dmin) * m;
    for (int k = 0; k < 32; ++k) {
      const int l = round_even((x[32 * j + k] + dm) / dd);
      L[32 * j + k] = uint8_t(std::max(0, std::min(Nmax, l)));
    }
  }
}

void q4_k_row(const float* x, BlockQ4_K* y, int64_t nb) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    k_scales_fit<15>(x, L, y[i].scales, &y[i].d, &y[i].dmin, -1.0f, 20);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < kQK_K; j += 64, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
  }
}

void q5_k_row(const float* x, BlockQ5_K* y, int64_t nb) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    k_scales_fit<31>(x, L, y[i].scales, &y[i].d, &y[i].dmin, -0.5f, 15);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    uint8_t* ql = y[i].qs;
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < kQK_K; n += 64, ql += 32) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n + j], l2 = L[n + j + 32];
        if (l1 > 15) {
          l1 -= 16;
          y[i].qh[j] |= m1;
        }
        if (l2 > 15) {
          l2 -= 16;
          y[i].qh[j] |= m2;
        }
        ql[j] = uint8_t(l1 | (l2 << 4));
      }
      m1 = uint8_t(m1 << 2);
      m2 = uint8_t(m2 << 2);
    }
  }
}

void q6_k_row(const float* x, BlockQ6_K* y, int64_t nb) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, max_abs = 0;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      scales[ib] = fit_scale_sym(16, 32, x + 16 * ib, L + 16 * ib);
      const float a = std::fabs(scales[ib]);
      if (a > max_abs) {
        max_abs = a;
        max_scale = scales[ib];
      }
    }
    if (max_abs < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof y[i]);
      y[i].d = f32_to_f16(0.0f);
      continue;
    }
    const float iscale = -128.0f / max_scale;
    y[i].d = f32_to_f16(1 / iscale);
    for (int ib = 0; ib < kQK_K / 16; ++ib) y[i].scales[ib] = int8_t(std::min(127, round_even(iscale * scales[ib])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = f16_to_f32(y[i].d) * y[i].scales[j];
      if (d == 0.0f) continue;
      for (int k = 0; k < 16; ++k) {
        const int l = round_even(x[16 * j + k] / d);
        L[16 * j + k] = int8_t(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t a = L[j + l] & 0xF, b = L[j + l + 32] & 0xF, c = L[j + l + 64] & 0xF, e = L[j + l + 96] & 0xF;
        ql[l] = uint8_t(a | (c << 4));
        ql[l + 32] = uint8_t(b | (e << 4));
        qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

// ---------------------------------------------------------------- IQ4_NL / IQ4_XS

// Index of the level nearest x (the lower one on a tie).
int nearest_level(float x) {
  const int8_t* v = kValuesIQ4NL;
  if (x <= v[0]) return 0;
  if (x >= v[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < v[mid])
      hi = mid;
    else
      lo = mid;
  }
  return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi;
}

// Best scale of 32 values on the IQ4 levels, weights x^2: the scale mapping the largest |x| to
// the outermost level, then 15 trial scales (k - 127) / max for k = -7..7, keeping the best
// weighted least-squares fit. 0 for an all-zero group.
float iq4_group_scale(const float* x) {
  const int8_t* v = kValuesIQ4NL;
  constexpr int ntry = 7;
  float w[32];
  for (int j = 0; j < 32; ++j) w[j] = x[j] * x[j];
  float amax;
  const float vmax = signed_absmax(x, 32, &amax);
  if (amax < kGroupMaxEps) return 0.0f;
  float d = -vmax / v[0];
  float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int j = 0; j < 32; ++j) {
    const float q = v[nearest_level(id * x[j])];
    sumqx += w[j] * q * x[j];
    sumq2 += w[j] * q * q;
  }
  d = sumqx / sumq2;
  float best = d * sumqx;
  for (int t = -ntry; t <= ntry; ++t) {
    id = (t + v[0]) / vmax;
    sumqx = sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const float q = v[nearest_level(id * x[j])];
      sumqx += w[j] * q * x[j];
      sumq2 += w[j] * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// Nibbles of 32 values: value j < 16 in the low nibble of q[j], value j + 16 in the high one.
void pack_nibbles32(const uint8_t* L, uint8_t* q) {
  for (int j = 0; j < 16; ++j) q[j] = uint8_t(L[j] | (L[16 + j] << 4));
}

void iq4_nl_row(const float* x, BlockIQ4_NL* y, int64_t nb) {
  uint8_t L[kQK];
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    const float d = iq4_group_scale(x);
    y[i].d = f32_to_f16(d);
    const float id = d != 0.0f ? 1 / d : 0.0f;
    for (int j = 0; j < kQK; ++j) L[j] = uint8_t(nearest_level(id * x[j]));
    pack_nibbles32(L, y[i].qs);
  }
}

void iq4_xs_row(const float* x, BlockIQ4_XS* y, int64_t nb) {
  uint8_t L[kQK_K];
  float scales[kQK_K / 32];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      scales[ib] = iq4_group_scale(x + 32 * ib);
      const float a = std::fabs(scales[ib]);
      if (a > amax_scale) {
        amax_scale = a;
        max_scale = scales[ib];
      }
    }
    y[i].scales_h = 0;
    const float d = -max_scale / 32;
    y[i].d = f32_to_f16(d);
    const float id = d != 0.0f ? 1 / d : 0.0f;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      int l = round_even(id * scales[ib]);
      l = std::max(-32, std::min(31, l));
      const float dl = d * l;
      const float idl = dl != 0.0f ? 1 / dl : 0.0f;
      for (int j = 0; j < 32; ++j) L[32 * ib + j] = uint8_t(nearest_level(idl * x[32 * ib + j]));
      l += 32;
      if (ib % 2 == 0)
        y[i].scales_l[ib / 2] = uint8_t(l & 0xf);
      else
        y[i].scales_l[ib / 2] |= uint8_t((l & 0xf) << 4);
      y[i].scales_h |= uint16_t((l >> 4) << (2 * ib));
    }
    for (int k = 0; k < kQK_K / 32; ++k) pack_nibbles32(L + 32 * k, y[i].qs + 16 * k);
  }
}

}  // namespace

bool quantize_row_block(GgmlType t, const float* x, void* dst, int64_t n) {
  switch (t) {
    case GgmlType::Q4_1:
      q4_1_row(x, static_cast<BlockQ4_1*>(dst), n / kQK);
      return true;
    case GgmlType::Q5_0:
      q5_0_row(x, static_cast<BlockQ5_0*>(dst), n / kQK);
      return true;
    case GgmlType::Q5_1:
      q5_1_row(x, static_cast<BlockQ5_1*>(dst), n / kQK);
      return true;
    case GgmlType::IQ4_NL:
      iq4_nl_row(x, static_cast<BlockIQ4_NL*>(dst), n / kQK);
      return true;
    case GgmlType::Q2_K:
      q2_k_row(x, static_cast<BlockQ2_K*>(dst), n / kQK_K);
      return true;
    case GgmlType::Q3_K:
      q3_k_row(x, static_cast<BlockQ3_K*>(dst), n / kQK_K);
      return true;
    case GgmlType::Q4_K:
      q4_k_row(x, static_cast<BlockQ4_K*>(dst), n / kQK_K);
      return true;
    case GgmlType::Q5_K:
      q5_k_row(x, static_cast<BlockQ5_K*>(dst), n / kQK_K);
      return true;
    case GgmlType::Q6_K:
      q6_k_row(x, static_cast<BlockQ6_K*>(dst), n / kQK_K);
      return true;
    case GgmlType::IQ4_XS:
      iq4_xs_row(x, static_cast<BlockIQ4_XS*>(dst), n / kQK_K);
      return true;
    default:
      return false;
  }
}

}  // namespace sb
