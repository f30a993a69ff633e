#include "engine/backends/cpu/share.h"

#include <cstdlib>
#include <string>

#include "engine/core/error.h"

namespace sb::cpu {

bool static_split() {
  static const bool on = [] {
    const char* e = std::getenv("SPARKBENCH_CPU_SPLIT");
    if (!e || !*e || std::string(e) == "meet") return false;
    if (std::string(e) == "static") return true;
    fail("SPARKBENCH_CPU_SPLIT must be meet or static, not '", e, "'");
  }();
  return on;
}

}  // namespace sb::cpu
