// Scalar conversions between f32 and the 16-bit float formats used in model files:
// IEEE binary16 ("f16", GGML_TYPE_F16) and bfloat16 ("bf16", GGML_TYPE_BF16).
// f32 -> f16/bf16 round to nearest, ties to even; NaN stays NaN; overflow becomes infinity.
// Bulk (vectorized) conversions live in engine/core/convert.h.
#pragma once

#include <cstdint>
#include <cstring>

namespace sb {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));  // inf / nan
  if (exp == 0) {
    if (mant == 0) return bits_f32(sign);
    // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400) == 0);
    mant &= 0x3ff;
    return bits_f32(sign | uint32_t(127 - 15 - e) << 23 | (mant << 13));
  }
  return bits_f32(sign | (exp + 127 - 15) << 23 | (mant << 13));
}

inline uint16_t f32_to_f16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) {  // inf or nan
    return uint16_t(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
  }
  if (absx >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds to >= 65520: overflow
  if (absx < 0x38800000u) {                                 // below smallest normal (2^-14)
    if (absx < 0x33000000u) return uint16_t(sign);          // < 2^-25: rounds to zero
    // subnormal f16: value = r * 2^-24, and the f32 value is m * 2^(e - 150)
    const uint32_t e = absx >> 23;
    const uint32_t m = (absx & 0x7fffff) | 0x800000;
    const uint32_t s = 126 - e;  // low bits of m dropped (14..24)
    uint32_t r = m >> s;
    const uint32_t rem = m & ((1u << s) - 1);
    const uint32_t half = 1u << (s - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return uint16_t(sign | r);
  }
  // normal: rebias exponent and round the mantissa from 23 to 10 bits
  uint32_t r = absx - 0x38000000u;  // exponent bias 127 -> 15
  const uint32_t rem = r & 0x1fff;
  r >>= 13;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
  return uint16_t(sign | r);
}

inline float bf16_to_f32(uint16_t b) { return bits_f32(uint32_t(b) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // quiet nan
  x += 0x7fff + ((x >> 16) & 1);
  return uint16_t(x >> 16);
}

}  // namespace sb
