// qdot_impl.inc built for ISA level avx512 (target flags in engine/CMakeLists.txt).
#define SB_QDOT_NS qdot_avx512
#define SB_QDOT_ISA Isa::Avx512
#include "engine/backends/cpu/qdot_impl.inc"
