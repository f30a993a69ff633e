#include "harness/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/build_info.h"
#include "common/text.h"
#include "common/text_table.h"
#include "engine/core/error.h"
#include "engine/generate/sampler.h"
#include "harness/provenance.h"
#include "harness/variants.h"
#include "harness/text_format.h"

namespace sb::cli {
namespace {

using clock_type = std::chrono::steady_clock;
double ns_since(clock_type::time_point t) { return std::chrono::duration<double, std::nano>(clock_type::now() - t).count(); }

// One configuration's model (a file or "preset:NAME"), with the variant applied; the variant's
// notes go to `notes`.
LoadedModel load_bench_model(const BenchConfig& cfg, const std::string& model, const std::string& backend, int threads,
                             const std::string& kv, const compress::VariantSpec& spec, std::vector<std::string>& notes) {
  ModelArgs a;
  if (model.rfind("preset:", 0) == 0)
    a.preset = model.substr(7);
  else
    a.model = model;
  a.backend = backend;
  a.threads = threads;
  a.kv_type = kv;
  a.compute = cfg.compute;
  a.n_batch = cfg.n_batch;
  LoadedModel lm = load_model(a);
  notes = apply_variant(lm, spec, cfg.calibration);
  return lm;
}

// The --scenario test: `queries` prompt+generation queries in a row, their latency percentiles
// and throughput on the row `base` makes for the configuration.
BenchRow run_scenario(const BenchConfig& cfg, SpeedProbe& run, int64_t depth, const std::function<BenchRow(const SpeedResult&)>& base) {
  const int64_t P = cfg.n_prompt.empty() ? 128 : cfg.n_prompt.front();
  const int64_t N = cfg.n_gen.empty() ? 32 : cfg.n_gen.front();
  SpeedResult named;
  named.test = cat(cfg.scenario, ":pp", P, "+tg", N);
  named.n_prompt = P;
  named.n_gen = N;
  named.n_depth = depth;
  BenchRow r = base(named);
  r.scenario = cfg.scenario;
  double ttft = 0, tpot = 0;
  std::vector<double> steps, lat, ttfts, tpots;
  const auto t0 = clock_type::now();
  for (int q = 0; q < cfg.queries; ++q) {
    lat.push_back(run.pg(P, N, ttft, tpot, steps));
    ttfts.push_back(ttft);
    tpots.push_back(tpot);
  }
  const double wall_s = ns_since(t0) / 1e9;
  finish_speed(r, lat, P + N);
  r.ttft_ms = speed_mean(ttfts);
  r.tpot_ms = speed_mean(tpots);
  // single-stream reports the 90th-percentile query latency; offline the throughput
  r.p50_ms = speed_percentile(lat, 0.50) / 1e6;
  r.p90_ms = speed_percentile(lat, 0.90) / 1e6;
  r.p99_ms = speed_percentile(lat, 0.99) / 1e6;
  r.queries_per_s = double(cfg.queries) / wall_s;
  if (cfg.scenario == "offline") r.avg_ts = double(cfg.queries * N) / wall_s;
  return r;
}

}  // namespace

std::vector<BenchRow> run_bench(const BenchConfig& cfg, const std::function<void(const BenchRow&)>& on_row) {
  if (cfg.repetitions < 1) fail("--repetitions must be at least 1");
  std::vector<BenchRow> rows;
  for (const auto& model : cfg.models)
    for (const auto& backend : cfg.backends)
      for (int threads : cfg.threads)
        for (const auto& kv : cfg.kv_types)
          for (int64_t depth : cfg.depths)
            for (const auto& variant : cfg.variants) {
              const compress::VariantSpec spec = compress::parse_variant(variant);
              const bool per_config = reset_peak_rss();
              std::vector<std::string> notes;
              LoadedModel lm = load_bench_model(cfg, model, backend, threads, kv, spec, notes);
              int64_t need = 1;
              for (int64_t p : cfg.n_prompt) need = std::max(need, p);
              for (int64_t n : cfg.n_gen) need = std::max(need, n);
              for (auto [p, n] : cfg.pg) need = std::max(need, p + n);
              if (!cfg.scenario.empty())
                need = std::max(need, (cfg.n_prompt.empty() ? 128 : cfg.n_prompt.front()) + (cfg.n_gen.empty() ? 32 : cfg.n_gen.front()));
              const ModelConfig& mc = lm.model->config();
              if (depth + need > mc.n_ctx) fail("depth ", depth, " + test length ", need, " exceeds the model context ", mc.n_ctx);
              ContextOptions co = lm.ctx_opts;
              co.n_ctx = depth + need;
              Context ctx(*lm.model, co);
              SpeedProbe run(*lm.model, ctx, cfg.seed, depth);
              run.prefill_depth();
              // The configuration's fields around a probe result.
              auto base = [&](const SpeedResult& measured) {
                BenchRow r;
                static_cast<SpeedResult&>(r) = measured;
                r.model_filename = lm.path;
                r.model_type = cat(mc.arch, " ", mc.n_layer, "L ", mc.n_embd, "d ", weight_type_label(*lm.model, spec));
                r.variant = spec.name();
                r.variant_notes = notes;
                r.peak_rss_per_config = per_config;
                r.model_size = int64_t(lm.model->matrix_bytes());
                r.model_n_params = mc.n_params();
                r.backend = lm.backend->name();
                r.backend_info = lm.backend->describe();
                r.type_k = kv;
                r.n_batch = cfg.n_batch;
                r.n_threads = threads;
                r.synthetic = lm.synthetic;
                r.load_ms = lm.load_ms;
                r.weight_bytes = int64_t(lm.model->weight_bytes());
                r.kv_bytes = int64_t(ctx.kv_bytes());
                return r;
              };
              auto emit = [&](BenchRow r) {
                r.peak_rss_bytes = peak_rss_bytes();
                if (on_row) on_row(r);
                rows.push_back(std::move(r));
              };
              for (int64_t P : cfg.n_prompt)
                if (P > 0) emit(base(run.run_pp(P, cfg.repetitions)));
              for (int64_t N : cfg.n_gen)
                if (N > 0) emit(base(run.run_tg(N, cfg.repetitions)));
              for (auto [P, N] : cfg.pg) emit(base(run.run_pg(P, N, cfg.repetitions)));
              if (!cfg.scenario.empty()) emit(run_scenario(cfg, run, depth, base));
            }
  return rows;
}

namespace {

nlohmann::json row_json(const BenchRow& r) {
  nlohmann::json j{{"build_commit", build_commit()},
                   {"build_number", 0},
                   {"cpu_info", cpu_model()},
                   {"backends", r.backend},
                   {"backend_info", r.backend_info},
                   {"model_filename", r.model_filename},
                   {"model_type", r.model_type},
                   {"model_size", r.model_size},
                   {"model_n_params", r.model_n_params},
                   {"synthetic_weights", r.synthetic},
                   {"n_batch", r.n_batch},
                   {"n_threads", r.n_threads},
                   {"type_k", r.type_k},
                   {"type_v", r.type_k},
                   {"n_prompt", r.n_prompt},
                   {"n_gen", r.n_gen},
                   {"n_depth", r.n_depth},
                   {"test", r.test},
                   {"repetitions", r.repetitions},
                   {"avg_ns", int64_t(r.avg_ns)},
                   {"stddev_ns", int64_t(r.stddev_ns)},
                   {"avg_ts", r.avg_ts},
                   {"stddev_ts", r.stddev_ts},
                   {"samples_ns", r.samples_ns},
                   {"samples_ts", r.samples_ts},
                   {"peak_rss_bytes", r.peak_rss_bytes},
                   {"weight_bytes", r.weight_bytes},
                   {"kv_bytes", r.kv_bytes},
                   {"load_ms", r.load_ms},
                   {"variant", r.variant},
                   {"peak_rss_per_config", r.peak_rss_per_config}};
  if (!r.variant_notes.empty()) j["variant_notes"] = r.variant_notes;
  if (!r.scenario.empty()) j["scenario"] = r.scenario;
  auto opt = [&](const char* k, const std::optional<double>& v) {
    if (v) j[k] = *v;
  };
  opt("ttft_ms", r.ttft_ms);
  opt("tpot_ms", r.tpot_ms);
  opt("p50_ms", r.p50_ms);
  opt("p90_ms", r.p90_ms);
  opt("p99_ms", r.p99_ms);
  opt("queries_per_s", r.queries_per_s);
  return j;
}

std::string base_name(const std::string& p) {
  const auto s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

}  // namespace

std::string render_bench(const std::vector<BenchRow>& rows, const std::string& format) {
  std::ostringstream out;
  if (format == "json") {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& r : rows) a.push_back(row_json(r));
    out << a.dump(1) << "\n";
  } else if (format == "jsonl") {
    for (const auto& r : rows) out << row_json(r).dump() << "\n";
  } else if (format == "csv" || format == "sql") {
    const std::vector<std::string> cols{
        "build_commit", "cpu_info", "backends", "model_filename", "model_type", "model_size",  "model_n_params", "n_batch",   "n_threads",
        "type_k",       "n_prompt", "n_gen",    "n_depth",        "test",       "repetitions", "avg_ns",         "stddev_ns", "avg_ts",
        "stddev_ts",    "ttft_ms",  "tpot_ms",  "p50_ms",         "p90_ms",     "p99_ms",      "peak_rss_bytes", "load_ms",   "variant"};
    auto cell = [](const nlohmann::json& j, const std::string& c, bool sql) -> std::string {
      if (!j.contains(c)) return sql ? "NULL" : "";
      const auto& v = j[c];
      if (v.is_string()) {
        std::string s = v.get<std::string>(), q;
        for (char ch : s) {
          if (ch == (sql ? '\'' : '"')) q += ch;
          q += ch;
        }
        return sql ? "'" + q + "'" : "\"" + q + "\"";
      }
      return v.dump();
    };
    if (format == "csv") {
      for (size_t i = 0; i < cols.size(); ++i) out << (i ? "," : "") << cols[i];
      out << "\n";
      for (const auto& r : rows) {
        auto j = row_json(r);
        for (size_t i = 0; i < cols.size(); ++i) out << (i ? "," : "") << cell(j, cols[i], false);
        out << "\n";
      }
    } else {
      out << "CREATE TABLE IF NOT EXISTS bench (";
      for (size_t i = 0; i < cols.size(); ++i) out << (i ? ", " : "") << cols[i];
      out << ");\n";
      for (const auto& r : rows) {
        auto j = row_json(r);
        out << "INSERT INTO bench (";
        for (size_t i = 0; i < cols.size(); ++i) out << (i ? ", " : "") << cols[i];
        out << ") VALUES (";
        for (size_t i = 0; i < cols.size(); ++i) out << (i ? ", " : "") << cell(j, cols[i], true);
        out << ");\n";
      }
    }
  } else if (format == "md" || format == "table") {
    const bool md = format == "md";
    text::Table t({"model", "variant", "size", "backend", "threads", "kv", "test", "t/s", "ttft ms", "tpot ms", "p90 ms", "peak RSS"});
    for (const auto& r : rows) {
      t.add_row({base_name(r.model_filename) + (r.synthetic ? " (synthetic)" : ""), r.variant,
                 text::format("%.1f MiB", double(r.model_size) / 1048576.0), r.backend, std::to_string(r.n_threads), r.type_k,
                 r.test + (r.n_depth ? " @ d" + std::to_string(r.n_depth) : ""),
                 text::format("%.2f", r.avg_ts) + " ± " + text::format("%.2f", r.stddev_ts),
                 r.ttft_ms ? text::format("%.1f", *r.ttft_ms) : "", r.tpot_ms ? text::format("%.2f", *r.tpot_ms) : "",
                 r.p90_ms ? text::format("%.2f", *r.p90_ms) : "", text::format("%.0f MiB", double(r.peak_rss_bytes) / 1048576.0)});
    }
    out << (md ? t.markdown() : t.text());
    std::vector<std::string> seen;
    for (const auto& r : rows)
      for (const auto& n : r.variant_notes) {
        const std::string line = "note [" + r.variant + "]: " + n;
        if (std::find(seen.begin(), seen.end(), line) != seen.end()) continue;
        seen.push_back(line);
        out << (md ? "\n" : "") << line << "\n";
      }
  } else {
    fail("unknown --output '", format, "' (table, md, json, jsonl, csv, sql)");
  }
  return out.str();
}

}  // namespace sb::cli
