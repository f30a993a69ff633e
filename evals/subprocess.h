// Child processes for running untrusted programs: fork + exec with an exact environment, an
// exact set of inherited file descriptors, resource limits and (when running as root) dropped
// privileges, then supervision with a wall-clock deadline and capped output capture.
//
// Contract
// - spawn_process() forks the calling process and, in the child, calls only async-signal-safe
//   functions before execve (everything the child needs is prepared before the fork), so it is
//   safe to call from any thread of a multithreaded program. The child starts a new session
//   (it leads its own process group, pgid == pid), has every signal reset to its default
//   disposition and an empty signal mask, keeps exactly the descriptors named in `fds` (all
//   others are closed, including ones other threads opened without O_CLOEXEC), applies the
//   rlimits, optionally drops root to `uid`/`gid`, changes to `cwd` and execs `path`.
// - A failure before exec (bad path, rlimit refused, ...) is reported by spawn_process() as an
//   sb::Error naming the step and errno; the child never runs anything else.
// - run_supervised() owns the child from then on: it reads every capture pipe (keeping at most
//   `keep_bytes` of each and discarding the rest), kills the whole process group with SIGKILL
//   when the deadline passes or the captured output exceeds `kill_after_bytes`, kills what is
//   left of the process group when the child exits, and always reaps the child before
//   returning. It throws only if poll() itself fails (and then still kills and reaps). Descendants that left the process group (setsid) are
//   not tracked here; sandboxes that need that put the program in its own PID namespace.
// - Nothing here touches global process state (signal handlers, rlimits, cwd) of the caller.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sb {

// A poll(2) timeout for waiting until `deadline`: milliseconds left, rounded up, capped at
// 1000 (so loops re-check their state at least once a second), 0 once it has passed.
int poll_ms_until(std::chrono::steady_clock::time_point deadline);

struct ResourceLimit {
  int resource = 0;  // RLIMIT_*
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct SpawnSpec {
  std::string path;               // executable, used as is (no PATH search)
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // the complete environment, "NAME=value"
  std::string cwd;                // "" keeps the caller's working directory
  // (parent fd, child fd) pairs: the child gets a copy of each parent fd at the child number.
  // Every descriptor not listed is closed in the child.
  std::vector<std::pair<int, int>> fds;
  std::vector<ResourceLimit> rlimits;
  // When >= 0 and the caller's effective uid is 0: the child clears its supplementary groups
  // and switches to this uid/gid (real, effective and saved) before exec.
  int uid = -1;
  int gid = -1;
};

// Forks and execs `spec`; returns the child's pid (a process-group leader). Throws sb::Error
// when fork fails or the child cannot get as far as exec.
pid_t spawn_process(const SpawnSpec& spec);

struct CapturedStream {
  std::string data;    // the first keep_bytes bytes
  std::string tail;    // when truncated: (at least) the last kTailBytes bytes, else empty
  uint64_t total = 0;  // everything the child wrote
  bool truncated() const { return total > data.size(); }
  static constexpr size_t kTailBytes = 4096;
};

struct SupervisedResult {
  int wait_status = 0;                  // from waitpid
  bool exited = false;                  // WIFEXITED
  int exit_code = -1;                   // WEXITSTATUS when exited
  int signal = 0;                       // WTERMSIG when killed by a signal
  bool timed_out = false;               // we killed it at the deadline
  bool output_limit = false;            // we killed it for writing more than kill_after_bytes
  double seconds = 0;                   // from the start of supervision to reaping
  std::vector<CapturedStream> streams;  // one per capture fd, in order
};

struct SuperviseLimits {
  double timeout_s = 10;
  uint64_t keep_bytes = 1 << 20;                   // per stream
  uint64_t kill_after_bytes = uint64_t(64) << 20;  // all streams together; 0 = never
  // Streams at or after this index are read but do not count toward kill_after_bytes.
  size_t counted_streams = SIZE_MAX;
  // After the child exits, how long to keep reading pipes that descendants still hold open.
  int drain_ms = 200;
  // Called once when the deadline passes or the output limit is hit, with what was read so
  // far. Returning true means it killed the child some other way (e.g. through a PID
  // namespace's init) and the child is given 2 s to exit before its process group gets
  // SIGKILL; false (or no callback) sends SIGKILL to the process group at once.
  std::function<bool(pid_t pid, const std::vector<CapturedStream>& streams)> kill;
  // Called after every read while the child has not been reaped yet (so `pid` still names it
  // and its children's parent is still `pid`), with what was read so far.
  std::function<void(pid_t pid, const std::vector<CapturedStream>& streams)> on_output;
};

// Reads a set of capture pipes without blocking, keeping the first `keep_bytes` of each and
// counting (and dropping) the rest. Owns and closes the descriptors. Not thread-safe.
class CaptureSet {
 public:
  CaptureSet(const std::vector<int>& fds, uint64_t keep_bytes, size_t counted_streams);
  ~CaptureSet();
  CaptureSet(const CaptureSet&) = delete;
  CaptureSet& operator=(const CaptureSet&) = delete;

  // Appends a pollfd for every open stream; `which` gets the stream index of each.
  void add_pollfds(std::vector<struct pollfd>& pfds, std::vector<size_t>& which) const;
  // Reads what is ready on stream i (a bounded amount); closes it at EOF or error.
  void read_ready(size_t i);
  bool all_closed() const;
  void close_all();
  uint64_t counted_bytes() const { return counted_; }
  const std::vector<CapturedStream>& streams() const { return streams_; }
  std::vector<CapturedStream> take() { return std::move(streams_); }

 private:
  std::vector<int> fds_;
  std::vector<CapturedStream> streams_;
  uint64_t keep_;
  size_t counted_streams_;
  uint64_t counted_ = 0;
};

// Supervises `pid` (a child of this process that leads its own process group) whose output
// arrives on `capture_fds` (read ends; this function closes them). Always reaps `pid`.
SupervisedResult run_supervised(pid_t pid, const std::vector<int>& capture_fds, const SuperviseLimits& limits);

// A pipe whose both ends are O_CLOEXEC; throws sb::Error on failure.
struct Pipe {
  int read = -1;
  int write = -1;
};
Pipe make_pipe();

// Closes fd if >= 0 and sets it to -1 (EINTR-safe).
void close_fd(int& fd);

// Name of a signal ("SIGSEGV"), or "signal N".
std::string signal_name(int sig);

}  // namespace sb
