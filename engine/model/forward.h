// The transformer layers of one forward pass over a block of rows, shared by Context (one
// sequence) and BatchContext (several sequences stacked row-wise). Internal to engine/model.
//
// Rows [0, T) of the activations hold the tokens `ids`; `segments` partition those rows into
// runs of consecutive positions of one sequence each (its own KV cache and start position).
// Every row-wise op (embedding, norms, the matmuls, the FFN) runs once over all T rows, so a
// weight is read once for the whole block; RoPE, the KV store and attention run per segment on
// that segment's rows and cache. With one segment this is exactly the single-sequence pass.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/model/model.h"

namespace sb::detail {

// Activation buffers for up to `rows` rows.
struct ForwardBuffers {
  Tensor x, h, q, k, v, att, gate, up;
  int64_t rows = 0;
  void alloc(Backend& b, const ModelConfig& c, int64_t n_rows);
};

struct ForwardSegment {
  KvCache* kv = nullptr;
  int64_t pos = 0;   // position of the segment's first row
  int64_t row0 = 0;  // first row in the block
  int64_t n = 0;     // rows
};

// Runs every active layer over rows [0, T) (T <= buf.rows); afterwards buf.x holds the final
// hidden states (before the output norm). `observer` (may be null or empty) is called after
// each layer with host copies of that layer's input and output rows.
void forward_layers(const Model& model, const std::vector<AttentionShape>& shapes, ForwardBuffers& buf, const int32_t* ids, int64_t T,
                    const std::vector<ForwardSegment>& segments, const Context::LayerObserver* observer);

}  // namespace sb::detail
