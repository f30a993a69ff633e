// The stop signals of `run` and `serve` (common/stop_signals.h): SIGINT/SIGTERM stop the loop without ever
// being handled on a thread that computes. ctest runs each case in its own process, as these
// need: threads that an earlier case in the same process started (OpenMP's) keep the signals
// unblocked, so with the whole binary in one process a SIGTERM can reach Catch2's handler.
#include <catch2/catch.hpp>

#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "common/stop_signals.h"

#if SPARKBENCH_WITH_DNNL
#include <dnnl.hpp>
#endif

using sb::StopOnSignal;

namespace {

// Waits (up to 5 s) until no SIGINT/SIGTERM is pending for the process; true when none is.
bool drained() {
  for (int i = 0; i < 500; ++i) {
    sigset_t p;
    sigpending(&p);
    if (!sigismember(&p, SIGTERM) && !sigismember(&p, SIGINT)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

#if SPARKBENCH_WITH_DNNL
// oneDNN 2.6's JIT f32 GEMM kernels point rsp into a heap workspace while they run (oneDNN issue
// #4845): a signal handled on that thread writes its frame into the heap. These shapes (runtime
// M, plain 'ba' weights, as the cpu backend's prefill) take that path; with a handler on the
// computing thread the process aborts in malloc within a few hundred products.
TEST_CASE("run stop: SIGTERM storms during oneDNN f32 products set the stop flag and leave the heap intact", "[cli][unit]") {
  const StopOnSignal stop;  // before any thread starts: every later thread inherits the mask
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const int64_t M = 69, K = 184, N = 64;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  const dnnl::memory::desc src({DNNL_RUNTIME_DIM_VAL, K}, dt::f32, tag::ab), wts({K, N}, dt::f32, tag::ba),
      dst({DNNL_RUNTIME_DIM_VAL, N}, dt::f32, tag::ab);
  dnnl::matmul mm(dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wts, dst), eng));
  std::atomic<bool> done{false};
  std::thread sender([&] {  // process-directed, as `kill PID` from outside
    while (!done) {
      kill(getpid(), SIGTERM);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  std::vector<void*> churn;  // small blocks around the products' buffers, freed as we go
  bool right = true;
  for (int it = 0; it < 600 && right; ++it) {
    std::vector<float> x(size_t(M * K), 1.0f), w(size_t(K * N), 0.5f), y(size_t(M * N), -1.0f);
    dnnl::memory mx({{M, K}, dt::f32, tag::ab}, eng, x.data()), mw(wts, eng, w.data()), my({{M, N}, dt::f32, tag::ab}, eng, y.data());
    mm.execute(s, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, my}});
    s.wait();
    for (float v : y) right = right && v == 0.5f * float(K);
    for (int j = 0; j < 40; ++j) churn.push_back(std::malloc(size_t(16 + (j * 37) % 300)));
    if (churn.size() > 2000) {
      for (void* p : churn) std::free(p);
      churn.clear();
    }
  }
  done = true;
  sender.join();
  for (void* p : churn) std::free(p);
  CHECK(right);
  CHECK(stop.stopped());
  REQUIRE(drained());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the watcher past its last signal
}
#endif

TEST_CASE("run stop: threads started after block_stop_signals (OpenMP's included) block SIGINT/SIGTERM, and a StopOnSignal takes them",
          "[cli][unit]") {
  sb::block_stop_signals();
  std::atomic<int> blocked{0}, threads{0};
#pragma omp parallel num_threads(3)
  {
    sigset_t m;
    pthread_sigmask(SIG_BLOCK, nullptr, &m);
    ++threads;
    if (sigismember(&m, SIGINT) && sigismember(&m, SIGTERM)) ++blocked;
  }
  std::thread([&] {
    sigset_t m;
    pthread_sigmask(SIG_BLOCK, nullptr, &m);
    ++threads;
    if (sigismember(&m, SIGINT) && sigismember(&m, SIGTERM)) ++blocked;
  }).join();
  CHECK(threads >= 3);  // at least two OpenMP threads and the std::thread
  CHECK(blocked == threads);
  const StopOnSignal stop;
  CHECK_FALSE(stop.stopped());
  for (int sig : {SIGINT, SIGTERM}) {
    StopOnSignal::flag() = false;
    kill(getpid(), sig);
    for (int i = 0; i < 500 && !stop.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(stop.stopped());
  }
  REQUIRE(drained());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

// Without a StopOnSignal the signals act as if nothing were installed (run in a child).
TEST_CASE("run stop: unarmed, SIGTERM ends the process by the signal and an inherited SIG_IGN stays ignored", "[cli][unit]") {
  auto child = [](bool ignore) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (ignore) signal(SIGTERM, SIG_IGN);
      sb::block_stop_signals();
      kill(getpid(), SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      _exit(7);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  };
  const int killed = child(false);
  CHECK(WIFSIGNALED(killed));
  if (WIFSIGNALED(killed)) CHECK(WTERMSIG(killed) == SIGTERM);
  const int ignored = child(true);
  CHECK(WIFEXITED(ignored));
  if (WIFEXITED(ignored)) CHECK(WEXITSTATUS(ignored) == 7);
}
