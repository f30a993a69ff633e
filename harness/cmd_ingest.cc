// `sparkbench ingest --db FILE --kernels GBENCH.json`: import Google Benchmark JSON output
// (sparkbench-kernels --benchmark_format=json, or --benchmark_out) as a run of kind "kernels".
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "harness/commands.h"
#include "harness/provenance.h"
#include "reports/store.h"

namespace sb::cli {
namespace {

double to_ns(double v, const std::string& unit, const std::string& file, size_t i) {
  if (unit == "ns") return v;
  if (unit == "us") return v * 1e3;
  if (unit == "ms") return v * 1e6;
  if (unit == "s") return v * 1e9;
  fail(file, ": benchmarks[", i, "]: unknown time_unit '", unit, "'");
}

}  // namespace

std::vector<KernelRow> parse_gbench_json(const std::string& text, const std::string& file, nlohmann::json* context) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(file, ": invalid JSON at byte ", e.byte);
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
    fail(file, ": invalid JSON: ", e.what());
  }
  if (!j.is_object() || !j.contains("benchmarks") || !j["benchmarks"].is_array())
    fail(file, ": not Google Benchmark JSON (no \"benchmarks\" array)");
  if (context) *context = j.value("context", nlohmann::json::object());
  static const std::set<std::string> known{"name",
                                           "family_index",
                                           "per_family_instance_index",
                                           "run_name",
                                           "run_type",
                                           "repetitions",
                                           "repetition_index",
                                           "threads",
                                           "iterations",
                                           "real_time",
                                           "cpu_time",
                                           "time_unit",
                                           "aggregate_name",
                                           "aggregate_unit",
                                           "error_occurred",
                                           "error_message",
                                           "label"};
  std::vector<KernelRow> rows;
  for (size_t i = 0; i < j["benchmarks"].size(); ++i) {
    const auto& b = j["benchmarks"][i];
    if (!b.is_object() || !b.contains("name") || !b["name"].is_string() || !b.contains("real_time") || !b["real_time"].is_number())
      fail(file, ": benchmarks[", i, "]: needs 'name' and numeric 'real_time'");
    if (b.value("error_occurred", false)) continue;  // a skipped or failed benchmark has no timing
    KernelRow r;
    r.name = b["name"];
    r.run_type = b.value("run_type", "iteration");
    r.aggregate = b.value("aggregate_name", "");
    r.iterations = b.value("iterations", int64_t(0));
    const std::string unit = b.value("time_unit", "ns");
    r.real_time_ns = to_ns(b["real_time"].get<double>(), unit, file, i);
    r.cpu_time_ns = to_ns(b.value("cpu_time", 0.0), unit, file, i);
    nlohmann::json counters = nlohmann::json::object();
    for (auto& [k, v] : b.items())
      if (!known.count(k) && v.is_number()) counters[k] = v;
    r.counters_json = counters.dump();
    rows.push_back(std::move(r));
  }
  return rows;
}

void add_ingest_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("ingest", "Import Google Benchmark JSON (from sparkbench-kernels) into the results database");
  static std::string db = "sparkbench.db", kernels, label;
  cmd->add_option("--db", db, "Results database")->capture_default_str();
  cmd->add_option("--kernels", kernels, "Google Benchmark JSON file")->required();
  cmd->add_option("--label", label, "Label of the stored run");
  cmd->callback([] {
    nlohmann::json ctx;
    auto rows = parse_gbench_json(read_file(kernels), kernels, &ctx);
    auto store = Store::open(db);
    RunInfo info = new_run_info("kernels", label);
    info.tool_version = ctx.value("sparkbench_commit", info.tool_version);
    info.host = ctx.value("host_name", info.host);
    info.threads = std::atoi(ctx.value("threads", "0").c_str());
    info.config_json = ctx.dump();
    const int64_t run = store->begin_run(info);
    store->add_kernels(run, rows);
    store->finish_run(run, "complete");
    std::printf("ingested %zu benchmark rows from %s as run %lld in %s\n", rows.size(), kernels.c_str(), (long long)run, db.c_str());
  });
}

}  // namespace sb::cli
