#include "harness/variants.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/core/sha256.h"
#include "engine/generate/sampler.h"
#include "evals/suite.h"
#include "harness/model_loader.h"
#include "harness/provenance.h"

namespace sb::cli {

std::string default_calibration_path() { return datasets_dir() + "/calibration/stories.txt"; }

std::string calibration_path(const std::string& given) { return given.empty() ? default_calibration_path() : given; }

std::string read_calibration(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot read the calibration text");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) fail(path, ": the calibration text is empty");
  return s;
}

namespace {

nlohmann::json result_json(const DistillJobResult& r) {
  nlohmann::json evals = nlohmann::json::array();
  for (const auto& [step, kld] : r.evals) evals.push_back({step, kld});
  return {{"kld_before", r.kld_before},
          {"kld_after", r.kld_after},
          {"losses", r.losses},
          {"lrs", r.lrs},
          {"evals", evals},
          {"tokens", r.tokens},
          {"student_params", r.student_params},
          {"seconds", r.seconds},
          {"student_notes", r.student_notes},
          {"data_sha256", r.data_sha256}};
}

DistillJobResult result_from_json(const nlohmann::json& j) {
  DistillJobResult r;
  r.kld_before = j.at("kld_before").get<double>();
  r.kld_after = j.at("kld_after").get<double>();
  r.losses = j.at("losses").get<std::vector<double>>();
  r.lrs = j.at("lrs").get<std::vector<double>>();
  for (const auto& e : j.at("evals")) r.evals.emplace_back(e.at(0).get<int64_t>(), e.at(1).get<double>());
  r.tokens = j.at("tokens").get<int64_t>();
  r.student_params = j.at("student_params").get<int64_t>();
  r.seconds = j.at("seconds").get<double>();
  r.student_notes = j.at("student_notes").get<std::vector<std::string>>();
  r.data_sha256 = j.at("data_sha256").get<std::string>();
  return r;
}

// The cached distilled student of `spec` (trained now when absent); see variants.h.
DistilledVariant distilled_student(std::shared_ptr<const GgufFile> base, const compress::VariantSpec& spec, Backend& backend,
                                   const Tokenizer& tok, const std::string& calibration_text, const std::string& base_sha256,
                                   bool verbose) {
  namespace fs = std::filesystem;
  if (base_sha256.empty()) fail("variant '", spec.name(), "': internal error: the distill step needs the base model's sha256");
  DistillJob job;
  job.teacher = base;
  job.student_variant = spec.pruning_part();
  if (spec.needs_calibration()) job.calibration_text = calibration_text;
  job.o.steps = spec.distill_steps;
  job.o.seed = 0;
  job.backend = &backend;
  job.tokenizer = &tok;
  job.verbose = verbose;
  const train::DistillOptions& o = job.o;
  nlohmann::json key{{"format", 1},
                     {"base_sha256", base_sha256},
                     {"student", job.student_variant.name()},
                     {"steps", o.steps},
                     {"seq", o.seq},
                     {"batch", o.batch},
                     {"lr", o.lr},
                     {"warmup", o.warmup},
                     {"temperature", o.temperature},
                     {"alpha", o.alpha},
                     {"top_k", o.top_k},
                     {"clip", o.clip},
                     {"weight_decay", o.weight_decay},
                     {"seed", o.seed},
                     {"samples", job.samples},
                     {"heldout", job.heldout},
                     {"sampling_backend", backend.name()}};
  if (spec.needs_calibration()) key["calibration_sha256"] = sha256_hex(calibration_text);
  const std::string dir = cache_dir() + "/distilled-" SPARKBENCH_VERSION;
  fs::create_directories(dir);
  const std::string stem = dir + "/" + sha256_hex(key.dump()).substr(0, 32);
  DistilledVariant dv;
  dv.path = stem + ".gguf";
  const std::string meta_path = stem + ".json";
  auto read_cached = [&]() -> bool {
    if (!fs::exists(dv.path) || !fs::exists(meta_path)) return false;
    std::ifstream in(meta_path, std::ios::binary);
    try {
      const nlohmann::json j = nlohmann::json::parse(in);
      if (j.at("key") != key) return false;
      dv.result = result_from_json(j.at("result"));
    } catch (const nlohmann::json::exception& e) {
      fail(meta_path, ": damaged distillation cache entry (", e.what(), "); delete it to retrain");
    }
    dv.result.output = dv.path;
    dv.from_cache = true;
    return true;
  };
  if (read_cached()) return dv;
  const std::string lock_path = stem + ".lock";
  const int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) fail(lock_path, ": cannot create lock file");
  ::flock(fd, LOCK_EX);
  try {
    if (!read_cached()) {
      if (verbose)
        std::fprintf(stderr, "[%s] distilling the %s student for %lld steps into %s\n", spec.name().c_str(),
                     job.student_variant.name().c_str(), (long long)o.steps, dv.path.c_str());
      const DistillData data = distill_data(job);
      job.out = dv.path;
      dv.result = run_distill_job(job, data);
      dv.result.data_sha256 = data.sha256;
      const std::string tmp = meta_path + ".tmp";
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << nlohmann::json{{"key", key}, {"result", result_json(dv.result)}}.dump(1) << "\n";
        if (!out) fail(tmp, ": cannot write the distillation cache entry");
      }
      fs::rename(tmp, meta_path);
    }
  } catch (...) {
    ::flock(fd, LOCK_UN);
    ::close(fd);
    throw;
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return dv;
}

}  // namespace

std::vector<std::string> apply_variant(LoadedModel& lm, const compress::VariantSpec& spec, const std::string& calibration) {
  if (spec.is_base()) return {};
  const std::string text = spec.needs_calibration() ? read_calibration(calibration_path(calibration)) : "";
  VariantLoad vl = load_variant_model(lm.model->file_ptr(), spec, *lm.backend, *lm.tokenizer, text,
                                      spec.distills() ? model_sha256(lm.path, nullptr) : std::string());
  lm.model = std::move(vl.model);
  lm.load_ms += vl.load_ms;
  return vl.vm.report.notes;
}

void add_variant_args(CLI::App* cmd, VariantArgs& a) {
  cmd->add_option("--variant", a.variant,
                  "Run a variant of the model instead of the model as stored: one spec as `bench --variant` takes them "
                  "(e.g. int8, q4_0, q4_k_m, prune:0.5, q8_0+prune-heads:2)");
  cmd->add_option("--calibration", a.calibration, "Calibration text for prune-layers (default: datasets/calibration/stories.txt)");
}

void apply_variant_args(LoadedModel& lm, const VariantArgs& a) {
  if (a.variant.empty()) return;
  const compress::VariantSpec spec = compress::parse_variant(a.variant);
  for (const auto& n : apply_variant(lm, spec, a.calibration)) std::fprintf(stderr, "note [%s]: %s\n", spec.name().c_str(), n.c_str());
}

VariantLoad load_variant_model(std::shared_ptr<const GgufFile> base, const compress::VariantSpec& spec, Backend& backend,
                               const Tokenizer& tok, const std::string& calibration_text, const std::string& base_sha256, bool verbose) {
  const auto t0 = std::chrono::steady_clock::now();
  if (spec.distills()) {
    VariantLoad vl;
    vl.distilled = distilled_student(base, spec, backend, tok, calibration_text, base_sha256, verbose);
    const DistillJobResult& r = vl.distilled->result;
    vl.vm = compress::apply_variant(GgufFile::open(vl.distilled->path), spec.weights_part(), nullptr, /*release_file_pages=*/true);
    vl.vm.spec = spec;
    std::vector<std::string> notes = r.student_notes;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "distill:%lld: the %s student trained %lld steps on the base model's outputs (%lld teacher samples of "
                  "%lld tokens, seed 0): held-out KLD to the base %.4f -> %.4f%s",
                  (long long)spec.distill_steps, spec.pruning_part().name().c_str(), (long long)r.losses.size(),
                  (long long)DistillJob{}.samples, (long long)train::DistillOptions{}.seq, r.kld_before, r.kld_after,
                  vl.distilled->from_cache ? " (cached student)" : "");
    notes.push_back(buf);
    for (auto& n : vl.vm.report.notes) notes.push_back(n);
    vl.vm.report.notes = notes;
    vl.vm.report.name = spec.name();
    vl.vm.report.identical_to_base = false;
    vl.model = compress::load_variant(vl.vm, backend);
    vl.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return vl;
  }
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
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;
}

}  // namespace sb::cli
