// One distillation job (engine/train/distill.h) from files to a student GGUF: what
// `sparkbench distill` and the `+distill:STEPS` variant step (harness/variants.h) share.
//
// distill_data() builds the training and held-out sequences: `samples + heldout` sequences
// sampled from the teacher on the backend (seed o.seed, BOS first), the first `samples` for
// training, then each `data` file tokenized and cut into o.seq-token chunks after a BOS (added to
// training). Its sha256 covers every token of both sets, so it identifies the data exactly.
// run_distill_job() derives the student (a file, or the teacher with the pruning parts of
// `student_variant` applied; zeros of prune:F / prune24 stay zero), trains it and writes it to
// `out` (f32, or converted to `out_type`'s weight type through the variant pipeline; atomic);
// the output is read back as a model before returning. Progress lines go to stderr when
// `verbose`. Bad input (unreadable data file, a teacher without BOS, a student spec that converts
// weights) throws sb::Error with one line naming it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/compress/variant.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/train/distill.h"
#include "reports/store.h"

namespace sb::cli {

struct DistillJob {
  std::shared_ptr<const GgufFile> teacher;
  std::shared_ptr<const GgufFile> student;  // the student file, or null: derive from student_variant
  compress::VariantSpec student_variant;    // pruning parts only (weights as stored, no distill step)
  std::string calibration_text;             // for prune-layers
  std::vector<std::string> data;            // text files to train on as well
  int64_t samples = 64, heldout = 8;        // teacher-sampled sequences for training / held out
  train::DistillOptions o;                  // o.progress and o.on_eval are called as well
  Backend* backend = nullptr;               // samples from the teacher (and ranks layers); its name picks the
                                            // training ops (train_backend_for: ref loops, or the cpu ops)
  int threads = 0;                          // threads of the cpu training ops (0 = all cores)
  const Tokenizer* tokenizer = nullptr;
  std::string out;                 // output GGUF path
  compress::VariantSpec out_type;  // weight type of the output (AsStored or F32 = f32)
  bool verbose = true;             // progress on stderr
};

struct DistillData {
  std::vector<std::vector<int32_t>> train, heldout;
  std::string sha256;  // of every token of both sets (lengths included)
  double seconds = 0;
};

struct DistillJobResult {
  std::string output;                             // the written file
  double kld_before = 0, kld_after = 0;           // held-out KLD to the teacher (nats)
  std::vector<double> losses, lrs;                // per step (1-based step = index + 1)
  std::vector<std::pair<int64_t, double>> evals;  // (step, held-out KLD) every o.eval_every steps
  int64_t tokens = 0;                             // training tokens processed
  int64_t student_params = 0;
  double seconds = 0;                        // training time (data and writing excluded)
  double train_seconds = 0, train_flop = 0;  // of the training steps alone (DistillResult), for tok/s and GFLOP/s
  int64_t resumed_from = 0;                  // steps restored from a checkpoint (their lrs are NaN)
  std::vector<std::string> student_notes;    // what deriving the student did (the variant's notes)
  std::string data_sha256;                   // DistillData::sha256 of the data trained on (set by the caller)
};

// The per-step rows of a result for Store::add_train_steps: loss and lr of every step, the
// held-out KLD at the eval steps and (kld_after) at the last step.
std::vector<TrainStepRow> train_step_rows(const DistillJobResult& r);

DistillData distill_data(const DistillJob& job);
DistillJobResult run_distill_job(const DistillJob& job, const DistillData& data);

}  // namespace sb::cli
