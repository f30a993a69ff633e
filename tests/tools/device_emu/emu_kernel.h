// Force-included into the rewritten .cu sources (tests/tools/device_emu/run.sh): CUDA device-code
// keywords and builtins for the CPU emulator (a block's threads run as coroutines, one block at
// a time; __shared__ becomes static storage, shared by the threads of the running block).
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <functional>
#include "cuda_runtime.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

namespace emu {
struct ThreadState;
uint3& cur_tid();
extern dim3 g_blockIdx, g_blockDim, g_gridDim;
void syncthreads();
void syncwarp();
float shfl_xor_f(float v, int o);
int32_t shfl_xor_i(int32_t v, int o);
float* dyn_smem();
void submit(const void* fn, dim3 grid, dim3 block, size_t smem, std::function<void()> body);
template <class K>
struct Launcher {
  K* k;
  dim3 g, b;
  size_t smem;
  template <class... A>
  void operator()(A... args) {
    K* fn = k;
    submit((const void*)k, g, b, smem, [fn, args...] { fn(args...); });
  }
};
template <class K>
Launcher<K> launch(K* k, dim3 g, dim3 b, size_t smem = 0, cudaStream_t = nullptr) {
  return Launcher<K>{k, g, b, smem};
}
}  // namespace emu

#define threadIdx (emu::cur_tid())
#define blockIdx (emu::g_blockIdx)
#define blockDim (emu::g_blockDim)
#define gridDim (emu::g_gridDim)
inline void __syncthreads() { emu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::syncwarp(); }
inline float __shfl_xor_sync(unsigned, float v, int o) { return emu::shfl_xor_f(v, o); }
inline int32_t __shfl_xor_sync(unsigned, int32_t v, int o) { return emu::shfl_xor_i(v, o); }
template <class T>
inline T __ldg(const T* p) {
  if (reinterpret_cast<uintptr_t>(p) % alignof(T) != 0) {
    std::fprintf(stderr, "EMU: misaligned %zu-byte __ldg at %p\n", sizeof(T), static_cast<const void*>(p));
    std::abort();
  }
  return *p;
}
// int8 and rounding intrinsics (int8.cu, block_decode.cuh)
inline int __dp4a(int a, int b, int c) {
  for (int i = 0; i < 4; ++i) c += int(int8_t(uint32_t(a) >> (8 * i))) * int(int8_t(uint32_t(b) >> (8 * i)));
  return c;
}
inline int __float2int_rn(float v) { return int(std::nearbyint(v)); }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
using std::isfinite;
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
