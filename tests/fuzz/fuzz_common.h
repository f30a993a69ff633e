// Helpers for the libFuzzer targets (tests/fuzz/fuzz_*.cc, built with -DSPARKBENCH_FUZZ=ON and
// clang; run by scripts/fuzz.sh). A target must never crash, hang or leak on any input: bad
// input is an sb::Error, which the targets catch; anything else reaches the sanitizers.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace sb::fuzz {

// Writes `size` bytes to a per-process scratch file ending in `suffix` and returns its path
// (loaders that take a path: JSONL, suites).
inline std::string scratch_file(const uint8_t* data, size_t size, const std::string& suffix) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/sb-fuzz-" + std::to_string(::getpid()) + suffix;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace sb::fuzz
