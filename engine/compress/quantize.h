// Weight conversions for compression variants.
//
// GGUF types (f32, f16, bf16, q8_0 ... iq4_xs) use ggml's reference quantizers (engine/gguf/
// ggml_types.h, block_quant.h), so files written here read back in llama.cpp. The int8 format is in memory
// only (no GGUF type): per output channel (row) n, d_n = max_k |w[n][k]| / 127 and
// q[n][k] = round-to-nearest-even(w[n][k] * 127 / max|w[n]|) in [-127, 127] (the same rounding
// as the activations, sb::quantize_row_s8).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/model/model.h"

namespace sb::compress {

// Rows x cols values of type `t` at `data` as f32.
std::vector<float> to_f32(GgmlType t, const void* data, int64_t rows, int64_t cols);
// Converts rows x cols f32 values to type `t` (cols must be a whole number of blocks).
std::vector<uint8_t> from_f32(GgmlType t, const float* w, int64_t rows, int64_t cols);
// Whether rows of `cols` values can be stored as `t` (whole blocks of 32 or 256 values).
bool fits_type(GgmlType t, int64_t cols);

struct Int8Matrix {
  std::vector<int8_t> q;      // rows x cols
  std::vector<float> scales;  // rows
};
Int8Matrix quantize_int8(const float* w, int64_t rows, int64_t cols);

// The load-time transform of the int8 variant: every matrix the model multiplies by (the
// output projection and the layer matrices; the embedding table is looked up, not multiplied,
// and stays as stored) becomes WeightFormat::Int8PerChannel, owned by the Model.
// release_file_pages: after converting a matrix, drop its source pages from the resident set
// (madvise DONTNEED); only for sources in a read-only file mapping (GgufFile::open).
WeightTransform int8_transform(bool release_file_pages);

}  // namespace sb::compress
