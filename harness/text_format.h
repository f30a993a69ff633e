// Small text helpers shared by the harness's commands (printf formatting is sb::text::format,
// common/text.h).
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace sb::cli {

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
