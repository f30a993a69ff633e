// What this binary was built from, for the provenance of stored results (`--version`, `bench`,
// `sparkbench-kernels`, every run's tool_version). Generated at build time
// (cmake/WriteBuildInfo.cmake), so it follows commits without re-running cmake.
#pragma once

namespace sb {

// The checkout's commit when the binary was built: 12 hex digits, "-dirty" appended when tracked
// files differed from it; "unknown" outside a git checkout.
const char* build_commit();

}  // namespace sb
