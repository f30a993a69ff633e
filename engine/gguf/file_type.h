// llama.cpp's file types: the number a GGUF file stores as general.file_type (LLAMA_FTYPE_* of
// llama.h) and the name llama-quantize gives it. One table for every writer of that key (synth,
// model quantize, variants).
//
// A file type names what most weight matrices are; the *mixes* (q3_k_s ... q5_k_m, and llama's
// q2_k, q6_k, q4_1 ... when made by llama-quantize) give some tensors other types
// (engine/compress/llama_mix.h). A file whose matrices are all one type (llama-quantize --pure)
// is labelled with that type's file type; for q3_k/q4_k/q5_k that is the _m mix's number, as
// llama-quantize's own aliases Q3_K, Q4_K and Q5_K mean Q3_K_M, Q4_K_M and Q5_K_M.
#pragma once

#include <optional>
#include <string_view>

#include "engine/gguf/ggml_types.h"

namespace sb {

struct LlamaFileType {
  int id;            // LLAMA_FTYPE number
  const char* name;  // lower case: "f16", "q8_0", "q4_k_m", "iq4_xs"
  GgmlType base;     // the type of most weight matrices
};

// The file types this project writes (F32 ... IQ4_XS, BF16), ordered by number.
const LlamaFileType* llama_file_types(size_t* count);
const LlamaFileType* find_llama_file_type(std::string_view name);
const LlamaFileType* find_llama_file_type(int id);
// general.file_type of a file whose weight matrices are all `t` (see above); nullopt for types
// no file type names.
std::optional<int> llama_file_type_of(GgmlType t);

}  // namespace sb
