// `sparkbench bench`: prefill/decode speed, TTFT/TPOT and latency percentiles (llama-bench-like).
#include <algorithm>
#include <cstdio>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/compress/variant.h"
#include "engine/core/error.h"
#include "harness/bench.h"
#include "harness/commands.h"
#include "harness/mpi_bench.h"
#include "harness/provenance.h"
#include "harness/text_format.h"
#include "reports/store.h"

namespace sb::cli {
namespace {

template <class T>
std::vector<T> parse_list(const std::vector<std::string>& in, const char* what) {
  std::vector<T> out;
  for (const auto& item : split_commas(in)) {
    if constexpr (std::is_same_v<T, std::string>) {
      out.push_back(item);
    } else {
      try {
        size_t used = 0;
        long long v = std::stoll(item, &used);
        if (used != item.size()) throw std::invalid_argument(item);
        out.push_back(T(v));
      } catch (const std::exception&) {
        fail(what, ": '", item, "' is not an integer");
      }
    }
  }
  return out;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill/decode tokens/s, TTFT, TPOT and latency percentiles");
  static std::vector<std::string> models, presets, backends, threads, kv, depths, np, ng, pg, variants;
  static BenchConfig cfg;
  static std::string output = "table", db, label;
  cmd->add_option("-m,--model", models, "GGUF model file(s), comma-separated or repeated");
  cmd->add_option("--preset", presets, "Synthetic preset model(s) instead of -m");
  cmd->add_option("--backend", backends, "Backend(s)")->default_str(default_backend());
  cmd->add_option("-t,--threads", threads, "Thread count(s) (0 = all cores)")->default_str("0");
  cmd->add_option("--kv-type", kv, "KV cache type(s): f32, f16, bf16")->default_str("f16");
  cmd->add_option("-d,--depth", depths, "Pre-filled KV depth(s)")->default_str("0");
  cmd->add_option("-p,--n-prompt", np, "Prompt length(s) for prefill tests")->default_str("512");
  cmd->add_option("-n,--n-gen", ng, "Generated tokens for decode tests")->default_str("128");
  cmd->add_option("--pg", pg, "Combined prompt+generation test(s) as P,N (repeatable)");
  cmd->add_option("-r,--repetitions", cfg.repetitions, "Timed repetitions per test")->capture_default_str();
  cmd->add_option("-b,--batch-size", cfg.n_batch, "Rows per forward pass")->capture_default_str();
  cmd->add_option("--compute", cfg.compute,
                  "Matmul arithmetic: f32, bf16, or q8 (cpu: 8-bit activations x block weights in integers, as llama.cpp)")
      ->capture_default_str();
  cmd->add_option("--variant", variants, compress::variant_help())->default_str("base");
  cmd->add_option("--calibration", cfg.calibration, "Calibration text for prune-layers (default: datasets/calibration/stories.txt)");
  cmd->add_option("--scenario", cfg.scenario, "Also run a load scenario: single-stream or offline")
      ->check(CLI::IsMember({"single-stream", "offline"}));
  cmd->add_option("--queries", cfg.queries, "Queries per scenario")->capture_default_str();
  cmd->add_option("-o,--output", output, "table, md, json, jsonl, csv, sql")->capture_default_str();
  cmd->add_option("--db", db, "Also store the rows in this results database");
  cmd->add_option("--label", label, "Label of the stored run");
  cmd->callback([] {
    cfg.models = parse_list<std::string>(models, "--model");
    for (const auto& p : parse_list<std::string>(presets, "--preset")) cfg.models.push_back("preset:" + p);
    if (cfg.models.empty()) fail("give at least one -m MODEL or --preset NAME");
    cfg.variants.clear();
    for (const auto& v : parse_list<std::string>(variants, "--variant")) {
      const std::string name = compress::parse_variant(v).name();  // bad specs fail before any work
      if (std::find(cfg.variants.begin(), cfg.variants.end(), name) != cfg.variants.end())
        fail("--variant: '", v, "' is listed twice (as ", name, ")");
      cfg.variants.push_back(name);
    }
    if (cfg.variants.empty()) cfg.variants.push_back("base");
    cfg.backends = backends.empty() ? std::vector<std::string>{default_backend()} : parse_list<std::string>(backends, "--backend");
    cfg.threads = threads.empty() ? std::vector<int>{0} : parse_list<int>(threads, "--threads");
    cfg.kv_types = kv.empty() ? std::vector<std::string>{"f16"} : parse_list<std::string>(kv, "--kv-type");
    cfg.depths = depths.empty() ? std::vector<int64_t>{0} : parse_list<int64_t>(depths, "--depth");
    cfg.n_prompt = np.empty() ? std::vector<int64_t>{512} : parse_list<int64_t>(np, "--n-prompt");
    cfg.n_gen = ng.empty() ? std::vector<int64_t>{128} : parse_list<int64_t>(ng, "--n-gen");
    for (const auto& s : pg) {
      auto v = parse_list<int64_t>({s}, "--pg");
      if (v.size() != 2) fail("--pg takes P,N (got '", s, "')");
      cfg.pg.emplace_back(v[0], v[1]);
    }
    render_bench({}, output);  // validate the format before measuring
    // Under mpirun/srun every rank measures on its node and rank 0 stores (harness/mpi_bench.h).
    mpi::Comm* comm = mpi::world("bench");
    const std::vector<std::string> all_variants = cfg.variants;
    if (comm) mpi::split_bench(cfg, *comm);
    const bool stream = output == "jsonl" && !comm;
    auto rows = run_bench(cfg, [&](const BenchRow& r) {
      if (stream) std::printf("%s", render_bench({r}, "jsonl").c_str()), std::fflush(stdout);
    });
    std::vector<mpi::RankBench> ranks{mpi::RankBench{0, 0, host_name(), "", 0, 0, rows}};
    if (comm) {
      auto all = mpi::gather_bench(*comm, rows);
      if (!all) return;  // rank 0 prints and stores
      ranks = std::move(*all);
      for (const auto& rb : ranks) {
        if (output == "table" || output == "md") std::printf("rank %d (%s):\n", rb.rank, rb.host.c_str());
        std::printf("%s", render_bench(rb.rows, output).c_str());
      }
    } else if (!stream) {
      std::printf("%s", render_bench(rows, output).c_str());
    }
    if (!db.empty()) {
      auto store = Store::open(db);
      std::random_device rd;
      char group[17];
      std::snprintf(group, sizeof group, "%08x%08x", rd(), rd());
      for (const auto& rb : ranks)
        for (const auto& variant : all_variants) {
          std::vector<BenchRow> vrows;
          for (const auto& r : rb.rows)
            if (r.variant == variant) vrows.push_back(r);
          if (comm && vrows.empty()) continue;  // this variant was measured on another rank
          RunInfo info = new_run_info("bench", label);
          info.group_id = all_variants.size() > 1 || comm ? group : "";
          info.host = rb.host;
          info.backend = vrows.empty() ? "" : vrows.front().backend;
          info.threads = vrows.empty() ? 0 : int(vrows.front().n_threads);
          info.model_path = vrows.empty() ? "" : vrows.front().model_filename;
          info.model_sha256 = info.model_path.empty() ? "" : model_sha256(info.model_path, store.get());
          info.synthetic_weights = !vrows.empty() && vrows.front().synthetic;
          info.variant = variant;
          info.config_json = nlohmann::json::parse(render_bench(vrows, "json")).dump();
          const int64_t run = store->begin_run(info);
          for (const auto& r : vrows) {
            SpeedRow s = speed_row(r);
            s.peak_rss_bytes = r.peak_rss_bytes;
            s.load_ms = r.load_ms;
            s.extra_json = nlohmann::json{{"backend", r.backend},      {"n_threads", r.n_threads}, {"type_k", r.type_k},
                                          {"model", r.model_filename}, {"scenario", r.scenario},   {"weight_bytes", r.weight_bytes},
                                          {"kv_bytes", r.kv_bytes},    {"variant", r.variant}}
                               .dump();
            store->add_speed(run, s);
          }
          if (comm) {
            RankRow rr;
            rr.rank = rb.rank;
            rr.n_ranks = comm->size();
            rr.local_rank = rb.local_rank;
            rr.host = rb.host;
            rr.device = rb.device;
            rr.threads = rb.threads;
            rr.pid = rb.pid;
            rr.items = int64_t(vrows.size());
            store->add_rank(run, rr);
          }
          store->finish_run(run, "complete");
          std::fprintf(stderr, "stored %zu rows as run %lld (variant %s) in %s\n", vrows.size(), (long long)run, variant.c_str(),
                       db.c_str());
        }
    }
  });
}

}  // namespace sb::cli
