// Helpers shared by the tests: locating ../shared, temporary directories, running the CLI.
#pragma once

#include <string>
#include <vector>

namespace sb::test {

// The ../shared folder beside the checkout (override with SPARKBENCH_SHARED), or "" if absent.
std::string shared_dir();
// Path of a file under ../shared; "" when ../shared is absent.
std::string shared_path(const std::string& rel);
// Prints "SKIPPED: <why>" (ctest shows the test as skipped) and returns true when ../shared is
// absent, so a test can `if (skip_without_shared()) return;`.
bool skip_without_shared();
// A fresh empty directory under the build tree, removed at exit.
std::string temp_dir(const std::string& tag);
// A synthetic preset model (f16, seed 0) shared by the tests of one build tree: synthesized on
// first use under <build>/test-models (with a file lock, so parallel tests wait), then reused.
std::string preset_model(const std::string& preset);
// The sparkbench executable under test.
std::string sparkbench_bin();

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
