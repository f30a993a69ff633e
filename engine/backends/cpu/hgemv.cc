#include "engine/backends/cpu/hgemv.h"

#include "engine/core/error.h"

namespace sb::cpu {
namespace hgemv_avx2 {
const HgemvKernels& kernels();
}
namespace hgemv_avx512 {
const HgemvKernels& kernels();
}

const HgemvKernels& hgemv_kernels(Isa isa) {
  if (!isa_available(isa) || isa == Isa::None) fail("hgemv_kernels: ISA level ", isa_name(isa), " is not available on this CPU");
  switch (isa) {
    case Isa::Avx512:
    case Isa::Avx512Vnni:
    case Isa::Avx512Bf16:
      return hgemv_avx512::kernels();
    default:
      return hgemv_avx2::kernels();
  }
}

}  // namespace sb::cpu
