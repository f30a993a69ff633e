// qgemm_impl.inc built for ISA level avx2 (target flags in engine/CMakeLists.txt).
#define SB_QGEMM_NS qgemm_avx2
#define SB_QGEMM_ISA Isa::Avx2
#include "engine/backends/cpu/qgemm_impl.inc"
