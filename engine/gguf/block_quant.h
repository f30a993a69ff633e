// Quantizers of the llama.cpp block types beyond Q8_0/Q4_0: Q4_1, Q5_0, Q5_1 (32-value
// blocks), the K-quants Q2_K..Q6_K and IQ4_XS (256-value super-blocks) and IQ4_NL.
//
// Contract: for the same f32 input they write the same bytes as llama.cpp's llama-quantize
// without an importance matrix (ggml's quantize_row_*_ref for Q4_1..Q6_K, and the 7-step scale
// search of quantize_iq4_nl / quantize_iq4_xs), so files written here hold what llama.cpp would
// write. That takes the same float operations in the same order and ggml's round-half-to-even;
// this file is compiled without -mfma, so no multiply-add is fused (a build that allowed FMA
// contraction here could move the last bit of some scales; the byte-identity test would show it).
// In short, per type:
//   Q4_1/Q5_1  d = (max - min) / (2^bits - 1), m = min, q = trunc((x - min) / d + 0.5)
//   Q5_0       d = (value of largest |x|) / -16, q = trunc(x / d + 16.5) clamped to 31
//   Q2_K/Q4_K/Q5_K  per sub-block (16/32/32 values) a scale and a min fitted by a weighted
//              least-squares search over candidate scales (weights |x| for Q2_K,
//              rms(sub-block) + |x| for Q4_K/Q5_K); scales and mins quantized to 4/6 bits against
//              the super-block's f16 d and dmin; then every value re-rounded with the final scales
//   Q3_K/Q6_K  symmetric: per 16 values a scale from an x^2-weighted search (Q3_K: iterative
//              per-value refinement; Q6_K: 18 trial scales), quantized to 6/8 bits against d
//   IQ4_NL/IQ4_XS  non-uniform levels kValuesIQ4NL; per 32 values the x^2-weighted best of 16
//              scales; IQ4_XS stores 6-bit sub-block scales against an f16 d
// Blocks of zeros quantize to zeros; no input without NaN/Inf gives a NaN scale.
#pragma once

#include <cstdint>

#include "engine/gguf/ggml_types.h"

namespace sb {

// Quantizes n values (a multiple of the type's block size) at x to `t` at dst. Returns false,
// writing nothing, when `t` is not one of the types above.
bool quantize_row_block(GgmlType t, const float* x, void* dst, int64_t n);

}  // namespace sb
