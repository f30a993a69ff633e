// Microbenchmarks of the quantized weight formats on the cpu backend (kernels_quant.cc).
#pragma once

namespace sb::bench {
// Registers quant/* benchmarks (a small subset when `short_mode`); nothing without oneDNN.
void register_quant_kernels(bool short_mode, int threads);
}  // namespace sb::bench
