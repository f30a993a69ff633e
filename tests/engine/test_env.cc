// sb::env_choice (engine/core/env.h): unset and empty give the default, listed values their
// index, anything else one error naming the variable, the allowed values and the bad value.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "engine/core/env.h"
#include "engine/core/error.h"

TEST_CASE("env_choice: default, listed values, and one error for anything else", "[unit]") {
  const char* name = "SPARKBENCH_TEST_ENV_CHOICE";
  ::unsetenv(name);
  CHECK(sb::env_choice(name, {"a", "b", "c"}, 2) == 2);
  ::setenv(name, "", 1);
  CHECK(sb::env_choice(name, {"a", "b", "c"}, -1) == -1);
  ::setenv(name, "b", 1);
  CHECK(sb::env_choice(name, {"a", "b", "c"}, 0) == 1);
  ::setenv(name, "bb", 1);
  try {
    (void)sb::env_choice(name, {"a", "b", "c"}, 0);
    FAIL("no error for an unlisted value");
  } catch (const sb::Error& e) {
    CHECK(std::string(e.what()) == "SPARKBENCH_TEST_ENV_CHOICE must be a, b or c, not 'bb'");
  }
  try {
    (void)sb::env_choice(name, {"0", "1"}, 1);
    FAIL("no error for an unlisted value");
  } catch (const sb::Error& e) {
    CHECK(std::string(e.what()) == "SPARKBENCH_TEST_ENV_CHOICE must be 0 or 1, not 'bb'");
  }
  ::unsetenv(name);
}
