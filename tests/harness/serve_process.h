// ServeProcess: a real `sparkbench serve` child process on 127.0.0.1 with an ephemeral port,
// for tests that talk HTTP to it. The constructor starts it with `--port 0` plus `args` and
// reads the port from its "listening on http://127.0.0.1:PORT" line (fails the test when the
// line does not come within `start_timeout_s` or the process exits first; its stderr is kept in
// a file and quoted). stop() sends SIGTERM and returns the exit status (-1: killed after
// `stop_timeout_s`, or by a signal); the destructor does the same if stop() was not called.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace sb::test {

class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& args, double start_timeout_s = 120);
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // "http://127.0.0.1:PORT"
  std::string url() const;
  // SIGTERM, then wait; the exit status, or -1 if killed (by a signal or after the timeout).
  int stop(double stop_timeout_s = 60);
  // Whether the process has exited (non-blocking), and its status then.
  bool exited(int* status = nullptr);
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int status_ = -2;  // -2: still running
  std::string err_path_;
};

}  // namespace sb::test
