#include "engine/backends/cpu/qdot.h"

#include "engine/backends/cpu/int_level.h"
#include "engine/core/error.h"

namespace sb::cpu {
namespace qdot_avx2 {
const QdotKernels& kernels();
}
namespace qdot_avxvnni {
const QdotKernels& kernels();
}
namespace qdot_avx512 {
const QdotKernels& kernels();
}
namespace qdot_avx512vnni {
const QdotKernels& kernels();
}

int q8_act_kind(GgmlType t) {
  switch (t) {
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::IQ4_NL:
      return 1;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
    case GgmlType::IQ4_XS:
      return 2;
    default:
      return 0;
  }
}

size_t q8_act_row_bytes(GgmlType t, int64_t k) {
  const int kind = q8_act_kind(t);
  if (kind == 1) return size_t(k / kQK) * sizeof(Q8A);
  if (kind == 2) return size_t(k / kQK_K) * sizeof(Q8KA);
  return 0;
}

const QdotKernels& qdot_kernels(Isa isa) {
  return pick_int_level<QdotKernels>("qdot_kernels", isa,
                                     {&qdot_avx2::kernels, &qdot_avxvnni::kernels, &qdot_avx512::kernels, &qdot_avx512vnni::kernels});
}

}  // namespace sb::cpu
