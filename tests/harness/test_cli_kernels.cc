// sparkbench-kernels in its CI (--short) mode: it runs, its Google Benchmark JSON carries the
// roofline counters, and `sparkbench ingest` stores every row.
#include <catch2/catch.hpp>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/gguf/ggml_types.h"
#include "reports/store.h"
#include "tests/test_support.h"

using namespace sb;
namespace fs = std::filesystem;

TEST_CASE("kernels: the short suite runs and its JSON ingests into the store", "[cli][kernels]") {
  const fs::path exe = fs::path(SPARKBENCH_BINARY_DIR) / "benchmarks" / "sparkbench-kernels";
  if (!fs::exists(exe)) {
    test::skip(exe.string() + " was not built (SPARKBENCH_KERNEL_BENCH=OFF)");
    return;
  }
  const std::string dir = test::temp_dir("kernels");
  const std::string json = dir + "/k.json", db = dir + "/k.db";
  auto k = test::run_process({exe.string(), "--short", "--threads=1", "--benchmark_format=json", "--benchmark_out=" + json});
  INFO(k.err);
  REQUIRE(k.exit_code == 0);
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  REQUIRE(j["benchmarks"].size() >= 5);
  bool matmul = false, calib = false;
  for (const auto& b : j["benchmarks"]) {
    const std::string name = b["name"];
    if (name.rfind("cpu/matmul/", 0) == 0) {
      matmul = true;
      CHECK(b.contains("FLOP/s"));
      CHECK(b.contains("pct_peak_flops"));
      CHECK(b.contains("pct_fma_peak"));
      CHECK(b.contains("pct_peak_bw"));
    }
    if (name.rfind("calib/", 0) == 0) calib = true;
    if (name == "calib/fma_peak") CHECK(b["f32_flops"].get<double>() > 1e9);
  }
  CHECK(matmul);
  CHECK(calib);
  auto r = test::run_cli({"ingest", "--db", db, "--kernels", json, "--label", "ci-kernels"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto store = Store::open(db);
  auto run = store->find_run("ci-kernels");
  REQUIRE(run);
  CHECK(run->status == "complete");
  auto rows = store->kernels(run->id);
  CHECK(rows.size() == j["benchmarks"].size());
  CHECK(rows[0].real_time_ns > 0);
  // Malformed JSON is a one-line error naming the file.
  std::ofstream(dir + "/bad.json") << "{\"benchmarks\": [";
  auto bad = test::run_cli({"ingest", "--db", db, "--kernels", dir + "/bad.json"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("bad.json") != std::string::npos);
}

TEST_CASE("kernels: dram/ entries stream a weight at least twice the last-level cache", "[cli][kernels]") {
  const fs::path exe = fs::path(SPARKBENCH_BINARY_DIR) / "benchmarks" / "sparkbench-kernels";
  if (!fs::exists(exe)) {
    test::skip(exe.string() + " was not built (SPARKBENCH_KERNEL_BENCH=OFF)");
    return;
  }
  auto k = test::run_process({exe.string(), "--benchmark_list_tests=true"});
  INFO(k.err);
  REQUIRE(k.exit_code == 0);
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  const double need = std::max(512.0 * 1024 * 1024, l3 > 0 ? 2.0 * double(l3) : 0.0);
  std::istringstream lines(k.out);
  int seen = 0;
  for (std::string name; std::getline(lines, name);) {
    const auto at = name.find("/dram/");
    if (at == std::string::npos) continue;
    // <family>/<isa>/dram/<N>k_x_8k/<type>/M:1
    const std::string rest = name.substr(at + 6);
    const auto kx = rest.find("k_x_8k/");
    REQUIRE(kx != std::string::npos);
    const long rows = std::stol(rest.substr(0, kx)) * 1024;
    const std::string type = rest.substr(kx + 7, rest.find('/', kx + 7) - (kx + 7));
    INFO(name);
    const auto t = ggml_type_from_name(type);
    REQUIRE(t);
    const double rb = double(ggml_row_bytes(*t, 8192));
    CHECK(rows >= 16384);
    CHECK(double(rows) * rb >= need);
    CHECK((rows == 16384 || double(rows - 1024) * rb < need));  // no larger than it has to be
    ++seen;
  }
  CHECK(seen > 0);
}
