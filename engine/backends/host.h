// Host-memory building blocks shared by the CPU-side backends (ref and cpu): 64-byte aligned
// tensors, a KV cache in host memory, and conversions between f32 and the tensor dtypes.
// Memory comes from calloc-like zeroed anonymous allocations, so untouched pages (for example
// the unused tail of a KV cache) are not resident.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>

#include "engine/backends/backend.h"

namespace sb {

// Zero-filled, 64-byte aligned host memory; large blocks use mmap so untouched pages cost nothing.
std::shared_ptr<void> host_alloc(size_t bytes);
Tensor host_tensor(int64_t rows, int64_t cols, DType dt);

class HostKvCache : public KvCache {
 public:
  HostKvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt);
  size_t bytes() const override { return bytes_; }
  // Row `pos` of K / V for `layer` (kv_dim elements of dtype()).
  void* k_row(int64_t layer, int64_t pos) const { return at(layer, 0, pos); }
  void* v_row(int64_t layer, int64_t pos) const { return at(layer, 1, pos); }

 private:
  void* at(int64_t layer, int which, int64_t pos) const {
    const size_t row = size_t(kv_dim_) * dtype_size(dtype_);
    return static_cast<char*>(mem_.get()) + ((size_t(layer) * 2 + size_t(which)) * size_t(n_ctx_) + size_t(pos)) * row;
  }
  std::shared_ptr<void> mem_;
  size_t bytes_;
};

// Converts n values between f32 and a tensor dtype.
void to_dtype(DType dt, const float* src, void* dst, int64_t n);
void from_dtype(DType dt, const void* src, float* dst, int64_t n);
// Rounds n f32 values in place to what `dt` can represent (identity for F32).
void round_to_dtype(DType dt, float* x, int64_t n);

// gelu, tanh approximation, as ggml_gelu_f32: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))).
// Logit soft-capping (gemma2): cap * tanh(x / cap), cap > 0.
inline float softcap_value(float x, float cap) { return cap * std::tanh(x / cap); }

inline float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(0.79788456080286535587989211986876f * x * (1.0f + 0.044715f * x * x)));
}

// Symmetric int8 quantization of one row (the int8 weight format's per-output-channel weights
// and its dynamic per-token activations): amax = max |x|, d = amax / 127, q = round-to-nearest-
// even(x * (127 / amax)) in [-127, 127] (all zero when amax is 0 or infinite; NaN values become
// 0 and do not count in amax). Returns d, so x ~= d * q.
// Every backend must quantize activations exactly like this (the cpu backend's AVX2 version is
// bit-identical), so int8 products agree with the reference up to float rounding of the scales.
float quantize_row_s8(const float* x, int8_t* q, int64_t n);

}  // namespace sb
