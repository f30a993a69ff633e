// Compression variants in the harness: loading a model with a variant applied (run, bench),
// the calibration text, the quick speed probe of `run` sweeps, and per-variant peak memory.
//
// Peak memory: reset_peak_rss() clears the kernel's resident-set high-water mark of this process
// (writes "5" to /proc/self/clear_refs, Linux >= 4.0); peak_rss_bytes() then reads VmHWM, so a
// sweep reports each variant's own peak. Where the reset is refused, peak_rss_bytes() is the
// process's peak so far (getrusage), and peak_rss_is_per_variant() says so.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/backends/backend.h"
#include "engine/compress/apply.h"
#include "engine/compress/variant.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace sb::cli {

// datasets/calibration/stories.txt (children's-story paragraphs written for this project).
std::string default_calibration_path();
// Reads a calibration text file; sb::Error naming the file when unreadable or empty.
std::string read_calibration(const std::string& path);

// A variant loaded on a backend.
struct VariantLoad {
  compress::VariantModel vm;
  std::unique_ptr<Model> model;
  double load_ms = 0;
};
// Applies `spec` to `base` (calibration used for prune-layers, on `backend`) and loads it.
VariantLoad load_variant_model(std::shared_ptr<const GgufFile> base, const compress::VariantSpec& spec, Backend& backend,
                               const Tokenizer& tok, const std::string& calibration_text);
// "int8", a mix's name ("q4_k_m"), or the stored type of blk.0.attn_q.weight for the model-type column.
std::string weight_type_label(const Model& m, const compress::VariantSpec& spec);

bool reset_peak_rss();
int64_t peak_rss_bytes();

// Prefill of n_prompt random tokens and n_gen decode steps (each repeated `reps` times after
// one warm-up), on a fresh context: tokens/s, TTFT (prompt + first argmax) and TPOT.
struct QuickSpeed {
  int64_t n_prompt = 0, n_gen = 0;
  double prefill_ts = 0, decode_ts = 0, ttft_ms = 0, tpot_ms = 0;
  std::vector<double> prefill_samples_ts, decode_samples_ts, step_ms;
};
QuickSpeed measure_speed(const Model& model, ContextOptions co, int64_t n_prompt, int64_t n_gen, int reps, uint64_t seed = 42);

}  // namespace sb::cli
