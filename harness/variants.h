// Compression variants in the harness: loading a model with a variant applied (run, bench),
// the calibration text, and per-variant peak memory (the speed probe is harness/speed_probe.h).
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

}  // namespace sb::cli
