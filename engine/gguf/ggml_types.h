// Tensor element types of the GGUF format (numbering from ggml) and row-wise conversion.
// Supported: F32, F16, BF16, Q8_0, Q4_0. Quantized types pack QK=32 elements per block:
//   Q8_0 block: f16 scale d; int8 q[32];               x = d * q           (34 bytes)
//   Q4_0 block: f16 scale d; uint8 q[16] (two nibbles) x = d * (nibble - 8) (18 bytes);
//               element j < 16 is the low nibble of q[j], element j + 16 the high nibble.
// A row length must be a multiple of the block size for the block types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  BF16 = 30,
};

constexpr int kQK = 32;  // elements per Q8_0 / Q4_0 block

struct BlockQ8_0 {
  uint16_t d;  // f16
  int8_t qs[kQK];
};
struct BlockQ4_0 {
  uint16_t d;  // f16
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_0) == 18);

// True when `raw` is a type this project reads.
bool ggml_type_supported(uint32_t raw);
// Name as llama.cpp prints it ("f32", "f16", "bf16", "q8_0", "q4_0"); "type<N>" for others.
std::string ggml_type_name(uint32_t raw);
std::optional<GgmlType> ggml_type_from_name(std::string_view name);
// Elements per block (1 for float types) and bytes per block.
int64_t ggml_block_size(GgmlType t);
int64_t ggml_block_bytes(GgmlType t);
// Bytes for n elements; n must be a multiple of the block size (checked by callers).
inline int64_t ggml_row_bytes(GgmlType t, int64_t n) { return n / ggml_block_size(t) * ggml_block_bytes(t); }

// Converts n elements stored as `t` at src to f32.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);
// Converts n f32 values to type `t` at dst (round to nearest; ggml's reference quantizers).
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

}  // namespace sb
