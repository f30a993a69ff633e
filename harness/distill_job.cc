#include "harness/distill_job.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/compress/apply.h"
#include "engine/core/error.h"
#include "engine/core/sha256.h"
#include "engine/model/model.h"
#include "engine/train/ops_cpu.h"

namespace sb::cli {

namespace {

double distill_seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

DistillData distill_data(const DistillJob& job) {
  if (!job.teacher || !job.backend || !job.tokenizer) fail("distill: internal error: job without teacher, backend or tokenizer");
  const Tokenizer& tok = *job.tokenizer;
  if (tok.bos_id() < 0) fail(job.teacher->name(), ": the vocabulary has no BOS token to start teacher samples with");
  const auto t0 = std::chrono::steady_clock::now();
  DistillData d;
  {
    const auto tmodel = Model::load(job.teacher, *job.backend);
    auto seqs = train::sample_sequences(*tmodel, job.samples + job.heldout, job.o.seq, tok.bos_id(), job.o.seed);
    d.train.assign(seqs.begin(), seqs.begin() + job.samples);
    d.heldout.assign(seqs.begin() + job.samples, seqs.end());
  }
  for (const std::string& path : job.data) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, ": cannot read the training text");
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::vector<int32_t> ids = tok.encode(ss.str(), /*add_bos=*/false);
    const int64_t before = int64_t(d.train.size());
    for (size_t i = 0; i < ids.size(); i += size_t(job.o.seq - 1)) {
      std::vector<int32_t> s = {tok.bos_id()};
      s.insert(s.end(), ids.begin() + long(i), ids.begin() + long(std::min(ids.size(), i + size_t(job.o.seq - 1))));
      if (s.size() >= 2) d.train.push_back(std::move(s));
    }
    if (int64_t(d.train.size()) == before) fail(path, ": no tokens to train on");
    if (job.verbose)
      std::fprintf(stderr, "distill: %s: %zu tokens, %lld sequences\n", path.c_str(), ids.size(),
                   (long long)(int64_t(d.train.size()) - before));
  }
  // Hash: both sets, each sequence as its length then its tokens (little-endian int32).
  std::string bytes;
  for (const auto* set : {&d.train, &d.heldout}) {
    const int32_t n = int32_t(set->size());
    bytes.append(reinterpret_cast<const char*>(&n), sizeof n);
    for (const auto& s : *set) {
      const int32_t len = int32_t(s.size());
      bytes.append(reinterpret_cast<const char*>(&len), sizeof len);
      bytes.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(int32_t));
    }
  }
  d.sha256 = sha256_hex(bytes);
  d.seconds = distill_seconds_since(t0);
  return d;
}

DistillJobResult run_distill_job(const DistillJob& job, const DistillData& data) {
  const compress::VariantSpec& sv = job.student_variant;
  if (!job.student && (sv.converts_weights() || sv.weights == compress::WeightKind::Int8 || sv.distills()))
    fail("distill: student variant '", sv.name(), "' converts weight types; the student trains in f32 (use pruning parts only)");
  const compress::VariantSpec& ot = job.out_type;
  if (ot.pruned() || ot.distills() || ot.weights == compress::WeightKind::Int8 ||
      (!ot.converts_weights() && ot.weights != compress::WeightKind::F32 && ot.weights != compress::WeightKind::AsStored))
    fail("distill: output type '", ot.name(), "' is not a GGUF weight type (f32, f16, bf16, q8_0, q4_0, q4_k_m, ...)");
  DistillJobResult res;
  std::shared_ptr<const GgufFile> sfile = job.student;
  bool frozen_zeros = false;
  if (!sfile) {
    compress::Calibration calib;
    calib.backend = job.backend;
    calib.tokenizer = job.tokenizer;
    calib.text = job.calibration_text;
    compress::VariantModel vm = compress::apply_variant(job.teacher, sv, sv.needs_calibration() ? &calib : nullptr);
    sfile = vm.file;
    frozen_zeros = sv.unstructured();
    res.student_notes = vm.report.notes;
  }
  train::TrainModel<float> teacher = train::TrainModel<float>::from_gguf(*job.teacher);
  train::TrainModel<float> student = train::TrainModel<float>::from_gguf(*sfile);
  const train::TrainBackend ops = train::train_backend_for(job.backend->name());
  teacher.set_backend(ops, job.threads);
  student.set_backend(ops, job.threads);
  res.student_params = int64_t(student.n_params());
  if (job.verbose)
    std::fprintf(stderr, "distill: %zu training sequences of %lld tokens (+%zu held out) in %.1f s; student %lld params\n",
                 data.train.size(), (long long)job.o.seq, data.heldout.size(), data.seconds, (long long)res.student_params);
  train::DistillOptions o = job.o;
  const auto t1 = std::chrono::steady_clock::now();
  int64_t first = -1;  // the step before this process's first (a resumed run starts late)
  o.progress = [&](int64_t step, double loss, double lr) {
    if (first < 0) {
      first = step - 1;
      res.lrs.assign(size_t(first), std::nan(""));  // restored steps: their lrs were not kept
    }
    res.lrs.push_back(lr);
    if (job.o.progress) job.o.progress(step, loss, lr);
    if (!job.verbose || (step % 10 != 0 && step != o.steps)) return;
    const double s = distill_seconds_since(t1);
    std::fprintf(stderr, "\rstep %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %.0f s   ", (long long)step, (long long)o.steps, loss, lr,
                 double((step - first) * o.batch * (o.seq - 1)) / s, s / double(step - first) * double(o.steps - step));
  };
  o.on_eval = [&](int64_t step, double kld) {
    if (job.o.on_eval) job.o.on_eval(step, kld);
    if (job.verbose) std::fprintf(stderr, "\nstep %lld: held-out KLD %.5f\n", (long long)step, kld);
  };
  const train::DistillResult r = train::distill(teacher, student, data.train, data.heldout, o, frozen_zeros);
  res.seconds = distill_seconds_since(t1);
  if (job.verbose) std::fprintf(stderr, "\n");
  if (job.verbose && r.train_seconds > 0)
    std::fprintf(stderr, "train: %.0f tok/s, %.1f GFLOP/s (%s training ops%s)\n", double(r.tokens) / r.train_seconds,
                 r.train_flop / r.train_seconds * 1e-9, train::train_backend_name(student.backend()), o.recompute ? ", recomputation" : "");
  if (ot.weights == compress::WeightKind::F32 || ot.weights == compress::WeightKind::AsStored) {
    train::write_f32_gguf(student, *sfile, job.out);
  } else {  // f32 first, then the variant pipeline converts it
    const std::string tmp = job.out + ".f32.tmp";
    train::write_f32_gguf(student, *sfile, tmp);
    try {
      compress::write_variant(GgufFile::open(tmp), ot, nullptr, job.out);
    } catch (...) {
      std::remove(tmp.c_str());
      throw;
    }
    std::remove(tmp.c_str());
  }
  ModelConfig::from_gguf(*GgufFile::open(job.out));  // the output must read back as a model
  res.output = job.out;
  res.kld_before = r.kld_before;
  res.kld_after = r.kld_after;
  res.losses = r.losses;
  res.evals = r.evals;
  res.tokens = r.tokens;
  res.train_seconds = r.train_seconds;
  res.train_flop = r.train_flop;
  res.resumed_from = r.resumed_from;
  return res;
}

std::vector<TrainStepRow> train_step_rows(const DistillJobResult& r) {
  std::vector<TrainStepRow> rows;
  for (size_t i = 0; i < r.losses.size(); ++i)
    rows.push_back({int64_t(i) + 1, r.losses[i], i < r.lrs.size() ? r.lrs[i] : std::nan(""), std::nullopt});
  for (const auto& [step, kld] : r.evals)
    if (step >= 1 && size_t(step) <= rows.size()) rows[size_t(step) - 1].kld = kld;
  if (!rows.empty()) rows.back().kld = r.kld_after;
  return rows;
}

}  // namespace sb::cli
