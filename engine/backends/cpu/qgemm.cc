#include "engine/backends/cpu/qgemm.h"

#include "engine/backends/cpu/qdot.h"
#include "engine/core/error.h"

namespace sb::cpu {
namespace qgemm_avx2 {
const QgemmKernels& kernels();
}
namespace qgemm_avxvnni {
const QgemmKernels& kernels();
}
namespace qgemm_avx512 {
const QgemmKernels& kernels();
}
namespace qgemm_avx512vnni {
const QgemmKernels& kernels();
}

bool qgemm_supported(GgmlType t) {
  switch (t) {
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::IQ4_NL:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

size_t qgemm_act_row_bytes(int64_t k) { return size_t(k / kQK) * (sizeof(Q8A) + 2 * sizeof(int32_t)); }

const QgemmKernels& qgemm_kernels(Isa isa) {
  if (!isa_available(isa) || isa == Isa::None) fail("qgemm_kernels: ISA level ", isa_name(isa), " is not available on this CPU");
  switch (isa) {
    case Isa::AvxVnni:
      return qgemm_avxvnni::kernels();
    case Isa::Avx512:
      return qgemm_avx512::kernels();
    case Isa::Avx512Vnni:
    case Isa::Avx512Bf16:
      return qgemm_avx512vnni::kernels();  // bf16 adds nothing to integer products
    default:
      return qgemm_avx2::kernels();
  }
}

}  // namespace sb::cpu
