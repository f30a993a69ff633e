#include "reports/store_proc.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace sb::proc {

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  if (f) std::getline(f, line);
  return line;
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

std::string pid_namespace() {
  char buf[128] = {};
  ssize_t n = ::readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// State and start time of pid from /proc; false when /proc has no entry for it.
bool stat_of(int64_t pid, char* state, int64_t* start) {
  std::string line = read_first_line("/proc/" + std::to_string(pid) + "/stat");
  return !line.empty() && parse_stat(line, state, start);
}

bool differ(const std::string& a, const std::string& b) { return !a.empty() && !b.empty() && a != b; }

}  // namespace

bool parse_stat(const std::string& line, char* state, int64_t* start) {
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3
  std::string f;
  while (rest >> f && fields.size() < 20) fields.push_back(f);
  if (fields.size() < 20 || fields[0].size() != 1) return false;
  char* end = nullptr;
  long long v = std::strtoll(fields[19].c_str(), &end, 10);
  if (end == fields[19].c_str() || *end != '\0' || v < 0) return false;
  *state = fields[0][0];
  *start = int64_t(v);
  return true;
}

Identity self() {
  Identity id;
  id.host = hostname();
  id.boot_id = read_first_line("/proc/sys/kernel/random/boot_id");
  id.pid_ns = pid_namespace();
  id.pid = int64_t(::getpid());
  char state = 0;
  int64_t start = 0;
  if (stat_of(id.pid, &state, &start)) id.start = start;
  return id;
}

Liveness check(const Identity& who, const Identity& me) {
  if (who.host != me.host) return Liveness::unknown;
  if (differ(who.boot_id, me.boot_id)) return Liveness::dead;   // rebooted since
  if (differ(who.pid_ns, me.pid_ns)) return Liveness::unknown;  // another container
  if (who.pid <= 0) return Liveness::dead;
  bool exists = ::kill(pid_t(who.pid), 0) == 0 || errno == EPERM;
  if (!exists) return Liveness::dead;
  char state = 0;
  int64_t start = 0;
  if (!stat_of(who.pid, &state, &start)) {
    // No /proc entry: either there is no /proc at all (trust kill) or the process just ended.
    return read_first_line("/proc/self/stat").empty() ? Liveness::alive : Liveness::dead;
  }
  if (state == 'Z' || state == 'X') return Liveness::dead;          // exited, not yet reaped
  if (who.start != 0 && start != who.start) return Liveness::dead;  // pid recycled
  return Liveness::alive;
}

}  // namespace sb::proc
