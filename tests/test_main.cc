// Catch2 runner. SIGPIPE is ignored so a child that exits early cannot kill the test process.
//
// Test states (tests/test_support.h): a test case that called test::skip() and checked nothing
// is a skip; when every case that ran was one, the process exits with test::kSkipExitCode, which
// ctest (SKIP_RETURN_CODE) counts as skipped. A case that called skip() and also checked
// something is a failure: a skip must come before any check and end the test.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdint>
#include <iostream>

#include "tests/test_support.h"

namespace {

struct SkipCounts {
  int64_t skipped = 0, ran = 0, bad = 0;
};
SkipCounts g_counts;

class SkipListener : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    TestEventListenerBase::testCaseStarting(info);
    sb::test::reset_skip();
    checked_ = 0;
  }
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    ++checked_;
    return TestEventListenerBase::assertionEnded(stats);
  }
  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    TestEventListenerBase::testCaseEnded(stats);
    if (!sb::test::skip_called()) {
      ++g_counts.ran;
    } else if (checked_ == 0) {
      ++g_counts.skipped;
    } else {
      ++g_counts.bad;
      std::cout << "error: test case '" << stats.testInfo.name << "' printed SKIPPED but checked " << checked_
                << " assertion(s): skip before checking anything, or report the case as UNSUPPORTED\n";
    }
  }

 private:
  int64_t checked_ = 0;
};

}  // namespace

CATCH_REGISTER_LISTENER(SkipListener)

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  int rc = Catch::Session().run(argc, argv);
  if (rc == 0 && g_counts.bad > 0) rc = 1;
  if (rc == 0 && g_counts.skipped > 0 && g_counts.ran == 0) rc = sb::test::kSkipExitCode;
  return rc;
}
