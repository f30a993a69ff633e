// Blocked integer GEMM for prefill (M > 8 rows) under `--compute q8`: block-quantized weights
// repacked once (by the backend on a weight's first product with M > 8 rows) into an
// interleaved int8 panel layout, activations quantized once per product to 8-bit blocks of 32,
// products in register tiles of 4 activation rows x 32 weight rows (AVX-512 levels: two 16-row
// panels) or 4 x 8 (AVX2 levels: one 8-row panel).
//
// Packed layout (per ISA level; L = lanes(), 8 or 16): weight rows in panels of L rows (the last
// one padded with zero rows); a panel is a run of per-32-element-block records, each
//   quants  8 steps x L rows x 4 bytes   (lane l of step s = row l's quants 4s .. 4s+3)
//   d       G x L f32                    (G = 2 for Q6_K, whose scales cover 16 values; else 1)
//   m       L f32                        (types with a min: Q4_1, Q5_1, Q4_K, Q5_K)
// so that weight value e of a block is d[g] * (q[e] - offset) - m, with q unsigned (or signed,
// `sgn`, for Q8_0 / IQ4_NL on levels without VNNI, whose u8 x s8 16-bit pair sums would
// saturate for offset quants). The repack is lossless: the f32 d and m are the products of the
// f16 super-block scales and the 6-bit/8-bit sub-scales, exact in f32.
//
// Activations: a row of k values is nb = k/32 Q8A blocks (qdot.h: same rounding as the q8
// gemv path's 32-element format) followed by 2 * nb int32 sums of 16 quants. A block's product
// is then the exact integer sum_e q[e] * xq[e] - offset * sum(xq) (vpdpbusd on VNNI levels;
// otherwise vpmaddubsw pair sums, added in int16 over as many 4-quant steps as 4/5/6-bit quants
// keep within int16, then widened by vpmaddwd), scaled by d * dx in f32 and accumulated, minus m * dx * sum
// for min types. The f32 operations per output are the same on every level, so levels agree
// bit for bit. K-quant weights multiply the 32-element activation blocks here (finer than the
// 256-element Q8KA format of the gemv path, so at least as accurate). NaN / Inf activations
// give NaN outputs (NaN block scale).
//
// Kernels exist once per ISA level (cpu_isa.h), compiled from qgemm_impl.inc like qdot.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backends/cpu_isa.h"
#include "engine/gguf/ggml_types.h"

namespace sb::cpu {

// Whether type t has a packed form (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K).
bool qgemm_supported(GgmlType t);
// Bytes of one quantized activation row of k values (k a multiple of 32).
size_t qgemm_act_row_bytes(int64_t k);

struct QgemmKernels {
  Isa isa;
  int lanes;  // weight rows per panel
  // Bytes of the packed form of an n x k weight of type t (supported types only).
  size_t (*packed_bytes)(GgmlType t, int64_t n, int64_t k);
  // Packs panels [p0, p1) of the n x k weight w (rows row_bytes apart) into out (the whole
  // packed buffer; callers may split the panels over threads).
  void (*pack)(GgmlType t, const uint8_t* w, size_t row_bytes, int64_t n, int64_t k, uint8_t* out, int64_t p0, int64_t p1);
  // Quantizes k values of x into one activation row (qgemm_act_row_bytes(k) bytes).
  void (*quantize)(const float* x, void* out, int64_t k);
  // y[i * ldy + r] = dot(W[r], X[i]) (+ bias[r]) (+ old y if accumulate) for i < m and the
  // weight rows r < n of panels [p0, p1).
  void (*gemm)(GgmlType t, const uint8_t* packed, int64_t n, int64_t k, const void* xq, int64_t m, float* y, int64_t ldy, int64_t p0,
               int64_t p1, const float* bias, bool accumulate);
};

// The kernels for level `isa` (which must be available; Isa::None is not).
const QgemmKernels& qgemm_kernels(Isa isa);

}  // namespace sb::cpu
