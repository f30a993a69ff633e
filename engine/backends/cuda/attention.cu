// Attention kernels of the CUDA backend: a tiled causal kernel for prefill (T >= 1) and a
// split-K "flash-decoding" kernel set for T = 1. See cuda_kernels.h for the contract.
//
// Numerics follow the ref backend exactly in structure (only summation order differs): the
// query is rounded to the cache type; s = (q . k) * scale in f32; softmax with the row maximum
// subtracted; each probability p = exp(s - max) / sum is rounded to the cache type *after*
// normalization and only then multiplied with V. Rounding after normalization needs the row's
// max and sum before any p . V product, so both kernels make two passes over the keys:
//   prefill: pass 1 computes a running (max, sum) per query row, pass 2 recomputes the scores
//            (same instructions, same values), forms p and accumulates p . V;
//   decode:  kernel 1 stores the scores of its chunk and the chunk's (max, sum); kernel 2
//            combines all chunks' (max, sum) into the row's, forms p for its chunk and writes a
//            partial p . V; kernel 3 adds the partials in chunk order.
// For an f32 cache rounding is the identity and the extra pass costs only arithmetic.
#include <algorithm>

#include "engine/backends/cuda/device_utils.cuh"

namespace sb::cuda {
namespace {

// ---------------------------------------------------------------- prefill
constexpr int kBQ = 16;           // query rows per block
constexpr int kBK = 32;           // keys per shared-memory tile (one per lane)
constexpr int kPrefillWarps = 4;  // each warp owns kBQ / kPrefillWarps query rows
constexpr int kRowsPerWarp = kBQ / kPrefillWarps;
constexpr int kDPerLane = kMaxHeadDim / 32;

size_t prefill_smem_bytes(int64_t D) { return size_t(kBQ * D + kBK * (D + 1) + kBK * D + kPrefillWarps * kBK) * sizeof(float); }

// s, or softcap * tanh(s / softcap) when softcap > 0 (gemma2's attention logit soft-cap).
__device__ __forceinline__ float softcapped(float s, float softcap) { return softcap > 0.0f ? softcap * tanhf(s / softcap) : s; }

__device__ __forceinline__ float dot_smem(const float* a, const float* b, int D) {
  float acc = 0.0f;
  for (int d = 0; d < D; ++d) acc += a[d] * b[d];
  return acc;
}

// Loads keys [kt, kt + kBK) of kv head hk (those < n_keys) into a tile of row stride `stride`.
template <class T>
__device__ __forceinline__ void load_tile(float* tile, int stride, const T* cache, int64_t kv_dim, int hk, int D, int kt, int n_keys) {
  for (int i = threadIdx.x; i < kBK * D; i += blockDim.x) {
    const int kk = i / D, d = i % D, key = kt + kk;
    if (key < n_keys) tile[kk * stride + d] = to_f32(cache[int64_t(key) * kv_dim + int64_t(hk) * D + d]);
  }
}

// grid (n_head, ceil(T / kBQ)), block kPrefillWarps * 32, dynamic smem prefill_smem_bytes(D).
template <class T>
__global__ void __launch_bounds__(kPrefillWarps * 32)
    attn_prefill_kernel(const float* q, const T* kc, const T* vc, float* out, int T_rows, int64_t kv_dim, int group, int D, float scale,
                        float softcap, int window, PosArg pos_arg) {
  extern __shared__ float smem[];
  float* Qs = smem;                // kBQ x D, rounded to T
  float* Ks = Qs + kBQ * D;        // kBK x (D + 1) (padded: lane-per-key dot products hit distinct banks)
  float* Vs = Ks + kBK * (D + 1);  // kBK x D
  float* Ps = Vs + kBK * D;        // kPrefillWarps x kBK probabilities
  const int h = blockIdx.x, hk = h / group, t0 = blockIdx.y * kBQ;
  const int tq = min(kBQ, T_rows - t0);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int pos0 = pos_of(pos_arg);
  const int64_t q_stride = int64_t(gridDim.x) * D;  // q and out rows hold n_head * D values

  for (int i = threadIdx.x; i < tq * D; i += blockDim.x) {
    const int r = i / D, d = i % D;
    Qs[i] = round_to<T>(q[int64_t(t0 + r) * q_stride + int64_t(h) * D + d]);
  }
  const int n_keys = pos0 + t0 + tq;  // the block's last query row sees keys 0 .. n_keys - 1

  // pass 1: per lane running (max, sum) over the keys it scores, per owned row
  float m[kRowsPerWarp], l[kRowsPerWarp];
#pragma unroll
  for (int j = 0; j < kRowsPerWarp; ++j) m[j] = -INFINITY, l[j] = 0.0f;
  for (int kt = 0; kt < n_keys; kt += kBK) {
    __syncthreads();  // Qs written / previous tile consumed
    load_tile(Ks, D + 1, kc, kv_dim, hk, D, kt, n_keys);
    __syncthreads();
    const int key = kt + lane;
#pragma unroll
    for (int j = 0; j < kRowsPerWarp; ++j) {
      const int r = warp + j * kPrefillWarps;
      if (r < tq && key <= pos0 + t0 + r && (window == 0 || key > pos0 + t0 + r - window)) {
        const float s = softcapped(dot_smem(Qs + r * D, Ks + lane * (D + 1), D) * scale, softcap);
        const float mn = fmaxf(m[j], s);
        l[j] = l[j] * expf(m[j] - mn) + expf(s - mn);
        m[j] = mn;
      }
    }
  }
  // row (max, sum) across lanes; a lane that scored nothing has l = 0 and m = -inf
#pragma unroll
  for (int j = 0; j < kRowsPerWarp; ++j) {
    const float M = warp_max(m[j]);
    const float part = l[j] > 0.0f ? l[j] * expf(m[j] - M) : 0.0f;
    l[j] = warp_sum(part);
    m[j] = M;
  }

  // pass 2: p = round(exp(s - max) / sum), o += p . V
  float o[kRowsPerWarp][kDPerLane];
#pragma unroll
  for (int j = 0; j < kRowsPerWarp; ++j)
#pragma unroll
    for (int i = 0; i < kDPerLane; ++i) o[j][i] = 0.0f;
  float* P = Ps + warp * kBK;
  for (int kt = 0; kt < n_keys; kt += kBK) {
    __syncthreads();
    load_tile(Ks, D + 1, kc, kv_dim, hk, D, kt, n_keys);
    load_tile(Vs, D, vc, kv_dim, hk, D, kt, n_keys);
    __syncthreads();
    const int key = kt + lane;
#pragma unroll
    for (int j = 0; j < kRowsPerWarp; ++j) {
      const int r = warp + j * kPrefillWarps;
      if (r >= tq) continue;  // warp-uniform
      const int qpos = pos0 + t0 + r;
      float p = 0.0f;
      if (key <= qpos && (window == 0 || key > qpos - window)) {
        const float s = softcapped(dot_smem(Qs + r * D, Ks + lane * (D + 1), D) * scale, softcap);
        p = round_to<T>(expf(s - m[j]) / l[j]);
      }
      P[lane] = p;
      __syncwarp();
      const int nk = min(kBK, qpos - kt + 1);
      for (int kk = 0; kk < nk; ++kk) {
        const float pk = P[kk];
#pragma unroll
        for (int i = 0; i < kDPerLane; ++i) {
          const int d = lane + 32 * i;
          if (d < D) o[j][i] += pk * Vs[kk * D + d];
        }
      }
      __syncwarp();
    }
  }
#pragma unroll
  for (int j = 0; j < kRowsPerWarp; ++j) {
    const int r = warp + j * kPrefillWarps;
    if (r >= tq) continue;
#pragma unroll
    for (int i = 0; i < kDPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < D) out[int64_t(t0 + r) * q_stride + int64_t(h) * D + d] = o[j][i];
    }
  }
}

// ---------------------------------------------------------------- decode
constexpr int kScoreThreads = 128;
constexpr int kValueThreads = 256;  // >= kMaxHeadDim

// q . k for one key row (k: D elements of T). VEC8: D % 8 == 0 (16-byte loads).
template <class T, bool VEC8>
__device__ __forceinline__ float dot_key(const float* qs, const T* k, int D) {
  float acc = 0.0f;
  if constexpr (VEC8) {
    for (int d = 0; d < D; d += 8) {
      float kv[8];
      load8(k + d, kv);
#pragma unroll
      for (int e = 0; e < 8; ++e) acc += qs[d + e] * kv[e];
    }
  } else {
    for (int d = 0; d < D; ++d) acc += qs[d] * to_f32(k[d]);
  }
  return acc;
}

// Kernel 1. grid (n_head, n_split), block kScoreThreads. Scores of chunk j for head h into
// scores[h * n_ctx + p]; the chunk's max and sum of exp(s - max) into ml[(h * n_split + j) * 2].
template <class T, bool VEC8>
__global__ void __launch_bounds__(kScoreThreads)
    attn_decode_scores(const float* q, const T* kc, float* scores, float* ml, int64_t n_ctx, int64_t kv_dim, int group, int D, float scale,
                       float softcap, int window, int chunk, PosArg pos_arg) {
  __shared__ float qs[kMaxHeadDim];
  const int h = blockIdx.x, j = blockIdx.y, hk = h / group;
  const int n_kv = pos_of(pos_arg) + 1;
  const int lo = window > 0 ? max(0, n_kv - window) : 0;  // first visible key
  const int p0 = max(j * chunk, lo), p1 = min(j * chunk + chunk, n_kv);
  for (int d = threadIdx.x; d < D; d += blockDim.x) qs[d] = round_to<T>(q[int64_t(h) * D + d]);
  __syncthreads();
  float* srow = scores + int64_t(h) * n_ctx;
  float mx = -INFINITY;
  for (int p = p0 + threadIdx.x; p < p1; p += blockDim.x) {
    const float s = softcapped(dot_key<T, VEC8>(qs, kc + int64_t(p) * kv_dim + int64_t(hk) * D, D) * scale, softcap);
    srow[p] = s;
    mx = fmaxf(mx, s);
  }
  mx = block_max(mx);
  float sum = 0.0f;
  if (p0 < p1)
    for (int p = p0 + threadIdx.x; p < p1; p += blockDim.x) sum += expf(srow[p] - mx);  // this thread's own scores
  sum = block_sum(sum);
  if (threadIdx.x == 0) {
    float* o = ml + (int64_t(h) * gridDim.y + j) * 2;
    o[0] = mx;
    o[1] = sum;
  }
}

// Kernel 2. grid (n_head, n_split), block kValueThreads. Row max/sum from all chunks, then
// partial[(h * n_split + j) * D + d] = sum over the chunk of round(p) * v[d] (0 for an empty chunk).
template <class T>
__global__ void __launch_bounds__(kValueThreads)
    attn_decode_values(const float* scores, const float* ml, const T* vc, float* partial, int64_t n_ctx, int64_t kv_dim, int group, int D,
                       int window, int chunk, PosArg pos_arg) {
  __shared__ float row_m, row_l;
  __shared__ float P[kValueThreads];
  __shared__ float red[kValueThreads];
  const int h = blockIdx.x, j = blockIdx.y, hk = h / group, ns = gridDim.y;
  const int n_kv = pos_of(pos_arg) + 1;
  const int lo = window > 0 ? max(0, n_kv - window) : 0;  // first visible key
  const int p0 = max(j * chunk, lo), p1 = min(j * chunk + chunk, n_kv);
  if (threadIdx.x == 0) {
    const float* r = ml + int64_t(h) * ns * 2;
    float M = -INFINITY;
    for (int c = 0; c < ns; ++c)
      if (r[2 * c + 1] > 0.0f) M = fmaxf(M, r[2 * c]);
    float L = 0.0f;
    for (int c = 0; c < ns; ++c)
      if (r[2 * c + 1] > 0.0f) L += r[2 * c + 1] * expf(r[2 * c] - M);
    row_m = M;
    row_l = L;
  }
  __syncthreads();
  const float M = row_m, L = row_l;
  const int n_pg = blockDim.x / D;  // position groups; thread (pg, d)
  const int pg = threadIdx.x / D, d = threadIdx.x % D;
  const bool active = pg < n_pg;
  const float* srow = scores + int64_t(h) * n_ctx;
  float acc = 0.0f;
  for (int base = p0; base < p1; base += blockDim.x) {  // block-uniform bounds
    const int nb = min(int(blockDim.x), p1 - base);
    if (int(threadIdx.x) < nb) P[threadIdx.x] = round_to<T>(expf(srow[base + threadIdx.x] - M) / L);
    __syncthreads();
    if (active)
      for (int kk = pg; kk < nb; kk += n_pg) acc += P[kk] * to_f32(vc[int64_t(base + kk) * kv_dim + int64_t(hk) * D + d]);
    __syncthreads();
  }
  red[threadIdx.x] = active ? acc : 0.0f;
  __syncthreads();
  if (int(threadIdx.x) < D) {
    float s = 0.0f;
    for (int g = 0; g < n_pg; ++g) s += red[g * D + threadIdx.x];
    partial[(int64_t(h) * ns + j) * D + threadIdx.x] = s;
  }
}

// Kernel 3. grid n_head, block >= D: out[h * D + d] = sum over chunks of the partials, in order.
__global__ void attn_decode_combine(const float* partial, float* out, int n_split, int D) {
  const int h = blockIdx.x, d = threadIdx.x;
  if (d >= D) return;
  float s = 0.0f;
  for (int c = 0; c < n_split; ++c) s += partial[(int64_t(h) * n_split + c) * D + d];
  out[int64_t(h) * D + d] = s;
}

template <class T>
void prefill_typed(const AttnArgs& a, cudaStream_t st) {
  const dim3 grid(unsigned(a.n_head), unsigned((a.T + kBQ - 1) / kBQ));
  attn_prefill_kernel<T><<<grid, kPrefillWarps * 32, prefill_smem_bytes(a.head_dim), st>>>(
      a.q, static_cast<const T*>(a.k_layer), static_cast<const T*>(a.v_layer), a.out, int(a.T), a.kv_dim, int(a.group), int(a.head_dim),
      a.scale, a.softcap, int(a.window), a.pos0);
  SB_CUDA_CHECK_LAUNCH();
}

template <class T>
void decode_typed(const AttnArgs& a, int64_t n_split, const DecodeScratch& s, cudaStream_t st) {
  const dim3 grid(unsigned(a.n_head), unsigned(n_split));
  const int chunk = int(decode_chunk(a.n_ctx));
  const T* kc = static_cast<const T*>(a.k_layer);
  const T* vc = static_cast<const T*>(a.v_layer);
  if (a.head_dim % 8 == 0)
    attn_decode_scores<T, true><<<grid, kScoreThreads, 0, st>>>(a.q, kc, s.scores, s.ml, a.n_ctx, a.kv_dim, int(a.group), int(a.head_dim),
                                                                a.scale, a.softcap, int(a.window), chunk, a.pos0);
  else
    attn_decode_scores<T, false><<<grid, kScoreThreads, 0, st>>>(a.q, kc, s.scores, s.ml, a.n_ctx, a.kv_dim, int(a.group), int(a.head_dim),
                                                                 a.scale, a.softcap, int(a.window), chunk, a.pos0);
  SB_CUDA_CHECK_LAUNCH();
  attn_decode_values<T><<<grid, kValueThreads, 0, st>>>(s.scores, s.ml, vc, s.partial, a.n_ctx, a.kv_dim, int(a.group), int(a.head_dim),
                                                        int(a.window), chunk, a.pos0);
  SB_CUDA_CHECK_LAUNCH();
  const int th = int((a.head_dim + 31) / 32 * 32);
  attn_decode_combine<<<unsigned(a.n_head), th, 0, st>>>(s.partial, a.out, int(n_split), int(a.head_dim));
  SB_CUDA_CHECK_LAUNCH();
}

void check_args(const AttnArgs& a) {
  if (a.head_dim < 1 || a.head_dim > kMaxHeadDim) fail("cuda attention: head_dim ", a.head_dim, " is not supported (1..", kMaxHeadDim, ")");
  if (a.n_head < 1 || a.n_head > 65535 || a.group < 1) fail("cuda attention: bad head counts");
  if (a.n_ctx > 0x7fffffff) fail("cuda attention: context too long");
  if (a.window < 0 || a.window > 0x7fffffff) fail("cuda attention: bad window ", a.window);
}

}  // namespace

int64_t decode_chunk(int64_t n_ctx) {
  // about 32 chunks over the whole context, at least 64 positions each, a multiple of 64
  const int64_t per = (n_ctx + 31) / 32;
  return std::max<int64_t>(64, (per + 63) / 64 * 64);
}

int64_t decode_splits(int64_t n_ctx) { return (n_ctx + decode_chunk(n_ctx) - 1) / decode_chunk(n_ctx); }

void attention_init() {
  const int bytes = int(prefill_smem_bytes(kMaxHeadDim));
  SB_CUDA_CHECK(cudaFuncSetAttribute(attn_prefill_kernel<float>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  SB_CUDA_CHECK(cudaFuncSetAttribute(attn_prefill_kernel<__half>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  SB_CUDA_CHECK(cudaFuncSetAttribute(attn_prefill_kernel<__nv_bfloat16>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

void attention_prefill(const AttnArgs& a, cudaStream_t st) {
  check_args(a);
  if (a.T < 1) return;
  switch (a.kv_type) {
    case Elem::F32:
      prefill_typed<float>(a, st);
      break;
    case Elem::F16:
      prefill_typed<__half>(a, st);
      break;
    case Elem::BF16:
      prefill_typed<__nv_bfloat16>(a, st);
      break;
  }
}

void attention_decode(const AttnArgs& a, int64_t n_split, const DecodeScratch& s, cudaStream_t st) {
  check_args(a);
  if (a.T != 1) fail("cuda attention_decode: ", a.T, " query rows (1 expected)");
  if (n_split < 1 || n_split > decode_splits(a.n_ctx) || n_split > 65535) fail("cuda attention_decode: bad split count ", n_split);
  switch (a.kv_type) {
    case Elem::F32:
      decode_typed<float>(a, n_split, s, st);
      break;
    case Elem::F16:
      decode_typed<__half>(a, n_split, s, st);
      break;
    case Elem::BF16:
      decode_typed<__nv_bfloat16>(a, n_split, s, st);
      break;
  }
}

}  // namespace sb::cuda
