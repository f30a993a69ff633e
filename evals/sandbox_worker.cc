// SandboxWorker: the harness side of the fork server (see sandbox.h and python_bootstrap.h).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "engine/core/error.h"
#include "evals/python_bootstrap.h"
#include "evals/sandbox.h"
#include "common/text.h"
#include "evals/sandbox_detail.h"
#include "evals/subprocess.h"

namespace sb {

using namespace sandbox_detail;

namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Sends `msg` with descriptors; false when the peer is gone.
bool send_with_fds(int sock, const std::string& msg, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(msg.data()), msg.size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control.data();
  mh.msg_controllen = control.size();
  cmsghdr* cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  for (;;) {
    ssize_t r = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (r >= 0) return size_t(r) == msg.size();
    if (errno != EINTR) return false;
  }
}

// Receives one message (non-blocking); returns false on EOF or error, true with `msg` set
// (possibly empty when nothing was there).
bool receive(int sock, std::string& msg) {
  char buf[256];
  for (;;) {
    ssize_t r = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      msg.assign(buf, size_t(r));
      return true;
    }
    if (r == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      msg.clear();
      return true;
    }
    return false;
  }
}

}  // namespace

SandboxWorker::SandboxWorker(const Sandbox& sandbox) : sandbox_(sandbox) {}

SandboxWorker::~SandboxWorker() { stop_server(); }

SandboxResult SandboxWorker::run(const std::string& program) {
  if (!sandbox_.sandboxed() || sandbox_.options().isolation != Isolation::ForkServer) return sandbox_.run(program);
  try {
    const SandboxLimits& l = sandbox_.options().limits;
    if (program.size() >= l.file_size_bytes || program.size() >= l.scratch_bytes)
      return sandbox_error(cat("program of ", program.size(), " bytes exceeds the file-size or scratch limit"), true);
    // A program that never started (the server was gone) is retried once on a fresh server.
    for (int attempt = 0;; ++attempt) {
      if (pid_ < 0) {
        std::string why;
        if (!start_server(why)) return sandbox_error("the fork server did not start: " + why, true);
      }
      bool retry = false;
      SandboxResult r = run_in_server(program, retry);
      if (!retry || attempt >= 1) return r;
    }
  } catch (const Error& e) {
    stop_server();
    return sandbox_error(e.what(), true);
  }
}

bool SandboxWorker::start_server(std::string& why) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    why = cat("socketpair: ", strerror(errno));
    return false;
  }
  int mine = sv[0], theirs = sv[1], devnull = -1;
  Pipe err, info;
  FdCloser closer{&theirs, &devnull, &err.write, &info.write};
  devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  err = make_pipe();
  info = make_pipe();
  SpawnSpec spec;
  spec.path = sandbox_.bwrap_path_;
  spec.argv = sandbox_.server_argv_;
  spec.env = sandbox_.env_;
  spec.fds = {{devnull, 0}, {devnull, 1}, {err.write, 2}, {theirs, kControlFd}, {info.write, kInfoFd}};
  // No RLIMIT_CPU here: the server lives for many programs; each child sets its own.
  spec.rlimits = rlimits_for(sandbox_.options().limits, /*with_cpu=*/false, /*with_nproc=*/false);
  spec.uid = sandbox_.options().unprivileged_uid;
  spec.gid = sandbox_.options().unprivileged_uid;
  pid_t pid;
  try {
    pid = spawn_process(spec);
  } catch (const Error& e) {
    ::close(mine);
    close_fd(err.read);
    close_fd(info.read);
    why = e.what();
    return false;
  }
  for (int* fd : {&theirs, &devnull, &err.write, &info.write}) close_fd(*fd);
  pid_ = pid;
  control_ = mine;
  ++servers_started_;
  info_.clear();

  // Wait for READY, collecting bwrap's info and any start-up errors.
  CaptureSet cap({err.read, info.read}, 64 << 10, 0);
  const auto deadline = after(std::max(30.0, sandbox_.options().limits.timeout_s));
  bool ready = false, lost = false;
  while (!ready && !lost && Clock::now() < deadline) {
    std::vector<pollfd> pfds;
    std::vector<size_t> which;
    cap.add_pollfds(pfds, which);
    pfds.push_back({control_, POLLIN, 0});
    int pr = ::poll(pfds.data(), nfds_t(pfds.size()), poll_ms_until(deadline));
    if (pr < 0 && errno != EINTR) break;
    for (size_t k = 0; pr > 0 && k < which.size(); ++k)
      if (pfds[k].revents) cap.read_ready(which[k]);
    if (pr > 0 && pfds.back().revents) {
      std::string msg;
      if (!receive(control_, msg))
        lost = true;
      else if (msg == "READY")
        ready = true;
      else if (!msg.empty())
        lost = true;
    }
  }
  // bwrap writes its info before it starts the interpreter, so it is there by now; give the
  // pipe a moment in case the two raced.
  for (int i = 0; i < 20 && ready && cap.streams()[1].data.find('}') == std::string::npos; ++i) {
    std::vector<pollfd> pfds;
    std::vector<size_t> which;
    cap.add_pollfds(pfds, which);
    if (pfds.empty()) break;
    if (::poll(pfds.data(), nfds_t(pfds.size()), 50) > 0)
      for (size_t k = 0; k < which.size(); ++k)
        if (pfds[k].revents) cap.read_ready(which[k]);
  }
  info_ = cap.streams()[1].data;
  if (!ready) {
    why = text::last_line(cap.streams()[0].data);
    if (why.empty()) why = lost ? "it exited" : "no answer";
    stop_server();
    return false;
  }
  return true;
}

void SandboxWorker::stop_server() {
  if (pid_ < 0) return;
  // Killing the namespace's init takes the server and anything left of a program with it;
  // bwrap then reports and exits, so by the time it is reaped nothing of the sandbox is left.
  if (!kill_namespace_init(pid_, info_)) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }
  close_fd(control_);
  int pidfd = int(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int waited = 0;
    while (::poll(&p, 1, 100) == 0 && (waited += 100) < 5000) {
    }
    if (waited >= 5000) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
    }
    ::close(pidfd);
  }
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  info_.clear();
}

SandboxResult SandboxWorker::run_in_server(const std::string& program, bool& retry) {
  const SandboxLimits& l = sandbox_.options().limits;
  const std::string nonce = random_nonce();
  int prog = -1;
  Pipe out, err, status;
  FdCloser closer{&prog, &out.read, &out.write, &err.read, &err.write, &status.read, &status.write};
  prog = memfd_with(program);
  out = make_pipe();
  err = make_pipe();
  status = make_pipe();
  const auto t0 = Clock::now();
  if (!send_with_fds(control_, "RUN " + nonce, {out.write, err.write, status.write, prog})) {
    stop_server();
    retry = true;
    return sandbox_error("the fork server went away", true);
  }
  for (int* fd : {&out.write, &err.write, &status.write, &prog}) close_fd(*fd);

  RunEnd end;
  const auto deadline = after(l.timeout_s);
  CaptureSet cap({out.read, err.read, status.read}, l.output_keep_bytes, 2);
  out.read = err.read = status.read = -1;  // the CaptureSet owns them now
  bool done = false, lost = false, ended = false, clean = true;
  Clock::time_point drain_deadline{};
  for (;;) {
    if ((done || lost || ended) && (cap.all_closed() || Clock::now() >= drain_deadline)) break;
    if (!done && !lost && !ended && Clock::now() >= deadline) {
      end.timed_out = true;
      stop_server();  // kills the program with everything else in the sandbox
      ended = true;
      drain_deadline = after(0.2);
      continue;
    }
    std::vector<pollfd> pfds;
    std::vector<size_t> which;
    cap.add_pollfds(pfds, which);
    const bool watch_control = !done && !lost && !ended;
    if (watch_control) pfds.push_back({control_, POLLIN, 0});
    const int wait_ms = (done || lost || ended) ? poll_ms_until(drain_deadline) : poll_ms_until(deadline);
    int pr = ::poll(pfds.data(), nfds_t(pfds.size()), wait_ms);
    if (pr < 0 && errno != EINTR) {
      const int e = errno;
      stop_server();
      fail("poll: ", strerror(e));
    }
    for (size_t k = 0; pr > 0 && k < which.size(); ++k)
      if (pfds[k].revents) cap.read_ready(which[k]);
    if (!done && !lost && !ended && l.output_kill_bytes && cap.counted_bytes() > l.output_kill_bytes) {
      end.output_limit = true;
      stop_server();
      ended = true;
      drain_deadline = after(0.2);
      continue;
    }
    if (watch_control && pr > 0 && pfds.back().revents) {
      std::string msg;
      if (!receive(control_, msg)) {
        lost = true;
      } else if (!msg.empty()) {
        int wait_status = 0, was_clean = 0;
        if (std::sscanf(msg.c_str(), "DONE %d %d", &wait_status, &was_clean) == 2) {
          done = true;
          clean = was_clean == 1;
          end.status_known = true;
          if (WIFEXITED(wait_status)) {
            end.exited = true;
            end.exit_code = WEXITSTATUS(wait_status);
          } else if (WIFSIGNALED(wait_status)) {
            end.signal = WTERMSIG(wait_status);
          }
        } else {
          lost = true;
        }
      }
      if (done || lost) drain_deadline = after(0.2);
      // A lost server may leave the program running: end the whole sandbox now.
      if (lost) stop_server();
    }
  }
  end.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  end.streams = cap.take();
  if (lost) {
    const std::string& st = end.streams[2].data;
    if (st.empty() || st[0] != 'S') {
      retry = true;  // the program never started
      return sandbox_error("the fork server died before running the program", true);
    }
    end.server_lost = true;
  }
  if (done && !clean) stop_server();  // the next program gets a fresh scratch directory
  return classify(end, nonce, l, /*sandboxed=*/true);
}

}  // namespace sb
