// Vectorized CPU kernels used by the cpu backend (x86-64 with AVX2, FMA and F16C; the backend
// checks the CPU before calling any of them). All functions are single-threaded: the backend
// splits work across OpenMP threads by rows. Weight rows are in GGUF layout (one output row of
// `k` inputs per row, `row_bytes` apart) for the types F32, F16, BF16, Q8_0, Q4_0.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backends/backend.h"
#include "engine/gguf/ggml_types.h"

namespace sb::cpu {

// True when this CPU can run these kernels.
bool cpu_supported();
// e.g. "avx2+fma+f16c"; lists avx512 features oneDNN may use too.
const char* cpu_isa_string();

// For rows n in [n0, n1): y[t * ldy + n] = dot(x[t * ldx ..], W[n]) (+ bias[n]) (+ old y if
// accumulate), for t < m. Intended for small m (decode); reads each weight row once.
void gemv_rows(GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, const float* x, int64_t ldx, int64_t m,
               float* y, int64_t ldy, int64_t n0, int64_t n1, const float* bias, bool accumulate);
// Dequantizes weight rows [n0, n1) to f32 at out (row-major, k per row).
void dequantize_rows(GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, int64_t n0, int64_t n1, float* out);

float dot_f32(const float* a, const float* b, int64_t n);
// Dot product of f32 `a` with `n` values of dtype `dt` at b.
float dot_dtype(const float* a, DType dt, const void* b, int64_t n);
// y += alpha * x, where x holds n values of dtype `dt`.
void axpy_dtype(float alpha, DType dt, const void* x, float* y, int64_t n);
// out = x * (1 / sqrt(mean(x^2) + eps)) * w
void rmsnorm_row(const float* x, const float* w, float eps, float* out, int64_t n);
// y = softmax(x) (max-subtracted, sum in double); y may alias x. Returns nothing for n == 0.
void softmax_row(const float* x, float* y, int64_t n);
// out = silu(g) * u
void swiglu_row(const float* g, const float* u, float* out, int64_t n);
void add_row(float* x, const float* y, int64_t n);
// Converts n values between f32 and dtype dt.
void convert_from_f32(DType dt, const float* src, void* dst, int64_t n);
void convert_to_f32(DType dt, const void* src, float* dst, int64_t n);

}  // namespace sb::cpu
