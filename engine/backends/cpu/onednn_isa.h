// oneDNN's instruction set, tied to the cpu backend's ISA level (engine/backends/cpu_isa.h).
// Without SPARKBENCH_CPU_ISA oneDNN dispatches to everything the CPU has (AMX included). With it,
// cap_onednn_isa() caps oneDNN at the matching level, so a forced level holds for the whole engine
// and a comparison at a lower level measures that level (oneDNN's f32 / bf16 / int8 matmuls would
// otherwise still run AVX-512 or AMX code on a forced avx2 run):
//   avx2 -> avx2, avxvnni -> avx2_vnni, avx512 -> avx512_core, avx512vnni -> avx512_core_vnni,
//   avx512bf16 -> avx512_core_bf16 (no AMX).
// oneDNN fixes its ISA at its first JIT kernel, so every oneDNN user (the cpu backend, training's
// products) calls cap_onednn_isa() before its first oneDNN call; it acts once per process. Should
// oneDNN already have generated code (a cap is then refused), the cap is skipped, and
// onednn_isa_name() still names what oneDNN really runs: `describe()` reports that.
#pragma once

#include "engine/backends/cpu_isa.h"

namespace sb::cpu {

// The oneDNN ISA name ("avx2", "avx2_vnni", "avx512_core", "avx512_core_vnni", "avx512_core_bf16")
// that level `isa` caps oneDNN at.
const char* onednn_cap_name(Isa isa);
// Caps oneDNN at active_isa()'s level when SPARKBENCH_CPU_ISA is set; once per process.
void cap_onednn_isa();
// The ISA oneDNN dispatches to now, e.g. "avx512_core_amx" (after cap_onednn_isa()).
const char* onednn_isa_name();

}  // namespace sb::cpu
