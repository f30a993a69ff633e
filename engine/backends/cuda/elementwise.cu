// Element-wise and row-wise kernels of the CUDA backend: embed, rmsnorm, rope, kv_store,
// swiglu, add, bias, conversions, argmax, decode-step state. Semantics follow the ref backend
// (engine/backends/ref/ref_backend.cc) operation for operation; see cuda_kernels.h.
#include <cfloat>
#include <climits>

#include "engine/backends/cuda/block_decode.cuh"

namespace sb::cuda {
namespace {

template <WFmt F>
__global__ void embed_kernel(const void* data, const uint16_t* scales, int64_t V, int64_t C, const int32_t* ids, float* x) {
  const int64_t t = blockIdx.x;
  const int32_t id = ids[t];
  float* row = x + t * C;
  if (id < 0 || id >= V) {  // the host validates ids; this only keeps a bad id from reading out of bounds
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) row[c] = NAN;
    return;
  }
  if constexpr (is_block_fmt(F)) {  // one 32-element group per thread and step
    const uint8_t* src = static_cast<const uint8_t*>(data) + id * block_row_bytes<F>(C);
    for (int64_t g = threadIdx.x; g < C / 32; g += blockDim.x) {
      float w[32];
      decode_group<F>(src, g, w);
#pragma unroll
      for (int j = 0; j < 32; ++j) row[32 * g + j] = w[j];
    }
  } else {
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) row[c] = weight_at<F>(data, scales, C, id, c);
  }
}

// One block per row: sum of squares (f32), then out = x * scale * w.
__global__ void rmsnorm_kernel(const float* x, const float* w, float eps, float* out, int64_t C) {
  const float* xr = x + blockIdx.x * C;
  float* o = out + blockIdx.x * C;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss);
  const float scale = 1.0f / sqrtf(ss / float(C) + eps);
  // Each thread rewrites only the elements it read, so out may alias x.
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) o[i] = xr[i] * scale * w[i];
}

// One block per row; thread items are (head, pair i). The angle of pair i is pos multiplied
// i times by theta_scale in float, exactly the ref backend's running product.
__global__ void rope_kernel(float* x, int64_t cols, int64_t n_heads, int64_t head_dim, int64_t half, float theta_scale, float freq_scale,
                            const float* ff, bool neox, PosArg pos) {
  const int64_t t = blockIdx.x;
  const float p = float(pos_of(pos) + t);
  float* row = x + t * cols;
  for (int64_t idx = threadIdx.x; idx < n_heads * half; idx += blockDim.x) {
    const int64_t h = idx / half, i = idx % half;
    float theta = p;
    for (int64_t j = 0; j < i; ++j) theta *= theta_scale;
    const float angle = freq_scale * (ff ? theta / ff[i] : theta);
    float sn, cs;
    sincosf(angle, &sn, &cs);
    float* v = row + h * head_dim;
    const int64_t a = neox ? i : 2 * i;
    const int64_t b = neox ? i + half : 2 * i + 1;
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * cs - x1 * sn;
    v[b] = x0 * sn + x1 * cs;
  }
}

template <class T>
__global__ void kv_store_kernel(T* kc, T* vc, const float* k, const float* v, int64_t kv_dim, PosArg pos) {
  const int64_t t = blockIdx.x;
  const int64_t dst = (int64_t(pos_of(pos)) + t) * kv_dim;
  for (int64_t i = threadIdx.x; i < kv_dim; i += blockDim.x) {
    kc[dst + i] = from_f32<T>(k[t * kv_dim + i]);
    vc[dst + i] = from_f32<T>(v[t * kv_dim + i]);
  }
}

__global__ void swiglu_kernel(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gv = g[i];
    out[i] = gv / (1.0f + expf(-gv)) * u[i];
  }
}

__global__ void geglu_kernel(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gv = g[i];
    out[i] = 0.5f * gv * (1.0f + tanhf(0.79788456080286535587989211986876f * gv * (1.0f + 0.044715f * gv * gv))) * u[i];
  }
}

__global__ void scale_kernel(float* x, float s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) x[i] *= s;
}

__global__ void softcap_kernel(float* x, float cap, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = cap * tanhf(x[i] / cap);
}

__global__ void add_kernel(float* x, const float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) x[i] += y[i];
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t M, int64_t N) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < M * N; i += int64_t(gridDim.x) * blockDim.x) y[i] += bias[i % N];
}

template <class T>
__global__ void f32_to_elem_kernel(const float* src, T* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = from_f32<T>(src[i]);
}

// (value, index) pairs: larger value wins, equal values go to the lower index.
__device__ __forceinline__ bool better(float v, int32_t i, float bv, int32_t bi) { return v > bv || (v == bv && i < bi); }

__global__ void argmax_kernel(const float* x, int64_t cols, int32_t* out) {
  const float* row = x + blockIdx.x * cols;
  float bv = -INFINITY;
  int32_t bi = INT_MAX;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float v = row[i];
    if (v != v) continue;  // NaN never wins (an all-NaN row gives 0, as the host loop)
    if (better(v, int32_t(i), bv, bi)) bv = v, bi = int32_t(i);
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (better(ov, oi, bv, bi)) bv = ov, bi = oi;
  }
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  if (lane == 0) sv[warp] = bv, si[warp] = bi;
  __syncthreads();
  if (warp == 0) {
    bv = lane < nw ? sv[lane] : -INFINITY;
    bi = lane < nw ? si[lane] : INT_MAX;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (better(ov, oi, bv, bi)) bv = ov, bi = oi;
    }
    if (lane == 0) out[blockIdx.x] = bi == INT_MAX ? 0 : bi;
  }
}

__global__ void set_step_kernel(int32_t* step, int32_t pos, int32_t token) {
  step[0] = pos;
  step[1] = token;
}

int row_threads(int64_t cols) { return cols >= 256 ? 256 : (cols >= 128 ? 128 : (cols >= 64 ? 64 : 32)); }

}  // namespace

void embed_rows(const WeightView& w, const int32_t* ids, int64_t n, float* x, cudaStream_t st) {
  if (n <= 0) return;
  with_fmt(w.fmt, [&](auto tag) {
    constexpr WFmt F = decltype(tag)::value;
    const int th = row_threads(is_block_fmt(F) ? w.cols / 32 : w.cols);
    embed_kernel<F><<<unsigned(n), th, 0, st>>>(w.data, w.scales, w.rows, w.cols, ids, x);
  });
  SB_CUDA_CHECK_LAUNCH();
}

void rmsnorm(const float* x, const float* w, float eps, float* out, int64_t rows, int64_t cols, cudaStream_t st) {
  if (rows <= 0) return;
  rmsnorm_kernel<<<unsigned(rows), row_threads(cols), 0, st>>>(x, w, eps, out, cols);
  SB_CUDA_CHECK_LAUNCH();
}

void rope(float* x, int64_t rows, int64_t cols, int64_t n_heads, int64_t head_dim, int64_t n_rot, float theta_scale, float freq_scale,
          const float* ff, bool neox, PosArg pos, cudaStream_t st) {
  const int64_t half = n_rot / 2;
  if (rows <= 0 || half <= 0) return;
  rope_kernel<<<unsigned(rows), row_threads(n_heads * half), 0, st>>>(x, cols, n_heads, head_dim, half, theta_scale, freq_scale, ff, neox,
                                                                      pos);
  SB_CUDA_CHECK_LAUNCH();
}

void kv_store(Elem dt, void* k_layer, void* v_layer, const float* k, const float* v, int64_t rows, int64_t kv_dim, PosArg pos,
              cudaStream_t st) {
  if (rows <= 0) return;
  const int th = row_threads(kv_dim);
  switch (dt) {
    case Elem::F32:
      kv_store_kernel<float><<<unsigned(rows), th, 0, st>>>(static_cast<float*>(k_layer), static_cast<float*>(v_layer), k, v, kv_dim, pos);
      break;
    case Elem::F16:
      kv_store_kernel<__half>
          <<<unsigned(rows), th, 0, st>>>(static_cast<__half*>(k_layer), static_cast<__half*>(v_layer), k, v, kv_dim, pos);
      break;
    case Elem::BF16:
      kv_store_kernel<__nv_bfloat16>
          <<<unsigned(rows), th, 0, st>>>(static_cast<__nv_bfloat16*>(k_layer), static_cast<__nv_bfloat16*>(v_layer), k, v, kv_dim, pos);
      break;
  }
  SB_CUDA_CHECK_LAUNCH();
}

namespace {
unsigned ew_blocks(int64_t n) {
  const unsigned b = blocks_for(n, 256);
  return b > 65535u ? 65535u : b;  // grid-stride loops cover the rest
}
}  // namespace

void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t st) {
  if (n <= 0) return;
  swiglu_kernel<<<ew_blocks(n), 256, 0, st>>>(gate, up, out, n);
  SB_CUDA_CHECK_LAUNCH();
}

void geglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t st) {
  if (n <= 0) return;
  geglu_kernel<<<ew_blocks(n), 256, 0, st>>>(gate, up, out, n);
  SB_CUDA_CHECK_LAUNCH();
}

void scale_inplace(float* x, float s, int64_t n, cudaStream_t st) {
  if (n <= 0) return;
  scale_kernel<<<ew_blocks(n), 256, 0, st>>>(x, s, n);
  SB_CUDA_CHECK_LAUNCH();
}

void softcap_inplace(float* x, float cap, int64_t n, cudaStream_t st) {
  if (n <= 0) return;
  softcap_kernel<<<ew_blocks(n), 256, 0, st>>>(x, cap, n);
  SB_CUDA_CHECK_LAUNCH();
}

void add_inplace(float* x, const float* y, int64_t n, cudaStream_t st) {
  if (n <= 0) return;
  add_kernel<<<ew_blocks(n), 256, 0, st>>>(x, y, n);
  SB_CUDA_CHECK_LAUNCH();
}

void add_bias(float* y, const float* bias, int64_t M, int64_t N, cudaStream_t st) {
  if (M * N <= 0) return;
  add_bias_kernel<<<ew_blocks(M * N), 256, 0, st>>>(y, bias, M, N);
  SB_CUDA_CHECK_LAUNCH();
}

void f32_to_elem(const float* src, void* dst, Elem dt, int64_t n, cudaStream_t st) {
  if (n <= 0) return;
  switch (dt) {
    case Elem::F32:
      SB_CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * 4, cudaMemcpyDeviceToDevice, st));
      return;
    case Elem::F16:
      f32_to_elem_kernel<__half><<<ew_blocks(n), 256, 0, st>>>(src, static_cast<__half*>(dst), n);
      break;
    case Elem::BF16:
      f32_to_elem_kernel<__nv_bfloat16><<<ew_blocks(n), 256, 0, st>>>(src, static_cast<__nv_bfloat16*>(dst), n);
      break;
  }
  SB_CUDA_CHECK_LAUNCH();
}

void argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* out, cudaStream_t st) {
  if (rows <= 0) return;
  argmax_kernel<<<unsigned(rows), 1024, 0, st>>>(x, cols, out);
  SB_CUDA_CHECK_LAUNCH();
}

void set_step(int32_t* step, int32_t pos, int32_t token, cudaStream_t st) {
  set_step_kernel<<<1, 1, 0, st>>>(step, pos, token);
  SB_CUDA_CHECK_LAUNCH();
}

}  // namespace sb::cuda
