#include "reports/store_merge.h"

#include <unistd.h>

#include <filesystem>
#include <vector>

#include "engine/core/error.h"
#include "reports/sqlite_util.h"
#include "reports/store.h"
#include "reports/store_schema.h"

namespace sb {
namespace {

namespace fs = std::filesystem;
using sqlite::Db;

// Columns of `table` in the main database, in declaration order, except `skip`.
std::vector<std::string> columns(Db& db, const std::string& table, const std::vector<std::string>& skip) {
  std::vector<std::string> out;
  auto s = db.prepare(("SELECT name FROM pragma_table_info('" + table + "')").c_str(), "reading columns of " + table);
  while (s.step()) {
    std::string c = s.str(0);
    bool skipped = false;
    for (const auto& k : skip) skipped |= c == k;
    if (!skipped) out.push_back(c);
  }
  return out;
}

std::string joined(const std::vector<std::string>& cols, const std::string& prefix = "") {
  std::string s;
  for (const auto& c : cols) s += (s.empty() ? "" : ", ") + prefix + "\"" + c + "\"";
  return s;
}

// Re-throws an error about the private copy as an error about the part.
[[noreturn]] void fail_about(const std::string& part, const std::string& copy, const std::string& msg) {
  std::string m = msg;
  for (size_t at; (at = m.find(copy)) != std::string::npos;) m.replace(at, copy.size(), part);
  if (m.rfind(part, 0) != 0) m = part + ": " + m;
  throw Error(m);
}

struct TempFile {
  std::string path;
  ~TempFile() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix, ec);
  }
};

}  // namespace

MergeCounts merge_store(const std::string& central, const std::string& part) {
  std::error_code ec;
  if (!fs::is_regular_file(part, ec)) fail(part, ": no such file");
  if (fs::equivalent(part, central, ec)) fail(part, ": is the central store itself");
  // A private copy of the part, checked and upgraded to the current schema.
  TempFile copy{
      (fs::temp_directory_path() / ("sparkbench-merge-" + std::to_string(::getpid()) + "-" + fs::path(part).filename().string())).string()};
  {
    TempFile stale{copy.path};  // left over from a killed merge with the same pid
  }
  try {
    Db src(part, 10000);
    const std::string check = src.query_text("PRAGMA quick_check", "checking the file");
    if (check != "ok") fail(part, ": damaged: ", check);
    src.prepare("VACUUM INTO ?1", "copying the file").bind(1, copy.path).run();
  } catch (const Error& e) {
    fail_about(part, copy.path, e.what());
  }
  try {
    Db tmp(copy.path, 10000);
    tmp.exec("PRAGMA foreign_keys = ON", "opening the copy");
    store_schema::ensure(tmp);
  } catch (const Error& e) {
    fail_about(part, copy.path, e.what());
  }

  Store::open(central);  // creates or upgrades the central store
  Db db(central, 10000);
  db.exec("PRAGMA foreign_keys = ON", "opening the central store");
  db.prepare("ATTACH DATABASE ?1 AS part", "attaching the part").bind(1, copy.path).run();
  MergeCounts counts;
  try {
    const auto run_cols = columns(db, "runs", {"id"});
    struct Child {
      const char* table;
      bool has_id;
    };
    const Child children[] = {{"metrics", true}, {"samples", true},   {"speed", true},
                              {"kernels", true}, {"run_ranks", true}, {"train_steps", true}};
    db.write(
        "merging " + part,
        [&] {
          counts = {};
          std::vector<std::pair<int64_t, std::string>> runs;
          {
            auto s = db.prepare("SELECT id, uuid FROM part.runs ORDER BY id", "reading the part's runs");
            while (s.step()) runs.emplace_back(s.i64(0), s.str(1));
          }
          for (const auto& [old_id, uuid] : runs) {
            auto have = db.prepare("SELECT count(*) FROM main.runs WHERE uuid = ?1", "looking up a run");
            have.bind(1, uuid);
            have.step();
            if (have.i64(0) > 0) {
              ++counts.runs_present;
              continue;
            }
            const std::string ins =
                "INSERT INTO main.runs (" + joined(run_cols) + ") SELECT " + joined(run_cols) + " FROM part.runs WHERE id = ?1";
            db.prepare(ins.c_str(), "copying a run").bind(1, old_id).run();
            const int64_t new_id = db.last_insert_rowid();
            ++counts.runs_added;
            for (const auto& c : children) {
              const auto cols = columns(db, c.table, {"id", "run_id"});
              const std::string sql = std::string("INSERT INTO main.") + c.table + " (run_id, " + joined(cols) + ") SELECT ?2, " +
                                      joined(cols) + " FROM part." + c.table + " WHERE run_id = ?1 ORDER BY id";
              db.prepare(sql.c_str(), std::string("copying ") + c.table).bind(1, old_id).bind(2, new_id).run();
              counts.rows_added += db.changes();
            }
          }
          db.exec(
              "INSERT OR IGNORE INTO main.request_cache (key, value, created_at) "
              "SELECT key, value, created_at FROM part.request_cache",
              "copying the request cache");
        },
        /*durable=*/true);
  } catch (const Error& e) {
    try {
      db.exec("DETACH DATABASE part", "detaching the part");
    } catch (...) {
    }
    fail_about(part, copy.path, e.what());
  }
  db.exec("DETACH DATABASE part", "detaching the part");
  return counts;
}

}  // namespace sb
