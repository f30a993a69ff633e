// Helpers for the sandbox tests: shared Sandbox instances and a host process-table scan.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "evals/sandbox.h"

namespace sb::test {

// A bwrap sandbox with default limits and the given timeout, built once per timeout (the
// constructor runs a probe program) and shared by the tests of this binary.
inline const Sandbox& sandbox_with_timeout(double timeout_s) {
  static std::mutex mu;
  static std::map<double, std::unique_ptr<Sandbox>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[timeout_s];
  if (!slot) {
    SandboxOptions o;
    o.limits.timeout_s = timeout_s;
    slot = std::make_unique<Sandbox>(o);
  }
  return *slot;
}

// Runs `program` with the given isolation: Process through Sandbox::run, ForkServer through
// one SandboxWorker per timeout, kept for the whole test binary (so programs also run on a
// server that earlier, hostile programs used). Tests run on one thread.
inline SandboxResult run_isolated(Isolation isolation, double timeout_s, const std::string& program) {
  const Sandbox& s = sandbox_with_timeout(timeout_s);
  if (isolation == Isolation::Process) return s.run(program);
  static std::map<double, std::unique_ptr<SandboxWorker>> workers;
  auto& w = workers[timeout_s];
  if (!w) w = std::make_unique<SandboxWorker>(s);
  return w->run(program);
}

inline const char* isolation_name(Isolation i) { return i == Isolation::Process ? "process" : "fork-server"; }

// Host pids whose /proc/PID/comm or cmdline contains `marker`.
inline std::vector<int> host_processes_matching(const std::string& marker) {
  std::vector<int> pids;
  DIR* d = ::opendir("/proc");
  if (!d) return pids;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    for (const char* file : {"/comm", "/cmdline"}) {
      // Plain read(2): a process that exits between readdir and read gives ESRCH, which
      // std::ifstream turns into an exception; here it just reads as empty.
      std::string text;
      const int fd = ::open(("/proc/" + name + file).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
        ::close(fd);
      }
      if (text.find(marker) != std::string::npos) {
        pids.push_back(std::stoi(name));
        break;
      }
    }
  }
  ::closedir(d);
  return pids;
}

// A marker unique to this test process and call, short enough for /proc/PID/comm (15 bytes).
inline std::string unique_marker(const char* tag) {
  static int counter = 0;
  return std::string(tag).substr(0, 4) + std::to_string(::getpid() % 100000) + "x" + std::to_string(++counter);
}

}  // namespace sb::test
