// Run-time switches read from the environment (SPARKBENCH_CPU_QGEMV=0 and the like): one rule
// for what an unset, empty or unknown value means, and one wording for the error.
#pragma once

#include <initializer_list>

namespace sb {

// The index in `values` of environment variable `name`'s value; `def` when it is unset or
// empty. Any other value fails (sb::Error): "NAME must be a, b or c, not 'x'".
int env_choice(const char* name, std::initializer_list<const char*> values, int def);

}  // namespace sb
