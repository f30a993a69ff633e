// qdot_impl.inc built for ISA level avx2 (target flags in engine/CMakeLists.txt).
#define SB_QDOT_NS qdot_avx2
#define SB_QDOT_ISA Isa::Avx2
#include "engine/backends/cpu/qdot_impl.inc"
