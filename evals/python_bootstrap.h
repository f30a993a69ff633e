// The Python the sandbox runs with `python3 -c`: a bootstrap in front of one program
// (Isolation::Process) or a fork server that runs many, one at a time (Isolation::ForkServer).
// Pure functions returning source text; no state.
//
// Bootstrap descriptor protocol (set up by the sandbox before exec):
//   3: status pipe (write): the bootstrap writes "S" when it starts and, only after the program
//      ran to its end without raising, the nonce;
//   5: nonce pipe (read): the per-run nonce, already written and closed by the harness.
// The bootstrap closes every descriptor from 4 up (the program file descriptor bwrap copied,
// the nonce pipe, bwrap's info pipe), sets RLIMIT_NPROC when `max_processes` > 0, restores the
// exit()/quit() builtins that `-S` leaves out, and runs `program_path` as __main__ with
// sys.argv, __file__ and sys.path[0] as `python3 program_path` would set them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sb {

inline constexpr int kBootstrapStatusFd = 3;
inline constexpr int kBootstrapNonceFd = 5;

// The bootstrap source for one program path (an absolute path, any characters).
std::string python_bootstrap(const std::string& program_path, uint64_t max_processes);

// Fork server protocol. Descriptor 3 is a SOCK_SEQPACKET socket to the harness; 0 is /dev/null,
// 2 carries start-up errors. The server refuses to run unless it is pid 2 under a PID
// namespace init (its kill(-1) must stay inside the sandbox), makes itself non-dumpable and a
// child subreaper, closes descriptors from 4 up, imports `preload` and sends "READY". Then, per message "RUN <nonce>" carrying
// four descriptors (stdout, stderr, status pipes and a file with the program), it writes the
// program to `program_path` and forks a child that starts a session, moves the pipes to 1, 2
// and 3, closes everything else, becomes dumpable again, sets the rlimits, writes "S" to 3,
// runs the program as __main__ (as the bootstrap does), writes the nonce to 3 if it returned
// normally, finishes like the interpreter would (threads joined, atexit handlers, streams
// flushed) and _exits with the interpreter's status. The server waits for the child, sends
// SIGKILL to every other process it can signal (kill(-1)), reaps until it has no children,
// empties `scratch_dirs` and replies "DONE <wait status> <1 if emptied, else 0>". It exits
// when the socket closes or a request is malformed.
struct ForkServerConfig {
  std::string program_path;
  std::vector<std::string> scratch_dirs;
  uint64_t cpu_seconds = 0;  // soft; hard = soft + 1
  uint64_t address_space_bytes = 0;
  uint64_t file_size_bytes = 0;
  uint64_t open_files = 0;
  uint64_t max_processes = 0;
  // Modules imported once by the server (missing ones are skipped).
  std::vector<std::string> preload;
};
// Standard-library modules HumanEval- and MBPP-style programs import most.
std::vector<std::string> default_preload_modules();
std::string python_fork_server(const ForkServerConfig& config);

}  // namespace sb
