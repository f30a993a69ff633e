#include "harness/mpi_bench.h"

#include <unistd.h>

#include "engine/core/error.h"

namespace sb::cli::mpi {

namespace {
constexpr int kBenchTag = 8;
}

void split_bench(BenchConfig& cfg, const Comm& c) {
  if (cfg.threads.size() == 1 && cfg.threads[0] == 0) cfg.threads = {node_threads(c)};
  if (cfg.variants.size() > 1) {
    std::vector<std::string> mine;
    for (size_t i = 0; i < cfg.variants.size(); ++i)
      if (int(i % size_t(c.size())) == c.rank()) mine.push_back(cfg.variants[i]);
    cfg.variants = mine;
  }
}

BenchRow bench_row_from_json(const nlohmann::json& j) {
  try {
    BenchRow r;
    r.backend = j.at("backends").get<std::string>();
    r.backend_info = j.value("backend_info", std::string());
    r.model_filename = j.at("model_filename").get<std::string>();
    r.model_type = j.value("model_type", std::string());
    r.model_size = j.value("model_size", int64_t(0));
    r.model_n_params = j.value("model_n_params", int64_t(0));
    r.synthetic = j.value("synthetic_weights", false);
    r.n_batch = j.value("n_batch", int64_t(0));
    r.n_threads = j.value("n_threads", int64_t(0));
    r.type_k = j.value("type_k", std::string());
    r.n_prompt = j.value("n_prompt", int64_t(0));
    r.n_gen = j.value("n_gen", int64_t(0));
    r.n_depth = j.value("n_depth", int64_t(0));
    r.test = j.at("test").get<std::string>();
    r.repetitions = j.value("repetitions", int64_t(0));
    r.avg_ns = j.value("avg_ns", 0.0);
    r.stddev_ns = j.value("stddev_ns", 0.0);
    r.avg_ts = j.value("avg_ts", 0.0);
    r.stddev_ts = j.value("stddev_ts", 0.0);
    r.samples_ns = j.value("samples_ns", std::vector<double>{});
    r.samples_ts = j.value("samples_ts", std::vector<double>{});
    r.peak_rss_bytes = j.value("peak_rss_bytes", int64_t(0));
    r.weight_bytes = j.value("weight_bytes", int64_t(0));
    r.kv_bytes = j.value("kv_bytes", int64_t(0));
    r.load_ms = j.value("load_ms", 0.0);
    r.variant = j.value("variant", std::string("base"));
    r.peak_rss_per_config = j.value("peak_rss_per_config", false);
    r.variant_notes = j.value("variant_notes", std::vector<std::string>{});
    r.scenario = j.value("scenario", std::string());
    auto opt = [&](const char* k, std::optional<double>& v) {
      if (j.contains(k) && j[k].is_number()) v = j[k].get<double>();
    };
    opt("ttft_ms", r.ttft_ms);
    opt("tpot_ms", r.tpot_ms);
    opt("p50_ms", r.p50_ms);
    opt("p90_ms", r.p90_ms);
    opt("p99_ms", r.p99_ms);
    opt("queries_per_s", r.queries_per_s);
    return r;
  } catch (const nlohmann::json::exception& e) {
    fail("malformed bench row message: ", e.what());
  }
}

std::optional<std::vector<RankBench>> gather_bench(Comm& c, const std::vector<BenchRow>& mine) {
  const std::string backend = mine.empty() ? std::string() : mine.front().backend;
  const int threads = mine.empty() ? 0 : int(mine.front().n_threads);
  if (c.rank() != 0) {
    nlohmann::json msg{{"host", c.host()},   {"local_rank", c.local_rank()}, {"device", backend},
                       {"threads", threads}, {"pid", int64_t(::getpid())},   {"rows", nlohmann::json::parse(render_bench(mine, "json"))}};
    c.send(0, kBenchTag, msg.dump());
    return std::nullopt;
  }
  std::vector<RankBench> out;
  out.push_back(RankBench{0, c.local_rank(), c.host(), backend, threads, int64_t(::getpid()), mine});
  for (int r = 1; r < c.size(); ++r) {
    const Message m = c.recv(r);
    const nlohmann::json j = nlohmann::json::parse(m.text, nullptr, false);
    if (!j.is_object() || !j.contains("rows")) fail("MPI: malformed bench message from rank ", r);
    RankBench b{r,
                j.value("local_rank", 0),
                j.value("host", std::string()),
                j.value("device", std::string()),
                j.value("threads", 0),
                j.value("pid", int64_t(0)),
                {}};
    for (const auto& row : j["rows"]) b.rows.push_back(bench_row_from_json(row));
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace sb::cli::mpi
