// The CUDA backend: every op of engine/backends/backend.h on one NVIDIA GPU (sm_80 or newer).
//
// Memory: tensors, weights and KV caches live in device memory from plain cudaMalloc (never
// managed memory); weights are uploaded once at load. All work runs asynchronously on one
// stream per backend instance; download(), argmax_rows() and synchronize() wait for it.
// Matmuls: a hand-written GEMV for M <= 8 rows (decode), cuBLAS GemmEx above (f32 without TF32
// under ComputeType::F32; bf16 tensor cores with f32 accumulation under ComputeType::BF16).
// int8 weights (WeightFormat::Int8PerChannel, the "int8" variant): activations are quantized per
// token on the device exactly as sb::quantize_row_s8, and products are exact int32 __dp4a sums
// (int8.cu, any row count, also inside recorded decode steps), scaled per token and channel.
// Decode steps can be recorded once as a CUDA graph and replayed (Backend::run_step_graph);
// SPARKBENCH_CUDA_GRAPHS=0 turns that off. Failures (no device, out of memory, CUDA or cuBLAS
// errors) throw sb::Error with one line naming the call, file:line and the library's message.
// The backend is built as a plugin, libsparkbench-cuda.so (see plugin_abi.h), so that CPU-only
// runs do not carry cuBLAS; the functions below (engine/backends/cuda_plugin.cc) load it on
// first use. Only engine/backends/registry.cc and CUDA-specific tools include this header; it
// pulls in no CUDA headers.
#pragma once

#include <memory>
#include <string>

#include "engine/backends/backend.h"

namespace sb {

// Throws sb::Error "cuda: no CUDA device available (cudaGetDeviceCount: ...)" when there is no
// usable device, "cuda: the CUDA backend plugin ... was not found (...)" or "cuda: cannot load
// the CUDA backend plugin: <dlerror>" when the plugin is missing or broken, or "cuda: device N not present ..." for a bad
// BackendOptions::device.
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& opt);

// Whether this process can see at least one CUDA device (probed once, then cached). When not,
// `why` (if given) receives the reason, e.g. "cudaGetDeviceCount: no CUDA-capable device is detected".
bool cuda_device_available(std::string* why = nullptr);

// The cudaStream_t (as void*) a CUDA backend runs its work on, or nullptr for other backends;
// for tools that time work with CUDA events (benchmarks/kernels_cuda.cc).
void* cuda_stream_of(Backend& b);

}  // namespace sb
