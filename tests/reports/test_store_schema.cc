// Results store schema: creation, migration of a version-1 file written with raw SQL (data
// survives; the result has exactly the shape of a new database), refusal of newer versions and
// of SQLite files that are not results databases.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <set>

#include "engine/core/error.h"
#include "reports/store.h"
#include "reports/store_proc.h"
#include "reports/store_schema.h"
#include "tests/reports/test_store_util.h"

using namespace sb;
using sb::test::db_path;
using sb::test::raw_one;
using sb::test::raw_sql;

namespace {

// Version 1 as sparkbench 0.1 wrote it (docs/SCHEMA.md, "History").
const char* const kSchemaV1 = R"SQL(
CREATE TABLE schema_version (
  version    INTEGER PRIMARY KEY,
  applied_at TEXT NOT NULL
);
CREATE TABLE runs (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  label        TEXT    NOT NULL DEFAULT '',
  kind         TEXT    NOT NULL DEFAULT 'eval',
  git_commit   TEXT    NOT NULL DEFAULT '',
  tool_version TEXT    NOT NULL DEFAULT '',
  host         TEXT    NOT NULL DEFAULT '',
  backend      TEXT    NOT NULL DEFAULT '',
  model_path   TEXT    NOT NULL DEFAULT '',
  model_sha256 TEXT    NOT NULL DEFAULT '',
  variant      TEXT    NOT NULL DEFAULT '',
  seed         INTEGER NOT NULL DEFAULT 0,
  config_json  TEXT    NOT NULL DEFAULT '',
  status       TEXT    NOT NULL DEFAULT 'running',
  started_at   TEXT    NOT NULL,
  finished_at  TEXT,
  pid          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_label ON runs(label, id);
CREATE TABLE metrics (
  id     INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  task   TEXT    NOT NULL,
  metric TEXT    NOT NULL,
  value  REAL,
  n      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (run_id, task, metric)
);
CREATE TABLE samples (
  id        INTEGER PRIMARY KEY,
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  task      TEXT    NOT NULL,
  sample_id TEXT    NOT NULL,
  output    TEXT    NOT NULL DEFAULT '',
  score     REAL,
  outcome   TEXT    NOT NULL DEFAULT '',
  UNIQUE (run_id, task, sample_id)
);
INSERT INTO schema_version VALUES (1, '2024-01-01T00:00:00Z');
)SQL";

// The shape of a database: every column (table, name, type, not null, default, pk), every
// index with its columns and whether it is unique or partial.
std::set<std::string> shape(const std::string& path) {
  std::set<std::string> out;
  auto tables = raw_sql(path,
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                        "LIKE 'sqlite_%' ORDER BY name");
  for (const auto& t : tables) {
    auto cols = raw_sql(path,
                        "SELECT name || ' ' || type || ' ' || \"notnull\" || ' ' || "
                        "ifnull(dflt_value, '-') || ' ' || pk FROM pragma_table_info('" +
                            t + "')");
    for (const auto& c : cols) out.insert(t + ": " + c);
    auto idx = raw_sql(path,
                       "SELECT name || ' unique=' || \"unique\" || ' partial=' || partial "
                       "|| ' (' || (SELECT group_concat(name) FROM pragma_index_info(il.name)) "
                       "|| ')' FROM pragma_index_list('" +
                           t + "') AS il");
    for (const auto& i : idx) out.insert(t + " index " + i);
  }
  for (const auto& s : raw_sql(path,
                               "SELECT ifnull(sql, name) FROM sqlite_master WHERE type = "
                               "'index' AND sql LIKE '%WHERE%'"))
    out.insert("partial: " + s);
  return out;
}

std::string hostname() { return proc::self().host; }

}  // namespace

TEST_CASE("store schema: a new file gets the current version once", "[store][unit]") {
  std::string path = db_path("schema-new");
  Store::open(path);
  Store::open(path);
  CHECK(raw_one(path, "SELECT group_concat(version) FROM schema_version") == std::to_string(store_schema::kCurrentVersion));
  CHECK(raw_one(path, "PRAGMA journal_mode") == "wal");
  CHECK(raw_one(path, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("store schema: a zero-byte file is a new database", "[store][unit]") {
  std::string path = db_path("schema-empty");
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    std::fclose(f);
  }
  auto st = Store::open(path);
  CHECK(st->begin_run({}) == 1);
}

TEST_CASE("store schema: a version 1 file is upgraded in place and keeps its data", "[store][unit]") {
  std::string path = db_path("schema-v1");
  std::string host = hostname();
  raw_sql(path, kSchemaV1);
  raw_sql(path,
          "INSERT INTO runs (label, kind, git_commit, tool_version, host, backend, model_path, "
          "model_sha256, variant, seed, config_json, status, started_at, finished_at, pid) VALUES "
          "('old', 'eval', 'abc', '0.0.9', '" +
              host +
              "', 'ref', '/m.gguf', 'ff', 'f32', 7, "
              "'{}', 'complete', '2024-01-02T03:04:05Z', '2024-01-02T04:00:00Z', 4242),"
              "('stale', 'eval', '', '', '" +
              host +
              "', 'cpu', '', '', 'q8_0', 1, '', 'running', "
              "'2024-01-03T00:00:00Z', NULL, 2147483647),"
              "('remote', 'eval', '', '', 'some-other-host', 'cpu', '', '', '', 0, '', 'running', "
              "'2024-01-03T00:00:00Z', NULL, 2147483647);"
              "INSERT INTO metrics (run_id, task, metric, value, n) VALUES (1, 'qa', 'f1', 0.5, 10);"
              "INSERT INTO samples (run_id, task, sample_id, output, score, outcome) VALUES "
              "(1, 'qa', 'qa/1', 'Paris', 1, 'correct'), (1, 'qa', 'qa/2', 'Rome', 0, 'wrong');");
  auto before = raw_sql(path, "SELECT count(*) FROM samples");

  auto st = Store::open(path);
  CHECK(raw_one(path,
                "SELECT group_concat(version) FROM (SELECT version FROM schema_version "
                "ORDER BY version)") == "1,2,3,4,5,6");
  auto r = st->get_run(1);
  REQUIRE(r);
  CHECK(r->info.label == "old");
  CHECK(r->info.git_commit == "abc");
  CHECK(r->info.tool_version == "0.0.9");
  CHECK(r->info.backend == "ref");
  CHECK(r->info.variant == "f32");
  CHECK(r->info.seed == 7);
  CHECK(r->info.threads == 0);  // new columns take their defaults
  CHECK(r->info.gpu.empty());
  CHECK(r->status == "complete");
  CHECK(r->started_at == "2024-01-02T03:04:05Z");
  CHECK(r->finished_at == "2024-01-02T04:00:00Z");
  CHECK(raw_one(path, "SELECT proc_pid FROM runs WHERE id = 1") == "4242");
  // The stale run of a dead process on this host is found through the migrated identity.
  CHECK(st->get_run(2)->status == "interrupted");
  CHECK(st->get_run(3)->status == "running");

  auto ms = st->metrics(1);
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].value == 0.5);
  CHECK(ms[0].n == 10);
  CHECK_FALSE(ms[0].stderr_);
  CHECK(ms[0].direction == Direction::unknown);  // old rows: shown, never judged
  CHECK(ms[0].unit.empty());
  CHECK_FALSE(ms[0].primary);
  auto ss = st->samples(1);
  REQUIRE(ss.size() == 2);
  CHECK(ss[0].output == "Paris");
  CHECK(ss[1].outcome == "wrong");
  CHECK(ss[1].prompt_hash.empty());
  CHECK(ss[1].prompt.empty());  // rows from before schema 3 have no prompt text
  CHECK_FALSE(ss[1].ttft_ms);
  CHECK(before[0] == "2");

  // New tables work on the upgraded file, and ids keep counting.
  SpeedRow sp;
  sp.test = "tg32";
  st->add_speed(1, sp);
  st->add_kernels(1, {KernelRow{}});
  st->cache_put("k", "v");
  st->add_train_steps(1, {TrainStepRow{1, 2.5, 1e-3, std::nullopt}});
  CHECK(st->train_steps(1).size() == 1);
  CHECK(st->begin_run({}) == 4);
  st->verify(true);

  // An upgraded file has exactly the shape of a new one.
  std::string fresh = db_path("schema-fresh");
  Store::open(fresh);
  CHECK(shape(path) == shape(fresh));
}

TEST_CASE("store schema: version 5 -> 6 adds train_steps; steps are stored, replaced and read back in order", "[store][unit]") {
  // A version-5 file: the current shape without train_steps, with a run in it.
  std::string path = db_path("schema-v5");
  {
    auto st = Store::open(path);
    RunInfo info;
    info.kind = "distill";
    info.label = "v5run";
    st->begin_run(info);
  }
  raw_sql(path, "DROP TABLE train_steps; DELETE FROM schema_version; INSERT INTO schema_version VALUES (5, '2026-01-01T00:00:00Z')");
  REQUIRE(raw_one(path, "SELECT count(*) FROM sqlite_master WHERE name = 'train_steps'") == "0");
  auto st = Store::open(path);
  CHECK(raw_one(path, "SELECT max(version) FROM schema_version") == "6");
  auto r = st->get_run(1);
  REQUIRE(r);
  CHECK(r->info.kind == "distill");
  CHECK(r->info.label == "v5run");
  // Out of order, with a held-out KLD on step 2; step 2 again without one keeps the KLD.
  st->add_train_steps(1, {TrainStepRow{2, 1.5, 2e-3, 0.25}, TrainStepRow{1, 2.0, 1e-3, std::nullopt}});
  st->add_train_steps(1, {TrainStepRow{2, 1.25, 2e-3, std::nullopt}, TrainStepRow{3, 1.0, 5e-4, std::nullopt}});
  auto steps = st->train_steps(1);
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].step == 1);
  CHECK(steps[0].loss == 2.0);
  CHECK_FALSE(steps[0].kld);
  CHECK(steps[1].step == 2);
  CHECK(steps[1].loss == 1.25);
  REQUIRE(steps[1].kld);
  CHECK(*steps[1].kld == 0.25);
  CHECK(steps[2].lr == 5e-4);
  CHECK_THROWS_AS(st->add_train_steps(99, {TrainStepRow{1, 1, 1, std::nullopt}}), Error);
  // Deleting the run deletes its steps (foreign key cascade).
  raw_sql(path, "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE id = 1");
  CHECK(raw_one(path, "SELECT count(*) FROM train_steps") == "0");
  std::string fresh = db_path("schema-fresh6");
  Store::open(fresh);
  CHECK(shape(path) == shape(fresh));
}

TEST_CASE("store schema: a newer version is refused with both versions named", "[store][unit]") {
  std::string path = db_path("schema-newer");
  Store::open(path);
  const int newer = store_schema::kCurrentVersion + 1;
  raw_sql(path, "INSERT INTO schema_version VALUES (" + std::to_string(newer) + ", '2030-01-01T00:00:00Z')");
  try {
    Store::open(path);
    FAIL("a newer schema was accepted");
  } catch (const sb::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find(path) == 0);
    CHECK(msg.find("version " + std::to_string(newer)) != std::string::npos);
    CHECK(msg.find("(" + std::to_string(store_schema::kCurrentVersion) + ")") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
  CHECK(raw_one(path, "SELECT max(version) FROM schema_version") == std::to_string(newer));  // untouched
}

TEST_CASE("store schema: an SQLite file of something else is refused", "[store][unit]") {
  std::string path = db_path("schema-foreign");
  raw_sql(path, "CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada')");
  CHECK_THROWS_WITH(Store::open(path), Catch::StartsWith(path) && Catch::Contains("not a sparkbench results database"));
  CHECK(raw_one(path, "SELECT name FROM people") == "ada");
}
