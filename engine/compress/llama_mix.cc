#include "engine/compress/llama_mix.h"

#include <cstdio>

#include "engine/core/error.h"
#include "engine/gguf/file_type.h"

namespace sb::compress {
namespace {

bool more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

bool has(const std::string& name, const char* part) { return name.find(part) != std::string::npos; }

bool is_block_type(GgmlType t) { return ggml_block_size(t) > 1; }

}  // namespace

GgmlType block_fallback(GgmlType t, int64_t cols) {
  if (cols % ggml_block_size(t) == 0) return t;
  GgmlType f;
  switch (t) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::IQ4_XS:
      f = GgmlType::IQ4_NL;
      break;
    case GgmlType::Q4_K:
      f = GgmlType::Q5_0;
      break;
    case GgmlType::Q5_K:
      f = GgmlType::Q5_1;
      break;
    case GgmlType::Q6_K:
      f = GgmlType::Q8_0;
      break;
    default:
      return GgmlType::F16;
  }
  return cols % ggml_block_size(f) == 0 ? f : GgmlType::F16;
}

GgmlType llama_mix_choice(int ftype, const MixModel& m, const std::string& name, int64_t cols) {
  const LlamaFileType* ft = find_llama_file_type(ftype);
  if (!ft) fail("llama file type ", ftype, " is not one this project writes");
  auto is = [ft](std::string_view n) { return n == ft->name; };  // names from file_type.h's one table
  GgmlType t = ft->base;
  if (!is_block_type(t)) return t;  // f32/f16/bf16 files: every matrix that type
  int layer = -1;
  std::sscanf(name.c_str(), "blk.%d.", &layer);
  const int64_t n = m.n_layer;
  const int64_t gqa = m.n_head_kv > 0 ? m.n_head / m.n_head_kv : 1;
  if (name == "output.weight" || (!m.has_output && name == "token_embd.weight")) {
    if (cols % ggml_block_size(t) != 0)
      t = GgmlType::Q8_0;
    else if (t != GgmlType::Q8_0)
      t = GgmlType::Q6_K;
  } else if (name == "token_embd.weight") {
    // the base type for every file type modelled here
  } else if (has(name, "attn_v.weight")) {
    if (is("q2_k"))
      t = gqa >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
    else if (is("q3_k_m"))
      t = layer < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
    else if (is("q3_k_l"))
      t = GgmlType::Q5_K;
    else if ((is("iq4_nl") || is("iq4_xs")) && gqa >= 4)
      t = GgmlType::Q5_K;
    else if ((is("q4_k_m") || is("q5_k_m")) && more_bits(layer, n))
      t = GgmlType::Q6_K;
    else if (is("q4_k_s") && layer < 4)
      t = GgmlType::Q5_K;
    const bool llama_70b = m.arch == "llama" && n == 80 && m.n_head != m.n_head_kv;
    if (llama_70b && (t == GgmlType::Q3_K || t == GgmlType::Q4_K)) t = GgmlType::Q5_K;
  } else if (has(name, "ffn_down")) {
    if (is("q2_k"))
      t = GgmlType::Q3_K;
    else if (is("q3_k_m"))
      t = layer < n / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
    else if (is("q3_k_l"))
      t = GgmlType::Q5_K;
    else if (is("q4_k_m")) {
      if (more_bits(layer, n)) t = GgmlType::Q6_K;
    } else if (layer < n / 8 && (is("iq4_nl") || is("iq4_xs")))
      t = GgmlType::Q5_K;
    else if (is("q5_k_m") && more_bits(layer, n))
      t = GgmlType::Q6_K;
    else if (is("q4_k_s") && layer < n / 8)
      t = GgmlType::Q5_K;
  } else if (has(name, "attn_output.weight")) {
    if (is("q2_k"))
      t = GgmlType::Q3_K;
    else if (is("q3_k_m"))
      t = GgmlType::Q4_K;
    else if (is("q3_k_l"))
      t = GgmlType::Q5_K;
  } else if (has(name, "attn_qkv.weight")) {
    if (is("q3_k_m") || is("q3_k_l"))
      t = GgmlType::Q4_K;
    else if (is("q4_k_m"))
      t = GgmlType::Q5_K;
    else if (is("q5_k_m"))
      t = GgmlType::Q6_K;
  }
  return t;
}

GgmlType llama_mix_type(int ftype, const MixModel& m, const std::string& name, int64_t cols) {
  return block_fallback(llama_mix_choice(ftype, m, name, cols), cols);
}

}  // namespace sb::compress
