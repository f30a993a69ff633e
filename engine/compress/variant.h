// Compression variant specs: what `--variant` accepts (run, bench, model quantize|prune).
//
// A spec is one or more parts joined by '+':
//   base                     the weights as stored (no transform; cannot be combined)
//   f32 | f16 | bf16         every weight matrix converted to that GGUF type
//   q8_0 | q4_0              GGUF block quantization (32 weights per block, f16 scale)
//   int8                     in-memory int8: per-output-channel symmetric weights (f32 scale per
//                            row) with dynamic per-token symmetric activation quantization
//   prune:F                  unstructured magnitude pruning: the fraction F (0 <= F < 1) of each
//                            block matrix's weights with the smallest |w| set to zero
//   prune24                  2:4 structured sparsity: in every group of 4 consecutive inputs of a
//                            block matrix row, the 2 smallest |w| set to zero
//   prune-heads:N            N attention heads removed from every layer (ranked by importance)
//   prune-layers:N           N whole layers removed (ranked on a calibration text)
// At most one weight type (f32 ... int8) and one part of each pruning kind; prune:F and prune24
// exclude each other. Without a type part, pruned tensors keep their stored type.
// canonical name: type first, then prune-layers, prune-heads, prune / prune24, e.g.
// "q4_0+prune-heads:2+prune:0.5". Bad specs throw sb::Error naming the offending part.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/gguf/ggml_types.h"

namespace sb::compress {

enum class WeightKind : uint8_t { AsStored, F32, F16, BF16, Q8_0, Q4_0, Int8 };

struct VariantSpec {
  WeightKind weights = WeightKind::AsStored;
  double prune_fraction = 0;  // prune:F (0 = none)
  bool prune_24 = false;
  int64_t prune_heads = 0;
  int64_t prune_layers = 0;

  bool is_base() const;                   // nothing to do
  bool unstructured() const { return prune_fraction > 0 || prune_24; }
  bool structured() const { return prune_heads > 0 || prune_layers > 0; }
  bool pruned() const { return unstructured() || structured(); }
  bool needs_calibration() const { return prune_layers > 0; }
  // The GGUF type every weight matrix is converted to (nullopt: as stored, or int8).
  std::optional<GgmlType> gguf_type() const;
  std::string name() const;               // canonical spec
};

VariantSpec parse_variant(const std::string& spec);
// Parses a comma-separated list (e.g. "f32,bf16,q4_0+prune:0.5"); duplicates (same canonical
// name) are an error.
std::vector<VariantSpec> parse_variant_list(const std::string& list);
// One line per part kind, for --help texts.
const char* variant_help();

}  // namespace sb::compress
