// Decode GEMV for f16 and bf16 weight rows with f32 activations and f32 accumulation (the cpu
// backend's `--compute f32` decode path for F16/BF16 files, reached through cpu::gemv_rows).
//
// y[t * ldy + n] = dot(x[t * ldx ..], W[n]) (+ bias[n]) (+ old y if accumulate) for t < m and
// rows n in [n0, n1); W rows are k half-precision values (IEEE f16 or bf16), row_bytes apart.
// The weights are streamed once, one row after the other (a single sequential access stream
// per thread, software-prefetched ~2 KB ahead), widened to f32 in registers and multiplied with
// every x row while the row is in L1 (x rows in groups of up to 4 at 512 bits, one at a time at 256 bits).
//
// Accumulation order (the same at every ISA level, so results are bit-identical across levels,
// and the same for every m, so a row's result does not depend on how many x rows share the call):
//   per (t, n): 64 f32 lanes; element i < k/64*64 is added into lane i % 64 by FMA, in order of i;
//   the remaining whole 16-element groups into lanes 0..15; the lanes are then reduced as
//   s16 = (l[0:16] + l[16:32]) + (l[32:48] + l[48:64]), s8 = s16[0:8] + s16[8:16],
//   s4 = s8[0:4] + s8[4:8], v = (s4[0] + s4[1]) + (s4[2] + s4[3]); the last k % 16 elements are
//   then added by scalar FMA in order; then + bias, then + old y.
// Non-finite inputs propagate as IEEE arithmetic does (a NaN anywhere in a dot gives NaN).
//
// One body per ISA level (hgemv_impl.inc built with that level's flags): avx2 (256-bit
// vcvtph2ps / shifts), avx512 (512-bit loads and conversions; the higher levels add nothing
// here and share it). hgemv_kernels(isa) returns a level's table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backends/cpu_isa.h"

namespace sb::cpu {

struct HgemvKernels {
  Isa isa;
  // bf16: the rows hold bf16 values, else IEEE f16. Any m >= 1 and k >= 0.
  void (*gemv)(bool bf16, const uint8_t* w, size_t row_bytes, int64_t k, const float* x, int64_t ldx, int64_t m, float* y, int64_t ldy,
               int64_t n0, int64_t n1, const float* bias, bool accumulate);
};

// The kernels for level `isa` (which must be available; Isa::None is not).
const HgemvKernels& hgemv_kernels(Isa isa);

}  // namespace sb::cpu
