#include "evals/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "engine/core/error.h"

namespace sb {

namespace {

using Clock = std::chrono::steady_clock;

// What the child reports through the error pipe when it cannot reach exec.
struct ChildFailure {
  int step;
  int err;
};

enum ChildStep : int { kStepSetsid = 1, kStepDup, kStepClose, kStepRlimit, kStepGroups, kStepGid, kStepUid, kStepChdir, kStepExec };

const char* step_name(int step) {
  switch (step) {
    case kStepSetsid:
      return "setsid";
    case kStepDup:
      return "dup2";
    case kStepClose:
      return "close_range";
    case kStepRlimit:
      return "setrlimit";
    case kStepGroups:
      return "setgroups";
    case kStepGid:
      return "setresgid";
    case kStepUid:
      return "setresuid";
    case kStepChdir:
      return "chdir";
    case kStepExec:
      return "execve";
  }
  return "?";
}

[[noreturn]] void child_fail(int err_fd, int step) {
  ChildFailure f{step, errno};
  ssize_t r = ::write(err_fd, &f, sizeof f);
  (void)r;
  ::_exit(127);
}

// Closes every descriptor in [lo, hi] (inclusive). Async-signal-safe.
bool close_fd_range(int lo, int hi) {
  if (lo > hi) return true;
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0u) == 0) return true;
  if (errno != ENOSYS) return false;
#endif
  struct rlimit rl;
  int top = hi;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && int(rl.rlim_cur) - 1 < top) top = int(rl.rlim_cur) - 1;
  for (int fd = lo; fd <= top; ++fd) ::close(fd);
  return true;
}

// The child side of spawn_process: async-signal-safe calls only.
[[noreturn]] void run_child(const SpawnSpec& spec, char* const* argv, char* const* envp, int err_fd) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &dfl, nullptr);
  }
  if (::setsid() < 0) child_fail(err_fd, kStepSetsid);

  // Move every source descriptor (and the error pipe) above every target number first, so
  // that the dup2 calls below cannot overwrite a source that is still needed.
  int top = 2;
  for (const auto& [from, to] : spec.fds) top = std::max({top, from, to});
  int base = top + 1;
  int err = ::fcntl(err_fd, F_DUPFD_CLOEXEC, base);
  if (err < 0) child_fail(err_fd, kStepDup);
  err_fd = err;
  int moved[64];
  const size_t n = std::min<size_t>(spec.fds.size(), 64);
  for (size_t i = 0; i < n; ++i) {
    moved[i] = ::fcntl(spec.fds[i].first, F_DUPFD_CLOEXEC, base);
    if (moved[i] < 0) child_fail(err_fd, kStepDup);
  }
  int max_target = -1;
  for (size_t i = 0; i < n; ++i) {
    if (::dup2(moved[i], spec.fds[i].second) < 0) child_fail(err_fd, kStepDup);
    max_target = std::max(max_target, spec.fds[i].second);
  }
  // Close everything that is neither a target nor the error pipe.
  bool is_target[64 + 3] = {};
  for (size_t i = 0; i < n; ++i)
    if (spec.fds[i].second < 64 + 3) is_target[spec.fds[i].second] = true;
  for (int fd = 0; fd <= max_target && fd < 64 + 3; ++fd)
    if (!is_target[fd] && fd != err_fd) ::close(fd);
  if (!close_fd_range(max_target + 1, err_fd - 1)) child_fail(err_fd, kStepClose);
  if (!close_fd_range(err_fd + 1, ~0U >> 1)) child_fail(err_fd, kStepClose);

  for (const auto& l : spec.rlimits) {
    struct rlimit rl;
    rl.rlim_cur = l.soft == UINT64_MAX ? RLIM_INFINITY : rlim_t(l.soft);
    rl.rlim_max = l.hard == UINT64_MAX ? RLIM_INFINITY : rlim_t(l.hard);
    if (::setrlimit(l.resource, &rl) < 0) child_fail(err_fd, kStepRlimit);
  }
  if (spec.uid >= 0 && ::geteuid() == 0) {
    // Raw system calls: they change only this (the only) thread, with no libc bookkeeping.
    if (::syscall(SYS_setgroups, 0, nullptr) < 0) child_fail(err_fd, kStepGroups);
    const long gid = spec.gid >= 0 ? spec.gid : spec.uid;
    if (::syscall(SYS_setresgid, gid, gid, gid) < 0) child_fail(err_fd, kStepGid);
    if (::syscall(SYS_setresuid, long(spec.uid), long(spec.uid), long(spec.uid)) < 0) child_fail(err_fd, kStepUid);
  }
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) < 0) child_fail(err_fd, kStepChdir);
  ::execve(spec.path.c_str(), argv, envp);
  child_fail(err_fd, kStepExec);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int poll_ms_until(Clock::time_point t) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return d <= 0 ? 0 : int(std::min<int64_t>(d + 1, 1000));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);  // Linux always releases the descriptor, even on EINTR
  fd = -1;
}

Pipe make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) fail("pipe: ", strerror(errno));
  return Pipe{p[0], p[1]};
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : cat("signal ", sig);
}

pid_t spawn_process(const SpawnSpec& spec) {
  if (spec.argv.empty()) fail("spawn: empty argv for ", spec.path);
  if (spec.fds.size() > 64) fail("spawn: too many descriptors for ", spec.path);
  for (const auto& [from, to] : spec.fds)
    if (from < 0 || to < 0 || to >= 64 + 3) fail("spawn: bad descriptor mapping ", from, " -> ", to);
  // Everything the child touches is built before the fork: it must not allocate.
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  Pipe err = make_pipe();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    close_fd(err.read);
    close_fd(err.write);
    fail("fork: ", strerror(e));
  }
  if (pid == 0) run_child(spec, argv.data(), envp.data(), err.write);
  close_fd(err.write);
  ChildFailure f{0, 0};
  ssize_t got;
  do got = ::read(err.read, &f, sizeof f);
  while (got < 0 && errno == EINTR);
  close_fd(err.read);
  if (got == ssize_t(sizeof f)) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    fail("cannot start ", spec.path, ": ", step_name(f.step), ": ", strerror(f.err));
  }
  return pid;
}

CaptureSet::CaptureSet(const std::vector<int>& fds, uint64_t keep_bytes, size_t counted_streams)
    : fds_(fds), streams_(fds.size()), keep_(keep_bytes), counted_streams_(counted_streams) {
  for (int fd : fds_)
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

CaptureSet::~CaptureSet() { close_all(); }

void CaptureSet::close_all() {
  for (int& fd : fds_) close_fd(fd);
}

bool CaptureSet::all_closed() const {
  for (int fd : fds_)
    if (fd >= 0) return false;
  return true;
}

void CaptureSet::add_pollfds(std::vector<pollfd>& pfds, std::vector<size_t>& which) const {
  for (size_t i = 0; i < fds_.size(); ++i)
    if (fds_[i] >= 0) {
      pfds.push_back({fds_[i], POLLIN, 0});
      which.push_back(i);
    }
}

void CaptureSet::read_ready(size_t i) {
  static thread_local char buf[1 << 16];
  // A bounded number of reads per wake-up keeps the other streams and the clock serviced.
  for (int rounds = 0; rounds < 16 && fds_[i] >= 0; ++rounds) {
    ssize_t got = ::read(fds_[i], buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) close_fd(fds_[i]);
      return;
    }
    if (got == 0) {
      close_fd(fds_[i]);
      return;
    }
    CapturedStream& s = streams_[i];
    s.total += uint64_t(got);
    size_t kept = 0;
    if (s.data.size() < keep_) {
      kept = size_t(std::min<uint64_t>(uint64_t(got), keep_ - s.data.size()));
      s.data.append(buf, kept);
    }
    if (kept < size_t(got)) {
      s.tail.append(buf + kept, size_t(got) - kept);
      if (s.tail.size() > 2 * CapturedStream::kTailBytes) s.tail.erase(0, s.tail.size() - CapturedStream::kTailBytes);
    }
    if (i < counted_streams_) counted_ += uint64_t(got);
  }
}

SupervisedResult run_supervised(pid_t pid, const std::vector<int>& capture_fds, const SuperviseLimits& limits) {
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limits.timeout_s));
  SupervisedResult r;
  CaptureSet cap(capture_fds, limits.keep_bytes, limits.counted_streams);
  int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
  bool exited = false, killed = false;
  Clock::time_point kill_time{}, drain_deadline{};

  auto do_kill = [&] {
    if (killed) return;
    killed = true;
    kill_time = Clock::now();
    if (limits.kill && limits.kill(pid, cap.streams())) return;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  };
  auto reap = [&] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.wait_status = status;
    exited = true;
  };

  for (;;) {
    if (exited && cap.all_closed()) break;
    const auto now = Clock::now();
    if (exited && now >= drain_deadline) break;
    if (!exited && !killed && now >= deadline) {
      r.timed_out = true;
      do_kill();
    }
    std::vector<pollfd> pfds;
    std::vector<size_t> which;
    cap.add_pollfds(pfds, which);
    if (!exited && pidfd >= 0) pfds.push_back({pidfd, POLLIN, 0});
    int wait_ms;
    if (exited)
      wait_ms = poll_ms_until(drain_deadline);
    else if (killed)
      wait_ms = 50;
    else
      wait_ms = poll_ms_until(deadline);
    if (!exited && pidfd < 0) wait_ms = std::min(wait_ms, 10);
    int pr = ::poll(pfds.data(), nfds_t(pfds.size()), wait_ms);
    if (pr < 0 && errno != EINTR) {
      const int e = errno;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      if (!exited) reap();
      close_fd(pidfd);
      fail("poll: ", strerror(e));
    }
    for (size_t k = 0; pr > 0 && k < which.size(); ++k)
      if (pfds[k].revents) cap.read_ready(which[k]);
    if (pr > 0 && !exited && limits.on_output) limits.on_output(pid, cap.streams());
    if (limits.kill_after_bytes && cap.counted_bytes() > limits.kill_after_bytes && !exited && !killed) {
      r.output_limit = true;
      do_kill();
    }
    if (!exited) {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (::waitid(P_PID, id_t(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) {
        // The leader is a zombie, so its pid (and process group id) cannot be reused yet:
        // anything left in its process group goes now.
        ::kill(-pid, SIGKILL);
        reap();
        drain_deadline = Clock::now() + std::chrono::milliseconds(limits.drain_ms);
      } else if (killed && seconds_since(kill_time) > 2.0) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
      }
    }
  }
  close_fd(pidfd);
  r.streams = cap.take();
  if (WIFEXITED(r.wait_status)) {
    r.exited = true;
    r.exit_code = WEXITSTATUS(r.wait_status);
  } else if (WIFSIGNALED(r.wait_status)) {
    r.signal = WTERMSIG(r.wait_status);
  }
  r.seconds = seconds_since(t0);
  return r;
}

}  // namespace sb
