#include "tests/test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <stdexcept>

#include "engine/model/synth.h"

namespace fs = std::filesystem;

namespace sb::test {

std::string shared_dir() {
  if (const char* env = std::getenv("SPARKBENCH_SHARED")) {
    return fs::is_directory(env) ? std::string(env) : std::string();
  }
  fs::path p = fs::path(SPARKBENCH_SOURCE_DIR) / ".." / "shared";
  return fs::is_directory(p) ? fs::canonical(p).string() : std::string();
}

std::string shared_path(const std::string& rel) {
  std::string d = shared_dir();
  return d.empty() ? d : d + "/" + rel;
}

namespace {
std::atomic<bool> g_skip_called{false};
}  // namespace

void skip(const std::string& why) {
  g_skip_called = true;
  std::cout << "SKIPPED: " << why << std::endl;
}

void unsupported(const std::string& what) { std::cout << "UNSUPPORTED: " << what << std::endl; }

bool skip_called() { return g_skip_called; }
void reset_skip() { g_skip_called = false; }

double max_abs_err(const std::vector<float>& ref, const std::vector<float>& got) {
  if (ref.size() != got.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::fabs(double(ref[i]) - double(got[i]));
    if (!std::isfinite(d)) return INFINITY;  // NaN or inf on either side
    worst = std::max(worst, d);
  }
  return worst;
}

double max_rel_err(const std::vector<float>& ref, const std::vector<float>& got) {
  if (ref.size() != got.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::fabs(double(ref[i]) - double(got[i])) / std::max(1.0, std::fabs(double(ref[i])));
    if (!std::isfinite(d)) return INFINITY;
    worst = std::max(worst, d);
  }
  return worst;
}

double nmse(const std::vector<float>& ref, const std::vector<float>& got) {
  if (ref.size() != got.size()) return INFINITY;
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(ref[i]) || !std::isfinite(got[i])) return INFINITY;
    const double d = double(ref[i]) - double(got[i]);
    err += d * d;
    norm += double(ref[i]) * double(ref[i]);
  }
  if (norm == 0) return err == 0 ? 0.0 : INFINITY;
  return err / norm;
}

bool skip_without_shared() {
  if (!shared_dir().empty()) return false;
  skip(
      "../shared (models, reference outputs, vocab sets) is not beside the checkout; "
      "set SPARKBENCH_SHARED or place it there to run this test");
  return true;
}

std::string temp_dir(const std::string& tag) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  fs::path base = fs::path(SPARKBENCH_BINARY_DIR) / "test-tmp";
  fs::create_directories(base);
  std::string tmpl = (base / (tag + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  static std::vector<std::string> to_remove;
  static bool registered = false;
  if (!registered) {
    registered = true;
    std::atexit([] {
      for (const auto& d : to_remove) {
        std::error_code ec;
        fs::remove_all(d, ec);
      }
    });
  }
  to_remove.push_back(tmpl);
  return tmpl;
}

std::string preset_model(const std::string& preset) {
  fs::path dir = fs::path(SPARKBENCH_BINARY_DIR) / "test-models";
  fs::create_directories(dir);
  SynthOptions so;
  so.preset = preset;
  fs::path path = dir / synth_file_name(so);
  int fd = ::open((path.string() + ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create lock for " + path.string());
  ::flock(fd, LOCK_EX);
  if (!fs::exists(path)) synthesize_model(so, path.string());
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return path.string();
}

std::string sparkbench_bin() {
  if (const char* env = std::getenv("SPARKBENCH_BIN")) return env;
  return std::string(SPARKBENCH_BINARY_DIR) + "/harness/sparkbench";
}

std::string self_exe() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  return std::string(self, size_t(n));
}

RunResult run_process(const std::vector<std::string>& argv, const std::string& stdin_text) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) || ::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC)) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  RunResult r;
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (stdin_text.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    struct pollfd fds[3];
    int n = 0;
    int io = -1, ie = -1, ii = -1;
    if (out_open) {
      fds[n] = {out_pipe[0], POLLIN, 0};
      io = n++;
    }
    if (err_open) {
      fds[n] = {err_pipe[0], POLLIN, 0};
      ie = n++;
    }
    if (in_fd >= 0) {
      fds[n] = {in_fd, POLLOUT, 0};
      ii = n++;
    }
    if (::poll(fds, nfds_t(n), -1) < 0) continue;
    if (io >= 0 && fds[io].revents) {
      ssize_t k = ::read(out_pipe[0], buf, sizeof buf);
      if (k <= 0)
        out_open = false;
      else
        r.out.append(buf, size_t(k));
    }
    if (ie >= 0 && fds[ie].revents) {
      ssize_t k = ::read(err_pipe[0], buf, sizeof buf);
      if (k <= 0)
        err_open = false;
      else
        r.err.append(buf, size_t(k));
    }
    if (ii >= 0 && fds[ii].revents) {
      ssize_t k = ::write(in_fd, stdin_text.data() + written, stdin_text.size() - written);
      if (k > 0) written += size_t(k);
      if (k < 0 || written == stdin_text.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status))
    r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    r.signal = WTERMSIG(status);
  return r;
}

RunResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::vector<std::string> argv{sparkbench_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, stdin_text);
}

}  // namespace sb::test
