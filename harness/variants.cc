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

QuickSpeed measure_speed(const Model& model, ContextOptions co, int64_t n_prompt, int64_t n_gen, int reps, uint64_t seed) {
  using clk = std::chrono::steady_clock;
  auto ms_since = [](clk::time_point t) { return std::chrono::duration<double, std::milli>(clk::now() - t).count(); };
  const ModelConfig& c = model.config();
  QuickSpeed q;
  q.n_prompt = std::max<int64_t>(1, n_prompt);
  q.n_gen = std::max<int64_t>(1, n_gen);
  co.n_ctx = std::min(c.n_ctx, q.n_prompt + q.n_gen);
  if (q.n_prompt + q.n_gen > co.n_ctx) fail("speed probe of ", q.n_prompt, "+", q.n_gen, " tokens exceeds the model context ", c.n_ctx);
  Context ctx(model, co);
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(size_t(q.n_prompt + q.n_gen));
  std::vector<float> logits;
  std::vector<double> ttft, tpot;
  for (int rep = -1; rep < reps; ++rep) {  // rep -1: warm-up
    for (auto& t : ids) t = int32_t(3 + rng() % uint64_t(c.n_vocab - 3));
    ctx.rewind(0);
    const auto t0 = clk::now();
    ctx.eval(ids.data(), q.n_prompt, false, logits);
    int32_t next = argmax(logits.data(), c.n_vocab);
    const double first = ms_since(t0);
    (void)next;
    const auto t1 = clk::now();
    for (int64_t i = 0; i < q.n_gen; ++i) {
      const auto s = clk::now();
      ctx.eval(&ids[size_t(q.n_prompt + i)], 1, false, logits);
      next = argmax(logits.data(), c.n_vocab);
      if (rep >= 0) q.step_ms.push_back(ms_since(s));
    }
    const double gen = ms_since(t1);
    if (rep < 0) continue;
    ttft.push_back(first);
    tpot.push_back(gen / double(q.n_gen));
    q.prefill_samples_ts.push_back(double(q.n_prompt) * 1000.0 / first);
    q.decode_samples_ts.push_back(double(q.n_gen) * 1000.0 / gen);
  }
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / double(v.size());
  };
  q.prefill_ts = mean(q.prefill_samples_ts);
  q.decode_ts = mean(q.decode_samples_ts);
  q.ttft_ms = mean(ttft);
  q.tpot_ms = mean(tpot);
  return q;
}

}  // namespace sb::cli
