// Host-side launchers of the CUDA backend's kernels (defined in the .cu files beside this one).
//
// Contract shared by every launcher: all pointers are device memory (unless a comment says
// host); the launch is asynchronous on `st`; a bad launch throws sb::Error (SB_CUDA_CHECK_LAUNCH).
// Shapes are row-major (rows, cols), rows = tokens, as in engine/backends/backend.h. Callers
// (cuda_backend.cc) validate shapes before launching; launchers only check what a kernel needs
// (for example head_dim <= kMaxHeadDim).
//
// Positions: kernels that depend on the sequence position take a PosArg. With dev == nullptr
// they use `host`; otherwise they read *dev when they run, which is what lets one captured CUDA
// graph serve every decode step (the backend writes the step's position there before replay).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace sb::cuda {

// Element types of activations and KV caches (same order as sb::DType).
enum class Elem : uint8_t { F32 = 0, F16 = 1, BF16 = 2 };

// Device weight formats. Dense formats are row-major (N, K). Q8_0 and Q4_0 are split into two
// arrays so that every row of quants is 16-byte aligned: `scales` holds the f16 block scales
// (N, K / 32) and `data` the quants: Q8_0 int8 (N, K); Q4_0 (N, K / 2) bytes, each 32-element
// block as GGUF packs it (byte j: element j in the low nibble, element j + 16 in the high one).
// The formats from Q4_1 on are kept as raw GGUF blocks: `data` holds the rows exactly as the
// file stores them (row n at n * (K / block elements) * block bytes) and is decoded 32
// elements at a time (block_decode.cuh); K must be a multiple of the block's elements (32, or
// 256 for the K-quants and IQ4_XS).
enum class WFmt : uint8_t { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS };

struct WeightView {
  WFmt fmt = WFmt::F32;
  const void* data = nullptr;
  const uint16_t* scales = nullptr;  // Q8_0 / Q4_0 only
  int64_t rows = 0;                  // N
  int64_t cols = 0;                  // K
};

struct PosArg {
  const int32_t* dev = nullptr;
  int32_t host = 0;
};

constexpr int kGemvMaxRows = 8;   // gemv() handles at most this many rows of x
constexpr int kMaxHeadDim = 256;  // attention kernels' limit on head_dim

// ---- elementwise.cu ----
// x(n, C) = dequantized rows ids[t] of `table` (ids: device int32, validated by the caller).
void embed_rows(const WeightView& table, const int32_t* ids, int64_t n, float* x, cudaStream_t st);
// out = x / sqrt(mean(x^2) + eps) * w per row; out may alias x.
void rmsnorm(const float* x, const float* w, float eps, float* out, int64_t rows, int64_t cols, cudaStream_t st);
// RoPE in place on x(rows, cols): heads of head_dim, first n_rot dims of each rotated;
// row t at position pos + t; angle of pair i: freq_scale * (theta_i / ff[i]) with theta_i by
// repeated float multiplication by theta_scale (ff: device, n_rot / 2 values, or nullptr = 1).
void rope(float* x, int64_t rows, int64_t cols, int64_t n_heads, int64_t head_dim, int64_t n_rot, float theta_scale, float freq_scale,
          const float* ff, bool neox, PosArg pos, cudaStream_t st);
// Converts k, v (rows, kv_dim) f32 into the cache rows pos .. pos + rows - 1 of one layer
// (k_layer / v_layer: (n_ctx, kv_dim) of `dt`).
void kv_store(Elem dt, void* k_layer, void* v_layer, const float* k, const float* v, int64_t rows, int64_t kv_dim, PosArg pos,
              cudaStream_t st);
void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t st);
// out = gelu_tanh(gate) * up (sb::gelu_tanh's formula).
void geglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t st);
void add_inplace(float* x, const float* y, int64_t n, cudaStream_t st);
// x *= s;  x = cap * tanh(x / cap).
void scale_inplace(float* x, float s, int64_t n, cudaStream_t st);
void softcap_inplace(float* x, float cap, int64_t n, cudaStream_t st);
// y(M, N) += bias(N) per row.
void add_bias(float* y, const float* bias, int64_t M, int64_t N, cudaStream_t st);
// n f32 values to f16 / bf16 (dt != F32), round to nearest even.
void f32_to_elem(const float* src, void* dst, Elem dt, int64_t n, cudaStream_t st);
// out[r] = argmax of row r of x(rows, cols): the lowest index among equal maxima; NaN never
// wins unless the row is all NaN (then 0).
void argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* out, cudaStream_t st);
// step[0] = pos, step[1] = token (the state a captured decode graph reads).
void set_step(int32_t* step, int32_t pos, int32_t token, cudaStream_t st);

// ---- gemv.cu ----
// y(M, N) = x(M, K) . W^T (+ bias) (+ y if accumulate) for M <= kGemvMaxRows, any WFmt, f32
// accumulation; one warp per output feature reads its weight row once for all M rows (block
// formats: each lane decodes one 32-element group at a time and applies it to every row).
void gemv(const WeightView& w, const float* x, int64_t M, float* y, const float* bias, bool accumulate, cudaStream_t st);
// Dense copy of the whole weight, (N, K) row-major, as out_dt (f32, f16 or bf16), values
// identical to the host's dequantize_row (then rounded to out_dt).
void dequantize(const WeightView& w, void* out, Elem out_dt, cudaStream_t st);

// ---- int8.cu (WeightFormat::Int8PerChannel) ----
// int8 weights: (N, K) values in [-127, 127], rows `ld` bytes apart (a multiple of 16, zero
// padded past K), one f32 scale per row: W[n][k] = scales[n] * data[n * ld + k].
struct Int8View {
  const int8_t* data = nullptr;
  const float* scales = nullptr;
  int64_t rows = 0;  // N
  int64_t cols = 0;  // K
  int64_t ld = 0;
};
// Per-token quantization of x(M, K) into q (M rows of ldq bytes, zero padded) and d (M scales),
// bit-identical to sb::quantize_row_s8.
void quantize_rows_s8(const float* x, int64_t M, int64_t K, int64_t ldq, int8_t* q, float* d, cudaStream_t st);
// y(M, N) = d[t] * scales[n] * (exact int32 sum_k q[t][k] * w[n][k]) (+ bias) (+ y if
// accumulate), any M; ldq must equal w.ld. Reads each weight row once per 8 tokens.
void gemm_s8(const Int8View& w, const int8_t* q, const float* d, int64_t ldq, int64_t M, float* y, const float* bias, bool accumulate,
             cudaStream_t st);
// The same product for M <= kGemvMaxRows in one launch (each block quantizes x itself, with
// identical results). Returns false without launching when x does not fit the 48 KiB of shared
// memory (M * w.ld bytes), so the caller falls back to quantize_rows_s8 + gemm_s8.
bool gemv_s8_fused(const Int8View& w, const float* x, int64_t M, float* y, const float* bias, bool accumulate, cudaStream_t st);
// x(n, K) = dequantized rows ids[t] of an int8 table (ids validated by the caller).
void embed_rows_s8(const Int8View& w, const int32_t* ids, int64_t n, float* x, cudaStream_t st);

// ---- attention.cu ----
struct AttnArgs {
  Elem kv_type = Elem::F32;
  const float* q = nullptr;       // (T, n_head * head_dim)
  const void* k_layer = nullptr;  // (n_ctx, kv_dim) of kv_type
  const void* v_layer = nullptr;
  float* out = nullptr;  // (T, n_head * head_dim)
  int64_t T = 0;
  int64_t n_ctx = 0;
  int64_t kv_dim = 0;
  int64_t n_head = 0;
  int64_t group = 1;  // n_head / n_head_kv
  int64_t head_dim = 0;
  float scale = 1.0f;    // AttentionShape::kq_scale()
  float softcap = 0.0f;  // > 0: s = softcap * tanh(s / softcap)
  int64_t window = 0;    // > 0: query at p sees keys p - window + 1 .. p
  PosArg pos0;           // position of query row 0
};
// Call once per process before the attention launchers (raises the shared-memory limit).
void attention_init();
// Causal attention for T >= 1 query rows (tiled; used for prefill).
void attention_prefill(const AttnArgs& a, cudaStream_t st);

// Split-K ("flash-decoding") attention for T == 1. The context is cut into chunks of
// decode_chunk(n_ctx) positions; n_split blocks per head each handle one chunk (chunks past
// the current position do nothing), so a graph captured with n_split = decode_splits(n_ctx)
// works at every position. Scratch (device, floats): scores n_head * n_ctx, ml n_head *
// n_split * 2, partial n_head * n_split * head_dim.
struct DecodeScratch {
  float* scores = nullptr;
  float* ml = nullptr;
  float* partial = nullptr;
};
int64_t decode_chunk(int64_t n_ctx);
int64_t decode_splits(int64_t n_ctx);
void attention_decode(const AttnArgs& a, int64_t n_split, const DecodeScratch& s, cudaStream_t st);

}  // namespace sb::cuda
