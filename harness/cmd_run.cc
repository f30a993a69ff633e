// `sparkbench run`: evaluate a model on the bundled suites and record everything in SQLite.
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "harness/commands.h"
#include "harness/runner.h"

namespace sb::cli {
namespace {

std::vector<std::string> split_list(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in) {
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string fmt_metric(const MetricResult& m) {
  char buf[128];
  if (m.stderr_ && *m.stderr_ > 0) std::snprintf(buf, sizeof buf, "%.4f +/- %.4f", m.value, *m.stderr_);
  else if (m.ci_low && m.ci_high) std::snprintf(buf, sizeof buf, "%.4f [%.4f, %.4f]", m.value, *m.ci_low, *m.ci_high);
  else std::snprintf(buf, sizeof buf, "%.4f", m.value);
  return buf;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Evaluate a model on suites (default: all bundled) and record the results in SQLite");
  static RunOptions o;
  static std::vector<std::string> variants, suites;
  static bool json = false;
  add_model_args(cmd, o.model);
  cmd->add_option("--variant", variants, "Comma-separated variants (base = weights as stored)")->default_str("base");
  cmd->add_option("--suite", suites, "Comma-separated suites: bundled names, 'all', suite directories or data files")->default_str("all");
  cmd->add_option("--limit", o.limit, "At most this many items per suite (0 = all)")->capture_default_str();
  cmd->add_option("--samples", o.task.samples, "Completions per code problem (pass@k needs samples >= k)")->capture_default_str();
  cmd->add_option("--temperature", o.task.temperature, "Sampling temperature when --samples > 1")->capture_default_str();
  cmd->add_option("--seed", o.task.seed, "Seed for sampling and few-shot selection")->capture_default_str();
  cmd->add_option("--workers", o.task.workers, "Parallel sandbox workers for code execution")->capture_default_str();
  cmd->add_option("--timeout", o.task.timeout_s, "Seconds per code sample")->capture_default_str();
  cmd->add_flag("--unsafe-no-sandbox", o.task.unsafe_no_sandbox, "Run generated code WITHOUT bubblewrap (dangerous)");
  cmd->add_option("--db", o.db, "Results database")->capture_default_str();
  cmd->add_option("--label", o.label, "Label for the run (compare/report can refer to it)");
  cmd->add_flag("--resume", o.resume, "Finish the latest interrupted run with the same configuration");
  cmd->add_flag("--json", json, "Print the results as JSON");
  cmd->callback([] {
    o.variants = variants.empty() ? std::vector<std::string>{"base"} : split_list(variants);
    o.suites = suites.empty() ? std::vector<std::string>{"all"} : split_list(suites);
    o.progress = ::isatty(2);
    auto runs = run_evaluation(o);
    if (json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& r : runs) {
        nlohmann::json jr{{"run_id", r.run_id}, {"status", r.status}, {"variant", r.variant}, {"model", r.model_path},
                          {"model_sha256", r.model_sha256}, {"synthetic_weights", r.synthetic}, {"backend", r.backend},
                          {"resumed", r.resumed}, {"cache_hits", r.cache_hits}, {"db", o.db}};
        for (const auto& s : r.suites) {
          nlohmann::json js{{"version", s.version}, {"task", s.task}, {"n_items", s.n_items}, {"seconds", s.seconds}};
          for (const auto& m : s.metrics) {
            nlohmann::json jm{{"value", m.value}, {"n", m.n}};
            if (m.stderr_) jm["stderr"] = *m.stderr_;
            if (m.ci_low) jm["ci_low"] = *m.ci_low;
            if (m.ci_high) jm["ci_high"] = *m.ci_high;
            js["metrics"][m.metric] = jm;
          }
          jr["suites"][s.name] = js;
        }
        j.push_back(jr);
      }
      std::printf("%s\n", j.dump(1).c_str());
    } else {
      for (const auto& r : runs) {
        std::printf("run %lld (%s) %s  variant %s  backend %s%s\n", (long long)r.run_id, r.status.c_str(), r.model_path.c_str(),
                    r.variant.c_str(), r.backend.c_str(), r.resumed ? "  (resumed)" : "");
        if (r.synthetic) std::printf("  ** synthetic weights: scores measure the harness, not a trained model **\n");
        std::printf("  %-12s %-16s %-30s %6s %8s\n", "suite", "metric", "value", "n", "time s");
        for (const auto& s : r.suites)
          for (size_t k = 0; k < s.metrics.size(); ++k)
            std::printf("  %-12s %-16s %-30s %6lld %8s\n", k ? "" : s.name.c_str(), s.metrics[k].metric.c_str(),
                        fmt_metric(s.metrics[k]).c_str(), (long long)s.metrics[k].n,
                        k ? "" : std::to_string(int(s.seconds + 0.5)).c_str());
      }
      std::printf("results: %s\n", o.db.c_str());
    }
    for (const auto& r : runs)
      if (r.status == "interrupted") throw ExitCode{130};
  });
}

}  // namespace sb::cli
