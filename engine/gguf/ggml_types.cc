#include "engine/gguf/ggml_types.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "engine/core/error.h"
#include "engine/gguf/block_dequant.h"
#include "engine/gguf/block_quant.h"
#include "engine/core/half.h"

namespace sb {

namespace {

struct TypeInfo {
  GgmlType type;
  const char* name;  // lower case
  int64_t block_size;
  int64_t block_bytes;
};

// Every type ggml numbers, with the block geometry of those this project reads (and Q8_K).
constexpr TypeInfo kTypes[] = {
    {GgmlType::F32, "f32", 1, 4},
    {GgmlType::F16, "f16", 1, 2},
    {GgmlType::Q4_0, "q4_0", kQK, sizeof(BlockQ4_0)},
    {GgmlType::Q4_1, "q4_1", kQK, sizeof(BlockQ4_1)},
    {GgmlType::Q5_0, "q5_0", kQK, sizeof(BlockQ5_0)},
    {GgmlType::Q5_1, "q5_1", kQK, sizeof(BlockQ5_1)},
    {GgmlType::Q8_0, "q8_0", kQK, sizeof(BlockQ8_0)},
    {GgmlType::Q8_1, "q8_1", 0, 0},
    {GgmlType::Q2_K, "q2_k", kQK_K, sizeof(BlockQ2_K)},
    {GgmlType::Q3_K, "q3_k", kQK_K, sizeof(BlockQ3_K)},
    {GgmlType::Q4_K, "q4_k", kQK_K, sizeof(BlockQ4_K)},
    {GgmlType::Q5_K, "q5_k", kQK_K, sizeof(BlockQ5_K)},
    {GgmlType::Q6_K, "q6_k", kQK_K, sizeof(BlockQ6_K)},
    {GgmlType::Q8_K, "q8_k", kQK_K, sizeof(BlockQ8_K)},
    {GgmlType::IQ2_XXS, "iq2_xxs", 0, 0},
    {GgmlType::IQ2_XS, "iq2_xs", 0, 0},
    {GgmlType::IQ3_XXS, "iq3_xxs", 0, 0},
    {GgmlType::IQ1_S, "iq1_s", 0, 0},
    {GgmlType::IQ4_NL, "iq4_nl", kQK, sizeof(BlockIQ4_NL)},
    {GgmlType::IQ3_S, "iq3_s", 0, 0},
    {GgmlType::IQ2_S, "iq2_s", 0, 0},
    {GgmlType::IQ4_XS, "iq4_xs", kQK_K, sizeof(BlockIQ4_XS)},
    {GgmlType::I8, "i8", 0, 0},
    {GgmlType::I16, "i16", 0, 0},
    {GgmlType::I32, "i32", 0, 0},
    {GgmlType::I64, "i64", 0, 0},
    {GgmlType::F64, "f64", 0, 0},
    {GgmlType::IQ1_M, "iq1_m", 0, 0},
    {GgmlType::BF16, "bf16", 1, 2},
    {GgmlType::TQ1_0, "tq1_0", 0, 0},
    {GgmlType::TQ2_0, "tq2_0", 0, 0},
    {GgmlType::MXFP4, "mxfp4", 0, 0},
};

const TypeInfo* find_type(uint32_t raw) {
  for (const TypeInfo& t : kTypes)
    if (uint32_t(t.type) == raw) return &t;
  return nullptr;
}

}  // namespace

// The types with a block geometry in kTypes are the ones read; Q8_K is only an activation format.
bool ggml_type_supported(uint32_t raw) {
  const TypeInfo* t = find_type(raw);
  return t && t->block_size > 0 && t->type != GgmlType::Q8_K;
}

std::string ggml_type_name(uint32_t raw) {
  const TypeInfo* t = find_type(raw);
  return t ? t->name : "type" + std::to_string(raw);
}

std::string ggml_type_label(uint32_t raw) {
  const TypeInfo* t = find_type(raw);
  std::string up = t ? t->name : "type " + std::to_string(raw);
  for (char& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (t) return up + " (" + std::to_string(raw) + ")";
  return "type " + std::to_string(raw) + " (unknown to ggml)";
}

std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
  for (const TypeInfo& t : kTypes) {
    if (t.name == name && ggml_type_supported(uint32_t(t.type))) return t.type;
  }
  return std::nullopt;
}

int64_t ggml_block_size(GgmlType t) {
  const TypeInfo* i = find_type(uint32_t(t));
  return i ? i->block_size : 0;
}

int64_t ggml_block_bytes(GgmlType t) {
  const TypeInfo* i = find_type(uint32_t(t));
  return i ? i->block_bytes : 0;
}

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case GgmlType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case GgmlType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    case GgmlType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case GgmlType::Q8_0: {
      const BlockQ8_0* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = d * float(b[i].qs[j]);
      }
      return;
    }
    case GgmlType::Q4_0: {
      const BlockQ4_0* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < kQK / 2; ++j) {
          dst[i * kQK + j] = d * float(int(b[i].qs[j] & 0x0f) - 8);
          dst[i * kQK + j + kQK / 2] = d * float(int(b[i].qs[j] >> 4) - 8);
        }
      }
      return;
    }
    case GgmlType::Q4_1:
      dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, n / kQK);
      return;
    case GgmlType::Q5_0:
      dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, n / kQK);
      return;
    case GgmlType::Q5_1:
      dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, n / kQK);
      return;
    case GgmlType::IQ4_NL:
      dequantize_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, n / kQK);
      return;
    case GgmlType::Q2_K:
      dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, n / kQK_K);
      return;
    case GgmlType::Q3_K:
      dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, n / kQK_K);
      return;
    case GgmlType::Q4_K:
      dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, n / kQK_K);
      return;
    case GgmlType::Q5_K:
      dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, n / kQK_K);
      return;
    case GgmlType::Q6_K:
      dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, n / kQK_K);
      return;
    case GgmlType::IQ4_XS:
      dequantize_iq4_xs(static_cast<const BlockIQ4_XS*>(src), dst, n / kQK_K);
      return;
    default:
      fail("dequantize_row: type ", ggml_type_label(uint32_t(t)), " is not supported");
  }
}

void quantize_row(GgmlType t, const float* src, void* dst, int64_t n) {
  switch (t) {
    case GgmlType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case GgmlType::F16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
    case GgmlType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case GgmlType::Q8_0: {
      BlockQ8_0* b = static_cast<BlockQ8_0*>(dst);
      for (int64_t i = 0; i < n / kQK; ++i) {
        const float* x = src + i * kQK;
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < kQK; ++j) b[i].qs[j] = int8_t(std::lround(x[j] * id));
      }
      return;
    }
    case GgmlType::Q4_0: {
      BlockQ4_0* b = static_cast<BlockQ4_0*>(dst);
      for (int64_t i = 0; i < n / kQK; ++i) {
        const float* x = src + i * kQK;
        float amax = 0.0f, vmax = 0.0f;  // the value with the largest magnitude, sign kept
        for (int j = 0; j < kQK; ++j) {
          if (std::fabs(x[j]) > amax) {
            amax = std::fabs(x[j]);
            vmax = x[j];
          }
        }
        const float d = vmax / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < kQK / 2; ++j) {
          const int q0 = std::min(15, int(int8_t(x[j] * id + 8.5f)));
          const int q1 = std::min(15, int(int8_t(x[j + kQK / 2] * id + 8.5f)));
          b[i].qs[j] = uint8_t(q0 | (q1 << 4));
        }
      }
      return;
    }
    default:
      if (quantize_row_block(t, src, dst, n)) return;  // Q4_1 ... IQ4_XS (block_quant.h)
      fail("quantize_row: type ", ggml_type_label(uint32_t(t)), " is not supported");
  }
}

}  // namespace sb
