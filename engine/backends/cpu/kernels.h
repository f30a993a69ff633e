// Vectorized CPU kernels used by the cpu backend (x86-64 with AVX2, FMA and F16C; the backend
// checks the CPU before calling any of them). All functions are single-threaded: the backend
// splits work across OpenMP threads by rows. Weight rows are in GGUF layout (one output row of
// `k` inputs per row, `row_bytes` apart) for the types F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
// Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS (every type ggml_type_supported() accepts;
// block layouts in engine/gguf/block_dequant.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backends/backend.h"
#include "engine/gguf/ggml_types.h"

namespace sb::cpu {

// True when this CPU can run these kernels (ISA level avx2, engine/backends/cpu_isa.h).
bool cpu_supported();

// For rows n in [n0, n1): y[t * ldy + n] = dot(x[t * ldx ..], W[n]) (+ bias[n]) (+ old y if
// accumulate), for t < m. Intended for small m (decode); reads each weight row once. For m = 1
// each block (super-block) is decoded into a stack buffer and multiplied with x at once; for
// m > 1 a row is decoded once into a stack buffer (heap above 16384 values) and reused.
// F16/BF16 rows go to the streaming GEMV of the active ISA level (cpu/hgemv.h) unless
// SPARKBENCH_CPU_HGEMV=0 (read once) selects the older row-at-a-time path, for comparison.
void gemv_rows(GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, const float* x, int64_t ldx, int64_t m, float* y, int64_t ldy,
               int64_t n0, int64_t n1, const float* bias, bool accumulate);
// Dequantizes weight rows [n0, n1) to f32 at out (row-major, k per row).
void dequantize_rows(GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, int64_t n0, int64_t n1, float* out);

// Like gemv_rows, for prompt-sized m: weight rows [n0, n1) (at most kTileRows) are dequantized
// once into a thread-local f32 tile that stays in cache, then multiplied by every row of x with
// a 4x2 register-blocked FMA kernel. One of the cpu backend's prefill strategies for f16/bf16/
// q8_0/q4_0 weights (SPARKBENCH_CPU_QPREFILL=avx2_tiles); dequantized tiles through oneDNN
// measured faster and are the default (docs/VARIANTS.md).
constexpr int64_t kTileRows = 16;
void gemm_rows_tiled(GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, const float* x, int64_t ldx, int64_t m, float* y,
                     int64_t ldy, int64_t n0, int64_t n1, const float* bias, bool accumulate);

// ---- int8 weight format (per-output-channel scales, dynamic per-token activations) ----
// Rows are padded with zeros to kpad = a multiple of 32 bytes.
inline int64_t int8_padded(int64_t k) { return (k + 31) / 32 * 32; }
// Bit-identical to sb::quantize_row_s8 (engine/backends/host.h) for the first n values; writes
// zeros to q[n, npad). Returns the scale d (x ~= d * q).
float quantize_row_s8(const float* x, int8_t* q, int64_t n, int64_t npad);
// y[t * ldy + n] = xd[t] * ws[n] * sum_k xq[t][k] * w[n][k] (+ bias[n]) (+ old y), for t < m and
// n in [n0, n1); xq rows and w rows are `kpad` bytes apart (zero padded). Exact integer sums
// (vpmaddubsw on |x| and sign-adjusted w never saturates for values in [-127, 127]).
void gemm_s8_rows(const int8_t* xq, const float* xd, int64_t m, const int8_t* w, const float* ws, int64_t kpad, float* y, int64_t ldy,
                  int64_t n0, int64_t n1, const float* bias, bool accumulate);

float dot_f32(const float* a, const float* b, int64_t n);
// Dot product of f32 `a` with `n` values of dtype `dt` at b.
float dot_dtype(const float* a, DType dt, const void* b, int64_t n);
// y += alpha * x, where x holds n values of dtype `dt`.
void axpy_dtype(float alpha, DType dt, const void* x, float* y, int64_t n);
// out[r] = dot_dtype(a, dt, b_r, n) * scale for r < rows, b_r = b + r * stride bytes: the decode
// attention's scores over cached keys in one call (bit-identical to dot_dtype row by row).
void dot_rows_dtype(const float* a, DType dt, const void* b, size_t stride, int64_t rows, int64_t n, float scale, float* out);
// y += alpha[r] * x_r for r = 0 .. rows-1, x_r = x + r * stride bytes (n values of dtype dt):
// the decode attention's weighted sum of cached values, y held in registers across the rows;
// every element sums in r order as axpy_dtype row by row does (bit-identical to it). Both
// prefetch the rows 8 ahead (strided head slices leave the hardware prefetchers latency-bound).
void axpy_rows_dtype(const float* alpha, DType dt, const void* x, size_t stride, int64_t rows, float* y, int64_t n);
// out = x * (1 / sqrt(mean(x^2) + eps)) * w
void rmsnorm_row(const float* x, const float* w, float eps, float* out, int64_t n);
// y = exp(x), vectorized (not libm): within 2 ulp of the exact value for x in [-87.33, 88.37]
// (normal results); x above -> +inf, below -> 0 (no denormal results), NaN -> NaN. y may alias x.
void exp_row(const float* x, float* y, int64_t n);
// y = softmax(x) (max-subtracted, exp as exp_row, sum in double); y may alias x. Nothing for n == 0.
void softmax_row(const float* x, float* y, int64_t n);
// out = silu(g) * u = g / (1 + exp(-g)) * u, exp as exp_row
void swiglu_row(const float* g, const float* u, float* out, int64_t n);
void add_row(float* x, const float* y, int64_t n);
// Converts n values between f32 and dtype dt.
void convert_from_f32(DType dt, const float* src, void* dst, int64_t n);
void convert_to_f32(DType dt, const void* src, float* dst, int64_t n);

}  // namespace sb::cpu
