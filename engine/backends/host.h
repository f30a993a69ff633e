// Host-memory building blocks shared by the CPU-side backends (ref and cpu): 64-byte aligned
// tensors, a KV cache in host memory, conversions between f32 and the tensor dtypes, and the
// scalar ops both run the same way (rope, the KV-cache store).
// Memory comes from calloc-like zeroed anonymous allocations, so untouched pages (for example
// the unused tail of a KV cache) are not resident.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>

#include "engine/backends/backend.h"

namespace sb {

// Zero-filled, 64-byte aligned host memory; large blocks use mmap so untouched pages cost nothing.
// Blocks of 2 MiB and more are 2 MiB aligned and advised for transparent huge pages (where the
// kernel offers them) unless SPARKBENCH_HUGEPAGES=0: weights streamed at decode read measurably
// faster without a page walk per 4 KiB.
std::shared_ptr<void> host_alloc(size_t bytes);
// Whether host_alloc asks for huge pages (SPARKBENCH_HUGEPAGES, default 1; other values fail).
bool host_hugepages();
// Memory for a weight: like host_alloc, but a block under 2 MiB is carved out of a shared
// huge-page arena instead of getting its own 4 KiB pages, so a model of many small matrices
// (codex-spark: 0.3-1.1 MB each) streams them through huge pages too. Each block is 64-byte
// aligned and zero-filled; an arena lives while any block carved from it does (blocks are never
// reused: weights live as long as their model). Thread-safe. With SPARKBENCH_HUGEPAGES=0 it is
// host_alloc.
std::shared_ptr<void> host_alloc_weight(size_t bytes);
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

// The one rope (Backend::rope's contract): rotates the first n_rot dims of each of the n_heads
// heads of every row t of x (f32) by the angles of position pos0 + t, normal or interleaved
// pairs, freq_scale and optional freq_factors as in llama.cpp. `backend` names the caller in
// the error for freq_factors of the wrong size. Rows are split over `threads` OpenMP threads
// (1: serial); the result does not depend on the thread count.
void host_rope(const char* backend, Tensor& x, int64_t n_heads, const AttentionShape& s, int64_t pos0, int threads);
// host_rope's pieces, for a backend that ropes heads inside its own parallel work (the same
// arithmetic): host_rope_check fails as host_rope does on freq_factors of the wrong size;
// host_rope_angles writes the cos, sin pairs of position `pos` to cs (n_rot / 2 pairs);
// host_rope_heads rotates heads [h0, h1) of one row by them.
void host_rope_check(const char* backend, const AttentionShape& s);
void host_rope_angles(const AttentionShape& s, int64_t pos, float* cs);
void host_rope_heads(const AttentionShape& s, const float* cs, float* row, int64_t h0, int64_t h1);

// The one KV-cache store for HostKvCache: rows of k and v (f32) written at positions
// pos0.. of `layer`, each row converted by `convert` (to_dtype, or a faster conversion with
// the same results); fails when the rows run past the context.
using F32Convert = void (*)(DType dt, const float* src, void* dst, int64_t n);
void host_kv_store(KvCache& cache, int64_t layer, const Tensor& k, const Tensor& v, int64_t pos0, F32Convert convert);

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
