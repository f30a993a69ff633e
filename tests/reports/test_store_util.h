// Helpers for the results-store tests: raw SQL on a database file (a second connection, as a
// person with the sqlite3 shell would have), child processes and pipes.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace sb::test {

inline std::string db_path(const std::string& tag) { return temp_dir(tag) + "/results.db"; }

// Runs SQL on the file through its own connection; returns the first column of every row
// (NULL as "NULL"). Throws std::runtime_error on failure.
inline std::vector<std::string> raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "open failed";
    sqlite3_close(db);
    throw std::runtime_error(path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 10000);
  std::vector<std::string> rows;
  auto cb = [](void* out, int n, char** vals, char**) {
    static_cast<std::vector<std::string>*>(out)->push_back(n > 0 && vals[0] ? vals[0] : "NULL");
    return 0;
  };
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), cb, &rows, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error(path + ": " + msg + " in: " + sql);
  return rows;
}

inline std::string raw_one(const std::string& path, const std::string& sql) {
  auto rows = raw_sql(path, sql);
  return rows.empty() ? std::string() : rows[0];
}

// Writes a whole line to fd (a pipe to the parent); false when the pipe is gone.
inline bool write_line(int fd, const std::string& line) {
  std::string s = line + "\n";
  size_t done = 0;
  while (done < s.size()) {
    ssize_t k = ::write(fd, s.data() + done, s.size() - done);
    if (k <= 0) return false;
    done += size_t(k);
  }
  return true;
}

// Reads from fd into buf until it holds a complete line or timeout_ms passes or EOF; returns
// the first line (without '\n') and removes it from buf, or "" if none arrived.
inline std::string read_line(int fd, std::string& buf, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    size_t nl = buf.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return {};
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, int(left)) <= 0) continue;
    char tmp[4096];
    ssize_t k = ::read(fd, tmp, sizeof tmp);
    if (k <= 0) return {};
    buf.append(tmp, size_t(k));
  }
}

// Reads everything left in fd until EOF (the writer is dead) and appends it to buf.
inline void drain(int fd, std::string& buf) {
  char tmp[4096];
  ssize_t k;
  while ((k = ::read(fd, tmp, sizeof tmp)) > 0) buf.append(tmp, size_t(k));
}

}  // namespace sb::test
