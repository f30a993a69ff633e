// Applying a compression variant to a model file: in memory at load time (apply_variant) or
// into a new GGUF file (write_variant), both from the same tensor pipeline:
//   1. prune-layers:N  rank layers on the calibration text (prune.h), drop N blocks, renumber
//                      the rest, update <arch>.block_count
//   2. prune-heads:N   drop the least important heads of every layer: rows of attn_q/k/v (and
//                      their biases), columns of attn_output; update head_count, head_count_kv
//                      and write attention.key_length/value_length (the head size no longer
//                      follows from the width)
//   3. prune:F/prune24 zero weights of every layer matrix (not embeddings, output, norms)
//   4. weight type     every 2-D weight matrix (embeddings and output too) converted to the
//                      type, or for a llama.cpp mix (q4_k_m ...) to the type llama-quantize
//                      picks for it (llama_mix.h, on the pruned model's names and layer count);
//                      rows that are not whole blocks of that type fall back as llama-quantize
//                      does (block_fallback: q4_k -> q5_0, q6_k -> q8_0, ..., else f16).
//                      general.file_type is set to the variant's LLAMA_FTYPE (file_type.h).
//                      int8 is not a GGUF type: it is applied at load by a WeightTransform
//                      (quantize.h) on top of 1-3.
// distill:STEPS is not applied here (it trains; harness/variants.h does it): a spec with it is
// refused with one line. Steps that do nothing are skipped; a variant that changes nothing loads the base file as is.
// Layer ranking runs the base model, so it needs a Calibration (backend, tokenizer, text);
// without one, prune-layers fails with a clear error. Other failures (heads not dividing the
// model, int8 written to a file, ...) throw sb::Error with a one-line message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/compress/variant.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace sb::compress {

struct Calibration {
  Backend* backend = nullptr;  // runs the base model for layer ranking
  const Tokenizer* tokenizer = nullptr;
  std::string text;
  int64_t n_ctx = 256;
  int64_t max_tokens = 1024;
};

// What a variant did, for tables, JSON and the honesty notes.
struct VariantReport {
  std::string name;                              // canonical spec
  std::vector<std::string> notes;                // one line each (shown to users)
  std::vector<int64_t> removed_layers;           // original indices
  std::vector<double> layer_similarity;          // per original layer (prune-layers only)
  std::vector<std::vector<int64_t>> kept_heads;  // per remaining layer (prune-heads only)
  int64_t zeroed = 0, prunable = 0;              // unstructured pruning: weights zeroed / considered
  std::vector<std::string> fallback;             // tensors stored in a fallback type (rows not whole blocks)
  bool identical_to_base = false;                // nothing changed: the base file is used
};

struct VariantModel {
  VariantSpec spec;
  std::shared_ptr<const GgufFile> file;  // the tensor set Model::load reads
  WeightTransform transform;             // int8 (empty otherwise)
  VariantReport report;
};

// `release_file_pages`: drop the pages of the base file's tensors from the resident set once
// they have been converted (a file opened with GgufFile::open; never pass true for a parsed
// in-memory buffer), so peak memory is about the variant's size, not the base's plus it.
VariantModel apply_variant(std::shared_ptr<const GgufFile> base, const VariantSpec& spec, const Calibration* calib,
                           bool release_file_pages = false);
// Writes the variant as a GGUF file (atomically). int8 cannot be written (not a GGUF type).
VariantReport write_variant(std::shared_ptr<const GgufFile> base, const VariantSpec& spec, const Calibration* calib,
                            const std::string& path, bool release_file_pages = false);

// Loads `vm` on `backend` (Model::load with the file and transform).
std::unique_ptr<Model> load_variant(const VariantModel& vm, Backend& backend);

}  // namespace sb::compress
