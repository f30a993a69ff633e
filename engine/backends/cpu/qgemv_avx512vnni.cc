// qgemv_impl.inc built for ISA level avx512vnni (target flags in engine/CMakeLists.txt).
#define SB_QGEMV_NS qgemv_avx512vnni
#define SB_QGEMV_ISA Isa::Avx512Vnni
#include "engine/backends/cpu/qgemv_impl.inc"
