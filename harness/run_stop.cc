#include "harness/run_stop.h"

#include <csignal>

namespace sb::cli {

namespace {
std::atomic<bool> g_run_stop{false};
void on_stop_signal(int) { g_run_stop = true; }
}  // namespace

std::atomic<bool>& StopOnSignal::flag() { return g_run_stop; }

StopOnSignal::StopOnSignal() {
  g_run_stop = false;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

StopOnSignal::~StopOnSignal() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace sb::cli
