// Small text-formatting helpers shared by the harness's commands.
#pragma once

#include <cstdio>
#include <string>

namespace sb::cli {

// One double through a printf format with a single conversion ("%.3f", "%.2f%%", ...); the
// result is cut at 63 bytes.
inline std::string format_double(const char* printf_format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, printf_format, v);
  return buf;
}

}  // namespace sb::cli
