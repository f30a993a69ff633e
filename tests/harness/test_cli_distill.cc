// `sparkbench distill` end to end: stories260K as the teacher, a prune-layers:1 student healed
// on teacher samples; the held-out KLD falls and the output loads as a model.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "reports/store.h"
#include "tests/reports/test_store_util.h"
#include "tests/test_support.h"

using namespace sb;

TEST_CASE("cli distill: a prune-layers:1 student of stories260K halves its held-out KLD to the teacher", "[cli][distill][shared]") {
  if (test::skip_without_shared()) return;
  const std::string teacher = test::shared_path("models/stories260K.gguf");
  const std::string out = test::temp_dir("distill") + "/student.gguf";
  auto r = test::run_cli({"distill",
                          "--teacher",
                          teacher,
                          "--student-variant",
                          "prune-layers:1",
                          "--teacher-samples",
                          "128",
                          "--heldout",
                          "8",
                          "--seq",
                          "64",
                          "--steps",
                          "100",
                          "--batch",
                          "4",
                          "--lr",
                          "1e-3",
                          "--seed",
                          "1",
                          "--eval-every",
                          "50",
                          "--db",
                          test::temp_dir("distill") + "/r.db",
                          "-o",
                          out});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  double before = -1, after = -1;
  const size_t at = r.out.find("before ");
  REQUIRE(at != std::string::npos);
  REQUIRE(std::sscanf(r.out.c_str() + at, "before %lf after %lf", &before, &after) == 2);
  CHECK(before > 0);
  CHECK(after <= 0.5 * before);  // issue 19's bar (measured: 0.569 -> 0.168)
  CHECK(r.err.find("step 50: held-out KLD") != std::string::npos);
  auto f = GgufFile::open(out);
  auto ref = create_backend("ref");
  auto m = Model::load(f, *ref);
  CHECK(m->config().n_layer == 4);  // stories260K has 5
  CHECK(f->tensor("blk.0.attn_q.weight")->type == GgmlType::F32);
}

TEST_CASE("cli distill: --out-type writes the student in another weight type", "[cli][distill][shared]") {
  if (test::skip_without_shared()) return;
  const std::string out = test::temp_dir("distill-q8") + "/student.gguf";
  auto r = test::run_cli({"distill", "--teacher", test::shared_path("models/stories260K.gguf"), "--student-variant", "prune-layers:1",
                          "--teacher-samples", "4", "--heldout", "1", "--seq", "16", "--steps", "2", "--out-type", "q8_0", "--db",
                          test::temp_dir("distill-q8") + "/r.db", "-o", out});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto f = GgufFile::open(out);
  CHECK(f->tensor("blk.0.attn_q.weight")->type == GgmlType::Q8_0);
  auto ref = create_backend("ref");
  CHECK(Model::load(f, *ref)->config().n_layer == 4);
}

TEST_CASE("cli distill: bad arguments give one error line", "[cli][distill][shared]") {
  if (test::skip_without_shared()) return;
  const std::string teacher = test::shared_path("models/stories260K.gguf");
  auto r = test::run_cli({"distill", "--teacher", teacher, "--steps", "1", "-o", "/nonexistent/x.gguf"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("--student") != std::string::npos);
  r = test::run_cli({"distill", "--teacher", teacher, "--student-variant", "q4_0", "--steps", "1", "-o", "/tmp/x.gguf"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("converts weight types") != std::string::npos);
  r = test::run_cli({"distill", "--teacher", teacher, "--student-variant", "prune-layers:1", "--data", "/nonexistent/corpus.txt",
                     "--teacher-samples", "2", "--heldout", "1", "--steps", "1", "-o", "/tmp/x.gguf"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("/nonexistent/corpus.txt: cannot read") != std::string::npos);
  r = test::run_cli({"distill", "--teacher", teacher, "--student-variant", "prune-layers:1", "--out-type", "prune:0.5", "--steps", "1",
                     "-o", "/tmp/x.gguf"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("is not a GGUF weight type") != std::string::npos);
}

TEST_CASE("cli distill: the run is stored with its per-step curve and KLDs", "[cli][distill][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("distill-db");
  const std::string db = dir + "/r.db";
  auto r = test::run_cli({"distill",
                          "--teacher",
                          test::shared_path("models/stories260K.gguf"),
                          "--student-variant",
                          "prune-layers:1",
                          "--teacher-samples",
                          "8",
                          "--heldout",
                          "2",
                          "--seq",
                          "32",
                          "--steps",
                          "12",
                          "--eval-every",
                          "5",
                          "--label",
                          "dl",
                          "--db",
                          db,
                          "-o",
                          dir + "/s.gguf"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  double before = -1, after = -1;
  const size_t at = r.out.find("before ");
  REQUIRE(at != std::string::npos);
  REQUIRE(std::sscanf(r.out.c_str() + at, "before %lf after %lf", &before, &after) == 2);
  auto st = Store::open(db);
  auto run = st->find_run("dl");
  REQUIRE(run);
  CHECK(run->info.kind == "distill");
  CHECK(run->status == "complete");
  CHECK(run->info.variant == "prune-layers:1+distill:12");
  CHECK(run->info.model_sha256.size() == 64);
  CHECK(run->info.config_json.find("\"data_sha256\"") != std::string::npos);
  const auto steps = st->train_steps(run->id);
  REQUIRE(steps.size() == 12);
  for (size_t i = 0; i < steps.size(); ++i) {
    CHECK(steps[i].step == int64_t(i) + 1);
    CHECK(std::isfinite(steps[i].loss));
    CHECK(steps[i].lr > 0);
    CHECK(bool(steps[i].kld) == (i == 4 || i == 9 || i == 11));  // eval at 5 and 10, kld_after at the last step
  }
  REQUIRE(steps[11].kld);
  std::map<std::string, double> m;
  for (const auto& row : st->metrics(run->id))
    if (row.task == "distill") m[row.metric] = row.value;
  REQUIRE(m.count("kld_before"));
  REQUIRE(m.count("kld_after"));
  CHECK(m["kld_before"] == Approx(before).epsilon(1e-4));  // printed with 5 decimals
  CHECK(m["kld_after"] == Approx(after).epsilon(1e-4));
  CHECK(*steps[11].kld == m["kld_after"]);
  for (const auto& row : st->metrics(run->id)) CHECK(row.direction == Direction::lower);
}

TEST_CASE("cli run: prune-layers:1+distill:20 is stored beside prune-layers:1, closer to the base, and cached",
          "[cli][distill][variants][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("run-distill");
  const std::string cache = dir + "/cache", db = dir + "/r.db";
  ::setenv("SPARKBENCH_CACHE", cache.c_str(), 1);  // run_cli's children inherit it
  const std::vector<std::string> args{"run",
                                      "-m",
                                      test::shared_path("models/stories260K.gguf"),
                                      "--variant",
                                      "prune-layers:1,prune-layers:1+distill:20",
                                      "--suite",
                                      "stories",
                                      "--limit",
                                      "3",
                                      "--no-speed",
                                      "-t",
                                      "1",
                                      "--db",
                                      db};
  auto r = test::run_cli(args);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("distilling the prune-layers:1 student for 20 steps") != std::string::npos);
  // the cached student
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(cache))
    if (e.path().extension() == ".gguf" && e.path().parent_path().filename().string().rfind("distilled-", 0) == 0)
      files.push_back(e.path());
  REQUIRE(files.size() == 1);
  const auto mtime = std::filesystem::last_write_time(files[0]);

  auto kld_of = [&](const std::string& variant, const std::string& task, const std::string& metric) {
    return std::stod(test::raw_one(db,
                                   "SELECT printf('%.17g', m.value) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE "
                                   "r.variant = '" +
                                       variant + "' AND m.task = '" + task + "' AND m.metric = '" + metric +
                                       "' ORDER BY r.id DESC LIMIT 1"));
  };
  CHECK(test::raw_one(db,
                      "SELECT count(*) FROM runs WHERE status = 'complete' AND variant IN ('prune-layers:1', "
                      "'prune-layers:1+distill:20')") == "2");
  CHECK(test::raw_one(db,
                      "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.task = 'stories' AND "
                      "r.variant = 'prune-layers:1+distill:20'") != "0");
  // Distill measures both students on the same held-out teacher samples: kld_before is the
  // pruned-only student's KLD to the base, kld_after the distilled one's. (The fidelity KLD on the
  // calibration text, human-written stories, does not fall after only 20 steps: measured 0.742
  // pruned-only vs 0.756 distilled; it is logged here, not asserted.)
  const double kb = kld_of("prune-layers:1+distill:20", "distill", "kld_before");
  const double ka = kld_of("prune-layers:1+distill:20", "distill", "kld_after");
  const double pruned = kld_of("prune-layers:1", "fidelity", "kld_mean");
  const double distilled = kld_of("prune-layers:1+distill:20", "fidelity", "kld_mean");
  INFO("held-out KLD " << kb << " -> " << ka << "; fidelity kld_mean pruned-only " << pruned << ", distilled " << distilled);
  CHECK(kb > 0);
  CHECK(ka < 0.9 * kb);
  CHECK(pruned > 0);
  CHECK(std::isfinite(distilled));
  CHECK(test::raw_one(db,
                      "SELECT count(*) FROM train_steps t JOIN runs r ON r.id = t.run_id WHERE r.variant = "
                      "'prune-layers:1+distill:20'") == "20");

  // Again: the cached student is used, nothing is trained, the same KLDs are stored.
  auto r2 = test::run_cli(args);
  INFO(r2.out << r2.err);
  REQUIRE(r2.exit_code == 0);
  CHECK(r2.err.find("distilling the") == std::string::npos);
  CHECK(std::filesystem::last_write_time(files[0]) == mtime);
  CHECK(kld_of("prune-layers:1+distill:20", "distill", "kld_after") == ka);
  CHECK(kld_of("prune-layers:1+distill:20", "fidelity", "kld_mean") == distilled);  // the same student

  // A weight type converts the cached distilled student: nothing is trained for it either.
  auto r3 = test::run_cli({"run", "-m", test::shared_path("models/stories260K.gguf"), "--variant", "prune-layers:1+distill:20+q8_0",
                           "--suite", "stories", "--limit", "1", "--no-speed", "-t", "1", "--db", db});
  INFO(r3.out << r3.err);
  REQUIRE(r3.exit_code == 0);
  CHECK(r3.err.find("distilling the") == std::string::npos);
  CHECK(r3.out.find("(cached student)") != std::string::npos);
  CHECK(kld_of("q8_0+prune-layers:1+distill:20", "distill", "kld_after") == ka);
  CHECK(test::raw_one(db, "SELECT count(*) FROM runs WHERE variant = 'q8_0+prune-layers:1+distill:20'") == "1");

  // The report names the distilled variant and draws its curve.
  const std::string html = dir + "/report.html";
  auto rep = test::run_cli({"report", "--db", db, "-o", html});
  INFO(rep.out << rep.err);
  REQUIRE(rep.exit_code == 0);
  std::ifstream in(html, std::ios::binary);
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(page.find("id=\"distill-loss\"") != std::string::npos);
  CHECK(page.find("prune-layers:1+distill:20 \xC2\xB7 stories260K") != std::string::npos);
  ::unsetenv("SPARKBENCH_CACHE");
}

TEST_CASE("cli run: a distill step without pruning is one error line", "[cli][distill][variants][shared]") {
  if (test::skip_without_shared()) return;
  auto r = test::run_cli({"run", "-m", test::shared_path("models/stories260K.gguf"), "--variant", "q4_0+distill:10", "--suite", "stories",
                          "--limit", "1", "--db", test::temp_dir("run-distill-bad") + "/r.db"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("'distill:10' needs a pruning part") != std::string::npos);
  CHECK(r.err.find('\n') == r.err.size() - 1);
}

TEST_CASE("cli distill: a killed run keeps the steps committed so far and is marked interrupted", "[cli][distill][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("distill-kill");
  const std::string db = dir + "/r.db";
  std::vector<std::string> argv{test::sparkbench_bin(),
                                "distill",
                                "--teacher",
                                test::shared_path("models/stories260K.gguf"),
                                "--student-variant",
                                "prune-layers:1",
                                "--teacher-samples",
                                "8",
                                "--heldout",
                                "1",
                                "--seq",
                                "32",
                                "--steps",
                                "100000",
                                "--db",
                                db,
                                "-o",
                                dir + "/s.gguf"};
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> a;
    for (auto& x : argv) a.push_back(x.data());
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  REQUIRE(pid > 0);
  // Wait until at least two batches of 10 steps are committed, then kill it without warning.
  int64_t stored = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    try {
      stored = std::stoll(test::raw_one(db, "SELECT count(*) FROM train_steps"));
    } catch (const std::exception&) {
      stored = 0;  // the file or the table is not there yet
    }
    if (stored >= 20) break;
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(stored >= 20);
  auto st = Store::open(db);  // marks the dead process's run interrupted
  auto runs = st->list_runs(10);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "interrupted");
  const auto steps = st->train_steps(runs[0].id);
  REQUIRE(steps.size() >= 20);
  CHECK(steps.size() % 10 == 0);  // whole batches only
  for (size_t i = 0; i < steps.size(); ++i) {
    CHECK(steps[i].step == int64_t(i) + 1);
    CHECK(std::isfinite(steps[i].loss));
  }
}
