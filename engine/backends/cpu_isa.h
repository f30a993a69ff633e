// Run-time x86-64 ISA detection for the cpu backend's kernel dispatch.
// cpu_features() reads cpuid (and xgetbv: the OS must save the AVX / AVX-512 register state)
// once. Levels are ordered; each names the instruction-set extensions its kernels may use:
//   avx2        AVX2 + FMA + F16C (the minimum for the cpu backend)
//   avxvnni     avx2 + AVX-VNNI (vpdpbusd on 256-bit registers, VEX encoded)
//   avx512      avx2 + AVX-512 F/BW/VL/DQ
//   avx512vnni  avx512 + AVX512-VNNI
//   avx512bf16  avx512vnni + AVX512-BF16
// A level is available when the CPU has every extension it names (a CPU can have avx512
// without avxvnni and the other way round). active_isa() is the highest available level, or
// the one SPARKBENCH_CPU_ISA names; naming a level the CPU lacks, or an unknown name, fails with
// one clear line (a level is never raised above what the CPU has).
// Compiled without ISA flags: safe to call on any x86-64 CPU (on others: no level, Isa::None).
#pragma once

#include <string>
#include <vector>

namespace sb::cpu {

enum class Isa : int { None = 0, Avx2, AvxVnni, Avx512, Avx512Vnni, Avx512Bf16 };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avxvnni = false, avx512bf16 = false;
};

const CpuFeatures& cpu_features();
// "avx2", "avxvnni", ... ("none" for Isa::None).
const char* isa_name(Isa isa);
// Whether this CPU (and OS) can run kernels of level `isa`.
bool isa_available(Isa isa);
// Every available level, lowest first.
std::vector<Isa> available_isas();
// The highest available level (Isa::None when not even AVX2).
Isa best_isa();
// best_isa(), or the level named by SPARKBENCH_CPU_ISA (read once; fails when unavailable).
Isa active_isa();
// Parses a level name; fails naming the accepted ones.
Isa parse_isa(const std::string& name);
// e.g. "avx2 fma f16c avx512f avx512bw avx512vl avx512dq avx512vnni avxvnni avx512bf16"
std::string cpu_features_string();

}  // namespace sb::cpu
