// `sparkbench run` end to end: results in SQLite, JSON output, resume after SIGKILL, SIGTERM.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

using namespace sb;

namespace {

// -1 when the database is not readable yet (being created by the process under test).
int64_t count_rows(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return -1;
  }
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return -1;
  }
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

std::string text_of(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr);
  std::string v;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

}  // namespace

TEST_CASE("cli run: scores suites, prints JSON and records everything", "[cli][run][shared]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("run") + "/r.db";
  auto r = test::run_cli({"run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", "stories,qa,sentiment,dialogue", "--limit",
                          "12", "--db", db, "--label", "smoke", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["status"] == "complete");
  CHECK(j[0]["synthetic_weights"] == false);
  const auto& s = j[0]["suites"];
  CHECK(s["stories"]["metrics"]["acc"]["n"] == 12);
  CHECK(s["stories"]["metrics"]["acc"]["value"].get<double>() > 0.5);
  CHECK(s["qa"]["metrics"].contains("f1"));
  CHECK(s["sentiment"]["metrics"].contains("macro_f1"));
  CHECK(s["dialogue"]["metrics"].contains("distinct_2"));
  CHECK(count_rows(db, "SELECT COUNT(*) FROM samples") == 48);
  CHECK(text_of(db, "SELECT status FROM runs WHERE label = 'smoke'") == "complete");
  CHECK(count_rows(db, "SELECT COUNT(*) FROM metrics WHERE task = 'qa' AND metric = 'exact_match'") == 1);
  // Selection tasks store how many items had non-finite scores (none for a healthy model).
  CHECK(count_rows(db, "SELECT COUNT(*) FROM metrics WHERE metric = 'invalid' AND value = 0 AND n = 12") == 3);
  CHECK(s["stories"]["metrics"]["invalid"]["value"] == 0);
  CHECK(s["dialogue"]["metrics"]["invalid"]["n"] == 12);
  // Proportions carry a Wilson interval inside [0, 1].
  CHECK(s["stories"]["metrics"]["acc"]["ci_high"].get<double>() <= 1.0);
  CHECK(s["stories"]["metrics"]["acc"]["ci_low"].get<double>() < s["stories"]["metrics"]["acc"]["value"].get<double>());
  CHECK(text_of(db, "SELECT model_sha256 FROM runs") == "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
  // Nothing to resume: a clear error.
  auto again = test::run_cli(
      {"run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", "stories", "--limit", "12", "--db", db, "--resume"});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("no interrupted run") != std::string::npos);
}

TEST_CASE("cli run: a run killed with SIGKILL resumes to completion without redoing work", "[cli][run][shared]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("kill") + "/k.db";
  const std::vector<std::string> args{
      "run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", "stories,dialogue", "--limit", "60", "--db", db, "--json"};
  std::vector<std::string> argv{test::sparkbench_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  // Wait until some, but not all, samples are committed, then kill without warning.
  int64_t seen = 0;
  for (int i = 0; i < 600 && seen < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (access(db.c_str(), F_OK) == 0) seen = count_rows(db, "SELECT COUNT(*) FROM samples");
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  const int64_t before = count_rows(db, "SELECT COUNT(*) FROM samples");
  INFO("samples before the kill: " << before);
  REQUIRE(before > 0);
  REQUIRE(before < 120);
  CHECK(text_of(db, "PRAGMA integrity_check") == "ok");
  auto args2 = args;
  args2.push_back("--resume");
  auto r = test::run_cli(args2);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j[0]["resumed"] == true);
  CHECK(j[0]["status"] == "complete");
  CHECK(count_rows(db, "SELECT COUNT(*) FROM samples") == 120);
  CHECK(count_rows(db, "SELECT COUNT(*) FROM runs") == 1);
  CHECK(text_of(db, "SELECT status FROM runs") == "complete");
  CHECK(j[0]["suites"]["stories"]["metrics"]["acc"]["n"] == 60);
}

TEST_CASE("cli run: SIGTERM stops after the current item and marks the run interrupted", "[cli][run][shared]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("term") + "/t.db";
  std::vector<std::string> argv{
      test::sparkbench_bin(), "run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", "dialogue", "--db", db};
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  int64_t seen = 0;
  for (int i = 0; i < 600 && seen < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (access(db.c_str(), F_OK) == 0) seen = count_rows(db, "SELECT COUNT(*) FROM samples");
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(text_of(db, "SELECT status FROM runs") == "interrupted");
}

TEST_CASE("cli run: the request cache is not shared across context or batch sizes", "[cli][run][shared]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("run-ctx") + "/r.db";
  // 3 stories items = 12 log-likelihood requests.
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{
        "run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", "stories", "--limit", "3", "--db", db, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = test::run_cli(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out)[0]["cache_hits"].get<int64_t>();
  };
  CHECK(run({}) == 0);
  CHECK(run({}) == 12);                   // the cache works ...
  CHECK(run({"--ctx-size", "64"}) == 0);  // ... but a smaller window can change every answer
  CHECK(run({"--ctx-size", "64"}) == 12);
  CHECK(run({"--ctx-size", "64", "--batch-size", "16"}) == 0);
  CHECK(run({"--kv-type", "f32"}) == 0);
}
