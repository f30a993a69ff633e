// Tensor element types of the GGUF format (numbering from ggml) and row-wise conversion.
// Block layouts are ggml's (ggml-common.h; public facts, written here from the spec):
//   32-element blocks (kQK):
//     Q4_0  {f16 d; u8 qs[16]}             x = d * (nibble - 8)              18 bytes
//     Q4_1  {f16 d, m; u8 qs[16]}          x = d * nibble + m                20 bytes
//     Q5_0  {f16 d; u8 qh[4]; u8 qs[16]}   x = d * ((nibble | hbit << 4) - 16)  22 bytes
//     Q5_1  {f16 d, m; u8 qh[4]; u8 qs[16]} x = d * (nibble | hbit << 4) + m  24 bytes
//     Q8_0  {f16 d; i8 qs[32]}             x = d * q                         34 bytes
//     IQ4_NL {f16 d; u8 qs[16]}            x = d * kvalues_iq4nl[nibble]     18 bytes
//     In the 4-bit types element j < 16 is the low nibble of qs[j], element j + 16 the high one;
//     in Q5_x bit j of the 32-bit qh is the fifth bit of element j.
//   256-element super-blocks (kQK_K), sub-block scales packed as ggml packs them:
//     Q2_K  {u8 scales[16]; u8 qs[64]; f16 d, dmin}                      84 bytes
//     Q3_K  {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}              110 bytes
//     Q4_K  {f16 d, dmin; u8 scales[12]; u8 qs[128]}                     144 bytes
//     Q5_K  {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}          176 bytes
//     Q6_K  {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}                210 bytes
//     IQ4_XS {f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]}           136 bytes
//   Q8_K {f32 d; i8 qs[256]; i16 bsums[16]} is ggml's activation block for K-quant dot products
//   (not a file type here; listed for kernels that quantize activations the same way).
// A row length must be a multiple of the block size for the block types.
// dequantize_row is exact (the reference backend's oracle); quantize_row follows ggml's
// reference quantizers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb {

// Every value is ggml's number for the type. Only the types listed in ggml_type_supported()
// are read; the others exist so that errors can name them.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

constexpr int kQK = 32;     // elements per block of the 32-element types
constexpr int kQK_K = 256;  // elements per K-quant / IQ4_XS super-block
constexpr int kKScaleSize = 12;

struct BlockQ8_0 {
  uint16_t d;  // f16
  int8_t qs[kQK];
};
struct BlockQ4_0 {
  uint16_t d;  // f16
  uint8_t qs[kQK / 2];
};
struct BlockQ4_1 {
  uint16_t d, m;  // f16
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;  // f16
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;  // f16
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockIQ4_NL {
  uint16_t d;  // f16
  uint8_t qs[kQK / 2];
};
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // low nibble scale, high nibble min, per 16 elements
  uint8_t qs[kQK_K / 4];
  uint16_t d, dmin;  // f16
};
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[kKScaleSize];  // 16 6-bit scales
  uint16_t d;                   // f16
};
struct BlockQ4_K {
  uint16_t d, dmin;             // f16
  uint8_t scales[kKScaleSize];  // 8 6-bit scales and 8 6-bit mins
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;  // f16
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;  // f16
};
struct BlockIQ4_XS {
  uint16_t d;  // f16
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockQ8_K) == 292);

// The 16 non-uniform levels of IQ4_NL and IQ4_XS.
inline constexpr int8_t kValuesIQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// True when `raw` is a type this project reads.
bool ggml_type_supported(uint32_t raw);
// Lower-case name, as variant specs and `model info` spell it ("f32", "q4_0", "q4_k", "iq4_xs");
// "type<N>" for numbers ggml does not define.
std::string ggml_type_name(uint32_t raw);
// How errors name a type: ggml's upper-case name and its number, "IQ2_XXS (16)", "type 77 (77)"
// for numbers ggml does not define.
std::string ggml_type_label(uint32_t raw);
std::optional<GgmlType> ggml_type_from_name(std::string_view name);
// Elements per block (1 for float types) and bytes per block, for the types ggml_type_supported()
// accepts and Q8_K (0 for the others).
int64_t ggml_block_size(GgmlType t);
int64_t ggml_block_bytes(GgmlType t);
// Bytes for n elements; n must be a multiple of the block size (checked by callers).
inline int64_t ggml_row_bytes(GgmlType t, int64_t n) { return n / ggml_block_size(t) * ggml_block_bytes(t); }

// Converts n elements stored as `t` at src to f32.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);
// Converts n f32 values to type `t` at dst (round to nearest; ggml's reference quantizers).
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

}  // namespace sb
