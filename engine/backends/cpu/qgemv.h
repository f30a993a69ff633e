// Row-interleaved integer GEMV for decode (M <= 8 activation rows) under `--compute q8`:
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the K-quants Q4_K, Q5_K, Q6_K repacked once (by the backend on a weight's first
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
// Q4_K, Q5_K and Q6_K (256-element super-blocks) are packed the same way, one record per
// super-block column, again exactly 16 x the source block:
//   Q4_K / Q5_K  d 16 f16 | dmin 16 f16 | scales 3 x 16 rows x 4 bytes (lane l of vector i = row
//                l's scales[4i .. 4i+3], ggml's 6-bit packing kept) | Q5_K: qh 8 x 16 x 4 bytes
//                (vector c = row l's qh[4c .. 4c+3]) | qs 32 x 16 x 4 bytes (vector v = row l's
//                qs[4v .. 4v+3]: low nibbles = chunk v % 8 of sub-block 2 (v / 8), high = of 2 (v / 8) + 1)
//   Q6_K         d 16 f16 | scales 16 x 16 int8 (group j: row l's scales[j] at byte l) |
//                ql 32 x 16 x 4 bytes (vector c, byte b of lane l: low nibble = low 4 bits of
//                quant 4c + b, high nibble = of quant 128 + 4c + b) | qh 16 x 16 x 4 bytes
//                (vector v, byte b: bits 2i, 2i + 1 = top 2 bits of quant 64i + 4v + b, i < 4)
// and multiply activations quantized to Q8KA (qdot.h: 256 values, one scale, sums of each 16
// quants). Per super-block each lane forms, exactly in integers,
//   Q4_K / Q5_K  P = sum_s sc_l,s * <q_s, x_s>   and   Pm = sum_s m_l,s * (bsums of sub-block s)
//   Q6_K         P = sum_j sc_l,j * (<q_j, x_j> - 32 * bsum_j)
// (vpdpbusd or vpmaddubsw + vpmaddwd per chunk of 4, one vpmulld per scale group), then
//   acc += f32(P) * (d_l * dx)  (Q4_K / Q5_K also accm += f32(Pm) * (dmin_l * dx); out = acc - accm)
// in super-block order, the same operations per lane at every level (bit-identical across levels).
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
#include <span>

#include "engine/backends/cpu_isa.h"
#include "engine/gguf/ggml_types.h"

namespace sb::cpu {

constexpr int64_t kGemvRows = 16;  // weight rows per packed group

// Byte offsets inside a K-quant record (the layout above), for the packer and the kernels.
struct KRecord {
  // Q4_K / Q5_K: d, dmin, the three scale vectors, Q5_K's qh (8 vectors), qs (32 vectors)
  static constexpr size_t d = 0, dmin = 2 * kGemvRows, scales = 4 * kGemvRows, qh = scales + 3 * 4 * kGemvRows;
  static constexpr size_t qs(bool q5) { return qh + (q5 ? 8 * 4 * kGemvRows : 0); }
  // Q6_K: d, the 16 group scale columns, ql (32 vectors), qh (16 vectors)
  static constexpr size_t q6_scales = 2 * kGemvRows, q6_ql = q6_scales + 16 * kGemvRows, q6_qh = q6_ql + 32 * 4 * kGemvRows;
};

// The types with a packed decode form, in GGML type order: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K,
// Q5_K, Q6_K (the one list; qgemv_supported and the backend's description read it).
std::span<const GgmlType> qgemv_type_list();
// Whether type t is in qgemv_type_list().
bool qgemv_supported(GgmlType t);
// Whether the backend should take the GEMV for type t at level isa (measured against qdot's
// per-row kernels, `sparkbench-kernels` qgemv/ vs qdot/, 2 threads, Zen 5): Q8_0 only with VNNI
// (without it each unsigned quant takes two products: 1b ffn_gate_up avx2 18.9 vs 32.5 GB/s);
// the K-quants only on AVX-512 levels (dram/16k_x_8k: avx512vnni Q6_K 75.9 vs 40.1 GB/s, Q4_K
// 66.7 vs 37.7; avx512 Q6_K 45.5 vs 35.3; at 256 bits, where a group is two passes, avx2 Q6_K
// 33.3 vs 48.8, Q4_K 34.3 vs 42.5); the other 32-element types everywhere.
bool qgemv_pays(GgmlType t, Isa isa);
// Bytes of the packed form of an n x k weight of type t (n rounded up to whole groups).
size_t qgemv_packed_bytes(GgmlType t, int64_t n, int64_t k);
// Packs groups [g0, g1) of the n x k weight w (rows row_bytes apart) into out (the whole packed
// buffer; callers may split the groups over threads). Rows past n are zero (scale 0).
void qgemv_pack(GgmlType t, const uint8_t* w, size_t row_bytes, int64_t n, int64_t k, uint8_t* out, int64_t g0, int64_t g1);
// For the 32-element types: sums[r * (k/32) + b] = sum of the 32 quants of block b of
// activation row r (rows of Q8A blocks, xrow_bytes apart), for r < m. The K-quants need none
// (Q8KA carries its bsums): nothing is written and sums may be null.
void qgemv_act_sums(GgmlType t, const void* xq, size_t xrow_bytes, int64_t m, int64_t k, int32_t* sums);

struct QgemvKernels {
  Isa isa;
  // y[i * ldy + r] = dot(W[r], X[i]) (+ bias[r]) (+ old y if accumulate) for i < m and the
  // weight rows r < n of groups [g0, g1); X rows of Q8A (Q8KA for the K-quants) blocks
  // xrow_bytes apart, sums from qgemv_act_sums. Activation rows are taken 4 at a time per group.
  void (*gemv)(GgmlType t, const uint8_t* packed, int64_t n, int64_t k, const void* xq, size_t xrow_bytes, const int32_t* sums, int64_t m,
               float* y, int64_t ldy, int64_t g0, int64_t g1, const float* bias, bool accumulate);
};

// The kernels for level `isa` (which must be available; Isa::None is not).
const QgemvKernels& qgemv_kernels(Isa isa);

}  // namespace sb::cpu
