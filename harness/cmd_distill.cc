// `sparkbench distill`: heal a pruned (or any) student from its teacher by knowledge
// distillation on text sampled from the teacher (engine/train/distill.h), and write the
// student as an f32 GGUF file that run/bench load like any model.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/train/distill.h"
#include "harness/commands.h"
#include "harness/model_loader.h"
#include "harness/variants.h"

namespace sb::cli {

void add_distill_command(CLI::App& app) {
  struct Args {
    std::string teacher, student, variant, out, calibration, backend, out_type = "f32";
    std::vector<std::string> data;
    int64_t samples = 64, heldout = 8;
    int threads = 0;
    train::DistillOptions o;
  };
  static Args a;
  a.backend = default_backend();
  auto* c = app.add_subcommand("distill",
                               "Train a student model on its teacher's outputs (knowledge distillation on text sampled "
                               "from the teacher) and write it as an f32 GGUF");
  c->add_option("--teacher", a.teacher, "Teacher GGUF model")->required();
  auto* st = c->add_option("--student", a.student, "Student GGUF model (same vocabulary as the teacher)");
  auto* sv = c->add_option("--student-variant", a.variant,
                           "Derive the student from the teacher by a variant spec (prune-layers:N, prune-heads:N, "
                           "prune24, prune:F; pruned-away zeros stay zero)");
  st->excludes(sv);
  c->add_option("--data", a.data, "Text files to train on as well (tokenized, cut into --seq chunks after a BOS)");
  c->add_option("--teacher-samples", a.samples, "Training sequences sampled from the teacher")->capture_default_str();
  c->add_option("--heldout", a.heldout, "Held-out sampled sequences for the KLD before/after")->capture_default_str();
  c->add_option("--steps", a.o.steps, "Optimizer steps")->required();
  c->add_option("--seq", a.o.seq, "Tokens per sequence")->capture_default_str();
  c->add_option("--batch", a.o.batch, "Sequences per step (gradient accumulation)")->capture_default_str();
  c->add_option("--lr", a.o.lr, "Peak learning rate (AdamW, warm-up then cosine decay to lr/10)")->capture_default_str();
  c->add_option("--temperature", a.o.temperature, "Softening temperature of the KL term")->capture_default_str();
  c->add_option("--alpha", a.o.alpha, "Weight of KL vs cross-entropy (1 = KL only)")->capture_default_str();
  c->add_option("--top-k", a.o.top_k, "Teacher logits kept per position")->capture_default_str();
  c->add_option("--seed", a.o.seed, "Seed for sampling and batches")->capture_default_str();
  c->add_option("--calibration", a.calibration, "Calibration text for prune-layers (default: datasets/calibration/stories.txt)");
  c->add_option("--backend", a.backend,
                "Backend that samples from the teacher; also the training ops: ref = the naive reference loops, "
                "anything else = the cpu training ops (oneDNN sgemm + OpenMP threads, -t)")
      ->capture_default_str();
  c->add_flag("--recompute", a.o.recompute,
              "Recompute each layer's activations during backward (keeps only layer inputs: less memory, ~1/3 more compute)");
  c->add_option("-t,--threads", a.threads, "CPU threads (0 = all cores)")->capture_default_str();
  c->add_option("--eval-every", a.o.eval_every, "Print the held-out KLD every N steps (0 = only before and after)")
      ->capture_default_str();
  auto* ck = c->add_option("--checkpoint", a.o.checkpoint_dir,
                           "Directory for resumable checkpoints; a rerun of the same command resumes from its latest "
                           "one and ends exactly as an unbroken run would");
  c->add_option("--checkpoint-every", a.o.checkpoint_every, "Steps between checkpoints (0 = only after the last step)")
      ->capture_default_str()
      ->needs(ck);
  c->add_option("--out-type", a.out_type, "Weight type of the output file (f32, f16, bf16, q8_0, q4_k_m, ...: any variant weight type)")
      ->capture_default_str();
  c->add_option("-o,--output", a.out, "Output GGUF file")->required();
  c->callback([] {
    if (a.student.empty() && a.variant.empty()) fail("distill: give --student FILE or --student-variant SPEC");
    const compress::VariantSpec out_spec = compress::parse_variant(a.out_type);
    if (out_spec.pruned() || out_spec.weights == compress::WeightKind::Int8 || (!out_spec.converts_weights() && out_spec.weights != compress::WeightKind::F32))
      fail("distill: --out-type '", a.out_type, "' is not a GGUF weight type (f32, f16, bf16, q8_0, q4_0, q4_k_m, ...)");
    auto tfile = GgufFile::open(a.teacher);
    auto tok = Tokenizer::from_gguf(*tfile);
    BackendOptions bo;
    bo.threads = a.threads;
    auto backend = create_backend(a.backend, bo);
    std::shared_ptr<const GgufFile> sfile;
    bool frozen_zeros = false;
    if (!a.student.empty()) {
      sfile = GgufFile::open(a.student);
    } else {
      const compress::VariantSpec spec = compress::parse_variant(a.variant);
      if (spec.converts_weights() || spec.weights == compress::WeightKind::Int8)
        fail("distill: --student-variant '", a.variant, "' converts weight types; the student trains in f32 (use pruning parts only)");
      compress::Calibration calib;
      calib.backend = backend.get();
      calib.tokenizer = tok.get();
      if (spec.needs_calibration())
        calib.text = read_calibration(a.calibration.empty() ? default_calibration_path() : a.calibration);
      sfile = compress::apply_variant(tfile, spec, spec.needs_calibration() ? &calib : nullptr).file;
      frozen_zeros = spec.unstructured();
    }
    train::TrainModel<float> teacher = train::TrainModel<float>::from_gguf(*tfile);
    train::TrainModel<float> student = train::TrainModel<float>::from_gguf(*sfile);
    teacher.set_backend(train::train_backend_for(a.backend), a.threads);
    student.set_backend(train::train_backend_for(a.backend), a.threads);
    if (tok->bos_id() < 0) fail(a.teacher, ": the vocabulary has no BOS token to start teacher samples with");
    const auto tmodel = Model::load(tfile, *backend);
    const auto t0 = std::chrono::steady_clock::now();
    const auto seqs = train::sample_sequences(*tmodel, a.samples + a.heldout, a.o.seq, tok->bos_id(), a.o.seed);
    std::vector<std::vector<int32_t>> trainset(seqs.begin(), seqs.begin() + a.samples);
    const std::vector<std::vector<int32_t>> heldout(seqs.begin() + a.samples, seqs.end());
    for (const std::string& path : a.data) {
      std::ifstream in(path, std::ios::binary);
      if (!in) fail(path, ": cannot read the training text");
      std::ostringstream ss;
      ss << in.rdbuf();
      const std::vector<int32_t> ids = tok->encode(ss.str(), /*add_bos=*/false);
      const int64_t before = int64_t(trainset.size());
      for (size_t i = 0; i < ids.size(); i += size_t(a.o.seq - 1)) {
        std::vector<int32_t> s = {tok->bos_id()};
        s.insert(s.end(), ids.begin() + long(i), ids.begin() + long(std::min(ids.size(), i + size_t(a.o.seq - 1))));
        if (s.size() >= 2) trainset.push_back(std::move(s));
      }
      if (int64_t(trainset.size()) == before) fail(path, ": no tokens to train on");
      std::fprintf(stderr, "distill: %s: %zu tokens, %lld sequences\n", path.c_str(), ids.size(),
                   (long long)(int64_t(trainset.size()) - before));
    }
    std::fprintf(stderr, "distill: %lld teacher samples of %lld tokens (+%lld held out) in %.1f s; student %lld params\n",
                 (long long)a.samples, (long long)a.o.seq, (long long)a.heldout,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                 (long long)student.n_params());
    const auto t1 = std::chrono::steady_clock::now();
    int64_t first = -1;  // the first step of this process (a resumed run starts late)
    a.o.progress = [&](int64_t step, double loss, double lr) {
      if (first < 0) first = step - 1;
      if (step % 10 != 0 && step != a.o.steps) return;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      std::fprintf(stderr, "\rstep %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %.0f s   ", (long long)step,
                   (long long)a.o.steps, loss, lr, double((step - first) * a.o.batch * (a.o.seq - 1)) / s,
                   s / double(step - first) * double(a.o.steps - step));
    };
    a.o.on_eval = [](int64_t step, double kld) { std::fprintf(stderr, "\nstep %lld: held-out KLD %.5f\n", (long long)step, kld); };
    const train::DistillResult r = train::distill(teacher, student, trainset, heldout, a.o, frozen_zeros);
    std::fprintf(stderr, "\n");
    if (r.train_seconds > 0)
      std::fprintf(stderr, "train: %.0f tok/s, %.1f GFLOP/s (%s training ops%s)\n", double(r.tokens) / r.train_seconds,
                   r.train_flop / r.train_seconds * 1e-9, train::train_backend_name(student.backend()),
                   a.o.recompute ? ", recomputation" : "");
    if (out_spec.weights == compress::WeightKind::F32) {
      train::write_f32_gguf(student, *sfile, a.out);
    } else {  // f32 first, then the variant pipeline converts it
      const std::string tmp = a.out + ".f32.tmp";
      train::write_f32_gguf(student, *sfile, tmp);
      try {
        compress::write_variant(GgufFile::open(tmp), out_spec, nullptr, a.out);
      } catch (...) {
        std::remove(tmp.c_str());
        throw;
      }
      std::remove(tmp.c_str());
    }
    ModelConfig::from_gguf(*GgufFile::open(a.out));  // the output must read back as a model
    std::printf("held-out KLD to the teacher: before %.5f  after %.5f  (%.1f%%)\n", r.kld_before, r.kld_after,
                r.kld_before > 0 ? 100.0 * r.kld_after / r.kld_before : 0.0);
    std::printf("loss: first step %.4f  last step %.4f;  wrote %s\n", r.losses.front(), r.losses.back(), a.out.c_str());
  });
}

}  // namespace sb::cli
