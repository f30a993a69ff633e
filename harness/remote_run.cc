// run --api: the evaluation loop of harness/runner.h for a model behind an OpenAI-compatible API.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/stop_signals.h"
#include "engine/core/error.h"
#include "evals/cached_lm.h"
#include "evals/openai_api.h"
#include "evals/remote_lm.h"
#include "harness/provenance.h"
#include "harness/run_resume.h"
#include "harness/runner.h"
#include "harness/sample_rows.h"
#include "harness/store_cache.h"
#include "reports/store.h"

namespace sb::cli {
namespace {

bool needs_logprobs(const std::string& task) { return task == "multiple_choice" || task == "dialogue" || task == "perplexity"; }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<RunSummary> run_remote_evaluation(const RunOptions& opt) {
  const std::string& url = opt.api.url;
  if (opt.api.model.empty()) fail("run --api ", url, ": --api-model NAME is required (the model name the server serves)");
  if (!opt.model.model.empty() || !opt.model.preset.empty()) fail("run --api: -m/--preset name a local model; drop them");
  for (const auto& v : opt.variants)
    if (v != "base") fail("run --api: variant '", v, "' needs local weights (only 'base' works through the API)");
  if (opt.chat.chat && !opt.chat.template_file.empty())
    fail("run --api --chat: the server applies its own chat template; drop --chat-template (or start the server with it)");
  if (opt.chat.scoring) fail("run --api: --chat-scoring needs prompt log-probs of chat prompts, which the chat API does not give");
  if (opt.api.concurrency < 1) fail("run --api: --concurrency must be >= 1 (got ", opt.api.concurrency, ")");
  const std::vector<std::string> suite_names = expand_suite_names(opt.suites);
  if (suite_names.empty()) fail("no suites to run (bundled suites live in ", datasets_dir(), ")");
  std::vector<Suite> suites;
  for (const auto& n : suite_names) {
    suites.push_back(load_suite(n));
    if (suites.back().task == "long_context")
      fail("suite ", n,
           ": long-context builds its items in the model's own tokens and is not available with --api "
           "(run it on the model file)");
  }

  RemoteLM remote(url, opt.api.model, api_key_from_env(opt.api.key_env));
  const std::string endpoint = remote.client().endpoint().url();
  // One probe before any work: a server that ignores echo/logprobs fails here, naming the suites.
  std::vector<std::string> ll_suites, other_suites;
  for (const auto& s : suites) (needs_logprobs(s.task) ? ll_suites : other_suites).push_back(s.name);
  if (!ll_suites.empty()) {
    try {
      remote.loglikelihood({"Once upon a time", " there was", false});
    } catch (const MissingPromptLogprobs& e) {
      fail(e.what(), "; the suites ", join(ll_suites), " score by log-likelihood and need them",
           other_suites.empty() ? std::string() : "; run the others with --suite " + join(other_suites));
    }
  }

  auto store = Store::open(opt.db);
  store->mark_interrupted();
  std::mutex store_mu;
  StoreCache cache(*store, &store_mu);
  TaskOptions task_opt = opt.task;
  if (opt.chat.chat) task_opt.chat = ChatMode{nullptr, opt.chat.system, false, /*messages_json=*/true};
  nlohmann::json config{
      {"api_url", endpoint},   {"api_model", opt.api.model}, {"variant", "base"},           {"backend", "api"},
      {"suites", suite_names}, {"limit", opt.limit},         {"samples", opt.task.samples}, {"temperature", opt.task.temperature},
      {"seed", opt.task.seed}};
  if (opt.chat.chat)
    config["chat"] = {{"template_source", "the server's (/chat/completions)"}, {"system", opt.chat.system}, {"scoring", false}};
  RunSummary sum;
  sum.chat = opt.chat.chat ? config["chat"] : nlohmann::json();
  sum.variant = "base";
  sum.model_path = endpoint + "/models/" + opt.api.model;
  sum.backend = "api";
  int64_t run_id = 0;
  if (opt.resume) {
    run_id = resume_matching_run(*store, config, opt.db);
    sum.resumed = true;
  } else {
    RunInfo info = new_run_info("eval", opt.label);
    info.backend = "api";
    info.model_path = sum.model_path;
    info.variant = "base";
    info.seed = opt.task.seed;
    info.config_json = config.dump();
    run_id = store->begin_run(info);
  }
  sum.run_id = run_id;
  const StopOnSignal stop;
  std::atomic<int64_t> hits{0};
  try {
    for (const auto& suite : suites) {
      const auto t0 = std::chrono::steady_clock::now();
      auto task = Task::create(suite, task_opt);
      const size_t n = opt.limit > 0 ? std::min(task->size(), size_t(opt.limit)) : task->size();
      std::set<std::string> done;
      {
        std::lock_guard<std::mutex> l(store_mu);
        done = store->sample_ids(run_id, suite.name);
      }
      std::vector<size_t> todo;
      for (size_t i = 0; i < n; ++i) {
        const std::string id = suite.item_id(i);
        if (!done.count(id) && !done.count(id + "#0")) todo.push_back(i);
      }
      const int threads = suite.task == "code" ? 1 : opt.api.concurrency;
      // Batches of a few items per thread: each batch is evaluated in parallel, then stored in
      // item order (an interrupted run keeps every finished batch).
      const size_t batch = size_t(threads) * 4;
      for (size_t b = 0; b < todo.size() && !stop.stopped(); b += batch) {
        const size_t e = std::min(todo.size(), b + batch);
        std::vector<std::vector<ItemResult>> results(e - b);
        std::vector<std::exception_ptr> errors(e - b);
        std::atomic<size_t> next{b};
        auto worker = [&] {
          CachedLM cached(remote, cache);
          for (size_t k; !stop.stopped() && (k = next.fetch_add(1)) < e;) {
            try {
              results[k - b] = task->run(todo[k], cached);
            } catch (...) {
              errors[k - b] = std::current_exception();
            }
          }
          hits += cached.hits();
        };
        if (threads == 1) {
          worker();
        } else {
          std::vector<std::thread> pool;
          for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
          for (auto& t : pool) t.join();
        }
        for (size_t k = b; k < e; ++k) {
          if (errors[k - b]) std::rethrow_exception(errors[k - b]);
          if (results[k - b].empty()) continue;  // not reached (stopped)
          std::vector<SampleRow> rows;
          for (const auto& r : results[k - b]) rows.push_back(to_row(suite.name, r));
          store->add_samples(run_id, rows);
        }
        if (opt.progress) std::fprintf(stderr, "\r[api] %s %zu/%zu   ", suite.name.c_str(), n - todo.size() + e, n);
      }
      if (opt.progress) std::fprintf(stderr, "\n");
      if (stop.stopped()) break;
      std::vector<ItemResult> rows;
      for (const auto& s : store->samples(run_id, suite.name)) rows.push_back(from_row(s));
      SuiteSummary ss{suite.name, suite.version,         suite.task,
                      int64_t(n), task->aggregate(rows), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
      for (const auto& m : ss.metrics)
        store->add_metric(run_id, metric_row(suite.name, m.metric, m.value, m.stderr_, m.ci_low, m.ci_high, m.n));
      sum.suites.push_back(std::move(ss));
    }
  } catch (...) {
    store->finish_run(run_id, "failed");
    throw;
  }
  sum.cache_hits = hits;
  sum.peak_rss_bytes = peak_rss_bytes();
  sum.status = stop.stopped() ? "interrupted" : "complete";
  store->finish_run(run_id, sum.status);
  return {sum};
}

}  // namespace sb::cli
