// Which GGUF type each weight matrix gets under a llama.cpp file type: the rule of
// llama-quantize (llama_tensor_get_type in llama.cpp's src/llama-quant.cpp, commit c392e50)
// for dense models without an importance matrix, restated here:
//   output.weight (and token_embd.weight when there is no output.weight): Q6_K, or Q8_0 when its
//     rows are not whole 256-value blocks (Q8_0 files keep Q8_0)
//   attn_v.weight    q2_k: Q3_K (Q4_K with >= 4 query heads per KV head); q3_k_m: Q5_K in the
//                    first two layers, else Q4_K; q3_k_l: Q5_K; iq4_nl/iq4_xs with GQA >= 4: Q5_K;
//                    q4_k_m/q5_k_m: Q6_K in the "more bits" layers; q4_k_s: Q5_K in layers 0-3;
//                    70B llama (80 layers, GQA): Q3_K/Q4_K raised to Q5_K
//   ffn_down.weight  q2_k: Q3_K; q3_k_m: Q5_K in the first n/16 layers, else Q4_K; q3_k_l: Q5_K;
//                    q4_k_m/q5_k_m: Q6_K in the "more bits" layers; iq4_nl/iq4_xs: Q5_K in the
//                    first n/8 layers; q4_k_s: Q5_K in the first n/8 layers
//   attn_output.weight  q2_k: Q3_K; q3_k_m: Q4_K; q3_k_l: Q5_K
//   everything else: the file type's base type
// "More bits" layers of n: i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2. Layer i is the tensor's
// position among its kind in llama's tensor order (by layer), i.e. its layer number.
// Rows that are not whole blocks of the chosen type fall back as llama-quantize does
// (block_fallback). Architectures with llama.cpp-specific exceptions (Falcon, MoE) are not
// modelled; the rule is applied to them as to llama.
#pragma once

#include <cstdint>
#include <string>

#include "engine/gguf/ggml_types.h"

namespace sb::compress {

struct MixModel {
  std::string arch;     // general.architecture
  int64_t n_layer = 0;  // layers of the model being written
  int64_t n_head = 1, n_head_kv = 1;
  bool has_output = true;  // a separate output.weight (else token_embd is the output)
};

// The type llama-quantize writes for the 2-D weight `name` with rows of `cols` values, for the
// file type `ftype` (LLAMA_FTYPE number, one of llama_file_types(); f32/f16/bf16 give that type
// throughout). sb::Error for a number not in the table.
GgmlType llama_mix_type(int ftype, const MixModel& m, const std::string& name, int64_t cols);
// The same before the row-size fallback: what the rule picks (block_fallback of it is the result).
GgmlType llama_mix_choice(int ftype, const MixModel& m, const std::string& name, int64_t cols);

// llama-quantize's fallback for rows that are not whole blocks of `t`: Q2_K/Q3_K/IQ4_XS ->
// IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16 when still not whole blocks.
// Returns `t` when its blocks fit.
GgmlType block_fallback(GgmlType t, int64_t cols);

}  // namespace sb::compress
