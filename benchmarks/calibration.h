// Machine peaks for roofline percentages: DRAM read bandwidth (a sum over a dram_bytes() buffer,
// all threads), oneDNN's matmul throughput per data type at a large square shape (what a tuned
// library reaches), and the instruction peak of f32 FMAs (independent register FMAs at the
// active ISA level's width, 16 lanes from avx512 up, else 8; all threads: the ceiling no f32
// kernel can pass). measure_peaks() runs each for about `seconds`; a type oneDNN does not
// implement on this CPU reports 0.
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
  double f32_flops = 0;      // oneDNN's f32 matmul
  double fma_f32_flops = 0;  // f32 FMA instruction peak
  double bf16_flops = 0;
  double s8_ops = 0;
};

Peaks measure_peaks(int threads, double seconds);

}  // namespace sb::bench
