// sqlite_util: a thin RAII layer over the SQLite C API, used by the results store.
//
// Db owns one connection (sqlite3_close_v2 on destruction) and a cache of prepared statements.
// Every SQLite failure becomes sb::Error with one line "<path>: <what>: <sqlite message>" (plus
// the OS error for I/O and open failures), so callers never see a result code.
//
// Writes go through Db::write(), which takes the write lock up front (BEGIN IMMEDIATE, so two
// writers can never deadlock upgrading read locks), waits for other writers with the busy
// timeout and then retries BEGIN for a while longer, commits, and rolls back if the body throws.
//
// A Db and its statements are used from one thread. Never use a Db across fork(): a child must
// open its own (SQLite's per-process lock bookkeeping would be wrong in the child).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace sb::sqlite {

class Db;

// A prepared statement borrowed from the Db's cache (reset and unbound when it goes out of scope)
// or owned (finalized). Bind indexes start at 1, column indexes at 0.
class Stmt {
 public:
  Stmt(Db& db, sqlite3_stmt* s, bool owned, bool* in_use, std::string what);
  Stmt(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, int64_t(v)); }
  Stmt& bind(int i, bool v) { return bind(i, int64_t(v ? 1 : 0)); }
  Stmt& bind(int i, double v);                        // NaN is stored as NULL (SQLite's rule)
  Stmt& bind(int i, const std::optional<double>& v);  // nullopt -> NULL
  Stmt& bind(int i, const std::optional<int64_t>& v);
  Stmt& bind(int i, const std::string& v);  // TEXT, byte for byte (length given)
  Stmt& bind(int i, const char* v);
  Stmt& bind_text_or_null(int i, const std::string& v);  // "" -> NULL
  Stmt& bind_null(int i);

  // Advances; true while a row is available. Throws sb::Error on failure.
  bool step();
  // Steps to completion (for statements that return no rows).
  void run();
  // Steps to completion without throwing: SQLITE_DONE, or the (extended) error code, so the
  // caller can turn constraint failures into its own message (then call Db::fail otherwise).
  int run_rc();

  bool is_null(int col) const;
  int64_t i64(int col) const;                    // NULL -> 0
  double f64(int col) const;                     // NULL -> NaN
  std::optional<double> opt_f64(int col) const;  // NULL -> nullopt
  std::optional<int64_t> opt_i64(int col) const;
  std::string str(int col) const;  // NULL -> ""

 private:
  Db* db_;
  sqlite3_stmt* s_;
  bool owned_;
  bool* in_use_;
  std::string what_;
};

class Db {
 public:
  // Opens (creating if missing) the file read-write with extended result codes and a busy
  // timeout. Does not read the file yet (SQLite opens lazily): the first statement does.
  explicit Db(const std::string& path, int busy_timeout_ms);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // Runs one or more statements that return nothing (or whose rows are ignored).
  void exec(const std::string& sql, const std::string& what);
  // Runs a statement that returns one text value (e.g. a PRAGMA); "" when it returns no row.
  std::string query_text(const std::string& sql, const std::string& what);
  // Like exec(), but retries while the database is busy (SQLITE_BUSY even after the busy
  // timeout, which SQLite reports without waiting in a few cases such as WAL recovery).
  void exec_retry_busy(const std::string& sql, const std::string& what);

  // A cached prepared statement (prepared once per Db); "what" names the operation in errors.
  Stmt prepare(const char* sql, const std::string& what);

  // Runs body() inside BEGIN IMMEDIATE ... COMMIT; rolls back and rethrows if it throws.
  // durable=true commits with synchronous=FULL (the WAL is fsynced at this commit, which also
  // makes every earlier commit durable); otherwise the connection's setting (NORMAL) applies.
  template <class F>
  void write(const std::string& what, F&& body, bool durable = false) {
    begin_immediate(what, durable);
    try {
      body();
    } catch (...) {
      rollback_quietly();
      throw;
    }
    commit(what);
  }
  bool in_transaction() const;
  int64_t last_insert_rowid() const;
  int64_t changes() const;  // rows changed by the last INSERT/UPDATE/DELETE

  // Throws sb::Error "<path>: <what>: <sqlite message>" for the connection's last error.
  [[noreturn]] void fail(int rc, const std::string& what) const;

  // Total time BEGIN IMMEDIATE keeps retrying on SQLITE_BUSY (beyond each busy timeout).
  static constexpr int kBeginRetryMs = 60000;

 private:
  void begin_immediate(const std::string& what, bool durable);
  void commit(const std::string& what);
  void rollback_quietly();
  void set_sync(bool full);

  std::string path_;
  sqlite3* db_ = nullptr;
  bool durable_txn_ = false;
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  std::map<std::string, Cached> cache_;
};

// True for SQLITE_BUSY and its extended codes.
bool is_busy(int rc);

}  // namespace sb::sqlite
