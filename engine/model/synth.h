// Synthesizes a model file for a named preset (see config.h: codex-spark, codex-spark-mini and
// one <arch>-tiny per architecture family): the preset's architecture with llama.cpp's tensor
// names and metadata keys (llama.cpp loads these files), the self-made 32000-token
// SentencePiece vocabulary (spark_vocab.h) for every family, and weights drawn
// deterministically from the seed.
//
// Weight scales follow common initialization practice for pre-LN decoders: embeddings and
// input projections ~ N(0, 0.02^2), the residual output projections (attn_output, ffn_down)
// ~ N(0, (0.02 / sqrt(2 * n_layer))^2), norm weights 1 (the family presets use a larger
// spread and jittered norms, see Preset). llama3-tiny's rope_freqs.weight follows Llama 3.1's
// scaling rule. Values come from a counter-based
// generator (one stream per tensor row), so the same (preset, seed, dtype) yields the same
// bytes on every machine and thread count. The file is written atomically.
#pragma once

#include <cstdint>
#include <string>

#include "engine/gguf/ggml_types.h"

namespace sb {

struct SynthOptions {
  std::string preset = "codex-spark-mini";
  GgmlType dtype = GgmlType::F16;  // matrices and embeddings; norms stay f32
  uint64_t seed = 0;
  std::string chat_template;  // stored as tokenizer.chat_template when non-empty
};

// Writes the model to `path`. Throws sb::Error on an unknown preset or I/O failure.
void synthesize_model(const SynthOptions& opt, const std::string& path);

// The file name the harness uses for a cached synthetic model, e.g.
// "codex-spark-mini-f16-s0.gguf" (the tool version is part of the cache directory).
std::string synth_file_name(const SynthOptions& opt);

}  // namespace sb
