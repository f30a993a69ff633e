// RefBackend: the reference ("oracle") backend. Plain scalar loops written for obvious
// correctness, not speed: weights are read from the model file as stored and each row is
// dequantized to f32 when used; sums accumulate in double. Every other backend is tested
// against it. Numerics follow llama.cpp where a choice exists: RoPE angles are computed by
// repeated multiplication in float; with an f16/bf16 KV cache, the query and the attention
// probabilities are rounded to the cache type before their products (as ggml's mul_mat does).
#pragma once

#include <memory>

#include "engine/backends/backend.h"

namespace sb {
std::unique_ptr<Backend> make_ref_backend(const BackendOptions& opt);
}
