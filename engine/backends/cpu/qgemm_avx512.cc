// qgemm_impl.inc built for ISA level avx512 (target flags in engine/CMakeLists.txt).
#define SB_QGEMM_NS qgemm_avx512
#define SB_QGEMM_ISA Isa::Avx512
#include "engine/backends/cpu/qgemm_impl.inc"
