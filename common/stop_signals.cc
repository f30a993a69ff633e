#include "common/stop_signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <mutex>
#include <thread>

namespace sb {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_armed{0};       // live StopOnSignal objects
std::atomic<bool> g_ignored[2]{};  // SIGINT, SIGTERM were ignored when the process started

sigset_t stop_set() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  return s;
}

[[noreturn]] void watch() {
  const sigset_t set = stop_set();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (g_armed.load() > 0) {
      g_stop = true;
      continue;
    }
    if (g_ignored[sig == SIGTERM ? 1 : 0].load()) continue;
    // The default action: unblocked here, with no handler, the signal ends the process.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, nullptr);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    raise(sig);
  }
}

}  // namespace

void block_stop_signals() {
  static std::mutex mu;
  static pid_t started_in = 0;  // the process whose watcher runs (a forked child starts its own)
  std::lock_guard<std::mutex> lock(mu);
  if (started_in == ::getpid()) return;
  for (int k = 0; k < 2; ++k) {
    struct sigaction old {};
    sigaction(k ? SIGTERM : SIGINT, nullptr, &old);
    g_ignored[k] = old.sa_handler == SIG_IGN;
  }
  const sigset_t set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(watch).detach();  // inherits the mask; sigwait takes the signals all the same
  started_in = ::getpid();
}

std::atomic<bool>& StopOnSignal::flag() { return g_stop; }

StopOnSignal::StopOnSignal() {
  block_stop_signals();
  g_stop = false;
  ++g_armed;
}

StopOnSignal::~StopOnSignal() { --g_armed; }

}  // namespace sb
