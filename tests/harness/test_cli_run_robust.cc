// `sparkbench run` under stress, at the CLI level: three concurrent runs on one (new) database
// all complete, and a run SIGKILLed at several random moments (each resume killed again) keeps
// PRAGMA integrity_check = ok and finally resumes to completion with every sample exactly once;
// a corrupt or unwritable --db is a one-line error naming the file.
// (Store-level crash and concurrency tests: tests/reports/test_store_processes.cc.)
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

using namespace sb;

namespace {

// Query result as text ("" when the file cannot be read yet, e.g. while it is being created).
std::string query(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return "";
  }
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt* st = nullptr;
  std::string v;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

int64_t count(const std::string& db, const std::string& sql) {
  const std::string v = query(db, sql);
  return v.empty() ? -1 : std::stoll(v);
}

// Starts the sparkbench executable with stdout/stderr to files; returns the pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  std::vector<std::string> argv{test::sparkbench_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  return pid;
}

std::string file_text(const std::string& path) {
  std::string s;
  if (FILE* f = fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    fclose(f);
  }
  return s;
}

}  // namespace

TEST_CASE("cli run: three concurrent runs on one new database all complete", "[cli][run][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("run3");
  const std::string db = dir + "/shared.db";
  std::vector<pid_t> pids;
  for (int k = 0; k < 3; ++k)
    pids.push_back(spawn({"run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", "stories,sentiment", "--limit", "40",
                          "--threads", "1", "--db", db, "--label", "p" + std::to_string(k), "--json"},
                         dir + "/out" + std::to_string(k), dir + "/err" + std::to_string(k)));
  for (int k = 0; k < 3; ++k) {
    int status = 0;
    waitpid(pids[size_t(k)], &status, 0);
    INFO("process " << k << " stderr: " << file_text(dir + "/err" + std::to_string(k)));
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    auto j = nlohmann::json::parse(file_text(dir + "/out" + std::to_string(k)));
    CHECK(j[0]["status"] == "complete");
    CHECK(j[0]["suites"]["stories"]["metrics"]["acc"]["n"] == 40);
  }
  CHECK(count(db, "SELECT COUNT(*) FROM runs WHERE status = 'complete'") == 3);
  CHECK(count(db, "SELECT COUNT(DISTINCT label) FROM runs") == 3);
  CHECK(count(db, "SELECT COUNT(*) FROM samples") == 3 * 80);
  CHECK(count(db, "SELECT COUNT(*) FROM metrics WHERE task = 'stories' AND metric = 'acc'") == 3);
  CHECK(query(db, "PRAGMA integrity_check") == "ok");
  // The three runs of one model give the same scores, so they compare clean.
  auto c = test::run_cli({"compare", "--db", db, "--baseline", "p0", "--candidate", "p2"});
  INFO(c.out << c.err);
  CHECK(c.exit_code == 0);
}

TEST_CASE("cli run: SIGKILL at several random moments then resume completes", "[cli][run][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("kill-many");
  const std::string db = dir + "/k.db";
  const std::vector<std::string> args{"run",
                                      "-m",
                                      test::shared_path("models/stories260K.gguf"),
                                      "--suite",
                                      "stories,dialogue",
                                      "--limit",
                                      "30",
                                      "--threads",
                                      "1",
                                      "--db",
                                      db,
                                      "--json"};
  const int64_t total = 60;
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  int64_t before = 0;
  int kills = 0;
  for (int round = 0; round < 4; ++round) {
    auto a = args;
    if (round > 0) a.push_back("--resume");
    const pid_t pid = spawn(a, dir + "/out", dir + "/err");
    // Kill once a random number of new samples is committed, after a random extra delay.
    const int64_t target = before + 1 + int64_t(rng() % 12);
    int64_t seen = before;
    for (int i = 0; i < 2000 && seen < target; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (access(db.c_str(), F_OK) == 0) seen = std::max(seen, count(db, "SELECT COUNT(*) FROM samples"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 25));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    INFO("round " << round << " stderr: " << file_text(dir + "/err"));
    if (WIFEXITED(status)) {
      // The run finished before the kill landed: nothing left to interrupt.
      REQUIRE(WEXITSTATUS(status) == 0);
      break;
    }
    REQUIRE(WIFSIGNALED(status));
    ++kills;
    CHECK(query(db, "PRAGMA integrity_check") == "ok");
    const int64_t now = count(db, "SELECT COUNT(*) FROM samples");
    INFO("samples after kill " << round << ": " << now);
    CHECK(now >= before);  // nothing committed is lost
    CHECK(now <= total);
    CHECK(count(db, "SELECT COUNT(*) FROM runs") == 1);
    before = now;
  }
  CHECK(kills >= 2);
  if (count(db, "SELECT COUNT(*) FROM runs WHERE status = 'complete'") == 0) {
    auto a = args;
    a.push_back("--resume");
    auto r = test::run_cli(a);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j[0]["resumed"] == true);
    CHECK(j[0]["status"] == "complete");
    CHECK(j[0]["suites"]["stories"]["metrics"]["acc"]["n"] == 30);
  }
  CHECK(query(db, "PRAGMA integrity_check") == "ok");
  CHECK(count(db, "SELECT COUNT(*) FROM samples") == total);
  CHECK(count(db, "SELECT COUNT(DISTINCT task || '/' || sample_id) FROM samples") == total);
  CHECK(count(db, "SELECT COUNT(*) FROM runs") == 1);
  CHECK(query(db, "SELECT status FROM runs") == "complete");
  CHECK(count(db, "SELECT COUNT(*) FROM metrics WHERE task = 'dialogue'") > 0);
}

TEST_CASE("cli run: a corrupt or unwritable --db gives a one-line error naming it", "[cli][run][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("run-baddb");
  const std::string garbage = dir + "/garbage.db";
  if (FILE* f = fopen(garbage.c_str(), "wb")) {
    const std::string junk(8192, 'x');
    fwrite(junk.data(), 1, junk.size(), f);
    fclose(f);
  }
  std::vector<std::string> paths{garbage, dir + "/no/such/dir/r.db"};
  if (access("/proc/self", F_OK) == 0) paths.push_back("/proc/self/r.db");  // unwritable even for root
  for (const auto& db : paths) {
    auto r = test::run_cli(
        {"run", "-m", test::shared_path("models/stories260K.gguf"), "--suite", "stories", "--limit", "2", "--threads", "1", "--db", db});
    INFO(db << ": " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.rfind("error: " + db + ": ", 0) == 0);
    CHECK(r.err.find('\n') == r.err.size() - 1);
  }
  CHECK(file_text(garbage) == std::string(8192, 'x'));  // left as it was
}
