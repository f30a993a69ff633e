// `sparkbench loadgen`: load-test an OpenAI-compatible server (harness/loadgen.h) and store one
// speed row per point in a run of kind "loadgen".
//
// Speed row of a point: test = the point's name ("server@2rps", "offline", "single-stream",
// "/cN" appended under a concurrency cap), n_prompt/n_gen = --input-len/--output-len (the
// requested sizes, so the same command pairs across runs in `compare`), repetitions = successful
// requests, avg_ts = output-token throughput (tokens/s over the point's wall time), samples_ts =
// each request's output tokens / its end-to-end seconds (compare's Mann-Whitney samples),
// stddev_ts their standard deviation, samples_ns = each request's end-to-end latency,
// ttft_ms / tpot_ms = mean TTFT / TPOT, p50/p90/p99_ms = end-to-end latency percentiles, and
// extra_json = LoadPoint::to_json() plus url and model (every percentile, goodput, errors,
// token_source). The run records the endpoint ("<base URL>/models/<name>") as its model_path and
// no model hash.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/text.h"
#include "engine/core/error.h"
#include "evals/http_client.h"
#include "harness/commands.h"
#include "harness/loadgen.h"
#include "harness/provenance.h"
#include "harness/text_format.h"

namespace sb::cli {
namespace {

double sd(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  double m = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

std::string f(double v, const char* spec = "%.1f") { return text::format(spec, v); }

void print_point(const LoadPoint& p) {
  std::printf("%s: %lld requests, %lld ok, %lld errors, %.2f s\n", p.test.c_str(), (long long)p.issued, (long long)p.ok,
              (long long)p.errors, p.wall_s);
  std::printf("  throughput: %.3f req/s, %.1f output tok/s (token counts from %s)\n", p.request_throughput, p.output_throughput,
              p.token_source == "usage"    ? "the stream's usage"
              : p.token_source == "chunks" ? "counting chunks (no usage sent)"
                                           : "usage where sent, else chunks");
  if (p.goodput) std::printf("  goodput: %.3f req/s (%.1f%% of requests met the SLOs)\n", *p.goodput, 100 * p.goodput_fraction.value_or(0));
  std::printf("  %-22s %10s %10s %10s %10s\n", "", "mean", "p50", "p90", "p99");
  auto row = [](const char* name, const Percentiles& q) {
    if (q.n == 0) return std::printf("  %-22s %10s\n", name, "-"), void();
    std::printf("  %-22s %10s %10s %10s %10s\n", name, f(q.mean, "%.2f").c_str(), f(q.p50, "%.2f").c_str(), f(q.p90, "%.2f").c_str(),
                f(q.p99, "%.2f").c_str());
  };
  row("TTFT (ms)", p.ttft);
  row("TPOT (ms/token)", p.tpot);
  row("inter-token (ms)", p.itl);
  row("end-to-end (ms)", p.e2e);
  row("output tokens", p.output_tokens);
  if (!p.first_error.empty()) std::printf("  first error: %s\n", p.first_error.c_str());
  std::fflush(stdout);
}

}  // namespace

void add_loadgen_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("loadgen",
                                 "Load-test an OpenAI-compatible server: TTFT, TPOT, inter-token and end-to-end latency, "
                                 "throughput and goodput per scenario or rate; rows go to the results database");
  static LoadgenOptions o;
  static std::vector<std::string> rates;
  static double slo_ttft = 0, slo_tpot = 0;
  static std::string db = "sparkbench.db", label;
  static bool no_db = false, json = false;
  cmd->add_option("--url", o.url, "API base URL, e.g. http://127.0.0.1:8080/v1")->required();
  cmd->add_option("--model", o.model, "Model name to request (default: the first of GET /models)");
  cmd->add_option("--scenario", o.scenario,
                  "server (Poisson arrivals at --rate), offline (all at once) or single-stream "
                  "(default: server with --rate, else offline)");
  cmd->add_option("--rate", rates, "Requests per second of the server scenario; a comma list sweeps (1,2,4,8)");
  cmd->add_option("--concurrency", o.concurrency, "At most this many requests in flight (0 = no cap)")->capture_default_str();
  cmd->add_option("--requests", o.requests, "Requests per point (default 64; unlimited with --duration)");
  cmd->add_option("--duration", o.duration_s, "Stop issuing requests after this many seconds (0 = no limit)")->capture_default_str();
  cmd->add_option("--prompts", o.prompts, "random, a suite name or directory, or a file (.jsonl with prompt/text, else one per line)")
      ->capture_default_str();
  cmd->add_option("--input-len", o.input_len, "Words of the random prompts (about one token each)")->capture_default_str();
  cmd->add_option("--output-len", o.output_len, "max_tokens of every request")->capture_default_str();
  cmd->add_flag("--ignore-eos", o.ignore_eos, "Send ignore_eos: true (llama-server/vLLM extension: every request runs to --output-len)");
  cmd->add_option("--slo-ttft-ms", slo_ttft, "Goodput SLO: time to first token (ms)");
  cmd->add_option("--slo-tpot-ms", slo_tpot, "Goodput SLO: time per output token (ms)");
  cmd->add_option("--seed", o.seed, "Seed of the arrival schedule and prompt order")->capture_default_str();
  cmd->add_option("--api-key-env", o.api_key_env, "Environment variable holding the API key (sent as a Bearer token)");
  cmd->add_flag("--chat", o.chat, "Use /chat/completions with each prompt as one user message");
  cmd->add_option("--db", db, "Results database")->capture_default_str();
  cmd->add_flag("--no-db", no_db, "Do not store the results");
  cmd->add_option("--label", label, "Label for the run (compare/report can refer to it)");
  cmd->add_flag("--json", json, "Print the points as JSON");
  cmd->callback([] {
    o.rates.clear();
    for (const auto& r : split_commas(rates)) {
      char* end = nullptr;
      const double v = std::strtod(r.c_str(), &end);
      if (r.empty() || *end) fail("loadgen: --rate '", r, "' is not a number");
      o.rates.push_back(v);
    }
    if (slo_ttft > 0) o.slo_ttft_ms = slo_ttft;
    if (slo_tpot > 0) o.slo_tpot_ms = slo_tpot;
    o.progress = ::isatty(2) && !std::getenv("CI");
    (void)planned_tests(o);  // validates the scenario before any request
    std::unique_ptr<Store> store;
    int64_t run_id = 0;
    std::string model;
    const ApiEndpoint ep = parse_api_url(o.url);
    auto start_run = [&](const std::string& m) {
      if (no_db) return;
      store = Store::open(db);
      RunInfo info = new_run_info("loadgen", label);
      info.backend = "api";
      info.model_path = ep.url() + "/models/" + m;
      info.variant = "base";
      info.seed = o.seed;
      nlohmann::json cfg{{"url", ep.url()},
                         {"model", m},
                         {"scenario", o.scenario},
                         {"rates", o.rates},
                         {"concurrency", o.concurrency},
                         {"requests", o.requests},
                         {"duration_s", o.duration_s},
                         {"prompts", o.prompts},
                         {"input_len", o.input_len},
                         {"output_len", o.output_len},
                         {"seed", o.seed},
                         {"chat", o.chat},
                         {"ignore_eos", o.ignore_eos}};
      if (o.slo_ttft_ms) cfg["slo_ttft_ms"] = *o.slo_ttft_ms;
      if (o.slo_tpot_ms) cfg["slo_tpot_ms"] = *o.slo_tpot_ms;
      info.config_json = cfg.dump();
      run_id = store->begin_run(info);
    };
    nlohmann::json all = nlohmann::json::array();
    std::vector<LoadPoint> points;
    try {
      points = run_loadgen(o, &model, [&](const LoadPoint& p) {
        if (!no_db && !store) start_run(model);
        if (!json) print_point(p);
        nlohmann::json extra = p.to_json();
        extra["url"] = ep.url();
        extra["model"] = model;
        all.push_back(extra);
        if (!store) return;
        SpeedRow s;
        s.test = p.test;
        s.n_prompt = o.input_len;
        s.n_gen = o.output_len;
        s.repetitions = p.ok;
        s.avg_ts = p.output_throughput;
        s.samples_ts = p.per_request_ts;
        s.stddev_ts = sd(p.per_request_ts);
        s.samples_ns = p.e2e_ns;
        if (p.ttft.n) s.ttft_ms = p.ttft.mean;
        if (p.tpot.n) s.tpot_ms = p.tpot.mean;
        if (p.e2e.n) s.p50_ms = p.e2e.p50, s.p90_ms = p.e2e.p90, s.p99_ms = p.e2e.p99;
        s.extra_json = extra.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        store->add_speed(run_id, s);
      });
    } catch (...) {
      if (store) store->finish_run(run_id, "failed");
      throw;
    }
    if (store) store->finish_run(run_id, "complete");
    if (json)
      std::printf("%s\n", nlohmann::json{{"run_id", run_id}, {"model", model}, {"url", ep.url()}, {"points", all}}.dump(1).c_str());
    else if (store)
      std::printf("run %lld stored in %s\n", (long long)run_id, db.c_str());
    int64_t ok = 0;
    for (const auto& p : points) ok += p.ok;
    if (ok == 0)
      fail("loadgen: every request failed",
           points.empty() || points[0].first_error.empty() ? "" : " (first: " + points[0].first_error + ")");
  });
}

}  // namespace sb::cli
