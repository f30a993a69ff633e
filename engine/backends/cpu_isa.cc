#include "engine/backends/cpu_isa.h"

#include <cstdint>
#include <cstdlib>

#include "engine/core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define SB_X86 1
#else
#define SB_X86 0
#endif

namespace sb::cpu {
namespace {

#if SB_X86
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if SB_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  if (!osxsave) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;                 // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
  if (!os_avx) return f;
  f.fma = (c >> 12) & 1;
  f.f16c = (c >> 29) & 1;
  const bool avx = (c >> 28) & 1;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = avx && ((b >> 5) & 1);
  if (os_avx512) {
    f.avx512f = (b >> 16) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.avx512vnni = (c >> 11) & 1;
  }
  __cpuid_count(7, 1, a, b, c, d);
  f.avxvnni = f.avx2 && ((a >> 4) & 1);
  f.avx512bf16 = os_avx512 && ((a >> 5) & 1);
#endif
  return f;
}

constexpr Isa kLevels[] = {Isa::Avx2, Isa::AvxVnni, Isa::Avx512, Isa::Avx512Vnni, Isa::Avx512Bf16};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::None:
      return "none";
    case Isa::Avx2:
      return "avx2";
    case Isa::AvxVnni:
      return "avxvnni";
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx512Vnni:
      return "avx512vnni";
    case Isa::Avx512Bf16:
      return "avx512bf16";
  }
  return "none";
}

bool isa_available(Isa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (isa) {
    case Isa::None:
      return true;
    case Isa::Avx2:
      return avx2;
    case Isa::AvxVnni:
      return avx2 && f.avxvnni;
    case Isa::Avx512:
      return avx512;
    case Isa::Avx512Vnni:
      return avx512 && f.avx512vnni;
    case Isa::Avx512Bf16:
      return avx512 && f.avx512vnni && f.avx512bf16;
  }
  return false;
}

std::vector<Isa> available_isas() {
  std::vector<Isa> v;
  for (Isa l : kLevels)
    if (isa_available(l)) v.push_back(l);
  return v;
}

Isa best_isa() {
  Isa best = Isa::None;
  for (Isa l : kLevels)
    if (isa_available(l)) best = l;
  return best;
}

Isa parse_isa(const std::string& name) {
  for (Isa l : kLevels)
    if (name == isa_name(l)) return l;
  fail("SPARKBENCH_CPU_ISA: unknown level '", name, "' (avx2, avxvnni, avx512, avx512vnni, avx512bf16)");
}

Isa active_isa() {
  static const Isa isa = [] {
    const char* e = std::getenv("SPARKBENCH_CPU_ISA");
    if (!e || !*e) return best_isa();
    const Isa want = parse_isa(e);
    if (!isa_available(want))
      fail("SPARKBENCH_CPU_ISA=", e, ": this CPU lacks it (has: ", cpu_features_string(), "; best level ", isa_name(best_isa()), ")");
    return want;
  }();
  return isa;
}

std::string cpu_features_string() {
  const CpuFeatures& f = cpu_features();
  std::string s;
  auto add = [&](bool on, const char* n) {
    if (on) s += (s.empty() ? "" : " ") + std::string(n);
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  add(f.avx512vnni, "avx512vnni");
  add(f.avxvnni, "avxvnni");
  add(f.avx512bf16, "avx512bf16");
  return s.empty() ? "none" : s;
}

}  // namespace sb::cpu
