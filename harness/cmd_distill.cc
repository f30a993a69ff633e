// `sparkbench distill`: heal a pruned (or any) student from its teacher by knowledge
// distillation on text sampled from the teacher (engine/train/distill.h), and write the
// student as an f32 GGUF file that run/bench load like any model. The run is recorded in the
// results database (--db, default sparkbench.db like run): kind "distill", the teacher as its
// model, per-step rows in train_steps (committed every 10 steps), kld_before/kld_after metrics.
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/core/sha256.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/train/distill.h"
#include "harness/commands.h"
#include "harness/distill_job.h"
#include "harness/model_loader.h"
#include "harness/provenance.h"
#include "harness/runner.h"
#include "harness/variants.h"
#include "reports/store.h"

namespace sb::cli {

void add_distill_command(CLI::App& app) {
  struct Args {
    std::string teacher, student, variant, out, calibration, backend, out_type = "f32", db = "sparkbench.db", label;
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
  c->add_option("--eval-every", a.o.eval_every, "Print the held-out KLD every N steps (0 = only before and after)")->capture_default_str();
  auto* ck = c->add_option("--checkpoint", a.o.checkpoint_dir,
                           "Directory for resumable checkpoints; a rerun of the same command resumes from its latest "
                           "one and ends exactly as an unbroken run would");
  c->add_option("--checkpoint-every", a.o.checkpoint_every, "Steps between checkpoints (0 = only after the last step)")
      ->capture_default_str()
      ->needs(ck);
  c->add_option("--out-type", a.out_type, "Weight type of the output file (f32, f16, bf16, q8_0, q4_k_m, ...: any variant weight type)")
      ->capture_default_str();
  c->add_option("-o,--output", a.out, "Output GGUF file")->required();
  c->add_option("--db", a.db,
                "Results database: the run (kind distill), its per-step loss, learning rate and held-out "
                "KLD, and kld_before/kld_after")
      ->capture_default_str();
  c->add_option("--label", a.label, "Label of the stored run");
  c->callback([] {
    if (a.student.empty() && a.variant.empty()) fail("distill: give --student FILE or --student-variant SPEC");
    const compress::VariantSpec out_spec = compress::parse_variant(a.out_type);
    if (out_spec.pruned() || out_spec.distills() || out_spec.weights == compress::WeightKind::Int8 ||
        (!out_spec.converts_weights() && out_spec.weights != compress::WeightKind::F32))
      fail("distill: --out-type '", a.out_type, "' is not a GGUF weight type (f32, f16, bf16, q8_0, q4_0, q4_k_m, ...)");
    DistillJob job;
    job.teacher = GgufFile::open(a.teacher);
    auto tok = Tokenizer::from_gguf(*job.teacher);
    BackendOptions bo;
    bo.threads = a.threads;
    auto backend = create_backend(a.backend, bo);
    if (!a.student.empty()) {
      job.student = GgufFile::open(a.student);
    } else {
      job.student_variant = compress::parse_variant(a.variant);
      const compress::VariantSpec& spec = job.student_variant;
      if (spec.converts_weights() || spec.weights == compress::WeightKind::Int8 || spec.distills())
        fail("distill: --student-variant '", a.variant, "' converts weight types; the student trains in f32 (use pruning parts only)");
      if (spec.needs_calibration()) job.calibration_text = read_calibration(calibration_path(a.calibration));
    }
    job.data = a.data;
    job.samples = a.samples;
    job.heldout = a.heldout;
    job.o = a.o;
    job.backend = backend.get();
    job.threads = a.threads;
    job.tokenizer = tok.get();
    job.out = a.out;
    job.out_type = out_spec;
    const DistillData data = distill_data(job);

    // The run, stored as it goes: rows committed every 10 steps, so a killed run keeps its curve.
    auto store = Store::open(a.db);
    const std::string sha = model_sha256(a.teacher, store.get());
    nlohmann::json config{{"teacher", a.teacher},
                          {"teacher_sha256", sha},
                          {"student", a.student.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.student)},
                          {"student_variant", a.variant.empty() ? nlohmann::json(nullptr) : nlohmann::json(job.student_variant.name())},
                          {"data", a.data},
                          {"data_sha256", data.sha256},
                          {"teacher_samples", a.samples},
                          {"heldout", a.heldout},
                          {"steps", a.o.steps},
                          {"seq", a.o.seq},
                          {"batch", a.o.batch},
                          {"lr", a.o.lr},
                          {"warmup", a.o.warmup},
                          {"temperature", a.o.temperature},
                          {"alpha", a.o.alpha},
                          {"top_k", a.o.top_k},
                          {"clip", a.o.clip},
                          {"weight_decay", a.o.weight_decay},
                          {"seed", a.o.seed},
                          {"eval_every", a.o.eval_every},
                          {"out_type", out_spec.name()},
                          {"output", a.out},
                          {"backend", a.backend}};
    if (!a.student.empty()) config["student_sha256"] = model_sha256(a.student, store.get());
    if (job.student_variant.needs_calibration()) config["calibration_sha256"] = sha256_hex(job.calibration_text);
    RunInfo info = new_run_info("distill", a.label);
    info.backend = backend->name();
    info.threads = a.threads;
    info.model_path = a.teacher;
    info.model_sha256 = sha;
    info.model_arch = ModelConfig::from_gguf(*job.teacher).arch;
    info.variant = a.student.empty() ? job.student_variant.name() + "+distill:" + std::to_string(a.o.steps) : "";
    info.seed = a.o.seed;
    config["backend_info"] = backend->describe();
    info.config_json = config.dump();
    const int64_t run = store->begin_run(info);
    std::vector<TrainStepRow> pending;
    job.o.progress = [&](int64_t step, double loss, double lr) {
      if (pending.size() >= 10) {  // keep the newest step buffered: its held-out KLD may follow
        store->add_train_steps(run, pending);
        pending.clear();
      }
      pending.push_back({step, loss, lr, std::nullopt});
    };
    job.o.on_eval = [&](int64_t step, double kld) {
      if (!pending.empty() && pending.back().step == step)
        pending.back().kld = kld;
      else
        store->add_train_steps(run, {TrainStepRow{step, std::nan(""), std::nan(""), kld}});
    };
    DistillJobResult r;
    try {
      r = run_distill_job(job, data);
      if (!pending.empty()) pending.back().kld = r.kld_after;  // the last step's held-out KLD
      store->add_train_steps(run, pending);
      if (r.resumed_from > 0) {  // steps restored from a checkpoint: their losses and KLDs (lr not kept)
        std::vector<TrainStepRow> restored;
        for (const TrainStepRow& row : train_step_rows(r))
          if (row.step <= r.resumed_from) restored.push_back(row);
        store->add_train_steps(run, restored);
      }
      auto put = [&](const char* name, double v) {
        store->add_metric(run, metric_row("distill", name, v, std::nullopt, std::nullopt, std::nullopt, int64_t(data.heldout.size())));
      };
      put("kld_before", r.kld_before);
      put("kld_after", r.kld_after);
    } catch (...) {
      store->finish_run(run, "failed");
      throw;
    }
    store->finish_run(run, "complete");
    std::printf("held-out KLD to the teacher: before %.5f  after %.5f  (%.1f%%)\n", r.kld_before, r.kld_after,
                r.kld_before > 0 ? 100.0 * r.kld_after / r.kld_before : 0.0);
    std::printf("loss: first step %.4f  last step %.4f;  wrote %s\n", r.losses.front(), r.losses.back(), a.out.c_str());
    std::printf("stored run %lld in %s\n", (long long)run, a.db.c_str());
  });
}

}  // namespace sb::cli
