// Machine peaks for roofline percentages: DRAM read bandwidth (a sum over a buffer much larger
// than the caches, all threads) and oneDNN's matmul throughput per data type at a large square
// shape. measure_peaks() runs each for about `seconds`; a type oneDNN does not implement on
// this CPU reports 0.
#pragma once

namespace sb::bench {

struct Peaks {
  double dram_bytes_per_s = 0;
  double f32_flops = 0;
  double bf16_flops = 0;
  double s8_ops = 0;
};

Peaks measure_peaks(int threads, double seconds);

}  // namespace sb::bench
