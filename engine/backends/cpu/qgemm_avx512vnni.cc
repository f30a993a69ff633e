// qgemm_impl.inc built for ISA level avx512vnni (target flags in engine/CMakeLists.txt).
#define SB_QGEMM_NS qgemm_avx512vnni
#define SB_QGEMM_ISA Isa::Avx512Vnni
#include "engine/backends/cpu/qgemm_impl.inc"
