// Training-step microbenchmarks (kernels_train.cc): one forward + backward of a TrainModel<float>
// on the cpu training ops (engine/train/ops_cpu.h) at the codex-spark-mini shape, with tokens/s,
// achieved FLOP/s (engine/train/train_model.h train_flops) and two fractions: of the calibrated
// f32 matmul peak (pct_peak_flops) and of the sgemm rate of the same step's matrix products
// measured in the same benchmark (pct_sgemm_shapes); plus that sgemm-at-the-step's-shapes rate
// on its own (train/sgemm_shapes/*) and, outside --short, one ref-ops step for the speed-up.
#pragma once

namespace sb::bench {
// `f32_peak`: the calibrated f32 matmul FLOP/s (0 = unknown).
void register_train_kernels(bool short_mode, int threads, double f32_peak);
}  // namespace sb::bench
