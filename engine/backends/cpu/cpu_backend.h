// CpuBackend: the optimized CPU backend. Matrix products with more than a few rows (prompt
// processing) go through oneDNN matmul primitives, created once per shape and cached, with a
// run-time row count; decode-sized products (<= 8 rows) use this project's AVX2 kernels that
// read each weight row once (memory-bound). Weights:
//   - f32 weights are used in place from the model file's mmap (oneDNN's plain "ba" layout
//     equals GGUF's); with repack=true they are reordered once at load into the layout oneDNN
//     prefers for the shape.
//   - f16 / bf16 / q8_0 / q4_0 weights stay in place: decode reads them directly in the AVX2
//     kernels; prefill dequantizes ~512 KiB tiles of rows and multiplies each with oneDNN f32
//     (SPARKBENCH_CPU_QPREFILL=avx2_tiles|expand select the measured alternatives).
//   - int8 weights (WeightFormat::Int8PerChannel, compression variant "int8"): activations are
//     quantized per token, products are exact integer sums: this project's AVX2 kernel
//     (vpmaddubsw/vpmaddwd) for decode, and for prefill too unless the CPU has VNNI, where
//     oneDNN's u8 x s8 matmul is used (without VNNI oneDNN's int8 path saturates 16-bit sums).
//   - compute=bf16 reorders every weight once into oneDNN's bf16 layout and runs bf16 matmuls
//     with f32 accumulation (needs a CPU where oneDNN implements bf16 matmul, i.e. AVX-512;
//     elsewhere creation fails with a clear error).
// Threads: OpenMP with BackendOptions::threads (oneDNN shares the same OpenMP runtime).
// Attention: 16 or more query rows (prompt processing) run per head as two oneDNN matmuls (Q.K^T
// and P.V, blocks of 256 query rows) with the row path's roundings; fewer rows (decode) run a
// vectorized loop per row and head. Norms, RoPE and SwiGLU are vectorized loops parallel over rows.
#pragma once

#include <memory>

#include "engine/backends/backend.h"

namespace sb {
std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& opt);
}
