#include "engine/backends/cpu/onednn_isa.h"

#include <cstdlib>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>

namespace sb::cpu {
namespace {

dnnl::cpu_isa onednn_cap(Isa isa) {
  switch (isa) {
    case Isa::AvxVnni:
      return dnnl::cpu_isa::avx2_vnni;
    case Isa::Avx512:
      return dnnl::cpu_isa::avx512_core;
    case Isa::Avx512Vnni:
      return dnnl::cpu_isa::avx512_core_vnni;
    case Isa::Avx512Bf16:
      return dnnl::cpu_isa::avx512_core_bf16;
    case Isa::None:
    case Isa::Avx2:
      break;
  }
  return dnnl::cpu_isa::avx2;
}

const char* name_of(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

}  // namespace

const char* onednn_cap_name(Isa isa) { return name_of(onednn_cap(isa)); }

void cap_onednn_isa() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* e = std::getenv("SPARKBENCH_CPU_ISA");
    if (!e || !*e) return;
    (void)dnnl::set_max_cpu_isa(onednn_cap(active_isa()));  // refused once oneDNN has run: see the header
  });
}

const char* onednn_isa_name() { return name_of(dnnl::get_effective_cpu_isa()); }

}  // namespace sb::cpu
