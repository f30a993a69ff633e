#include "reports/sqlite_util.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <thread>

#include "engine/core/error.h"

namespace sb::sqlite {

namespace {

// The message for result code rc on db (db may be null when open itself failed), with the OS
// error appended where SQLite knows it (open and I/O failures name only "unable to open...").
std::string describe(sqlite3* db, int rc) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  if (db && (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR)) {
    int e = sqlite3_system_errno(db);
    if (e != 0) msg += sb::cat(" (", std::strerror(e), ")");
  }
  for (char& c : msg)
    if (c == '\n' || c == '\r') c = ' ';
  return msg;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

bool is_busy(int rc) { return (rc & 0xff) == SQLITE_BUSY; }

// ---- Stmt ----

Stmt::Stmt(Db& db, sqlite3_stmt* s, bool owned, bool* in_use, std::string what)
    : db_(&db), s_(s), owned_(owned), in_use_(in_use), what_(std::move(what)) {}

Stmt::Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_), owned_(o.owned_), in_use_(o.in_use_), what_(std::move(o.what_)) {
  o.s_ = nullptr;
  o.in_use_ = nullptr;
}

Stmt::~Stmt() {
  if (!s_) return;
  if (owned_) {
    sqlite3_finalize(s_);
  } else {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    if (in_use_) *in_use_ = false;
  }
}

Stmt& Stmt::bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(s_, i, sqlite3_int64(v));
  if (rc != SQLITE_OK) db_->fail(rc, what_);
  return *this;
}

Stmt& Stmt::bind(int i, double v) {
  int rc = sqlite3_bind_double(s_, i, v);
  if (rc != SQLITE_OK) db_->fail(rc, what_);
  return *this;
}

Stmt& Stmt::bind(int i, const std::optional<double>& v) { return v ? bind(i, *v) : bind_null(i); }

Stmt& Stmt::bind(int i, const std::optional<int64_t>& v) { return v ? bind(i, *v) : bind_null(i); }

Stmt& Stmt::bind(int i, const std::string& v) {
  int rc = sqlite3_bind_text64(s_, i, v.data(), sqlite3_uint64(v.size()), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) db_->fail(rc, what_);
  return *this;
}

Stmt& Stmt::bind(int i, const char* v) { return bind(i, std::string(v)); }

Stmt& Stmt::bind_text_or_null(int i, const std::string& v) { return v.empty() ? bind_null(i) : bind(i, v); }

Stmt& Stmt::bind_null(int i) {
  int rc = sqlite3_bind_null(s_, i);
  if (rc != SQLITE_OK) db_->fail(rc, what_);
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail(rc, what_);
}

void Stmt::run() {
  while (step()) {
  }
}

int Stmt::run_rc() {
  int rc;
  while ((rc = sqlite3_step(s_)) == SQLITE_ROW) {
  }
  return rc;
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

int64_t Stmt::i64(int col) const { return int64_t(sqlite3_column_int64(s_, col)); }

double Stmt::f64(int col) const {
  if (is_null(col)) return std::numeric_limits<double>::quiet_NaN();
  return sqlite3_column_double(s_, col);
}

std::optional<double> Stmt::opt_f64(int col) const {
  if (is_null(col)) return std::nullopt;
  return sqlite3_column_double(s_, col);
}

std::optional<int64_t> Stmt::opt_i64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64_t(sqlite3_column_int64(s_, col));
}

std::string Stmt::str(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), size_t(n));
}

// ---- Db ----

Db::Db(const std::string& path, int busy_timeout_ms) : path_(path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = describe(db_, rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    sb::fail(path_, ": cannot open database: ", msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Db::~Db() {
  for (auto& [sql, c] : cache_) sqlite3_finalize(c.stmt);
  if (db_) sqlite3_close_v2(db_);
}

void Db::fail(int rc, const std::string& what) const { sb::fail(path_, ": ", what, ": ", describe(db_, rc)); }

void Db::exec(const std::string& sql, const std::string& what) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, what);
}

std::string Db::query_text(const std::string& sql, const std::string& what) {
  Stmt s = prepare(sql.c_str(), what);
  return s.step() ? s.str(0) : std::string();
}

void Db::exec_retry_busy(const std::string& sql, const std::string& what) {
  auto start = std::chrono::steady_clock::now();
  std::minstd_rand rng(std::random_device{}());
  for (;;) {
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return;
    auto waited = std::chrono::steady_clock::now() - start;
    if (!is_busy(rc) || waited > std::chrono::milliseconds(kBeginRetryMs)) fail(rc, what);
    sleep_ms(5 + int(rng() % 50));
  }
}

Stmt Db::prepare(const char* sql, const std::string& what) {
  Cached& c = cache_[sql];
  if (c.stmt && !c.in_use) {
    c.in_use = true;
    return Stmt(*this, c.stmt, false, &c.in_use, what);
  }
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, c.stmt ? 0 : SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    fail(rc, what);
  }
  if (c.stmt) return Stmt(*this, s, true, nullptr, what);  // cached one busy (nested use)
  c.stmt = s;
  c.in_use = true;
  return Stmt(*this, s, false, &c.in_use, what);
}

bool Db::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

int64_t Db::last_insert_rowid() const { return int64_t(sqlite3_last_insert_rowid(db_)); }

int64_t Db::changes() const { return int64_t(sqlite3_changes64(db_)); }

void Db::set_sync(bool full) {
  int rc = sqlite3_exec(db_, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, "setting synchronous mode");
}

void Db::begin_immediate(const std::string& what, bool durable) {
  if (in_transaction()) sb::fail(path_, ": ", what, ": nested transaction (internal error)");
  if (durable) set_sync(true);  // may not be changed inside a transaction
  durable_txn_ = durable;
  try {
    exec_retry_busy("BEGIN IMMEDIATE", what);
  } catch (...) {
    if (durable) {
      durable_txn_ = false;
      sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    }
    throw;
  }
}

void Db::commit(const std::string& what) {
  int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = describe(db_, rc);
    rollback_quietly();
    sb::fail(path_, ": ", what, ": ", msg);
  }
  if (durable_txn_) {
    durable_txn_ = false;
    set_sync(false);
  }
}

void Db::rollback_quietly() {
  // A failed statement may already have rolled the transaction back (SQLITE_FULL, IOERR, ...).
  if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  if (durable_txn_) {
    durable_txn_ = false;
    sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  }
}

}  // namespace sb::sqlite
