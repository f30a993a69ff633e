// `sparkbench bench` end to end: llama-bench's test matrix and fields, every output format,
// storage in the results database.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

using namespace sb;

TEST_CASE("cli bench: -p/-n/--pg produce prefill, decode and combined rows with llama-bench fields", "[cli][bench][shared]") {
  if (test::skip_without_shared()) return;
  auto r = test::run_cli({"bench", "-m", test::shared_path("models/stories260K.gguf"), "-p", "16,32", "-n", "8", "--pg", "16,8", "-r", "2",
                          "-t", "1", "--output", "json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 4);
  CHECK(j[0]["test"] == "pp16");
  CHECK(j[0]["n_prompt"] == 16);
  CHECK(j[0]["n_gen"] == 0);
  CHECK(j[1]["test"] == "pp32");
  CHECK(j[2]["test"] == "tg8");
  CHECK(j[2]["n_prompt"] == 0);
  CHECK(j[2]["n_gen"] == 8);
  CHECK(j[3]["test"] == "pp16+tg8");
  for (const auto& row : j) {
    CHECK(row["repetitions"] == 2);
    CHECK(row["samples_ts"].size() == 2);
    CHECK(row["samples_ns"].size() == 2);
    CHECK(row["avg_ts"].get<double>() > 0);
    CHECK(row["peak_rss_bytes"].get<int64_t>() > 1000000);
    CHECK(row["n_threads"] == 1);
    CHECK(row["model_n_params"].get<int64_t>() > 200000);
  }
  CHECK(j[2].contains("p90_ms"));
  CHECK(j[3]["ttft_ms"].get<double>() > 0);
  CHECK(j[3]["tpot_ms"].get<double>() > 0);
}

TEST_CASE("cli bench: csv, sql, md and jsonl outputs; bad format is an error", "[cli][bench][shared]") {
  if (test::skip_without_shared()) return;
  const std::string m = test::shared_path("models/stories260K.gguf");
  auto csv = test::run_cli({"bench", "-m", m, "-p", "8", "-n", "4", "-r", "1", "--output", "csv"});
  REQUIRE(csv.exit_code == 0);
  CHECK(csv.out.rfind("build_commit,cpu_info,", 0) == 0);
  CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') == 3);
  auto sql = test::run_cli({"bench", "-m", m, "-p", "8", "-n", "0", "-r", "1", "--output", "sql"});
  REQUIRE(sql.exit_code == 0);
  CHECK(sql.out.find("CREATE TABLE IF NOT EXISTS bench") != std::string::npos);
  CHECK(sql.out.find("INSERT INTO bench") != std::string::npos);
  auto md = test::run_cli({"bench", "-m", m, "-p", "8", "-n", "0", "-r", "1", "--output", "md"});
  CHECK(md.out.rfind("| model", 0) == 0);
  auto jl = test::run_cli({"bench", "-m", m, "-p", "8", "-n", "4", "-r", "1", "--output", "jsonl"});
  CHECK(std::count(jl.out.begin(), jl.out.end(), '\n') == 2);
  auto bad = test::run_cli({"bench", "-m", m, "-p", "8", "--output", "xml"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("unknown --output 'xml'") != std::string::npos);
  auto deep = test::run_cli({"bench", "-m", m, "-p", "8", "-d", "5000", "-r", "1"});
  CHECK(deep.exit_code == 1);
  CHECK(deep.err.find("exceeds the model context") != std::string::npos);
}

TEST_CASE("cli bench: --db stores one speed row per test as a bench run", "[cli][bench][shared]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("bench") + "/b.db";
  auto r = test::run_cli({"bench", "-m", test::shared_path("models/stories260K.gguf"), "-p", "8", "-n", "4", "-r", "2", "--db", db,
                          "--label", "speed", "--scenario", "offline", "--queries", "2"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM speed s JOIN runs r ON r.id = s.run_id WHERE r.kind = 'bench' AND r.label = 'speed'",
                             -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == 3);  // pp8, tg4, offline scenario
  sqlite3_finalize(st);
  sqlite3_close(h);
}
