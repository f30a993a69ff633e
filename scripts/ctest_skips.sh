#!/usr/bin/env bash
# Lists every test of the last ctest run in BUILD_DIR that printed "SKIPPED: <why>", with its
# reason, and every "UNSUPPORTED: <what>" case of tests that ran (tests/test_support.h). ctest's
# own summary names skipped tests without saying why; scripts/test.sh prints this after it.
#   scripts/ctest_skips.sh build
set -euo pipefail
log="${1:-build}/Testing/Temporary/LastTest.log"
if [[ ! -f "$log" ]]; then
  echo "ctest_skips: no $log (run ctest first)" >&2
  exit 2
fi
awk '
  /^[0-9]+\/[0-9]+ Test: / { sub(/^[0-9]+\/[0-9]+ Test: /, ""); name = $0; next }
  /^SKIPPED: / { skips[++ns] = name ": " substr($0, 10); next }
  /^UNSUPPORTED: / { unsup[++nu] = name ": " substr($0, 14); next }
  END {
    printf "skipped tests: %d\n", ns
    for (i = 1; i <= ns; ++i) print "  " skips[i]
    if (nu > 0) {
      printf "unsupported cases in tests that ran: %d\n", nu
      for (i = 1; i <= nu; ++i) print "  " unsup[i]
    }
  }' "$log"
