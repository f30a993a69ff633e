#include "engine/backends/cpu/qgemm.h"

#include "engine/backends/cpu/qdot.h"
#include "engine/backends/cpu/int_level.h"
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
  return pick_int_level<QgemmKernels>("qgemm_kernels", isa,
                                      {&qgemm_avx2::kernels, &qgemm_avxvnni::kernels, &qgemm_avx512::kernels, &qgemm_avx512vnni::kernels});
}

}  // namespace sb::cpu
