#include "engine/backends/backend.h"

#include <cmath>
#include <vector>

#include "engine/core/error.h"

namespace sb {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
  }
  return "?";
}

DType dtype_from_name(const std::string& name) {
  if (name == "f32") return DType::F32;
  if (name == "f16") return DType::F16;
  if (name == "bf16") return DType::BF16;
  fail("unknown type '", name, "' (f32, f16, bf16)");
}

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::Ggml: return "ggml";
    case WeightFormat::Int8PerChannel: return "int8 per-channel";
  }
  return "?";
}

size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }

Tensor Tensor::rows_view(int64_t r0, int64_t n) const {
  if (r0 < 0 || n < 0 || r0 + n > rows_) fail("rows_view(", r0, ", ", n, ") out of range for ", rows_, " rows");
  return Tensor(mem_, offset_ + size_t(r0 * cols_) * dtype_size(dtype_), n, cols_, dtype_);
}

Tensor Tensor::reshaped(int64_t rows, int64_t cols) const {
  if (rows < 0 || cols < 0 || rows * cols != rows_ * cols_)
    fail("reshaped(", rows, ", ", cols, ") does not match ", rows_, " x ", cols_);
  return Tensor(mem_, offset_, rows, cols, dtype_);
}

float AttentionShape::kq_scale() const { return attn_scale != 0.0f ? attn_scale : 1.0f / std::sqrt(float(head_dim)); }

void Backend::argmax_rows(const Tensor& logits, int32_t* out) {
  const int64_t R = logits.rows(), V = logits.cols();
  std::vector<float> v(size_t(R * V));
  download(logits, v.data());
  for (int64_t r = 0; r < R; ++r) {
    const float* row = v.data() + r * V;
    int64_t best = 0;
    for (int64_t i = 1; i < V; ++i)
      if (row[i] > row[best] || (row[best] != row[best] && row[i] == row[i])) best = i;  // NaN never wins
    out[r] = int32_t(best);
  }
}

}  // namespace sb
