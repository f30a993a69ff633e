// Row-interleaved integer GEMV for decode (M <= 8 activation rows) under `--compute q8`:
// Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 weights repacked once (by the backend on a weight's first
// decode product) into groups of 16 rows whose quants sit side by side, so one vector
// instruction works on 16 rows (AVX-512 levels: one 512-bit register; AVX2 levels: two 256-bit
// halves) and each output lane is one weight row: no horizontal sums, one f16 -> f32
// conversion for 16 row scales.
//
// Packed layout (the same on every ISA level, and the same size as the source apart from the
// zero rows that pad the last group to 16): groups of 16 rows, each a run of one record per
// 32-element block column:
//   d      16 f16                  (row l's block scale, as stored)
//   m      16 f16                  (Q4_1, Q5_1: row l's block min)
//   qh     16 x 4 bytes            (Q5_0, Q5_1: row l's high bits, as stored)
//   quants C chunks x 16 rows x 4 bytes: lane l of chunk c = row l's bytes 4c .. 4c+3 of
//          Q4/Q5: qs as stored (C = 4; low nibbles = elements 4c.., high = 16 + 4c..)
//          Q8_0: qs + 128, unsigned (C = 8; elements 4c..)
// so a record is 16 x the source block (288 bytes for Q4_0 ... 544 for Q8_0).
//
// Activations: rows quantized by qdot's quantize() (qdot.h: Q8A, 32 values per block) plus the
// integer sum of each block's quants (act_sums). Row l's product with activation row r is
//   sum_b  f32(P_b) * (d_l,b * dx_r,b)     accumulated in block order in one f32 per lane,
// P_b = sum_e u_e * q_e - off * sum(q) the exact integer block dot (u the unsigned quants,
// off = 8 for Q4_0, 16 for Q5_0, 128 for Q8_0, 0 for Q4_1 / Q5_1, whose lanes then add
// m_l,b * s_r,b in one more f32 fma per block; Q5 high bits are spread into bit 4 of each quant
// byte in registers): vpdpbusd on VNNI levels, vpmaddubsw + vpmaddwd otherwise
// (Q8_0 there splits u into its low 7 bits and its top bit so no 16-bit pair sum saturates).
// Every level performs the same f32 operations per lane in the same order, so results agree bit
// for bit across levels. They differ from qdot's gemm (dot32: four partial sums per row,
// horizontal sum at the end) only in f32 rounding order; both are within the activation
// rounding bound of the double product. A NaN / Inf scale (or min) in a weight block makes
// that row's outputs non-finite, other rows unaffected; a NaN / Inf activation gives NaN
// outputs (NaN block scale).
//
// Kernels exist once per ISA level (cpu_isa.h), compiled from qgemv_impl.inc like qdot / qgemm.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backends/cpu_isa.h"
#include "engine/gguf/ggml_types.h"

namespace sb::cpu {

constexpr int64_t kGemvRows = 16;  // weight rows per packed group

// Whether type t has a packed decode form (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
bool qgemv_supported(GgmlType t);
// Bytes of the packed form of an n x k weight of type t (n rounded up to whole groups).
size_t qgemv_packed_bytes(GgmlType t, int64_t n, int64_t k);
// Packs groups [g0, g1) of the n x k weight w (rows row_bytes apart) into out (the whole packed
// buffer; callers may split the groups over threads). Rows past n are zero (scale 0).
void qgemv_pack(GgmlType t, const uint8_t* w, size_t row_bytes, int64_t n, int64_t k, uint8_t* out, int64_t g0, int64_t g1);
// sums[r * (k/32) + b] = sum of the 32 quants of block b of activation row r (rows of Q8A
// blocks, xrow_bytes apart), for r < m.
void qgemv_act_sums(const void* xq, size_t xrow_bytes, int64_t m, int64_t k, int32_t* sums);

struct QgemvKernels {
  Isa isa;
  // y[i * ldy + r] = dot(W[r], X[i]) (+ bias[r]) (+ old y if accumulate) for i < m and the
  // weight rows r < n of groups [g0, g1); X rows of Q8A blocks xrow_bytes apart, sums from
  // qgemv_act_sums. Activation rows are taken 4 at a time per group.
  void (*gemv)(GgmlType t, const uint8_t* packed, int64_t n, int64_t k, const void* xq, size_t xrow_bytes, const int32_t* sums, int64_t m,
               float* y, int64_t ldy, int64_t g0, int64_t g1, const float* bias, bool accumulate);
};

// The kernels for level `isa` (which must be available; Isa::None is not).
const QgemvKernels& qgemv_kernels(Isa isa);

}  // namespace sb::cpu
