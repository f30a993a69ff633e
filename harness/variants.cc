#include "harness/variants.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/core/error.h"
#include "engine/generate/sampler.h"
#include "evals/suite.h"

namespace sb::cli {

std::string default_calibration_path() { return datasets_dir() + "/calibration/stories.txt"; }

std::string read_calibration(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot read the calibration text");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) fail(path, ": the calibration text is empty");
  return s;
}

VariantLoad load_variant_model(std::shared_ptr<const GgufFile> base, const compress::VariantSpec& spec, Backend& backend,
                               const Tokenizer& tok, const std::string& calibration_text) {
  const auto t0 = std::chrono::steady_clock::now();
  compress::Calibration calib;
  calib.backend = &backend;
  calib.tokenizer = &tok;
  calib.text = calibration_text;
  VariantLoad vl;
  vl.vm = compress::apply_variant(base, spec, &calib, /*release_file_pages=*/true);
  vl.model = compress::load_variant(vl.vm, backend);
  vl.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return vl;
}

std::string weight_type_label(const Model& m, const compress::VariantSpec& spec) {
  if (spec.weights == compress::WeightKind::Int8) return "int8";
  if (spec.llama_mix()) return spec.name().substr(0, spec.name().find('+'));  // a mix of types: its name
  const GgufTensorInfo* t = m.file().tensor("blk.0.attn_q.weight");
  return t ? ggml_type_name(uint32_t(t->type)) : "?";
}

bool reset_peak_rss() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

int64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:   1234 kB"
  }
  struct rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;
}

}  // namespace sb::cli
