// Error checks for CUDA runtime and cuBLAS calls in the CUDA backend (host code only).
//
// SB_CUDA_CHECK(call) and SB_CUBLAS_CHECK(call) evaluate `call` once; on failure they throw
// sb::Error with one line naming the call text, file:line and the library's own message, e.g.
//   cuda: cudaMalloc(&p, bytes) failed at engine/backends/cuda/cuda_backend.cc:57: out of memory (cudaErrorMemoryAllocation)
// SB_CUDA_CHECK_LAUNCH() checks the last kernel launch (cudaGetLastError) the same way.
// Nothing here synchronizes: errors of asynchronous work surface at the next checked call.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "engine/core/error.h"

namespace sb::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  fail("cuda: ", call, " failed at ", file, ":", line, ": ", cudaGetErrorString(e), " (", cudaGetErrorName(e), ")");
}

inline const char* cublas_status_text(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED (library not initialized)";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED (resource allocation failed)";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE (unsupported value or parameter)";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH (feature absent on this device)";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR (GPU memory access failed)";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED (kernel failed to run)";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR (internal operation failed)";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED (functionality not supported)";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "unknown cuBLAS status";
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  fail("cuda: ", call, " failed at ", file, ":", line, ": ", cublas_status_text(s), " (status ", int(s), ")");
}

}  // namespace sb::cuda

#define SB_CUDA_CHECK(call)                                                                                 \
  do {                                                                                                      \
    const cudaError_t sb_cuda_err_ = (call);                                                                \
    if (sb_cuda_err_ != cudaSuccess) ::sb::cuda::throw_cuda_error(sb_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define SB_CUBLAS_CHECK(call)                                                                                             \
  do {                                                                                                                    \
    const cublasStatus_t sb_cublas_st_ = (call);                                                                          \
    if (sb_cublas_st_ != CUBLAS_STATUS_SUCCESS) ::sb::cuda::throw_cublas_error(sb_cublas_st_, #call, __FILE__, __LINE__); \
  } while (0)

#define SB_CUDA_CHECK_LAUNCH() SB_CUDA_CHECK(cudaGetLastError())
