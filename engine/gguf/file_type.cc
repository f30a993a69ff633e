#include "engine/gguf/file_type.h"

#include <iterator>

namespace sb {
namespace {

constexpr LlamaFileType kFileTypes[] = {
    {0, "f32", GgmlType::F32},        {1, "f16", GgmlType::F16},        {2, "q4_0", GgmlType::Q4_0},    {3, "q4_1", GgmlType::Q4_1},
    {7, "q8_0", GgmlType::Q8_0},      {8, "q5_0", GgmlType::Q5_0},      {9, "q5_1", GgmlType::Q5_1},    {10, "q2_k", GgmlType::Q2_K},
    {11, "q3_k_s", GgmlType::Q3_K},   {12, "q3_k_m", GgmlType::Q3_K},   {13, "q3_k_l", GgmlType::Q3_K}, {14, "q4_k_s", GgmlType::Q4_K},
    {15, "q4_k_m", GgmlType::Q4_K},   {16, "q5_k_s", GgmlType::Q5_K},   {17, "q5_k_m", GgmlType::Q5_K}, {18, "q6_k", GgmlType::Q6_K},
    {25, "iq4_nl", GgmlType::IQ4_NL}, {30, "iq4_xs", GgmlType::IQ4_XS}, {32, "bf16", GgmlType::BF16},
};

}  // namespace

const LlamaFileType* llama_file_types(size_t* count) {
  *count = std::size(kFileTypes);
  return kFileTypes;
}

const LlamaFileType* find_llama_file_type(std::string_view name) {
  for (const auto& f : kFileTypes)
    if (name == f.name) return &f;
  return nullptr;
}

const LlamaFileType* find_llama_file_type(int id) {
  for (const auto& f : kFileTypes)
    if (id == f.id) return &f;
  return nullptr;
}

std::optional<int> llama_file_type_of(GgmlType t) {
  switch (t) {  // llama-quantize's aliases: Q3_K, Q4_K, Q5_K are the _M mixes
    case GgmlType::Q3_K:
      return 12;
    case GgmlType::Q4_K:
      return 15;
    case GgmlType::Q5_K:
      return 17;
    default:
      break;
  }
  for (const auto& f : kFileTypes)
    if (f.base == t) return f.id;
  return std::nullopt;
}

}  // namespace sb
