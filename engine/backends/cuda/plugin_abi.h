// The interface between sparkbench and its CUDA backend plugin (libsparkbench-cuda.so).
//
// Why a plugin: cuBLAS alone costs every process that links it about 150 MB of resident memory
// (libcublasLt's static data) and a slower start, whether or not a GPU is used. The CUDA backend
// is therefore a separately built shared module that engine/backends/cuda_plugin.cc loads with
// dlopen on first use (create_backend("cuda"), available_backends(), cuda_device_available());
// CPU-only runs never map it.
//
// The plugin exports exactly one C symbol, sparkbench_cuda_plugin_v1, returning a table of
// functions. Both sides are built from the same tree by the same compiler; the table carries
// its own size and sizeof(BackendOptions) so a stale plugin is refused with a clear error
// instead of being called with the wrong layout. The table's functions return failures as text;
// Backend methods throw sb::Error as on every backend (exceptions cross the boundary: both sides
// share libstdc++, which matches exception types by name).
#pragma once

#include <cstddef>
#include <string>

#include "engine/backends/backend.h"

namespace sb {

struct CudaPluginV1 {
  size_t table_size;            // sizeof(CudaPluginV1)
  size_t backend_options_size;  // sizeof(BackendOptions)
  // A new backend, or nullptr with *error set (one line, as sb::Error would carry).
  Backend* (*make_backend)(const BackendOptions& opt, std::string* error);
  // Whether a device is usable; when not, *why (if given) gets the reason.
  bool (*device_available)(std::string* why);
  // The backend's cudaStream_t as void*, or nullptr when `b` is not a CUDA backend.
  void* (*stream_of)(Backend& b);
};

}  // namespace sb

extern "C" const sb::CudaPluginV1* sparkbench_cuda_plugin_v1();
