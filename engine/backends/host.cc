#include "engine/backends/host.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "engine/core/env.h"
#include "engine/core/error.h"
#include "engine/core/half.h"

namespace sb {

namespace {
constexpr size_t kHuge = size_t(2) << 20;  // x86-64's transparent huge page
}  // namespace

bool host_hugepages() {
  static const bool on = env_choice("SPARKBENCH_HUGEPAGES", {"0", "1"}, 1) == 1;
  return on;
}

std::shared_ptr<void> host_alloc(size_t bytes) {
  if (bytes == 0) bytes = 64;
  if (bytes >= kHuge && host_hugepages()) {
    // Reserve one huge page more, keep the 2 MiB aligned part, and ask for transparent huge
    // pages: streaming a weight through 4 KiB pages costs a page walk per 4 KiB.
    const size_t len = (bytes + kHuge - 1) / kHuge * kHuge;
    void* raw = ::mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) fail("out of memory allocating ", bytes, " bytes");
    const uintptr_t r = reinterpret_cast<uintptr_t>(raw), a = (r + kHuge - 1) / kHuge * kHuge;
    if (a > r) ::munmap(raw, a - r);
    if (r + kHuge > a) ::munmap(reinterpret_cast<void*>(a + len), r + kHuge - a);
    void* p = reinterpret_cast<void*>(a);
    ::madvise(p, len, MADV_HUGEPAGE);  // best effort: a kernel without THP keeps 4 KiB pages
    return std::shared_ptr<void>(p, [len](void* q) { ::munmap(q, len); });
  }
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

std::shared_ptr<void> host_alloc_weight(size_t bytes) {
  constexpr size_t kArena = size_t(32) << 20, kAlign = 64;
  if (bytes >= kHuge || !host_hugepages()) return host_alloc(bytes);
  static std::mutex mu;
  static std::shared_ptr<void> arena;  // the arena blocks are carved from now
  static size_t used = kArena;
  const size_t len = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
  std::lock_guard<std::mutex> lock(mu);
  if (used + len > kArena) {  // the tail of a full arena stays unused
    arena = host_alloc(kArena);
    used = 0;
  }
  std::shared_ptr<void> block(arena, static_cast<char*>(arena.get()) + used);  // shares the arena's lifetime
  used += len;
  return block;
}

Tensor host_tensor(int64_t rows, int64_t cols, DType dt) {
  if (rows <= 0 || cols <= 0) fail("tensor shape (", rows, ", ", cols, ") must be positive");
  return Tensor(host_alloc(size_t(rows * cols) * dtype_size(dt)), 0, rows, cols, dt);
}

HostKvCache::HostKvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim, DType dt) : KvCache(n_layer, n_ctx, kv_dim, dt) {
  bytes_ = size_t(n_layer) * 2 * size_t(n_ctx) * size_t(kv_dim) * dtype_size(dt);
  mem_ = host_alloc(bytes_);
}

void to_dtype(DType dt, const float* src, void* dst, int64_t n) {
  switch (dt) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case DType::F16:
      quantize_row(GgmlType::F16, src, dst, n);
      return;
    case DType::BF16:
      quantize_row(GgmlType::BF16, src, dst, n);
      return;
  }
}

void from_dtype(DType dt, const void* src, float* dst, int64_t n) {
  switch (dt) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case DType::F16:
      dequantize_row(GgmlType::F16, src, dst, n);
      return;
    case DType::BF16:
      dequantize_row(GgmlType::BF16, src, dst, n);
      return;
  }
}

void round_to_dtype(DType dt, float* x, int64_t n) {
  if (dt == DType::F16)
    for (int64_t i = 0; i < n; ++i) x[i] = f16_to_f32(f32_to_f16(x[i]));
  if (dt == DType::BF16)
    for (int64_t i = 0; i < n; ++i) x[i] = bf16_to_f32(f32_to_bf16(x[i]));
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

void host_rope_angles(const AttentionShape& s, int64_t pos, float* cs) {
  const float theta_scale = std::pow(s.rope_base, -2.0f / float(s.n_rot));
  const int64_t half = s.n_rot / 2;
  const float* ff = s.freq_factors.empty() ? nullptr : s.freq_factors.as<float>();
  float theta = float(pos);
  for (int64_t i = 0; i < half; ++i) {
    const float angle = s.freq_scale * (ff ? theta / ff[i] : theta);
    cs[2 * i] = std::cos(angle);
    cs[2 * i + 1] = std::sin(angle);
    theta *= theta_scale;
  }
}

void host_rope_heads(const AttentionShape& s, const float* cs, float* row, int64_t h0, int64_t h1) {
  const int64_t half = s.n_rot / 2;
  const bool interleaved = s.rope_style == RopeStyle::Interleaved;
  for (int64_t h = h0; h < h1; ++h) {
    float* v = row + h * s.head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t a = interleaved ? 2 * i : i;
      const int64_t b = interleaved ? 2 * i + 1 : i + half;
      const float c = cs[2 * i], sn = cs[2 * i + 1];
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * sn;
      v[b] = x0 * sn + x1 * c;
    }
  }
}

void host_rope_check(const char* backend, const AttentionShape& s) {
  const int64_t half = s.n_rot / 2;
  if (!s.freq_factors.empty() && s.freq_factors.rows() * s.freq_factors.cols() != half)
    fail(backend, " rope: freq_factors has ", s.freq_factors.rows() * s.freq_factors.cols(), " values, expected ", half);
}

void host_rope(const char* backend, Tensor& x, int64_t n_heads, const AttentionShape& s, int64_t pos0, int threads) {
  host_rope_check(backend, s);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    std::vector<float> cs(size_t(s.n_rot / 2 * 2));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < x.rows(); ++t) {
      host_rope_angles(s, pos0 + t, cs.data());
      host_rope_heads(s, cs.data(), x.as<float>() + t * x.cols(), 0, n_heads);
    }
  }
}

void host_kv_store(KvCache& cache, int64_t layer, const Tensor& k, const Tensor& v, int64_t pos0, F32Convert convert) {
  auto& c = static_cast<HostKvCache&>(cache);
  if (pos0 + k.rows() > c.n_ctx()) fail("KV cache overflow: position ", pos0 + k.rows(), " > context ", c.n_ctx());
  for (int64_t t = 0; t < k.rows(); ++t) {
    convert(c.dtype(), k.as<float>() + t * k.cols(), c.k_row(layer, pos0 + t), c.kv_dim());
    convert(c.dtype(), v.as<float>() + t * v.cols(), c.v_row(layer, pos0 + t), c.kv_dim());
  }
}

}  // namespace sb
