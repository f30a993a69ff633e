#include "harness/runner.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "common/stop_signals.h"
#include "engine/core/error.h"
#include "engine/core/sha256.h"
#include "evals/cached_lm.h"
#include "evals/engine_lm.h"
#include "evals/metric_registry.h"
#include "harness/mpi_run.h"
#include "harness/provenance.h"
#include "harness/run_resume.h"
#include "harness/sample_rows.h"
#include "harness/store_cache.h"
#include "reports/store.h"

namespace sb::cli {
namespace {

std::atomic<bool>& g_stop = StopOnSignal::flag();

std::string random_group_id() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

}  // namespace

MetricRow metric_row(const std::string& task, const std::string& metric, double value, std::optional<double> stderr_,
                     std::optional<double> ci_low, std::optional<double> ci_high, int64_t n) {
  const MetricInfo info = describe_metric(metric);
  MetricRow r{task, metric, value, stderr_, ci_low, ci_high, n};
  r.direction = info.direction;
  r.unit = info.unit;
  r.primary = info.primary;
  return r;
}

namespace {

// What a run will do, decided from the options and the suites alone: bad input fails here,
// before any model work.
struct EvalPlan {
  std::vector<std::string> suite_names;
  std::vector<compress::VariantSpec> specs;
  compress::VariantSpec baseline;
  bool want_fidelity = false, want_speed = false;
  std::string calib_path, calib_text;
  std::vector<Suite> suites;
};

EvalPlan plan_evaluation(const RunOptions& opt) {
  const std::vector<std::string> suite_names = expand_suite_names(opt.suites);
  if (suite_names.empty()) fail("no suites to run (bundled suites live in ", datasets_dir(), ")");
  std::vector<compress::VariantSpec> specs;
  {
    std::set<std::string> names;
    for (const auto& v : opt.variants) {
      specs.push_back(compress::parse_variant(v));
      if (!names.insert(specs.back().name()).second) fail("variant '", v, "' is listed twice (as ", specs.back().name(), ")");
    }
  }
  if (specs.empty()) fail("no variants to run");
  const compress::VariantSpec baseline = compress::parse_variant(opt.baseline);
  const bool sweep = !(specs.size() == 1 && specs[0].is_base());
  const bool want_fidelity = sweep && opt.fidelity, want_speed = sweep && opt.speed;
  bool need_calib = want_fidelity || baseline.needs_calibration();
  for (const auto& v : specs) need_calib |= v.needs_calibration();
  const std::string calib_path = calibration_path(opt.calibration);
  const std::string calib_text = need_calib ? read_calibration(calib_path) : std::string();
  std::vector<Suite> suites;
  for (const auto& n : suite_names) {
    suites.push_back(load_suite(n));
    if (suites.back().task == "long_context") long_context_grid(suites.back(), opt.long_context);  // bad grid: fail now
  }
  return {suite_names, std::move(specs), baseline, want_fidelity, want_speed, calib_path, calib_text, std::move(suites)};
}

// A variant's run configuration as stored with the run (what --resume matches).
nlohmann::json run_config(const RunOptions& opt, const ModelArgs& margs, const LoadedModel& lm, const std::string& sha,
                          const std::string& variant, const std::vector<std::string>& suite_names, const std::string& fewshot_sha,
                          const compress::VariantSpec& spec, const std::string& calib_sha, const ChatTemplate* chat,
                          const nlohmann::json& chat_cfg) {
  nlohmann::json config{{"model", lm.path},
                        {"model_sha256", sha},
                        {"variant", variant},
                        {"backend", margs.backend},
                        {"kv_type", margs.kv_type},
                        {"compute", margs.compute},
                        {"suites", suite_names},
                        {"limit", opt.limit},
                        {"samples", opt.task.samples},
                        {"temperature", opt.task.temperature},
                        {"seed", opt.task.seed},
                        {"n_ctx", margs.n_ctx},
                        {"num_fewshot", opt.task.num_fewshot},
                        {"timeout_s", opt.task.timeout_s}};
  if (!opt.task.fewshot_from.empty()) config["fewshot_from_sha256"] = fewshot_sha;
  if (!opt.long_context.empty())
    config["long_context"] = {{"lengths", opt.long_context.lengths},
                              {"depths", opt.long_context.depths},
                              {"items", opt.long_context.items},
                              {"loss_items", opt.long_context.loss_items}};
  if (spec.needs_calibration()) config["calibration_sha256"] = calib_sha;
  if (chat) config["chat"] = chat_cfg;
  return config;
}

// Fidelity reference: the baseline variant over the calibration text.
compress::FidelityReference baseline_reference(const RunOptions& opt, const LoadedModel& lm, const compress::VariantSpec& baseline,
                                               const std::string& calib_path, const std::string& calib_text, const std::string& sha,
                                               int64_t fid_ctx) {
  if (opt.progress) std::fprintf(stderr, "[fidelity] baseline %s on %s\n", baseline.name().c_str(), calib_path.c_str());
  std::unique_ptr<Model> owned;
  const Model* bm = lm.model.get();
  if (!baseline.is_base()) {
    VariantLoad bl = load_variant_model(lm.model->file_ptr(), baseline, *lm.backend, *lm.tokenizer, calib_text, sha, opt.progress);
    owned = std::move(bl.model);
    bm = owned.get();
  }
  ContextOptions co = lm.ctx_opts;
  co.n_ctx = fid_ctx;
  Context ctx(*bm, co);
  return compress::fidelity_reference(ctx, *lm.tokenizer, calib_text, fid_ctx);
}

// The run's row in the store: the interrupted or failed run with this configuration (--resume),
// else a new one.
int64_t open_run(Store& store, const RunOptions& opt, const nlohmann::json& config, const std::string& group, const LoadedModel& lm,
                 const ModelArgs& margs, const std::string& sha, const Model& model, const std::string& variant, bool& resumed) {
  int64_t run_id = 0;
  if (opt.resume) {
    run_id = resume_matching_run(store, config, opt.db);
    resumed = true;
  } else {
    RunInfo info = new_run_info("eval", opt.label);
    info.group_id = group;
    info.backend = lm.backend->name();
    info.threads = margs.threads;
    info.model_path = lm.path;
    info.model_sha256 = sha;
    info.model_arch = model.config().arch;
    info.synthetic_weights = lm.synthetic;
    info.variant = variant;
    info.seed = opt.task.seed;
    nlohmann::json stored = config;
    stored["backend_info"] = lm.backend->describe();  // which kernels / ISA level ran
    info.config_json = stored.dump();
    run_id = store.begin_run(info);
  }
  return run_id;
}

// The fidelity metrics of one variant as rows of the "fidelity" task.
void store_fidelity(Store& store, int64_t run_id, const compress::Fidelity& f) {
  const int64_t n = f.n_tokens;
  auto put = [&](const char* name, double v, std::optional<double> se) {
    store.add_metric(run_id, metric_row("fidelity", name, v, se, std::nullopt, std::nullopt, n));
  };
  put("kld_mean", f.kld_mean, f.kld_mean_stderr);
  put("kld_median", f.kld_median, std::nullopt);
  put("kld_p99", f.kld_p99, std::nullopt);
  put("kld_max", f.kld_max, std::nullopt);
  put("same_top1", f.same_top1, f.same_top1_stderr);
  put("ppl_delta", f.ppl_delta, f.ppl_delta_stderr);
  put("ppl_ratio", f.ppl_ratio, f.ppl_ratio_stderr);
  put("rms_dp", f.rms_dp, std::nullopt);
  put("ppl", f.ppl, std::nullopt);
}

// A variant's quick speed measurements as speed rows of its run.
void store_speed(Store& store, int64_t run_id, const RunSummary& sum, const LoadedModel& lm, const ModelArgs& margs) {
  const std::string& variant = sum.variant;
  const QuickSpeed& q = *sum.speed;
  const std::string extra = nlohmann::json{
      {"variant", variant},
      {"backend", lm.backend->name()},
      {"type_k", margs.kv_type},
      {"weight_bytes", sum.model_bytes},
      {"source", "run"}}.dump();
  for (const SpeedResult* m : {&q.pp, &q.tg}) {
    SpeedRow row = speed_row(*m);
    row.peak_rss_bytes = sum.peak_rss_bytes;
    row.load_ms = sum.load_ms;
    row.extra_json = extra;
    store.add_speed(run_id, row);
  }
}

}  // namespace

std::vector<RunSummary> run_evaluation(const RunOptions& opt) {
  block_stop_signals();  // before the model's threads start (common/stop_signals.h)
  if (!opt.api.url.empty()) return run_remote_evaluation(opt);
  ModelArgs margs = opt.model;
  if (margs.model.empty() && margs.preset.empty()) margs.preset = "codex-spark-mini";
  // Parse variants and load every suite first: bad input fails before any model work.
  const EvalPlan plan = plan_evaluation(opt);
  const auto& suite_names = plan.suite_names;
  const auto& specs = plan.specs;
  const auto& baseline = plan.baseline;
  const bool want_fidelity = plan.want_fidelity, want_speed = plan.want_speed;
  const std::string& calib_path = plan.calib_path;
  const std::string& calib_text = plan.calib_text;
  const auto& suites = plan.suites;

  // Under mpirun/srun: ranks other than 0 only evaluate the items rank 0 sends (mpi_run.h).
  mpi::Comm* comm = mpi::world("run");
  if (comm) mpi::share_node(margs, *comm);
  if (comm && comm->rank() != 0) {
    mpi::serve_items(*comm, opt, margs, suites, specs, calib_text);
    return {};
  }
  mpi::ItemRunner item_runner(comm, margs);
  // The few-shot file identifies the run too (resume must not mix example sets); a bad or
  // mismatched file fails here, before the model loads.
  const std::string fewshot_sha = opt.task.fewshot_from.empty() ? std::string() : load_suite(opt.task.fewshot_from).data_sha256;
  for (const auto& s : suites)
    if (s.task != "long_context") Task::create(s, opt.task);

  auto store = Store::open(opt.db);
  store->mark_interrupted();
  StoreCache cache(*store);
  LoadedModel lm = load_model(margs);
  std::unique_ptr<ChatTemplate> chat = open_chat_template(opt.chat, lm.model->file(), *lm.tokenizer);
  TaskOptions task_opt = opt.task;
  task_opt.chat = ChatMode{chat.get(), opt.chat.system, opt.chat.scoring};
  const nlohmann::json chat_cfg = chat_config(opt.chat, chat.get());  // null without --chat
  const std::string sha = model_sha256(lm.path, store.get());
  const std::string calib_sha = calib_text.empty() ? "" : sha256_hex(calib_text);
  const std::string group = random_group_id();
  const StopOnSignal stop_on_signal;

  // Fidelity reference: the baseline variant over the calibration text.
  int64_t fid_ctx = std::min(opt.calib_ctx, lm.model->config().n_ctx);
  if (margs.n_ctx > 0) fid_ctx = std::min(fid_ctx, margs.n_ctx);
  std::optional<compress::FidelityReference> ref;
  if (want_fidelity) ref = baseline_reference(opt, lm, baseline, calib_path, calib_text, sha, fid_ctx);

  std::vector<RunSummary> out;
  for (const auto& spec : specs) {
    const std::string variant = spec.name();
    const nlohmann::json config = run_config(opt, margs, lm, sha, variant, suite_names, fewshot_sha, spec, calib_sha, chat.get(), chat_cfg);
    RunSummary sum;
    sum.variant = variant;
    sum.model_path = lm.path;
    sum.model_sha256 = sha;
    sum.synthetic = lm.synthetic;
    sum.backend = lm.backend->name();
    sum.chat = chat_cfg;
    sum.peak_per_variant = reset_peak_rss();
    // The variant's model (the base model itself for "base").
    std::unique_ptr<Model> owned;
    const Model* model = lm.model.get();
    sum.load_ms = lm.load_ms;
    std::optional<DistilledVariant> distilled;
    if (!spec.is_base()) {
      if (opt.progress) std::fprintf(stderr, "[%s] applying the variant ...\n", variant.c_str());
      VariantLoad vl = load_variant_model(lm.model->file_ptr(), spec, *lm.backend, *lm.tokenizer, calib_text, sha, /*verbose=*/true);
      sum.notes = vl.vm.report.notes;
      distilled = std::move(vl.distilled);
      sum.load_ms = vl.load_ms;
      owned = std::move(vl.model);
      model = owned.get();
    }
    sum.model_bytes = int64_t(model->matrix_bytes());
    sum.weight_type = weight_type_label(*model, spec);
    const int64_t run_id = open_run(*store, opt, config, group, lm, margs, sha, *model, variant, sum.resumed);
    sum.run_id = run_id;
    if (distilled) {  // the distill step's curve and KLDs belong to this run (trained now or cached)
      store->add_train_steps(run_id, train_step_rows(distilled->result));
      const int64_t n = DistillJob{}.heldout;  // held-out teacher samples (the step's fixed settings, harness/variants.h)
      store->add_metric(run_id,
                        metric_row("distill", "kld_before", distilled->result.kld_before, std::nullopt, std::nullopt, std::nullopt, n));
      store->add_metric(run_id,
                        metric_row("distill", "kld_after", distilled->result.kld_after, std::nullopt, std::nullopt, std::nullopt, n));
    }
    EngineLMSettings settings{.model_sha256 = sha, .variant = variant, .compute = margs.compute};
    if (spec.needs_calibration()) settings.calibration_sha256 = calib_sha;
    set_chat_identity(opt.chat, chat.get(), settings);
    EngineLM engine(*model, *lm.tokenizer, lm.ctx_opts, settings);
    CachedLM cached(engine, cache);
    try {
      // A long_context suite's items depend on the context in use (lengths up to it).
      std::vector<Suite> run_suites;
      for (const auto& loaded : suites)
        run_suites.push_back(loaded.task == "long_context" ? long_context_items(loaded, engine.context_length(), opt.long_context)
                                                           : loaded);
      std::vector<std::unique_ptr<Task>> tasks;
      std::vector<size_t> sizes;
      for (const auto& suite : run_suites) {
        tasks.push_back(Task::create(suite, task_opt));
        sizes.push_back(opt.limit > 0 ? std::min(tasks.back()->size(), size_t(opt.limit)) : tasks.back()->size());
      }
      const mpi::ItemsDone items = item_runner.run({run_suites, tasks, sizes, *store, run_id, cached, size_t(&spec - specs.data()), variant,
                                                    sha, settings.calibration_sha256, opt.progress, g_stop});
      sum.items_evaluated = items.items;
      for (size_t k = 0; k < run_suites.size() && !g_stop; ++k) {
        const Suite& suite = run_suites[k];
        std::vector<ItemResult> rows;
        for (const auto& s : store->samples(run_id, suite.name)) rows.push_back(from_row(s));
        sort_by_item(rows, suite);
        SuiteSummary ss{suite.name, suite.version, suite.task, int64_t(sizes[k]), tasks[k]->aggregate(rows), items.seconds[k]};
        for (const auto& m : ss.metrics)
          store->add_metric(run_id, metric_row(suite.name, m.metric, m.value, m.stderr_, m.ci_low, m.ci_high, m.n));
        sum.suites.push_back(std::move(ss));
      }
      if (!g_stop && ref) {
        if (opt.progress) std::fprintf(stderr, "[%s] fidelity ...\n", variant.c_str());
        ContextOptions co = lm.ctx_opts;
        co.n_ctx = fid_ctx;
        Context ctx(*model, co);
        const compress::Fidelity f = compress::measure_fidelity(*ref, ctx, *lm.tokenizer, calib_text);
        store_fidelity(*store, run_id, f);
        sum.fidelity = f;
      }
      if (!g_stop && want_speed) {
        if (opt.progress) std::fprintf(stderr, "[%s] speed ...\n", variant.c_str());
        QuickSpeed q = quick_speed(*model, lm.ctx_opts, opt.speed_prompt, opt.speed_gen, std::max(1, opt.speed_reps));
        sum.speed = q;
      }
    } catch (...) {
      store->finish_run(run_id, "failed");
      throw;
    }
    sum.peak_rss_bytes = peak_rss_bytes();
    if (sum.speed) store_speed(*store, run_id, sum, lm, margs);
    sum.cache_hits = cached.hits();
    if (g_stop) {
      store->finish_run(run_id, "interrupted");
      sum.status = "interrupted";
      out.push_back(std::move(sum));
      break;
    }
    store->finish_run(run_id, "complete");
    sum.status = "complete";
    out.push_back(std::move(sum));
  }
  return out;
}

}  // namespace sb::cli
