// merge_store (reports/store_merge.h) and `sparkbench merge`: runs keyed by UUID (merging twice
// adds nothing), overlapping parts, a part at schema version 2 upgraded on a private copy (the
// part file untouched), and a damaged part refused whole with one line naming it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "engine/core/error.h"
#include "reports/store.h"
#include "reports/store_merge.h"
#include "tests/reports/test_store_util.h"
#include "tests/test_support.h"

using namespace sb;
using sb::test::raw_one;
using sb::test::raw_sql;

namespace {

int64_t add_run(Store& st, const std::string& label, int n_samples) {
  RunInfo info;
  info.label = label;
  info.variant = "f32";
  info.config_json = "{\"label\":\"" + label + "\"}";
  const int64_t id = st.begin_run(info);
  std::vector<SampleRow> rows;
  for (int i = 0; i < n_samples; ++i) {
    SampleRow s;
    s.task = "qa";
    s.sample_id = "qa/" + std::to_string(i);
    s.output = label + std::to_string(i);
    s.score = i % 2;
    s.outcome = i % 2 ? "correct" : "wrong";
    rows.push_back(s);
  }
  st.add_samples(id, rows);
  st.add_metric(id, MetricRow{"qa", "exact_match", 0.5, 0.1, 0.2, 0.8, n_samples});
  RankRow r;
  r.host = "node-" + label;
  r.items = n_samples;
  st.add_rank(id, r);
  st.finish_run(id, "complete");
  return id;
}

int64_t count(const std::string& db, const std::string& sql) { return std::stoll(raw_one(db, sql)); }

// Rewrites a current database as schema version 2 wrote it: no runs.uuid, no run_ranks, no
// metric declarations (version 4), no sample prompts (version 5), no train_steps (version 6).
void downgrade_to_v2(const std::string& path) {
  raw_sql(path,
          "DROP INDEX runs_uuid; ALTER TABLE runs DROP COLUMN uuid; DROP TABLE run_ranks; "
          "ALTER TABLE metrics DROP COLUMN direction; ALTER TABLE metrics DROP COLUMN unit; "
          "ALTER TABLE metrics DROP COLUMN is_primary; ALTER TABLE samples DROP COLUMN prompt; "
          "DROP TABLE train_steps; DELETE FROM schema_version; INSERT INTO schema_version VALUES (2, '2025-01-01T00:00:00Z')");
}

}  // namespace

TEST_CASE("merge: parts fold into one store by run UUID, merging again adds nothing", "[store][merge][unit]") {
  const std::string dir = test::temp_dir("merge");
  const std::string a = dir + "/a.db", b = dir + "/b.db", old = dir + "/old.db", central = dir + "/central.db";
  {
    auto st = Store::open(a);
    add_run(*st, "a1", 3);
    add_run(*st, "a2", 2);
  }
  // b overlaps a: a copy of a (same runs, same UUIDs) plus a run of its own.
  std::filesystem::copy_file(a, b);
  {
    auto st = Store::open(b);
    add_run(*st, "b1", 4);
  }
  // A part from an older sparkbench (schema version 2).
  {
    auto st = Store::open(old);
    add_run(*st, "o1", 5);
    add_run(*st, "o2", 1);
  }
  downgrade_to_v2(old);
  REQUIRE(raw_one(old, "SELECT max(version) FROM schema_version") == "2");
  const std::string old_bytes = [&] {
    std::ifstream f(old, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }();

  auto ca = merge_store(central, a);
  CHECK(ca.runs_added == 2);
  CHECK(ca.runs_present == 0);
  CHECK(ca.rows_added == (3 + 1 + 1) + (2 + 1 + 1));  // samples + metric + rank row per run
  auto cb = merge_store(central, b);
  CHECK(cb.runs_added == 1);  // only b1: a1 and a2 are already there
  CHECK(cb.runs_present == 2);
  auto co = merge_store(central, old);
  CHECK(co.runs_added == 2);
  CHECK(count(central, "SELECT count(*) FROM runs") == 5);
  CHECK(count(central, "SELECT count(*) FROM samples") == 3 + 2 + 4 + 5 + 1);
  CHECK(count(central, "SELECT count(DISTINCT uuid) FROM runs") == 5);
  // The part itself is not written (upgraded on a private copy).
  CHECK(raw_one(old, "SELECT max(version) FROM schema_version") == "2");
  {
    std::ifstream f(old, std::ios::binary);
    CHECK(std::string(std::istreambuf_iterator<char>(f), {}) == old_bytes);
  }

  // Every part again: nothing added (the old part's runs get the same UUIDs again).
  for (const auto& p : {a, b, old}) {
    auto c = merge_store(central, p);
    CHECK(c.runs_added == 0);
    CHECK(c.rows_added == 0);
  }
  CHECK(count(central, "SELECT count(*) FROM runs") == 5);
  CHECK(count(central, "SELECT count(*) FROM samples") == 15);

  // Rows follow their run under its new id; the store API sees everything.
  auto st = Store::open(central);
  int found = 0;
  for (const auto& r : st->list_runs(100)) {
    CHECK(r.uuid.size() == 32);
    if (r.info.label == "o1") {
      ++found;
      auto s = st->samples(r.id);
      REQUIRE(s.size() == 5);
      CHECK(s[4].output == "o14");
      auto m = st->metrics(r.id);
      REQUIRE(m.size() == 1);
      CHECK(m[0].value == 0.5);
      CHECK(st->ranks(r.id).empty());  // version 2 had no rank rows
    }
    if (r.info.label == "b1") {
      ++found;
      CHECK(st->samples(r.id).size() == 4);
      auto ranks = st->ranks(r.id);
      REQUIRE(ranks.size() == 1);
      CHECK(ranks[0].host == "node-b1");
      CHECK(ranks[0].items == 4);
    }
  }
  CHECK(found == 2);
}

TEST_CASE("merge: a damaged or foreign part adds nothing and names the part", "[store][merge][cli]") {
  const std::string dir = test::temp_dir("merge-bad");
  const std::string good = dir + "/good.db", central = dir + "/central.db";
  {
    auto st = Store::open(good);
    add_run(*st, "g", 3);
  }
  merge_store(central, good);
  const int64_t runs = count(central, "SELECT count(*) FROM runs");

  const std::string garbage = dir + "/garbage.db", foreign = dir + "/foreign.db", truncated = dir + "/truncated.db";
  { std::ofstream(garbage) << "this is not an SQLite file at all, just text padding padding padding padding"; }
  raw_sql(foreign, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
  {
    // A copy of a real part cut in the middle.
    const std::string full = dir + "/full.db";
    auto st = Store::open(full);
    for (int i = 0; i < 20; ++i) add_run(*st, "f" + std::to_string(i), 50);
    st.reset();
    raw_sql(full, "PRAGMA wal_checkpoint(TRUNCATE)");
    std::filesystem::copy_file(full, truncated);
    std::filesystem::resize_file(truncated, std::filesystem::file_size(truncated) / 2);
  }
  for (const auto& bad : {garbage, foreign, truncated, dir + "/missing.db"}) {
    INFO(bad);
    try {
      merge_store(central, bad);
      FAIL("a bad part was merged");
    } catch (const sb::Error& e) {
      const std::string msg = e.what();
      CHECK(msg.find(bad) == 0);
      CHECK(msg.find('\n') == std::string::npos);
      CHECK(msg.find("sparkbench-merge-") == std::string::npos);  // names the part, not the copy
    }
    CHECK(count(central, "SELECT count(*) FROM runs") == runs);
  }

  // The CLI: good parts are merged, the bad one gets one error line, exit status 1.
  auto r = test::run_cli({"merge", "--db", central, good, garbage});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("0 runs added") != std::string::npos);
  CHECK(r.err.find("error: " + garbage) == 0);
  CHECK(count(central, "SELECT count(*) FROM runs") == runs);
}

TEST_CASE("merge: a distill run's training steps follow it into the central store", "[store][merge][distill][unit]") {
  const std::string dir = test::temp_dir("merge-train");
  const std::string part = dir + "/part.db", central = dir + "/central.db";
  {
    auto st = Store::open(central);
    add_run(*st, "c1", 1);  // so the part's run gets another id
  }
  {
    auto st = Store::open(part);
    RunInfo info;
    info.kind = "distill";
    info.label = "d1";
    const int64_t id = st->begin_run(info);
    st->add_train_steps(id, {TrainStepRow{1, 2.5, 1e-4, std::nullopt}, TrainStepRow{2, 2.0, 2e-4, 0.5}});
    st->finish_run(id, "complete");
  }
  const auto c = merge_store(central, part);
  CHECK(c.runs_added == 1);
  CHECK(c.rows_added == 2);
  auto st = Store::open(central);
  auto r = st->find_run("d1");
  REQUIRE(r);
  CHECK(r->id == 2);
  const auto steps = st->train_steps(r->id);
  REQUIRE(steps.size() == 2);
  CHECK(steps[1].loss == 2.0);
  REQUIRE(steps[1].kld);
  CHECK(*steps[1].kld == 0.5);
  CHECK(merge_store(central, part).rows_added == 0);
}
