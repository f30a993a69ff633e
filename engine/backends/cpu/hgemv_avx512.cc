// hgemv_impl.inc built for ISA level avx512 (target flags in engine/CMakeLists.txt).
#define SB_HGEMV_NS hgemv_avx512
#define SB_HGEMV_ISA Isa::Avx512
#include "engine/backends/cpu/hgemv_impl.inc"
