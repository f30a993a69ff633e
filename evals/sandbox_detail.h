// Internal pieces shared by sandbox.cc (one sandbox per program, unsafe mode) and
// sandbox_worker.cc (fork server). Not part of the public interface; see sandbox.h.
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "evals/sandbox.h"
#include "evals/subprocess.h"

namespace sb::sandbox_detail {

inline constexpr const char* kBwrapRequired =
    "bubblewrap (bwrap) is required to run generated code; install it or pass --unsafe-no-sandbox";
inline constexpr const char* kScratch = "/sandbox";
inline constexpr const char* kProgramPath = "/sandbox/prog.py";
// Descriptor numbers inside the sandbox.
inline constexpr int kControlFd = 3;  // fork server: the control socket
inline constexpr int kProgramFd = 4;  // per-program sandbox: the program, copied by bwrap --file
inline constexpr int kInfoFd = 6;     // bwrap --info-fd (JSON with the namespace init's pid)

// Closes the descriptors it was given when the scope ends.
class FdCloser {
 public:
  explicit FdCloser(std::initializer_list<int*> fds) : fds_(fds) {}
  ~FdCloser() {
    for (int* fd : fds_) close_fd(*fd);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  std::vector<int*> fds_;
};

// 128 random bits as text. Throws sb::Error if the kernel refuses randomness.
std::string random_nonce();
// A sealed-by-convention memfd holding `data`, positioned at 0. Throws sb::Error.
int memfd_with(const std::string& data);
// A pipe read end that already holds `data` (which must fit the pipe buffer). Throws sb::Error.
int prefilled_pipe(const std::string& data);
// Kills the PID-namespace init named by bwrap's --info-fd JSON if it is still bwrap_pid's
// child; true when the signal was sent.
bool kill_namespace_init(pid_t bwrap_pid, const std::string& info);

// Holds a pidfd on the PID-namespace init of one bwrap run, so the harness can wait until the
// whole namespace is gone. Needed because bwrap exits as soon as its init reports the
// program's exit status, which is before that init exits and the kernel kills (and reaps)
// everything else in the namespace; without waiting, a daemon the program started can still
// be alive for a moment after the run returned.
class NamespaceInit {
 public:
  NamespaceInit() = default;
  ~NamespaceInit();
  NamespaceInit(const NamespaceInit&) = delete;
  NamespaceInit& operator=(const NamespaceInit&) = delete;
  // Opens the pidfd once `info` (bwrap's --info-fd JSON so far) names the init and the init is
  // still bwrap_pid's child; call only while bwrap_pid is our unreaped child.
  void track(pid_t bwrap_pid, const std::string& info);
  bool tracked() const { return pidfd_ >= 0; }
  // SIGKILL to the init (and so to the namespace); true when sent.
  bool kill();
  // Kills the init and waits until it has exited, which the kernel allows only after every
  // other process of the namespace is gone. True when gone within `timeout_ms` (or never
  // tracked: then there is nothing to wait on).
  bool kill_and_wait(int timeout_ms);

 private:
  int pidfd_ = -1;
};
// rlimits for the sandboxed process tree; with_cpu = false for the long-lived fork server.
std::vector<ResourceLimit> rlimits_for(const SandboxLimits& l, bool with_cpu, bool with_nproc);
// RLIMIT_CPU seconds for one program.
uint64_t cpu_seconds_for(const SandboxLimits& l);
// The exact environment of sandboxed programs (HOME = `home`).
std::vector<std::string> base_env(const std::string& home);

SandboxResult sandbox_error(const std::string& why, bool sandboxed);

// How one program ended, as far as the harness saw it.
struct RunEnd {
  std::vector<CapturedStream> streams;  // stdout, stderr, status (, more)
  bool timed_out = false;
  bool output_limit = false;
  bool status_known = false;  // we know how the interpreter ended
  bool exited = false;
  int exit_code = -1;
  int signal = 0;
  // bwrap reports the interpreter's death by signal N as exit status 128 + N.
  bool signal_in_exit_code = false;
  bool server_lost = false;  // fork server: it died before reporting
  double seconds = 0;
};

// Turns what was seen into an outcome (see sandbox.h for the rules).
SandboxResult classify(RunEnd& end, const std::string& nonce, const SandboxLimits& limits, bool sandboxed);

}  // namespace sb::sandbox_detail
