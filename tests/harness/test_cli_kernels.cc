// sparkbench-kernels in its CI (--short) mode: it runs, its Google Benchmark JSON carries the
// roofline counters, and `sparkbench ingest` stores every row.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

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
      CHECK(b.contains("pct_peak_bw"));
    }
    if (name.rfind("calib/", 0) == 0) calib = true;
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
