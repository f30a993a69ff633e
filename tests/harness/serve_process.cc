#include "tests/harness/serve_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/test_support.h"

namespace sb::test {

ServeProcess::ServeProcess(const std::vector<std::string>& args, double start_timeout_s) {
  err_path_ = temp_dir("serve") + "/stderr.txt";
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC)) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv = {sparkbench_bin(), "serve", "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out_pipe[1], 1);
    if (err >= 0) ::dup2(err, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(start_timeout_s * 1000));
  const std::string key = "listening on http://127.0.0.1:";
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buf[4096];
      const ssize_t k = ::read(out_pipe[0], buf, sizeof buf);
      if (k <= 0) break;  // stdout closed: the process ended
      out.append(buf, size_t(k));
      const size_t at = out.find(key);
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        port_ = std::stoi(out.substr(at + key.size()));
        break;
      }
    }
  }
  ::close(out_pipe[0]);
  if (port_ <= 0) {
    const std::string err = stderr_text();
    stop(5);
    throw std::runtime_error("serve did not print its listening line; stdout: " + out + " stderr: " + err);
  }
}

ServeProcess::~ServeProcess() {
  if (status_ == -2) stop(30);
}

std::string ServeProcess::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

bool ServeProcess::exited(int* status) {
  if (status_ == -2) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  if (status) *status = status_;
  return status_ != -2;
}

int ServeProcess::stop(double stop_timeout_s) {
  if (exited()) return status_;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(stop_timeout_s * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    if (exited()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  status_ = -1;
  return status_;
}

std::string ServeProcess::stderr_text() const {
  std::ifstream in(err_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace sb::test
