// Distillation of a student TrainModel from a teacher: sequence-level data sampled from the
// teacher, loss = alpha * tau^2 KL(teacher_topk || student) + (1 - alpha) * CE (loss.h),
// AdamW with warm-up + cosine decay, clipping by global norm, accumulation over `batch`
// sequences per step; held-out KLD (full vocabulary, tau = 1) before and after.
// Everything runs on the host in f32 (train_model.h) with the ops the caller set on the models
// (TrainModel::set_backend: ref loops or the cpu ops, oneDNN + threads); optional activation
// recomputation (DistillOptions::recompute).
//
// Determinism and resuming: the sequences of step s are a pure function of (seed, s, batch),
// so a run is a function of its inputs and options. With checkpoint_dir set, distill() writes a
// checkpoint (checkpoint.h) every checkpoint_every steps and after the last one, and resumes
// from the directory's latest checkpoint when there is one: a killed run, rerun with the same
// inputs and options, ends with the same parameters, losses and KLDs, bit for bit, as an
// unbroken run. A checkpoint of another run (any option above, the student's initial
// parameters, the teacher's parameters or the train/held-out tokens differ) is refused with
// one sb::Error line naming the file and the setting that differs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/train/train_model.h"

namespace sb::train {

struct DistillOptions {
  int64_t steps = 100;
  int64_t seq = 64;     // tokens per training sequence (BOS included)
  int64_t batch = 4;    // sequences per step (gradient accumulation)
  double lr = 1e-3;     // peak learning rate
  int64_t warmup = 10;  // warm-up steps (clamped to steps / 4)
  double temperature = 2.0;
  double alpha = 0.9;  // weight of the KL term
  int64_t top_k = 32;  // teacher logits kept per position
  double clip = 1.0;   // max global gradient norm (0 = off)
  double weight_decay = 0.0;
  uint64_t seed = 0;
  bool recompute = false;  // activation recomputation in the student (TrainModel::set_recompute)
  // called after every step (1-based) with the step's loss and learning rate
  std::function<void(int64_t step, double loss, double lr)> progress;
  // every eval_every steps (0 = never), the held-out KLD at that step
  int64_t eval_every = 0;
  std::function<void(int64_t step, double kld)> on_eval;
  // "" = no checkpoints; else the directory of checkpoint.sbck (+ .prev), created if needed
  std::string checkpoint_dir;
  int64_t checkpoint_every = 50;  // steps between checkpoints (0 = only after the last step)
};

struct DistillResult {
  double kld_before = 0, kld_after = 0;
  std::vector<double> losses;                     // per step
  std::vector<std::pair<int64_t, double>> evals;  // (step, held-out KLD) every eval_every steps
  int64_t tokens = 0;                             // training tokens processed
  int64_t resumed_from = 0;                       // steps restored from a checkpoint (0 = started from scratch)
  double train_seconds = 0;                       // wall time of the training steps (forward, backward, optimizer; evals excluded)
  double train_flop = 0;                          // train_flops() summed over the sequences trained on
};

// n sequences of `len` tokens each: `bos` then ancestral samples (temperature 1) from the
// teacher run by the engine (f32 KV cache); deterministic for a seed.
std::vector<std::vector<int32_t>> sample_sequences(const Model& teacher, int64_t n, int64_t len, int32_t bos, uint64_t seed);

// Mean over every predicted position of KL(softmax(teacher) || softmax(student)), full vocabulary.
double heldout_kld(TrainModel<float>& teacher, TrainModel<float>& student, const std::vector<std::vector<int32_t>>& seqs);

// Trains `student` on `train` against `teacher`; `frozen_zeros`: keep the weights that are zero
// now at zero (unstructured pruning masks stay fixed). `student` holds the initial parameters
// (also when resuming: the checkpoint must belong to them); on return, the trained ones.
// Prints "distill: resuming from step N of M (FILE)" to stderr when it resumes.
DistillResult distill(TrainModel<float>& teacher, TrainModel<float>& student, const std::vector<std::vector<int32_t>>& train,
                      const std::vector<std::vector<int32_t>>& heldout, const DistillOptions& o, bool frozen_zeros);

// Writes `m` as an f32 GGUF file with the metadata of `meta` (the student's file; its
// general.file_type becomes 0 = all f32). Atomic.
void write_f32_gguf(const TrainModel<float>& m, const GgufFile& meta, const std::string& path);

}  // namespace sb::train
