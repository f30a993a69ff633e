// JSONL reading: a number too large for a double (nlohmann's out_of_range, not a parse_error)
// is one clear error naming the file and line, not an uncaught exception (found by fuzz-jsonl;
// regression input tests/fuzz/regressions/jsonl/number-out-of-range).
#include <catch2/catch.hpp>

#include <fstream>

#include "engine/core/error.h"
#include "evals/jsonl.h"
#include "tests/test_support.h"

TEST_CASE("jsonl: a number too large for a double is one error naming file and line", "[jsonl][unit]") {
  const std::string dir = sb::test::temp_dir("jsonl-range");
  const std::string path = dir + "/big.jsonl";
  {
    std::ofstream f(path);
    f << "{\"a\": 1}\n{\"a\": 1e999}\n";
  }
  try {
    (void)sb::read_jsonl(path);
    FAIL("no error for 1e999");
  } catch (const sb::Error& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK(m.find(path + ":2:") != std::string::npos);
    CHECK(m.find('\n') == std::string::npos);
  }
}
