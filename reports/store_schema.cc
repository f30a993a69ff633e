#include "reports/store_schema.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "reports/sqlite_util.h"

namespace sb::store_schema {

namespace {

// Tables created the same way by the current schema and by the migration that added them:
// one definition each, so the two paths cannot drift apart.
const char* const kRunRanksTable = R"SQL(
CREATE TABLE run_ranks (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  rank       INTEGER NOT NULL DEFAULT 0,
  n_ranks    INTEGER NOT NULL DEFAULT 1,
  local_rank INTEGER NOT NULL DEFAULT 0,
  host       TEXT    NOT NULL DEFAULT '',
  device     TEXT    NOT NULL DEFAULT '',
  threads    INTEGER NOT NULL DEFAULT 0,
  pid        INTEGER NOT NULL DEFAULT 0,
  items      INTEGER NOT NULL DEFAULT 0,
  started_at TEXT    NOT NULL
);
CREATE INDEX run_ranks_run ON run_ranks(run_id);
)SQL";

const char* const kSpeedKernelsCacheTables = R"SQL(
CREATE TABLE speed (
  id             INTEGER PRIMARY KEY,
  run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  test           TEXT    NOT NULL,
  n_prompt       INTEGER NOT NULL DEFAULT 0,
  n_gen          INTEGER NOT NULL DEFAULT 0,
  n_depth        INTEGER NOT NULL DEFAULT 0,
  repetitions    INTEGER NOT NULL DEFAULT 0,
  avg_ts         REAL,
  stddev_ts      REAL,
  samples_ts     TEXT    NOT NULL DEFAULT '[]',
  samples_ns     TEXT    NOT NULL DEFAULT '[]',
  ttft_ms        REAL,
  tpot_ms        REAL,
  p50_ms         REAL,
  p90_ms         REAL,
  p99_ms         REAL,
  peak_rss_bytes INTEGER,
  load_ms        REAL,
  extra_json     TEXT
);
CREATE INDEX speed_run ON speed(run_id);

CREATE TABLE kernels (
  id            INTEGER PRIMARY KEY,
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name          TEXT    NOT NULL,
  run_type      TEXT    NOT NULL DEFAULT 'iteration',
  aggregate     TEXT    NOT NULL DEFAULT '',
  iterations    INTEGER NOT NULL DEFAULT 0,
  real_time_ns  REAL,
  cpu_time_ns   REAL,
  counters_json TEXT
);
CREATE INDEX kernels_run ON kernels(run_id);
CREATE INDEX kernels_name ON kernels(name);

CREATE TABLE request_cache (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  created_at TEXT NOT NULL
);
)SQL";

// train_steps: one row per optimizer step of a training run (loss, learning rate, held-out KLD
// where measured). In the current schema and added by migration 5 -> 6.
const char* const kTrainStepsTable = R"SQL(
CREATE TABLE train_steps (
  id     INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step   INTEGER NOT NULL,
  loss   REAL,
  lr     REAL,
  kld    REAL,
  UNIQUE (run_id, step)
);
)SQL";

// Version 6: the current schema (kCurrentHead, run_ranks, kCurrentTail, speed/kernels/request_cache, train_steps). Keep in step with
// docs/SCHEMA.md and with the result of applying every migration to version 1 (tests/reports/test_store_schema.cc checks that).
const char* const kCurrentHead = R"SQL(
CREATE TABLE schema_version (
  version    INTEGER PRIMARY KEY,
  applied_at TEXT NOT NULL
);

CREATE TABLE runs (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  label             TEXT    NOT NULL DEFAULT '',
  group_id          TEXT    NOT NULL DEFAULT '',
  kind              TEXT    NOT NULL DEFAULT 'eval',
  git_commit        TEXT    NOT NULL DEFAULT '',
  git_dirty         INTEGER NOT NULL DEFAULT 0,
  tool_version      TEXT    NOT NULL DEFAULT '',
  host              TEXT    NOT NULL DEFAULT '',
  cpu               TEXT    NOT NULL DEFAULT '',
  gpu               TEXT    NOT NULL DEFAULT '',
  backend           TEXT    NOT NULL DEFAULT '',
  threads           INTEGER NOT NULL DEFAULT 0,
  model_path        TEXT    NOT NULL DEFAULT '',
  model_sha256      TEXT    NOT NULL DEFAULT '',
  model_arch        TEXT    NOT NULL DEFAULT '',
  synthetic_weights INTEGER NOT NULL DEFAULT 0,
  variant           TEXT    NOT NULL DEFAULT '',
  seed              INTEGER NOT NULL DEFAULT 0,
  config_json       TEXT    NOT NULL DEFAULT '',
  status            TEXT    NOT NULL DEFAULT 'running',
  started_at        TEXT    NOT NULL,
  finished_at       TEXT,
  proc_host         TEXT    NOT NULL DEFAULT '',
  proc_pid          INTEGER NOT NULL DEFAULT 0,
  proc_start        INTEGER NOT NULL DEFAULT 0,
  proc_boot_id      TEXT    NOT NULL DEFAULT '',
  proc_pidns        TEXT    NOT NULL DEFAULT '',
  uuid              TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_label ON runs(label, id);
CREATE INDEX runs_group ON runs(group_id);
CREATE INDEX runs_running ON runs(status) WHERE status = 'running';
CREATE UNIQUE INDEX runs_uuid ON runs(uuid);
)SQL";

const char* const kCurrentTail = R"SQL(
CREATE TABLE metrics (
  id      INTEGER PRIMARY KEY,
  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  task    TEXT    NOT NULL,
  metric  TEXT    NOT NULL,
  value   REAL,
  stderr  REAL,
  ci_low  REAL,
  ci_high REAL,
  n       INTEGER NOT NULL DEFAULT 0,
  direction  TEXT    NOT NULL DEFAULT 'unknown',
  unit       TEXT    NOT NULL DEFAULT '',
  is_primary INTEGER NOT NULL DEFAULT 0,
  UNIQUE (run_id, task, metric)
);
CREATE INDEX metrics_task_metric ON metrics(task, metric);

CREATE TABLE samples (
  id              INTEGER PRIMARY KEY,
  run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  task            TEXT    NOT NULL,
  sample_id       TEXT    NOT NULL,
  prompt_hash     TEXT    NOT NULL DEFAULT '',
  output          TEXT    NOT NULL DEFAULT '',
  score           REAL,
  outcome         TEXT    NOT NULL DEFAULT '',
  ttft_ms         REAL,
  tpot_ms         REAL,
  latency_ms      REAL,
  n_prompt_tokens INTEGER NOT NULL DEFAULT 0,
  n_gen_tokens    INTEGER NOT NULL DEFAULT 0,
  extra_json      TEXT,
  prompt          TEXT    NOT NULL DEFAULT '',
  UNIQUE (run_id, task, sample_id)
);

)SQL";

// 1 -> 2: provenance and process identity on runs, intervals on metrics, timings and token
// counts on samples; new tables speed, kernels, request_cache (kSpeedKernelsCacheTables,
// appended in migration_sql).
const char* const kMigration1 = R"SQL(
ALTER TABLE runs RENAME COLUMN pid TO proc_pid;
ALTER TABLE runs ADD COLUMN group_id          TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN git_dirty         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN cpu               TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN gpu               TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN threads           INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN model_arch        TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN synthetic_weights INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN proc_host         TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN proc_start        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN proc_boot_id      TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN proc_pidns        TEXT    NOT NULL DEFAULT '';
-- Version 1 recorded the writing process's host in runs.host.
UPDATE runs SET proc_host = host;
CREATE INDEX runs_group ON runs(group_id);
CREATE INDEX runs_running ON runs(status) WHERE status = 'running';

ALTER TABLE metrics ADD COLUMN stderr  REAL;
ALTER TABLE metrics ADD COLUMN ci_low  REAL;
ALTER TABLE metrics ADD COLUMN ci_high REAL;
CREATE INDEX metrics_task_metric ON metrics(task, metric);

ALTER TABLE samples ADD COLUMN prompt_hash     TEXT    NOT NULL DEFAULT '';
ALTER TABLE samples ADD COLUMN ttft_ms         REAL;
ALTER TABLE samples ADD COLUMN tpot_ms         REAL;
ALTER TABLE samples ADD COLUMN latency_ms      REAL;
ALTER TABLE samples ADD COLUMN n_prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE samples ADD COLUMN n_gen_tokens    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE samples ADD COLUMN extra_json      TEXT;

)SQL";

// 2 -> 3: a run UUID (the identity `merge` keys on; existing runs get theirs from
// fill_legacy_uuids below) and per-rank provenance of runs (kRunRanksTable, appended in
// migration_sql).
const char* const kMigration2 = R"SQL(
ALTER TABLE runs ADD COLUMN uuid TEXT NOT NULL DEFAULT '';
)SQL";

// 128 stable bits of `s` as 32 hex digits: FNV-1a 64 forwards and backwards (different
// offsets). Not cryptographic; an identity for the few runs of one old file.
std::string stable_hex128(const std::string& s) {
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  for (size_t i = 0; i < s.size(); ++i) {
    a = (a ^ uint8_t(s[i])) * 0x100000001b3ull;
    b = (b ^ uint8_t(s[s.size() - 1 - i])) * 0x100000001b3ull;
  }
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
  return buf;
}

// Runs written before version 3 get a UUID derived from what identifies them (start time, the
// writing process, id, configuration), so the same old file upgraded twice (e.g. two merges of
// one part) gives its runs the same UUIDs. Runs the file got later get random ones (begin_run).
// The unique index is created after the fill.
void fill_legacy_uuids(sqlite::Db& db) {
  std::vector<std::pair<int64_t, std::string>> ids;
  {
    auto s = db.prepare(
        "SELECT id, started_at, proc_host, proc_pid, proc_start, label, kind, "
        "model_sha256, variant, config_json FROM runs WHERE uuid = ''",
        "giving old runs a uuid");
    while (s.step()) {
      std::string key = "sparkbench-legacy-run";
      for (int c = 0; c < 10; ++c) key += sb::cat('\x1f', s.str(c));
      ids.emplace_back(s.i64(0), stable_hex128(key));
    }
  }
  for (const auto& [id, uuid] : ids)
    db.prepare("UPDATE runs SET uuid = ?2 WHERE id = ?1", "giving old runs a uuid").bind(1, id).bind(2, uuid).run();
  db.exec("CREATE UNIQUE INDEX runs_uuid ON runs(uuid)", "giving old runs a uuid");
}

// 3 -> 4: each metric row carries its declaration's direction, unit and primary flag
// (evals/metric_registry.h). Older rows stay 'unknown': shown, never called a regression.
const char* const kMigration3 = R"SQL(
ALTER TABLE metrics ADD COLUMN direction  TEXT    NOT NULL DEFAULT 'unknown';
ALTER TABLE metrics ADD COLUMN unit       TEXT    NOT NULL DEFAULT '';
ALTER TABLE metrics ADD COLUMN is_primary INTEGER NOT NULL DEFAULT 0;
)SQL";

// 4 -> 5: each sample's full prompt text (samples.prompt; '' for rows written before).
const char* const kMigration4 = R"SQL(
ALTER TABLE samples ADD COLUMN prompt TEXT NOT NULL DEFAULT '';
)SQL";

// 5 -> 6: per-step loss, learning rate and held-out KLD of training runs (distill).
const char* const kMigration5 = kTrainStepsTable;

// The version recorded in the file: 0 for an empty database. Throws for a database that has
// tables but is not ours.
int read_version(sqlite::Db& db) {
  const char* what = "reading schema version";
  auto has_version_table = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", what);
  has_version_table.step();
  if (has_version_table.i64(0) == 0) {
    auto any = db.prepare("SELECT count(*) FROM sqlite_master", what);
    any.step();
    if (any.i64(0) == 0) return 0;
    sb::fail(db.path(), ": not a sparkbench results database (it has tables but no schema_version)");
  }
  auto v = db.prepare("SELECT max(version) FROM schema_version", what);
  if (!v.step() || v.is_null(0)) sb::fail(db.path(), ": schema_version table is empty");
  return int(v.i64(0));
}

[[noreturn]] void refuse_newer(const sqlite::Db& db, int found) {
  sb::fail(db.path(), ": database schema version ", found, " is newer than this sparkbench supports (", kCurrentVersion,
           "); use a newer sparkbench");
}

void record_version(sqlite::Db& db, int version) {
  db.prepare(
        "INSERT INTO schema_version (version, applied_at) "
        "VALUES (?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        "recording schema version")
      .bind(1, version)
      .run();
}

}  // namespace

const char* current_sql() {
  static const std::string sql = std::string(kCurrentHead) + kRunRanksTable + kCurrentTail + kSpeedKernelsCacheTables + kTrainStepsTable;
  return sql.c_str();
}

const char* migration_sql(int from) {
  static const std::string m1 = std::string(kMigration1) + kSpeedKernelsCacheTables;
  static const std::string m2 = std::string(kMigration2) + kRunRanksTable;
  switch (from) {
    case 1:
      return m1.c_str();
    case 2:
      return m2.c_str();
    case 3:
      return kMigration3;
    case 4:
      return kMigration4;
    case 5:
      return kMigration5;
    default:
      return nullptr;
  }
}

int ensure(sqlite::Db& db) {
  int found = read_version(db);
  if (found == kCurrentVersion) return found;
  if (found > kCurrentVersion) refuse_newer(db, found);
  // Create or migrate under the write lock; another process may have done it meanwhile.
  db.write(
      found == 0 ? "creating schema" : "upgrading schema",
      [&] {
        found = read_version(db);
        if (found == kCurrentVersion) return;
        if (found > kCurrentVersion) refuse_newer(db, found);
        if (found == 0) {
          db.exec(current_sql(), "creating schema");
          record_version(db, kCurrentVersion);
          return;
        }
        for (int v = found; v < kCurrentVersion; ++v) {
          const char* sql = migration_sql(v);
          if (!sql) sb::fail(db.path(), ": no migration from schema version ", v);
          db.exec(sql, sb::cat("upgrading schema from version ", v, " to ", v + 1));
          if (v == 2) fill_legacy_uuids(db);
          record_version(db, v + 1);
        }
        auto fk = db.prepare("PRAGMA foreign_key_check", "checking foreign keys after upgrade");
        if (fk.step())
          sb::fail(db.path(), ": upgrading schema from version ", found, ": table ", fk.str(0), " has rows that reference missing ",
                   fk.str(2), " rows");
      },
      /*durable=*/true);
  return found;
}

}  // namespace sb::store_schema
