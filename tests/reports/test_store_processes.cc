// Results store across processes: a writer SIGKILLed at random moments (the database stays
// consistent and holds everything the writer reported committed), concurrent writers in three
// processes, and interrupted-run detection for a real dead (and zombie) process.
//
// Children are fork()ed while the parent holds no SQLite connection, open their own store, and
// leave with _exit() so no Catch2 or atexit handler (temp-dir removal) runs in them.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "engine/core/error.h"
#include "reports/store.h"
#include "reports/store_schema.h"
#include "tests/reports/test_store_util.h"

using namespace sb;
using sb::test::db_path;
using sb::test::drain;
using sb::test::raw_one;
using sb::test::read_line;
using sb::test::write_line;

namespace {

constexpr int kBatch = 4;  // samples per add_samples() call in the killed writer

// Killed writer: begins a run, reports "run ID", then commits transaction after transaction,
// reporting "ok I" after each commit returns. Transaction I is either one sample "sI" or (every
// third) a batch "bI/0".."bI/3". Ends when the parent goes away or after a bound.
[[noreturn]] void killed_writer(const std::string& path, int fd) {
  try {
    auto st = Store::open(path);
    RunInfo info;
    info.label = "crash";
    int64_t run = st->begin_run(info);
    if (!write_line(fd, "run " + std::to_string(run))) ::_exit(0);
    for (int i = 0; i < 1000000; ++i) {
      if (i % 3 == 2) {
        std::vector<SampleRow> batch;
        for (int k = 0; k < kBatch; ++k) {
          SampleRow s;
          s.task = "t";
          s.sample_id = "b" + std::to_string(i) + "/" + std::to_string(k);
          s.output = std::string(200 + 37 * k, 'x');
          batch.push_back(s);
        }
        st->add_samples(run, batch);
      } else {
        SampleRow s;
        s.task = "t";
        s.sample_id = "s" + std::to_string(i);
        s.output = std::string(100 + i % 500, 'y');
        st->add_sample(run, s);
      }
      if (i % 10 == 9) {
        MetricRow m;
        m.task = "t";
        m.metric = "count";
        m.value = i;
        st->add_metric(run, m);
      }
      if (!write_line(fd, "ok " + std::to_string(i))) ::_exit(0);
    }
  } catch (const std::exception& e) {
    write_line(fd, std::string("error ") + e.what());
    ::_exit(1);
  }
  ::_exit(0);
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

char proc_state(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

}  // namespace

TEST_CASE("store: a writer killed at random moments loses nothing it committed", "[store][unit][crash]") {
  std::string path = db_path("store-crash");
  uint32_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  int killed_mid_run = 0;
  for (int iter = 0; iter < 12; ++iter) {
    INFO("iteration " << iter);
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      killed_writer(path, fds[1]);
    }
    ::close(fds[1]);
    std::string buf;
    int64_t run = 0;
    if (iter % 4 == 0) {
      // Early: possibly while the file is being created or the run begun.
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));
    } else {
      std::string first = read_line(fds[0], buf, 60000);
      REQUIRE(first.rfind("run ", 0) == 0);
      run = std::stoll(first.substr(4));
      if (iter % 4 == 1) {
        // Soon after the run began.
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1000));
      } else {
        // In the middle of the stream of commits.
        std::string ok = read_line(fds[0], buf, 60000);
        REQUIRE(ok.rfind("ok ", 0) == 0);
        buf = ok + "\n" + buf;  // parsed again below
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 40000));
      }
    }
    ::kill(pid, SIGKILL);
    int code = wait_exit(pid);
    drain(fds[0], buf);
    ::close(fds[0]);
    INFO("child output: " << buf.substr(0, 300));
    CHECK(code == 128 + SIGKILL);

    // Everything the child reported.
    std::vector<int> committed;
    size_t pos = 0;
    for (size_t nl; (nl = buf.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      std::string line = buf.substr(pos, nl - pos);
      if (line.rfind("run ", 0) == 0)
        run = std::stoll(line.substr(4));
      else if (line.rfind("ok ", 0) == 0)
        committed.push_back(std::stoi(line.substr(3)));
      else
        FAIL("child: " << line);
    }

    auto st = Store::open(path);  // also marks the dead child's run interrupted
    CHECK(raw_one(path, "PRAGMA integrity_check") == "ok");
    if (run == 0) continue;
    killed_mid_run += committed.empty() ? 0 : 1;
    auto r = st->get_run(run);
    REQUIRE(r);
    CHECK(r->status == "interrupted");
    CHECK(st->mark_interrupted() == 0);
    auto ids = st->sample_ids(run, "t");
    for (int i : committed) {
      if (i % 3 == 2) {
        for (int k = 0; k < kBatch; ++k) CHECK(ids.count("b" + std::to_string(i) + "/" + std::to_string(k)) == 1);
      } else {
        CHECK(ids.count("s" + std::to_string(i)) == 1);
      }
    }
    // Batches are all or nothing; at most one commit can be unreported.
    int last = committed.empty() ? -1 : committed.back();
    for (const auto& id : ids) {
      int i = std::stoi(id.substr(1, id.find('/') - 1));
      CHECK(i <= last + 1);
      if (id[0] == 'b')
        for (int k = 0; k < kBatch; ++k) CHECK(ids.count("b" + std::to_string(i) + "/" + std::to_string(k)) == 1);
    }
    CHECK(ids.size() >= committed.size());
  }
  CHECK(killed_mid_run >= 6);
  auto st = Store::open(path);
  st->verify(true);
}

TEST_CASE("store: three processes write to one new file at the same time", "[store][unit][concurrency]") {
  std::string path = db_path("store-concurrent");
  constexpr int kWriters = 3, kSamples = 300;
  int go[2];
  REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
  std::vector<pid_t> pids;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(go[1]);
      char c;
      while (::read(go[0], &c, 1) < 0 && errno == EINTR) {
      }  // EOF = start
      try {
        auto st = Store::open(path);  // all three may create the schema at once
        RunInfo info;
        info.label = "writer-" + std::to_string(w);
        int64_t run = st->begin_run(info);
        for (int i = 0; i < kSamples; ++i) {
          SampleRow s;
          s.task = "t";
          s.sample_id = std::to_string(i);
          s.output = std::string(size_t(50 + i), char('a' + w));
          st->add_sample(run, s);
          if (i % 50 == 0) {
            MetricRow m;
            m.task = "t";
            m.metric = "progress";
            m.value = i;
            st->add_metric(run, m);
            st->cache_put("shared-" + std::to_string(i / 50), "from " + std::to_string(w));
          }
        }
        st->finish_run(run, "complete");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
        ::_exit(1);
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);  // release all writers together
  for (pid_t pid : pids) CHECK(wait_exit(pid) == 0);

  auto st = Store::open(path);
  auto runs = st->list_runs();
  REQUIRE(runs.size() == kWriters);
  std::set<std::string> labels;
  for (const auto& r : runs) {
    labels.insert(r.info.label);
    CHECK(r.status == "complete");
    auto samples = st->samples(r.id);
    CHECK(samples.size() == size_t(kSamples));
    char expect = char('a' + std::stoi(r.info.label.substr(7)));
    for (const auto& s : samples) CHECK(s.output[0] == expect);
    auto ms = st->metrics(r.id);
    REQUIRE(ms.size() == 1);
    CHECK(ms[0].value == 250);
  }
  CHECK(labels.size() == size_t(kWriters));
  CHECK(raw_one(path, "SELECT count(*) FROM samples") == std::to_string(kWriters * kSamples));
  CHECK(raw_one(path, "SELECT count(*) FROM request_cache") == "6");
  CHECK(raw_one(path, "SELECT group_concat(version) FROM schema_version") == std::to_string(store_schema::kCurrentVersion));
  CHECK(raw_one(path, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("store: a live writer's run stays running and once dead (even unreaped) it is interrupted", "[store][unit]") {
  std::string path = db_path("store-live");
  int up[2], hold[2];
  REQUIRE(::pipe2(up, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(hold, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(up[0]);
    ::close(hold[1]);
    try {
      int64_t run;
      {
        auto st = Store::open(path);
        run = st->begin_run({});
      }
      write_line(up[1], "run " + std::to_string(run));
      char c;
      while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {
      }  // until killed
    } catch (const std::exception& e) {
      write_line(up[1], std::string("error ") + e.what());
    }
    ::_exit(0);
  }
  ::close(up[1]);
  ::close(hold[0]);
  std::string buf;
  std::string line = read_line(up[0], buf, 60000);
  REQUIRE(line.rfind("run ", 0) == 0);
  int64_t run = std::stoll(line.substr(4));

  auto st = Store::open(path);
  CHECK(st->get_run(run)->status == "running");
  CHECK(st->mark_interrupted() == 0);
  CHECK_THROWS_WITH(st->resume_run(run), Catch::Contains("still running"));

  ::kill(pid, SIGKILL);
  for (int i = 0; i < 5000 && proc_state(pid) != 'Z'; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(proc_state(pid) == 'Z');
  CHECK(st->mark_interrupted() == 1);  // a zombie is dead
  CHECK(st->get_run(run)->status == "interrupted");
  CHECK(wait_exit(pid) == 128 + SIGKILL);
  CHECK(st->mark_interrupted() == 0);
  ::close(up[0]);
  ::close(hold[1]);
}
