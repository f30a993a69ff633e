// Helpers shared by the chat-template tests (tests/evals, tests/harness).
#pragma once

#include <cstdio>
#include <string>

#include "evals/chat_template.h"
#include "tests/test_support.h"

namespace sb::test {

// A template or message file written for these tests (tests/data/chat/NAME).
inline std::string chat_data(const std::string& name) { return std::string(SPARKBENCH_SOURCE_DIR) + "/tests/data/chat/" + name; }

// True (after printing SKIPPED) when the interpreter ChatTemplate uses cannot import jinja2.
inline bool skip_without_jinja2() {
  const std::string py = ChatTemplate::python_path();
  if (run_process({py, "-I", "-c", "import jinja2"}).exit_code == 0) return false;
  skip(py + " cannot import jinja2 (install python3-jinja2)");
  return true;
}

}  // namespace sb::test
