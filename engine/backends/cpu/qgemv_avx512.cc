// qgemv_impl.inc built for ISA level avx512 (target flags in engine/CMakeLists.txt).
#define SB_QGEMV_NS qgemv_avx512
#define SB_QGEMV_ISA Isa::Avx512
#include "engine/backends/cpu/qgemv_impl.inc"
