// Results store: round trip of every record type, run lookup, replace and uniqueness rules,
// interrupted-run detection from recorded process identities, resume.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "engine/core/error.h"
#include "reports/store.h"
#include "reports/store_schema.h"
#include "reports/store_proc.h"
#include "tests/reports/test_store_util.h"

using namespace sb;
using sb::test::db_path;
using sb::test::raw_one;
using sb::test::raw_sql;

namespace {

RunInfo full_info() {
  RunInfo i;
  i.label = "nightly";
  i.group_id = "sweep-7";
  i.kind = "bench";
  i.git_commit = "0123456789ab";
  i.git_dirty = true;
  i.tool_version = "0.1.0 (abc)";
  i.host = "box-1";
  i.cpu = "AMD EPYC 7B13";
  i.gpu = "NVIDIA H100";
  i.backend = "cpu";
  i.threads = 16;
  i.model_path = "/models/spark.gguf";
  i.model_sha256 = std::string(64, 'f');
  i.model_arch = "llama";
  i.synthetic_weights = true;
  i.variant = "prune:0.5";
  i.seed = std::numeric_limits<uint64_t>::max();
  i.config_json = R"({"suites":["qa"],"temp":0.0})";
  return i;
}

void check_same(const RunInfo& a, const RunInfo& b) {
  CHECK(a.label == b.label);
  CHECK(a.group_id == b.group_id);
  CHECK(a.kind == b.kind);
  CHECK(a.git_commit == b.git_commit);
  CHECK(a.git_dirty == b.git_dirty);
  CHECK(a.tool_version == b.tool_version);
  CHECK(a.host == b.host);
  CHECK(a.cpu == b.cpu);
  CHECK(a.gpu == b.gpu);
  CHECK(a.backend == b.backend);
  CHECK(a.threads == b.threads);
  CHECK(a.model_path == b.model_path);
  CHECK(a.model_sha256 == b.model_sha256);
  CHECK(a.model_arch == b.model_arch);
  CHECK(a.synthetic_weights == b.synthetic_weights);
  CHECK(a.variant == b.variant);
  CHECK(a.seed == b.seed);
  CHECK(a.config_json == b.config_json);
}

bool iso_utc(const std::string& t) {  // 2024-05-01T12:34:56Z
  return t.size() == 20 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' && t[19] == 'Z';
}

SampleRow sample(const std::string& task, const std::string& id, double score = 1) {
  SampleRow s;
  s.task = task;
  s.sample_id = id;
  s.score = score;
  s.outcome = score > 0 ? "passed" : "failed";
  return s;
}

}  // namespace

TEST_CASE("store: a run round-trips every field and its status changes", "[store][unit]") {
  auto st = Store::open(db_path("store-run"));
  CHECK(st->schema_version() == store_schema::kCurrentVersion);
  RunInfo info = full_info();
  int64_t id = st->begin_run(info);
  CHECK(id > 0);
  auto r = st->get_run(id);
  REQUIRE(r);
  CHECK(r->id == id);
  check_same(r->info, info);
  CHECK(r->status == "running");
  CHECK(iso_utc(r->started_at));
  CHECK(r->finished_at.empty());

  st->finish_run(id, "complete");
  r = st->get_run(id);
  CHECK(r->status == "complete");
  CHECK(iso_utc(r->finished_at));
  CHECK(r->finished_at >= r->started_at);

  CHECK_FALSE(st->get_run(id + 100));
  CHECK_THROWS_WITH(st->finish_run(id + 100, "complete"), Catch::Contains("no such run"));
  CHECK_THROWS_AS(st->finish_run(id, "done"), sb::Error);

  RunInfo defaults;
  int64_t id2 = st->begin_run(defaults);
  CHECK(id2 > id);
  check_same(st->get_run(id2)->info, defaults);
}

TEST_CASE("store: find_run resolves ids, labels and latest", "[store][unit]") {
  auto st = Store::open(db_path("store-find"));
  CHECK_FALSE(st->find_run("latest"));
  RunInfo a;
  a.label = "base";
  int64_t r1 = st->begin_run(a);
  int64_t r2 = st->begin_run(a);  // same label, later
  RunInfo b;
  b.label = "1";  // a label that looks like an id
  int64_t r3 = st->begin_run(b);
  RunInfo c;
  int64_t r4 = st->begin_run(c);  // no label

  CHECK(st->find_run(std::to_string(r3))->id == r3);
  CHECK(st->find_run("1")->id == r1);  // an existing id wins over a label
  CHECK(st->find_run("base")->id == r2);
  CHECK(st->find_run("latest")->id == r4);
  CHECK_FALSE(st->find_run("nope"));
  CHECK_FALSE(st->find_run(""));
  CHECK_FALSE(st->find_run("999"));
  CHECK_FALSE(st->find_run("99999999999999999999999"));

  auto runs = st->list_runs();
  REQUIRE(runs.size() == 4);
  CHECK(runs[0].id == r4);  // newest first
  CHECK(runs[3].id == r1);
  CHECK(st->list_runs(2).size() == 2);
}

TEST_CASE("store: samples round-trip and are unique per run, task and id", "[store][unit]") {
  auto st = Store::open(db_path("store-samples"));
  int64_t run = st->begin_run({});
  SampleRow s;
  s.task = "code-python";
  s.sample_id = "code-python/3#2";
  s.prompt_hash = std::string(64, 'a');
  s.prompt = "Question: \xc3\xa9t\xc3\xa9?\nAnswer:";
  const char raw[] = "def f():\n  return \"\xc3\xa9\"\0tail";  // UTF-8 and a NUL byte
  s.output = std::string(raw, sizeof raw - 1);
  s.score = 0.25;
  s.outcome = "timeout";
  s.ttft_ms = 12.5;
  s.tpot_ms = 3.25;
  s.latency_ms = 100.0;
  s.n_prompt_tokens = 120;
  s.n_gen_tokens = 31;
  s.extra_json = R"({"stderr":"boom"})";
  st->add_sample(run, s);
  SampleRow bare = sample("qa", "qa/1", 0);
  bare.score = std::numeric_limits<double>::quiet_NaN();  // stored as NULL, read back as NaN
  st->add_samples(run, {bare, sample("qa", "qa/2")});

  auto all = st->samples(run);
  REQUIRE(all.size() == 3);
  const SampleRow& g = all[0];
  CHECK(g.task == s.task);
  CHECK(g.sample_id == s.sample_id);
  CHECK(g.prompt_hash == s.prompt_hash);
  CHECK(g.prompt == s.prompt);
  CHECK(g.output == s.output);
  CHECK(g.output.size() == 27);
  CHECK(g.score == 0.25);
  CHECK(g.outcome == "timeout");
  CHECK(g.ttft_ms == 12.5);
  CHECK(g.tpot_ms == 3.25);
  CHECK(g.latency_ms == 100.0);
  CHECK(g.n_prompt_tokens == 120);
  CHECK(g.n_gen_tokens == 31);
  CHECK(g.extra_json == s.extra_json);
  CHECK(std::isnan(all[1].score));
  CHECK_FALSE(all[1].ttft_ms);
  CHECK(all[1].extra_json.empty());
  CHECK(st->samples(run, "qa").size() == 2);
  CHECK(st->samples(run, "other").empty());
  CHECK(st->sample_ids(run, "qa") == std::set<std::string>{"qa/1", "qa/2"});

  // A duplicate is refused; a batch holding one is refused whole.
  CHECK_THROWS_WITH(st->add_sample(run, sample("qa", "qa/1")), Catch::Contains("already has sample \"qa/1\" of task \"qa\""));
  CHECK_THROWS_AS(st->add_samples(run, {sample("qa", "qa/3"), sample("qa", "qa/2")}), sb::Error);
  CHECK(st->sample_ids(run, "qa").size() == 2);
  // The same id under another task or in another run is fine.
  st->add_sample(run, sample("qa2", "qa/1"));
  int64_t run2 = st->begin_run({});
  st->add_sample(run2, sample("qa", "qa/1"));
  CHECK(st->samples(run2).size() == 1);
  st->add_samples(run2, {});

  CHECK_THROWS_WITH(st->add_sample(run2 + 50, sample("qa", "x")), Catch::Contains("no run with id"));
}

TEST_CASE("store: a metric replaces the earlier value of its (run, task, metric)", "[store][unit]") {
  auto st = Store::open(db_path("store-metrics"));
  int64_t run = st->begin_run({});
  MetricRow m;
  m.task = "code-python";
  m.metric = "pass@1";
  m.value = 0.5;
  m.stderr_ = 0.05;
  m.ci_low = 0.4;
  m.ci_high = 0.6;
  m.n = 164;
  st->add_metric(run, m);
  MetricRow acc;
  acc.task = "qa";
  acc.metric = "exact_match";
  acc.value = 0.75;
  acc.n = 10;
  st->add_metric(run, acc);
  m.value = 0.625;
  m.stderr_.reset();
  st->add_metric(run, m);

  auto ms = st->metrics(run);
  REQUIRE(ms.size() == 2);
  CHECK(ms[0].task == "code-python");  // keeps its place
  CHECK(ms[0].metric == "pass@1");
  CHECK(ms[0].value == 0.625);
  CHECK_FALSE(ms[0].stderr_);
  CHECK(ms[0].ci_low == 0.4);
  CHECK(ms[0].ci_high == 0.6);
  CHECK(ms[0].n == 164);
  CHECK(ms[1].metric == "exact_match");
  CHECK_FALSE(ms[1].ci_low);

  MetricRow nan;
  nan.task = "ppl";
  nan.metric = "perplexity";
  nan.value = std::numeric_limits<double>::quiet_NaN();
  st->add_metric(run, nan);
  CHECK(std::isnan(st->metrics(run)[2].value));
  int64_t other = st->begin_run({});
  st->add_metric(other, m);
  CHECK(st->metrics(other).size() == 1);
  CHECK(st->metrics(run).size() == 3);
}

TEST_CASE("store: speed and kernel rows round-trip", "[store][unit]") {
  auto st = Store::open(db_path("store-speed"));
  int64_t run = st->begin_run({});
  SpeedRow s;
  s.test = "pp128+tg32";
  s.n_prompt = 128;
  s.n_gen = 32;
  s.n_depth = 512;
  s.repetitions = 3;
  s.avg_ts = 1234.5;
  s.stddev_ts = 12.25;
  s.samples_ts = {1220.0, 1234.5, 1249.0};
  s.samples_ns = {1.5e9, 1.25e9, 0.1};
  s.ttft_ms = 10;
  s.tpot_ms = 2;
  s.p50_ms = 1;
  s.p90_ms = 1.5;
  s.p99_ms = 3;
  s.peak_rss_bytes = int64_t(1) << 40;
  s.load_ms = 250;
  s.extra_json = R"({"kv":"f16"})";
  st->add_speed(run, s);
  SpeedRow bare;
  bare.test = "tg32";
  st->add_speed(run, bare);

  auto rows = st->speeds(run);
  REQUIRE(rows.size() == 2);
  const SpeedRow& g = rows[0];
  CHECK(g.test == s.test);
  CHECK(g.n_prompt == 128);
  CHECK(g.n_gen == 32);
  CHECK(g.n_depth == 512);
  CHECK(g.repetitions == 3);
  CHECK(g.avg_ts == 1234.5);
  CHECK(g.stddev_ts == 12.25);
  CHECK(g.samples_ts == s.samples_ts);
  CHECK(g.samples_ns == s.samples_ns);
  CHECK(g.ttft_ms == 10.0);
  CHECK(g.tpot_ms == 2.0);
  CHECK(g.p50_ms == 1.0);
  CHECK(g.p90_ms == 1.5);
  CHECK(g.p99_ms == 3.0);
  CHECK(g.peak_rss_bytes == (int64_t(1) << 40));
  CHECK(g.load_ms == 250.0);
  CHECK(g.extra_json == s.extra_json);
  CHECK(rows[1].samples_ts.empty());
  CHECK_FALSE(rows[1].peak_rss_bytes);
  CHECK_FALSE(rows[1].p99_ms);

  KernelRow k;
  k.name = "BM_Matmul/f32/M:1/K:512/N:2048";
  k.run_type = "iteration";
  k.iterations = 1000;
  k.real_time_ns = 1500.5;
  k.cpu_time_ns = 1499.0;
  k.counters_json = R"({"bytes_per_second":1.0e9})";
  KernelRow agg = k;
  agg.run_type = "aggregate";
  agg.aggregate = "median";
  agg.counters_json = "";
  st->add_kernels(run, {k, agg});
  st->add_kernels(run, {});
  auto ks = st->kernels(run);
  REQUIRE(ks.size() == 2);
  CHECK(ks[0].name == k.name);
  CHECK(ks[0].run_type == "iteration");
  CHECK(ks[0].aggregate.empty());
  CHECK(ks[0].iterations == 1000);
  CHECK(ks[0].real_time_ns == 1500.5);
  CHECK(ks[0].cpu_time_ns == 1499.0);
  CHECK(ks[0].counters_json == k.counters_json);
  CHECK(ks[1].aggregate == "median");
  CHECK(ks[1].counters_json.empty());
  CHECK(st->kernels(run + 1).empty());
  CHECK_THROWS_AS(st->add_kernels(run + 1, {k}), sb::Error);
}

TEST_CASE("store: the request cache stores, replaces and survives reopening", "[store][unit]") {
  std::string path = db_path("store-cache");
  {
    auto st = Store::open(path);
    CHECK_FALSE(st->cache_get("k1"));
    st->cache_put("k1", "v1");
    st->cache_put("k2", std::string("bin\0ary", 7));
    st->cache_put("k1", "v1b");
    CHECK(st->cache_get("k1") == std::string("v1b"));
  }
  auto st = Store::open(path);
  CHECK(st->cache_get("k1") == std::string("v1b"));
  CHECK(st->cache_get("k2") == std::string("bin\0ary", 7));
  CHECK(raw_one(path, "SELECT count(*) FROM request_cache") == "2");
}

TEST_CASE("store: runs whose recorded process is gone are marked interrupted", "[store][unit]") {
  std::string path = db_path("store-interrupted");
  auto st = Store::open(path);
  int64_t mine = st->begin_run({});
  int64_t dead_pid = st->begin_run({});
  int64_t recycled = st->begin_run({});
  int64_t rebooted = st->begin_run({});
  int64_t elsewhere = st->begin_run({});
  int64_t container = st->begin_run({});
  int64_t finished = st->begin_run({});
  st->finish_run(finished, "complete");
  raw_sql(path, "UPDATE runs SET proc_pid = 2147483647 WHERE id = " + std::to_string(dead_pid) +
                    ";UPDATE runs SET proc_start = proc_start + 1 WHERE id = " + std::to_string(recycled) +
                    ";UPDATE runs SET proc_boot_id = 'another-boot' WHERE id = " + std::to_string(rebooted) +
                    ";UPDATE runs SET proc_host = 'another-host', proc_pid = 2147483647 "
                    "WHERE id = " +
                    std::to_string(elsewhere) +
                    ";UPDATE runs SET proc_pidns = 'pid:[1]', proc_pid = 2147483647 "
                    "WHERE id = " +
                    std::to_string(container) + ";UPDATE runs SET proc_pid = 2147483647 WHERE id = " + std::to_string(finished));
  CHECK(st->mark_interrupted() == 3);
  CHECK(st->get_run(mine)->status == "running");
  CHECK(st->get_run(dead_pid)->status == "interrupted");
  CHECK(st->get_run(recycled)->status == "interrupted");
  CHECK(st->get_run(rebooted)->status == "interrupted");
  CHECK(st->get_run(elsewhere)->status == "running");  // cannot be checked from this host
  CHECK(st->get_run(container)->status == "running");  // nor from this pid namespace
  CHECK(st->get_run(finished)->status == "complete");
  CHECK(st->mark_interrupted() == 0);

  // open() does it too.
  raw_sql(path, "UPDATE runs SET status = 'running' WHERE id = " + std::to_string(dead_pid));
  st.reset();
  st = Store::open(path);
  CHECK(st->get_run(dead_pid)->status == "interrupted");
  CHECK(st->get_run(mine)->status == "running");  // this process is alive
}

TEST_CASE("store: resume_run takes over an interrupted run", "[store][unit]") {
  std::string path = db_path("store-resume");
  auto st = Store::open(path);
  int64_t run = st->begin_run({});
  st->add_sample(run, sample("qa", "qa/1"));
  raw_sql(path, "UPDATE runs SET proc_pid = 2147483647 WHERE id = " + std::to_string(run));
  CHECK(st->mark_interrupted() == 1);
  st->resume_run(run);
  auto r = st->get_run(run);
  CHECK(r->status == "running");
  CHECK(r->finished_at.empty());
  CHECK(st->mark_interrupted() == 0);  // now owned by this live process
  CHECK(raw_one(path, "SELECT proc_pid FROM runs WHERE id = " + std::to_string(run)) == std::to_string(::getpid()));
  st->resume_run(run);  // resuming one's own run is harmless
  CHECK(st->sample_ids(run, "qa").size() == 1);

  st->finish_run(run, "failed");
  st->resume_run(run);  // a failed run may be retried
  st->finish_run(run, "complete");
  CHECK_THROWS_WITH(st->resume_run(run), Catch::Contains("complete"));
  CHECK_THROWS_WITH(st->resume_run(run + 10), Catch::Contains("no such run"));

  int64_t other = st->begin_run({});
  raw_sql(path,
          "UPDATE runs SET proc_pid = 1, proc_start = 0 WHERE id = " + std::to_string(other));  // pid 1 is alive: someone else's live run
  CHECK_THROWS_WITH(st->resume_run(other), Catch::Contains("still running"));
  raw_sql(path, "UPDATE runs SET proc_host = 'another-host' WHERE id = " + std::to_string(other));
  CHECK_THROWS_WITH(st->resume_run(other), Catch::Contains("another-host"));
}

TEST_CASE("store: the process identity parser reads /proc/PID/stat", "[store][unit]") {
  char state = 0;
  int64_t start = 0;
  std::string line =
      "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
      "1000000 100 18446744073709551615";
  REQUIRE(proc::parse_stat(line, &state, &start));
  CHECK(state == 'S');
  CHECK(start == 987654);
  CHECK_FALSE(proc::parse_stat("1234 (x) S 1 2", &state, &start));
  CHECK_FALSE(proc::parse_stat("garbage", &state, &start));

  using proc::Liveness;
  proc::Identity me = proc::self();
  CHECK(me.pid == ::getpid());
  CHECK_FALSE(me.host.empty());
  CHECK(proc::check(me, me) == Liveness::alive);
  proc::Identity other = me;
  other.start += 1;
  CHECK(proc::check(other, me) == Liveness::dead);  // recycled pid
  other = me;
  other.pid = 2147483647;
  CHECK(proc::check(other, me) == Liveness::dead);
  other.host = "another-host";
  CHECK(proc::check(other, me) == Liveness::unknown);
  other = me;
  other.pid = 2147483647;
  other.pid_ns = "pid:[1]";
  CHECK(proc::check(other, me) == Liveness::unknown);  // another container's pid
  other.boot_id = "another-boot";
  CHECK(proc::check(other, me) == Liveness::dead);  // but this host rebooted since
  other = me;
  other.start = 0;  // unknown start time: the pid alone decides
  CHECK(proc::check(other, me) == Liveness::alive);
}

TEST_CASE("store: an in-memory store works for tests", "[store][unit]") {
  auto st = Store::open(":memory:");
  int64_t run = st->begin_run({});
  st->add_sample(run, sample("qa", "1"));
  CHECK(st->samples(run).size() == 1);
  st->verify(true);
}

TEST_CASE("store: a write waits for another connection's transaction to end", "[store][unit]") {
  std::string path = db_path("store-busy");
  auto st = Store::open(path);
  int64_t run = st->begin_run({});
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other,
                       "BEGIN IMMEDIATE; INSERT INTO request_cache VALUES "
                       "('held', 'x', '2024-01-01T00:00:00Z')",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  int commit_rc = -1;
  std::thread holder([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    commit_rc = sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  st->add_sample(run, sample("qa", "1"));  // waits for the write lock, then commits
  st->cache_put("mine", "y");
  holder.join();
  sqlite3_close(other);
  CHECK(commit_rc == SQLITE_OK);
  CHECK(st->cache_get("held") == std::string("x"));
  CHECK(st->samples(run).size() == 1);
}
