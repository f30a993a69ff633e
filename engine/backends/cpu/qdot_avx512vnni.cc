// qdot_impl.inc built for ISA level avx512vnni (target flags in engine/CMakeLists.txt).
#define SB_QDOT_NS qdot_avx512vnni
#define SB_QDOT_ISA Isa::Avx512Vnni
#include "engine/backends/cpu/qdot_impl.inc"
