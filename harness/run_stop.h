// The stop flag of the evaluation loops (`run`, `run --api`): while a StopOnSignal lives,
// SIGINT and SIGTERM set the flag (the loop stops at the next item and records the run as
// interrupted); constructing one clears the flag, destroying one restores the default
// handlers (also when the loop throws). One flag for the process: one loop at a time.
#pragma once

#include <atomic>

namespace sb::cli {

class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  bool stopped() const { return flag().load(); }
  // The flag itself, for code that polls it (set only by the signal handler).
  static std::atomic<bool>& flag();
};

}  // namespace sb::cli
