// CUDA op microbenchmarks for sparkbench-kernels (benchmarks/kernels_cuda.cc, built only when
// the CUDA backend is). register_cuda_kernels() adds "cuda/..." benchmarks at the Codex-Spark
// shapes, timed with CUDA events on the backend's stream (manual time); on a machine without a
// GPU it registers nothing and prints one note on stderr.
#pragma once

namespace sb::bench {

#if SPARKBENCH_KERNELS_CUDA
void register_cuda_kernels(bool short_run);
#else
inline void register_cuda_kernels(bool) {}
#endif

}  // namespace sb::bench
