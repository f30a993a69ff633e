#include "engine/backends/cpu/share.h"

#include "engine/core/env.h"

namespace sb::cpu {

bool static_split() {
  static const bool on = env_choice("SPARKBENCH_CPU_SPLIT", {"meet", "static"}, 0) == 1;
  return on;
}

}  // namespace sb::cpu
