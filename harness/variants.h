// Compression variants in the harness: loading a model with a variant applied (run, bench),
// the calibration text, and per-variant peak memory (the speed probe is harness/speed_probe.h).
//
// Peak memory: reset_peak_rss() clears the kernel's resident-set high-water mark of this process
// (writes "5" to /proc/self/clear_refs, Linux >= 4.0); peak_rss_bytes() then reads VmHWM, so a
// sweep reports each variant's own peak. Where the reset is refused, peak_rss_bytes() is the
// process's peak so far (getrusage), and peak_rss_is_per_variant() says so.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/compress/apply.h"
#include "engine/compress/variant.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "harness/distill_job.h"
#include "harness/model_loader.h"

namespace sb::cli {

// datasets/calibration/stories.txt (children's-story paragraphs written for this project).
std::string default_calibration_path();
// The calibration file a --calibration value names: `given`, or the default when empty.
std::string calibration_path(const std::string& given);
// Reads a calibration text file; sb::Error naming the file when unreadable or empty.
std::string read_calibration(const std::string& path);

// The +distill:STEPS step of a variant (docs/VARIANTS.md "Distillation"): the pruning parts
// applied to the base model, the student distilled from the base for STEPS steps with
// `sparkbench distill`'s default settings (64 teacher samples + 8 held out, seq 64, batch 4,
// lr 1e-3, T = 2, alpha 0.9, top-k 32, seed 0; harness/distill_job.h), then the weight-type
// part (if any) applied to the distilled student. The f32 student is cached under
// cache_dir()/distilled-VERSION/KEY.gguf with KEY = sha256 of (base sha256, pruning spec, steps,
// every training and sampling setting, the sampling backend's name, calibration sha256 for
// prune-layers): what determines the teacher-sampled data (seed 0) and the training. A KEY.json
// beside it holds the training result (losses, lrs, KLDs, the sha256 of the token data trained
// on), written after the model; a later load with the same key reuses both and neither samples
// nor trains (a lock file serializes concurrent trainers).
struct DistilledVariant {
  DistillJobResult result;
  std::string path;  // the cached f32 student
  bool from_cache = false;
};

// A variant loaded on a backend.
struct VariantLoad {
  compress::VariantModel vm;
  std::unique_ptr<Model> model;
  double load_ms = 0;
  std::optional<DistilledVariant> distilled;  // spec.distills()
};
// Applies `spec` to `base` (calibration used for prune-layers, on `backend`) and loads it.
// A spec with distill:STEPS needs `base_sha256` (the cache key); `verbose`: training progress
// on stderr.
VariantLoad load_variant_model(std::shared_ptr<const GgufFile> base, const compress::VariantSpec& spec, Backend& backend,
                               const Tokenizer& tok, const std::string& calibration_text, const std::string& base_sha256 = "",
                               bool verbose = true);
// Replaces lm.model by `spec` applied to it (nothing for the base spec): calibration text from
// `calibration` (empty: default_calibration_path()) when the spec needs it, the base's sha256
// for a distilled one; load time added to lm.load_ms. Returns the variant's notes. bench,
// logits, generate and perplexity load variants through this.
std::vector<std::string> apply_variant(LoadedModel& lm, const compress::VariantSpec& spec, const std::string& calibration);

// `--variant SPEC` (one variant, default the base model) and `--calibration FILE` for the
// subcommands that run one model (logits, generate, perplexity).
struct VariantArgs {
  std::string variant, calibration;
};
void add_variant_args(CLI::App* cmd, VariantArgs& a);
// apply_variant for a.variant (a bad spec is one error naming it); notes go to stderr.
void apply_variant_args(LoadedModel& lm, const VariantArgs& a);

// "int8", a mix's name ("q4_k_m"), or the stored type of blk.0.attn_q.weight for the model-type column.
std::string weight_type_label(const Model& m, const compress::VariantSpec& spec);

bool reset_peak_rss();
int64_t peak_rss_bytes();

}  // namespace sb::cli
