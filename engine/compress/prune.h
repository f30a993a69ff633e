// Pruning for compression variants.
//
// Unstructured (prune:F, prune24) zeroes weights in place; the tensors keep their shape and are
// stored and multiplied densely. No backend has a sparse kernel, so these variants change
// accuracy only, never speed or size (docs/VARIANTS.md).
// Structured (prune-heads:N, prune-layers:N) removes rows/columns/blocks, so the same forward
// pass runs with smaller shapes and is faster.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/config.h"
#include "engine/tokenizer/tokenizer.h"

namespace sb::compress {

// Zeroes exactly floor(fraction * n) of the n values with the smallest |w| (ties broken by
// position, lower first). Returns how many were zeroed.
int64_t prune_magnitude(float* w, int64_t n, double fraction);
// 2:4 sparsity along each row of `cols` inputs: in every group of 4 consecutive values the 2 with
// the smallest |w| become zero (a trailing group of r < 4 values loses floor(r / 2)). Returns
// how many were zeroed.
int64_t prune_2_4(float* w, int64_t rows, int64_t cols);

// Attention head importance, per layer and query head, from the weights alone:
//   score(h) = ||W_o[:, h]||_F * ||W_v[kv(h)]||_F * sqrt(||W_q[h]||_F * ||W_k[kv(h)]||_F)
// The value/output path sets how much a head can add to the residual stream; the query/key
// norms set how sharply it attends (a head with small q/k norms averages its context uniformly).
std::vector<std::vector<double>> head_importance(const GgufFile& f, const ModelConfig& c);

// Which query heads each layer keeps when N heads per layer are removed (sorted indices).
// Multi-head attention: the N least important heads. Grouped-query attention (g query heads
// per KV head): whole groups are removed (a KV head with its g query heads, ranked by the sum
// of their scores), so N must be a multiple of g; at least one group must remain.
// Throws sb::Error naming the constraint when N does not fit the model.
std::vector<std::vector<int64_t>> heads_to_keep(const std::vector<std::vector<double>>& scores, const ModelConfig& c, int64_t n);

// Mean cosine similarity between each layer's input and output hidden states over a
// calibration text (ShortGPT's "block influence" is 1 - this): the text's first `max_tokens`
// tokens run through the model on `backend` in windows of n_ctx. Index = layer.
std::vector<double> layer_similarity(std::shared_ptr<const GgufFile> f, Backend& backend, const Tokenizer& tok, const std::string& text,
                                     int64_t n_ctx, int64_t max_tokens);
// The n layers to remove: highest similarity (changes its input least) first; sorted by index.
std::vector<int64_t> layers_to_remove(const std::vector<double>& similarity, int64_t n);

}  // namespace sb::compress
