#include "engine/backends/host.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/core/error.h"
#include "engine/core/half.h"

namespace sb {

std::shared_ptr<void> host_alloc(size_t bytes) {
  if (bytes == 0) bytes = 64;
  if (bytes >= (size_t(1) << 20)) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("out of memory allocating ", bytes, " bytes");
    return std::shared_ptr<void>(p, [bytes](void* q) { ::munmap(q, bytes); });
  }
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) fail("out of memory allocating ", bytes, " bytes");
  std::memset(p, 0, bytes);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

Tensor host_tensor(int64_t rows, int64_t cols, DType dt) {
  if (rows <= 0 || cols <= 0) fail("tensor shape (", rows, ", ", cols, ") must be positive");
  return Tensor(host_alloc(size_t(rows * cols) * dtype_size(dt)), 0, rows, cols, dt);
}

HostKvCache::HostKvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt)
    : KvCache(n_layer, n_ctx, kv_dim, dt) {
  bytes_ = size_t(n_layer) * 2 * size_t(n_ctx) * size_t(kv_dim) * dtype_size(dt);
  mem_ = host_alloc(bytes_);
}

void to_dtype(DType dt, const float* src, void* dst, int64_t n) {
  switch (dt) {
    case DType::F32: std::memcpy(dst, src, size_t(n) * 4); return;
    case DType::F16: quantize_row(GgmlType::F16, src, dst, n); return;
    case DType::BF16: quantize_row(GgmlType::BF16, src, dst, n); return;
  }
}

void from_dtype(DType dt, const void* src, float* dst, int64_t n) {
  switch (dt) {
    case DType::F32: std::memcpy(dst, src, size_t(n) * 4); return;
    case DType::F16: dequantize_row(GgmlType::F16, src, dst, n); return;
    case DType::BF16: dequantize_row(GgmlType::BF16, src, dst, n); return;
  }
}

void round_to_dtype(DType dt, float* x, int64_t n) {
  if (dt == DType::F16) for (int64_t i = 0; i < n; ++i) x[i] = f16_to_f32(f32_to_f16(x[i]));
  if (dt == DType::BF16) for (int64_t i = 0; i < n; ++i) x[i] = bf16_to_f32(f32_to_bf16(x[i]));
}

float quantize_row_s8(const float* x, int8_t* q, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0.0f || !std::isfinite(amax)) {
    std::memset(q, 0, size_t(n));
    return 0.0f;
  }
  const float id = 127.0f / amax;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] * id;
    q[i] = v == v ? int8_t(std::nearbyint(v)) : 0;  // NaN -> 0 (amax ignores NaN)
  }
  return amax / 127.0f;
}

}  // namespace sb
