// Machine peaks for roofline percentages: DRAM read bandwidth (a sum over a dram_bytes() buffer,
// all threads) and oneDNN's matmul throughput per data type at a large square
// shape. measure_peaks() runs each for about `seconds`; a type oneDNN does not implement on
// this CPU reports 0.
#pragma once

#include <cstddef>

namespace sb::bench {

// Bytes a buffer needs to be streamed from DRAM rather than cache: at least 512 MiB and twice
// the last-level cache the CPU reports (some server parts report 300 MiB or more of L3, where a
// fixed 70-140 MB weight measured 1.6x "DRAM" bandwidth). One rule for the calibration and the
// kernels' `dram/` entries.
size_t dram_bytes();

struct Peaks {
  double dram_bytes_per_s = 0;
  double f32_flops = 0;
  double bf16_flops = 0;
  double s8_ops = 0;
};

Peaks measure_peaks(int threads, double seconds);

}  // namespace sb::bench
