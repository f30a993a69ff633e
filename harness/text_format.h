// Small text helpers shared by the harness's commands.
#pragma once

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace sb::cli {

// One double through a printf format with a single conversion ("%.3f", "%.2f%%", ...); the
// result is cut at 63 bytes.
inline std::string format_double(const char* printf_format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, printf_format, v);
  return buf;
}

// Option values that may each hold a comma-separated list ("-p 128,512 -p 1024"), flattened in
// order; empty items are dropped.
inline std::vector<std::string> split_commas(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in) {
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace sb::cli
