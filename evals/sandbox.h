// The code-execution sandbox: runs one untrusted Python program per call, in its own process
// tree under bubblewrap, and says whether it ran to the end without failing.
//
// Isolation (sandboxed mode, the default)
// - bwrap with new user, mount, PID, network (loopback only, down), IPC, UTS and cgroup
//   namespaces, no capabilities, no further user namespaces, --die-with-parent and a new
//   terminal session. The file system is a fresh tmpfs root, read-only, holding read-only
//   binds of /usr (plus the /bin, /lib* symlinks or directories, /etc/ld.so.cache and any
//   `extra_ro_binds`), a new /proc, a minimal /dev (read-only; /dev/shm a small tmpfs), and one
//   writable, size-capped tmpfs at /sandbox (also reachable as /tmp) that holds prog.py and
//   is the working directory. Nothing else of the host is visible: not /root, /home, /tmp,
//   the working directory or the repository. The environment is exactly PATH, HOME=/sandbox,
//   LANG=C.UTF-8, PYTHONDONTWRITEBYTECODE=1, PYTHONHASHSEED=0 (and PWD=/sandbox, from bwrap).
// - When the caller is root, the sandbox runs as `unprivileged_uid` (nobody), so the kernel's
//   process-count limit applies and the sandbox's user maps to an unprivileged host user.
// - rlimits (SandboxLimits): CPU, address space, file size, open files, core dumps (0) and
//   processes. RLIMIT_NPROC is always set inside the sandbox, where the kernel counts only that
//   sandbox's processes and threads.
// - The parent enforces the wall-clock timeout: it SIGKILLs the sandbox's PID-namespace init
//   (which takes every process inside with it, daemons included) and waits for bwrap to
//   report, so when a run returns nothing of the program is left. stdout and stderr are read
//   through pipes; `output_keep_bytes` of each are kept, the rest read and dropped, and more
//   than `output_kill_bytes` in total kills the program (outcome failed).
//
// Two ways to use the namespaces (SandboxOptions::isolation):
// - Isolation::Process: one bwrap and one fresh interpreter per program. rlimits are set in the
//   child before bwrap is exec'd. The interpreter runs `python3 -s -S -B -c <bootstrap>` (not
//   -I, which would ignore PYTHONHASHSEED; the environment is already exactly the one above);
//   the bootstrap runs /sandbox/prog.py (copied in by bwrap) as __main__.
// - Isolation::ForkServer (default for check_all and SandboxWorker): one bwrap per worker
//   holding a small Python server that has already started the interpreter; for each program
//   it writes /sandbox/prog.py, forks, and the child (its own session, rlimits set, dumpable,
//   stdout/stderr/status on fresh pipes from the harness) runs the program as __main__, the
//   way human-eval's own checker runs completions in a forked interpreter. When the child
//   exits the server kills every other process in the namespace and reaps them (it is their
//   subreaper), empties /sandbox and /dev/shm, and reports the exact wait status. The server
//   itself is not dumpable (no ptrace or /proc/PID/mem from programs). A timeout, the output
//   limit, a server that dies (a program may kill it) or a scratch directory it cannot empty
//   ends that sandbox; the next program gets a fresh one. Programs of one worker share the
//   IPC namespace and network namespace (loopback down) one after the other, never at once.
//   The server imports common standard-library modules once (typing, collections, re, math,
//   ...; default_preload_modules()), so programs start without paying for them. The timeout
//   counts from the request (process isolation: from the spawn, sandbox start-up included).
//
// Both ways a program PASSES only when it runs to its end: after the program returns normally
// the runner writes a random per-run nonce, passed in through a pipe and never part of the
// program text or environment, to a status pipe, and the interpreter then exits with status
// 0. Leaving early in any way (exit(0), sys.exit(0), os._exit(0), raising SystemExit, exec,
// killing itself) is not a pass. The runner also restores the exit()/quit() builtins that -S
// leaves out and sets sys.argv, __file__ and sys.path[0] as `python3 /sandbox/prog.py` would.
//
// Unsafe mode (`unsafe_no_sandbox`): no bwrap, one interpreter per program (isolation is
// ignored), the same bootstrap, environment and rlimits, in a fresh private temporary
// directory, in its own process group (killed as a whole at the end). Root is still dropped to
// `unprivileged_uid` (and only then is the process count limited). There is no file-system,
// network or PID isolation and a daemon that leaves the process group can survive; every
// result carries `sandboxed = false` and warning() says so.
//
// What this does not stop: a program written to defeat this runner (rather than one that is
// merely wrong or destructive) can find the nonce in its own process's memory and forge a
// pass; memory is limited per process (address space x process count), not by a memory
// cgroup, so a deliberate fork-and-allocate program can use a lot of host memory until its
// timeout; SysV shared memory is freed only when the sandbox ends.
//
// Threading: a constructed Sandbox is immutable; run() and check_all() may be called from any
// number of threads at once. A SandboxWorker belongs to one thread at a time; bwrap's
// --die-with-parent ties its fork server to the thread that started it, so if that thread
// exits the worker notices on the next run and starts a new server.
// Errors: the constructor throws sb::Error when bwrap is missing or cannot create its
// namespaces (unless unsafe mode was asked for). Runs never throw for anything the program
// does or for a sandbox that fails to start (that is the outcome sandbox_error); they throw
// only std::bad_alloc and the like.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sb {

struct SandboxLimits {
  double timeout_s = 10;                             // wall clock, enforced by the parent
  uint64_t cpu_seconds = 0;                          // RLIMIT_CPU; 0: ceil(timeout_s) + 1
  uint64_t address_space_bytes = uint64_t(2) << 30;  // RLIMIT_AS, per process
  uint64_t max_processes = 32;                       // RLIMIT_NPROC (threads count too)
  uint64_t file_size_bytes = uint64_t(16) << 20;     // RLIMIT_FSIZE
  uint64_t open_files = 128;                         // RLIMIT_NOFILE
  uint64_t scratch_bytes = uint64_t(64) << 20;       // size of the /sandbox and /dev/shm tmpfs
  uint64_t output_keep_bytes = uint64_t(1) << 20;    // kept of stdout and of stderr, each
  uint64_t output_kill_bytes = uint64_t(64) << 20;   // stdout + stderr beyond this: killed
};

enum class Isolation {
  Process,     // one bwrap + fresh interpreter per program
  ForkServer,  // one bwrap + warm interpreter per worker, one forked process per program
};

struct SandboxOptions {
  SandboxLimits limits;
  Isolation isolation = Isolation::ForkServer;
  std::string bwrap = "bwrap";              // searched in PATH when it has no '/'
  std::string python = "/usr/bin/python3";  // must live under the read-only binds
  std::vector<std::string> extra_ro_binds;  // more host paths, bound read-only at the same place
  bool unsafe_no_sandbox = false;           // run without bwrap (see above)
  int unprivileged_uid = 65534;             // used when the caller is root; -1 keeps root
};

enum class Outcome { Passed, Failed, Timeout, Crashed, SandboxError };

// "passed", "failed", "timeout", "crashed", "sandbox_error".
const char* outcome_name(Outcome o);
inline constexpr Outcome kAllOutcomes[] = {Outcome::Passed, Outcome::Failed, Outcome::Timeout, Outcome::Crashed, Outcome::SandboxError};

struct SandboxResult {
  Outcome outcome = Outcome::SandboxError;
  // One line: "passed", "failed: AssertionError", "failed: exited with status 0 before the
  // tests finished", "timed out after 10 s", "crashed: SIGSEGV", "sandbox_error: ...".
  std::string detail;
  int exit_code = -1;                           // the interpreter's exit status, when it exited
  int signal = 0;                               // the signal that ended it, when outcome is crashed
  double seconds = 0;                           // wall clock, including sandbox start-up
  std::string stdout_text, stderr_text;         // the first output_keep_bytes of each
  std::string stderr_tail;                      // when stderr was cut: its last few KiB
  uint64_t stdout_bytes = 0, stderr_bytes = 0;  // everything written
  bool sandboxed = true;
  bool passed() const { return outcome == Outcome::Passed; }
};

// Called after each finished program with (finished so far, total); calls are serialized.
using SandboxProgress = std::function<void(size_t done, size_t total)>;

class Sandbox {
 public:
  // Resolves bwrap and the interpreter and runs one probe program through the sandbox.
  // Throws sb::Error ("bubblewrap (bwrap) is required to run generated code; install it or
  // pass --unsafe-no-sandbox (...)") when that fails and unsafe mode was not asked for.
  explicit Sandbox(SandboxOptions options);

  // Runs one program (complete Python source) in a sandbox of its own (Isolation::Process
  // whatever the options say; a fork server would cost more than it saves for one program).
  SandboxResult run(const std::string& program) const;

  // Runs every program on `workers` threads (<= 0: one per core), each a SandboxWorker
  // running one program at a time; results are in input order.
  std::vector<SandboxResult> check_all(const std::vector<std::string>& programs, int workers, const SandboxProgress& progress = {}) const;

  bool sandboxed() const { return !options_.unsafe_no_sandbox; }
  const char* kind() const { return sandboxed() ? "bwrap" : "none"; }
  // Empty when sandboxed; otherwise a loud one-line warning for every report.
  const std::string& warning() const { return warning_; }
  const SandboxOptions& options() const { return options_; }

 private:
  friend class SandboxWorker;
  SandboxResult run_process(const std::string& program, double timeout_s) const;
  SandboxResult run_unsafe(const std::string& program) const;

  SandboxOptions options_;
  std::string bwrap_path_;
  std::vector<std::string> process_argv_;  // bwrap ... python -c <bootstrap>
  std::vector<std::string> server_argv_;   // bwrap ... python -c <fork server>
  std::vector<std::string> env_;
  std::string warning_;
};

// Runs programs one at a time with a Sandbox's settings. With Isolation::ForkServer (and a
// real sandbox) it keeps one fork server, started on first use and replaced whenever a run
// ends it; otherwise each run() is Sandbox::run(). Not thread-safe: one per thread. The
// Sandbox must outlive it. The destructor stops the fork server and waits for it.
class SandboxWorker {
 public:
  explicit SandboxWorker(const Sandbox& sandbox);
  ~SandboxWorker();
  SandboxWorker(const SandboxWorker&) = delete;
  SandboxWorker& operator=(const SandboxWorker&) = delete;

  SandboxResult run(const std::string& program);
  // Fork servers started so far (0 for per-program isolation).
  int servers_started() const { return servers_started_; }

 private:
  bool start_server(std::string& why);
  void stop_server();
  SandboxResult run_in_server(const std::string& program, bool& retry);

  const Sandbox& sandbox_;
  pid_t pid_ = -1;    // bwrap holding the fork server
  int control_ = -1;  // SOCK_SEQPACKET to the server
  std::string info_;  // bwrap's --info-fd JSON
  int servers_started_ = 0;
};

}  // namespace sb
