// Runs hidden test cases of this binary once per ISA level the CPU has, each in a child process
// with SPARKBENCH_CPU_ISA=<level> (the level, and oneDNN's cap, are fixed once per process).
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "engine/backends/cpu_isa.h"
#include "tests/test_support.h"

namespace sb::test {

// Every case tagged `tag` (e.g. "[cpu_fused_isa]") at every available level; each child must pass.
inline void run_tag_at_every_level(const std::string& tag) {
  const std::string self = self_exe();
  for (cpu::Isa isa : cpu::available_isas()) {
    INFO("SPARKBENCH_CPU_ISA=" << cpu::isa_name(isa));
    const auto r = run_process({"env", std::string("SPARKBENCH_CPU_ISA=") + cpu::isa_name(isa), self, tag});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("All tests passed") != std::string::npos);
  }
}

}  // namespace sb::test
