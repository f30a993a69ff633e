// qgemv_impl.inc built for ISA level avx2 (target flags in engine/CMakeLists.txt).
#define SB_QGEMV_NS qgemv_avx2
#define SB_QGEMV_ISA Isa::Avx2
#include "engine/backends/cpu/qgemv_impl.inc"
