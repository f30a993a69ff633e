// SIGINT and SIGTERM for every command, taken without a signal handler. While a StopOnSignal
// lives, the two signals set its flag: `run` and `run --api` stop at the next item and record the
// run as interrupted; `serve` drains and returns. Constructing one clears the flag. One flag for
// the process: one loop (or one server) at a time.
//
// No thread that computes ever runs a signal handler: oneDNN 2.6's JIT f32 GEMM kernels (the
// Debian 12 libdnnl) point rsp into a heap workspace while they run, so a handler invoked on
// such a thread writes its signal frame into the heap and corrupts it (oneDNN issue #4845,
// fixed upstream in 3.11.2; seen here as a rare abort of an interrupted `run`). Instead:
//   - block_stop_signals() blocks SIGINT and SIGTERM in the calling thread, so every thread
//     started after it inherits the mask (OpenMP and oneDNN workers, HTTP clients, MPI), and
//     starts one watcher thread that takes the two signals with sigwait(). Call it at the start
//     of a command, before any thread starts (run_evaluation and `serve` do, first thing); later
//     calls in the same process do nothing (a forked child that calls it starts its own watcher).
//   - The watcher sets the flag while a StopOnSignal lives. Otherwise it gives the signal the
//     disposition the process started with: ignored if it was ignored, else the default action
//     (the process ends, killed by that signal), as if nothing were installed.
// StopOnSignal's constructor calls block_stop_signals() too (a thread started before the first
// call keeps the signals unblocked, and with no handler installed a signal it receives takes
// the default action).
#pragma once

#include <atomic>

namespace sb {

void block_stop_signals();

class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  bool stopped() const { return flag().load(); }
  // The flag itself, for code that polls it (set only by the watcher thread).
  static std::atomic<bool>& flag();
};

}  // namespace sb
