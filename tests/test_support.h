// Helpers shared by the tests: locating ../shared, temporary directories, running the CLI.
#pragma once

#include <string>
#include <vector>

namespace sb::test {

// The ../shared folder beside the checkout (override with SPARKBENCH_SHARED), or "" if absent.
std::string shared_dir();
// Path of a file under ../shared; "" when ../shared is absent.
std::string shared_path(const std::string& rel);
// Test states (the runner, tests/test_main.cc, enforces them):
// - skip(why): the thing the test needs is absent. Prints "SKIPPED: <why>"; call it before
//   checking anything, then return. A test case that skipped and checked nothing exits with
//   kSkipExitCode, which ctest counts as skipped (scripts/ctest_skips.sh lists the reasons); one
//   that checked something before or after its skip FAILS (a skip must not hide results).
// - unsupported(what): one case of a test cannot run here (a backend compiled in but unusable,
//   a CPU feature missing) while the test goes on checking the others. Prints
//   "UNSUPPORTED: <what>"; not a skip: the test passes or fails on what it did check.
inline constexpr int kSkipExitCode = 77;
void skip(const std::string& why);
void unsupported(const std::string& what);
// Whether skip() was called since the last reset (the runner resets it per test case).
bool skip_called();
void reset_skip();
// skip() with the reason "../shared ... is not beside the checkout" and returns true when
// ../shared is absent, so a test can `if (skip_without_shared()) return;`.
bool skip_without_shared();

// NaN-aware comparisons (as ggml's test-backend-ops): a NaN or infinity in either vector, or a
// size mismatch, gives +infinity, so `CHECK(err <= tol)` fails instead of passing silently
// (`std::max(worst, fabs(a - b))` drops a NaN).
//   max_abs_err: max |ref - got|
//   max_rel_err: max |ref - got| / max(1, |ref|)
//   nmse:        sum (ref - got)^2 / sum ref^2 (0 when both are all zero)
double max_abs_err(const std::vector<float>& ref, const std::vector<float>& got);
double max_rel_err(const std::vector<float>& ref, const std::vector<float>& got);
double nmse(const std::vector<float>& ref, const std::vector<float>& got);
// A fresh empty directory under the build tree, removed at exit.
std::string temp_dir(const std::string& tag);
// A synthetic preset model (f16, seed 0) shared by the tests of one build tree: synthesized on
// first use under <build>/test-models (with a file lock, so parallel tests wait), then reused.
std::string preset_model(const std::string& preset);
// The sparkbench executable under test.
std::string sparkbench_bin();
// This test binary's own path (to re-run some of its cases in a child process).
std::string self_exe();

struct RunResult {
  int exit_code = -1;  // -1 if killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};
// Runs argv (argv[0] resolved via PATH if not absolute) with optional stdin text; captures output.
RunResult run_process(const std::vector<std::string>& argv, const std::string& stdin_text = "");
// Runs the sparkbench executable with the given arguments.
RunResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "");

}  // namespace sb::test
