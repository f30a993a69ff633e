// bound_openmp_spinning(): call first thing in main() of an executable that uses OpenMP.
//
// OpenMP's default is to spin for a long time (GOMP_SPINCOUNT 300000) in idle worker threads.
// That is ideal on an otherwise idle machine but ruinous when the cores are shared (CI, a
// parallel test run): a spinning worker steals the core the main thread needs, and measured
// prompt throughput on a loaded 2-core machine fell 20x. A bounded spin keeps back-to-back
// parallel regions hot and lets idle workers sleep. libgomp reads its environment when it is
// loaded, so the only way to set it is before exec: this re-executes the program once with
// GOMP_SPINCOUNT=30000. Setting OMP_WAIT_POLICY or GOMP_SPINCOUNT yourself disables it.
#pragma once

#include <unistd.h>

#include <cstdlib>

namespace sb {

inline void bound_openmp_spinning(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || std::getenv("SPARKBENCH_NO_REEXEC")) return;
  ::setenv("GOMP_SPINCOUNT", "30000", 1);
  ::setenv("SPARKBENCH_NO_REEXEC", "1", 1);
  ::execv("/proc/self/exe", argv);
  // exec failed: carry on with the defaults
}

}  // namespace sb
