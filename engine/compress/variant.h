// Compression variant specs: what `--variant` accepts (run, bench, model quantize|prune).
//
// A spec is one or more parts joined by '+':
//   base                     the weights as stored (no transform; cannot be combined)
//   f32 | f16 | bf16         every weight matrix converted to that GGUF type
//   q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | iq4_nl
//                            GGUF block quantization, 32 weights per block, every weight matrix
//   q2_k | q3_k | q4_k | q5_k | q6_k | iq4_xs
//                            GGUF super-block quantization (256 weights), every weight matrix
//                            (llama-quantize --pure); rows that are not whole blocks fall back as
//                            llama-quantize does (llama_mix.h: block_fallback)
//   q3_k_s | q3_k_m | q3_k_l | q4_k_s | q4_k_m | q5_k_s | q5_k_m
//                            llama.cpp's mixes: the type per tensor that llama-quantize chooses
//                            for that file type (engine/compress/llama_mix.h)
//   int8                     in-memory int8: per-output-channel symmetric weights (f32 scale per
//                            row) with dynamic per-token symmetric activation quantization
//   prune:F                  unstructured magnitude pruning: the fraction F (0 <= F < 1) of each
//                            block matrix's weights with the smallest |w| set to zero
//   prune24                  2:4 structured sparsity: in every group of 4 consecutive inputs of a
//                            block matrix row, the 2 smallest |w| set to zero
//   prune-heads:N            N attention heads removed from every layer (ranked by importance)
//   prune-layers:N           N whole layers removed (ranked on a calibration text)
//   distill:STEPS            after the pruning parts: the pruned student trained for STEPS steps
//                            on the base model's outputs (knowledge distillation, engine/train/
//                            distill.h); runs in the harness (harness/variants.h), which caches
//                            the student; needs at least one pruning part. A weight type given
//                            with it converts the distilled student (quantize after distilling).
// At most one weight type (f32 ... int8) and one part of each pruning kind; prune:F and prune24
// exclude each other. Without a type part, pruned tensors keep their stored type.
// canonical name: type first, then prune-layers, prune-heads, prune / prune24, e.g.
// "q4_0+prune-heads:2+prune:0.5", then distill last ("q8_0+prune-layers:1+distill:400").
// Bad specs throw sb::Error naming the offending part.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/gguf/ggml_types.h"

namespace sb::compress {

enum class WeightKind : uint8_t {
  AsStored,
  F32,
  F16,
  BF16,
  Q8_0,
  Q4_0,
  Int8,
  Q4_1,
  Q5_0,
  Q5_1,
  IQ4_NL,
  Q2_K,
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K,
  IQ4_XS,  // one type throughout
  Q3_K_S,
  Q3_K_M,
  Q3_K_L,
  Q4_K_S,
  Q4_K_M,
  Q5_K_S,
  Q5_K_M,  // llama.cpp mixes
};

struct VariantSpec {
  WeightKind weights = WeightKind::AsStored;
  double prune_fraction = 0;  // prune:F (0 = none)
  bool prune_24 = false;
  int64_t prune_heads = 0;
  int64_t prune_layers = 0;
  int64_t distill_steps = 0;  // distill:STEPS (0 = none)

  bool is_base() const;  // nothing to do
  bool unstructured() const { return prune_fraction > 0 || prune_24; }
  bool structured() const { return prune_heads > 0 || prune_layers > 0; }
  bool pruned() const { return unstructured() || structured(); }
  bool needs_calibration() const { return prune_layers > 0; }
  bool distills() const { return distill_steps > 0; }
  // The pruning parts only (the student distillation starts from) and the weight-type part
  // only (applied to the distilled student).
  VariantSpec pruning_part() const;
  VariantSpec weights_part() const;
  // The GGUF type every weight matrix is converted to (nullopt: as stored, int8, or a mix).
  std::optional<GgmlType> gguf_type() const;
  // The LLAMA_FTYPE number of a mix (q4_k_m: 15); nullopt for the other kinds.
  std::optional<int> llama_mix() const;
  // Whether weight matrices are converted to GGUF types (one type or a mix).
  bool converts_weights() const { return gguf_type() || llama_mix(); }
  // general.file_type of a file holding this variant's types (nullopt: keep the base file's).
  std::optional<int> file_type() const;
  std::string name() const;  // canonical spec
};

VariantSpec parse_variant(const std::string& spec);
// Parses a comma-separated list (e.g. "f32,bf16,q4_0+prune:0.5"); duplicates (same canonical
// name) are an error.
std::vector<VariantSpec> parse_variant_list(const std::string& list);
// One line per part kind, for --help texts.
const char* variant_help();

}  // namespace sb::compress
