#include "engine/backends/backend.h"

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

size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }

Tensor Tensor::rows_view(int64_t r0, int64_t n) const {
  if (r0 < 0 || n < 0 || r0 + n > rows_) fail("rows_view(", r0, ", ", n, ") out of range for ", rows_, " rows");
  return Tensor(mem_, offset_ + size_t(r0 * cols_) * dtype_size(dtype_), n, cols_, dtype_);
}

}  // namespace sb
