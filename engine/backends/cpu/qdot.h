// Integer products of block-quantized weights with 8-bit quantized activations (the cpu
// backend's `--compute q8` mode, the arithmetic llama.cpp uses on CPUs).
//
// Each activation row is quantized once per product into 8-bit blocks: Q8A (32 values, scale
// d = amax / 127, q = round(x / d); s = d * sum(q) for the types with a min) for the 32-element
// weight types, Q8KA (256 values, one scale, sums of each 16 quants) for the K-quants and IQ4_XS.
// A dot product is then a sum over (sub-)blocks of integer dot products scaled in f32:
//   Q8_0, Q4_0, Q5_0, IQ4_NL   sum_b dw_b * dx_b * <qw_b, qx_b>
//   Q4_1, Q5_1                 ... + mw_b * s_b
//   K-quants / IQ4_XS          sum_B dx_B * (d_B * sum_j sc_j <qw_j, qx_j> - dmin_B * sum_j m_j * bsum_j)
// with quants offset to unsigned where the type stores them so (the offset times the block sums
// is subtracted exactly, in integers). Integer parts are exact (pairwise 16-bit products of
// u8 x s8 never saturate for these ranges); only the activation rounding differs from the
// f32 path. Non-finite activations give a NaN scale, so a NaN or Inf in x yields NaN outputs.
//
// The kernels exist once per ISA level (engine/backends/cpu_isa.h), compiled from
// qdot_impl.inc with that level's target flags: AVX2 uses vpmaddubsw + vpmaddwd; avxvnni and
// avx512vnni use vpdpbusd for the 32-element types. qdot_kernels(isa) returns a level's table;
// levels without their own build share the next lower one's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backends/cpu_isa.h"
#include "engine/gguf/ggml_types.h"

namespace sb::cpu {

struct Q8A {
  float d, s;  // scale, d * sum(qs)
  int8_t qs[kQK];
};
struct Q8KA {
  float d;
  int16_t bsums[kQK_K / 16];
  int8_t qs[kQK_K];
};
static_assert(sizeof(Q8A) == 40);
static_assert(sizeof(Q8KA) == 292);

// The activation format a weight type multiplies with: 0 = none (not handled here: F32/F16/BF16),
// 1 = Q8A, 2 = Q8KA.
int q8_act_kind(GgmlType t);
// Bytes of one quantized activation row of k values for weight type t (k a multiple of its block).
size_t q8_act_row_bytes(GgmlType t, int64_t k);

struct QdotKernels {
  Isa isa;
  // Quantizes k values of x (k a multiple of the block) into the format for weight type t.
  void (*quantize)(GgmlType t, const float* x, void* out, int64_t k);
  // y[i * ldy + n] = dot(W[n], X[i]) (+ bias[n]) (+ old y if accumulate) for i < m, n in
  // [n0, n1); X rows quantized by `quantize`, xrow_bytes apart. Each weight block is unpacked
  // once per group of up to 4 activation rows.
  void (*gemm)(GgmlType t, const uint8_t* w, size_t row_bytes, int64_t k, const void* xq, size_t xrow_bytes, int64_t m, float* y,
               int64_t ldy, int64_t n0, int64_t n1, const float* bias, bool accumulate);
};

// The kernels for level `isa` (which must be available; Isa::None is not).
const QdotKernels& qdot_kernels(Isa isa);

}  // namespace sb::cpu
