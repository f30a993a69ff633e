// hgemv_impl.inc built for ISA level avx2 (target flags in engine/CMakeLists.txt).
#define SB_HGEMV_NS hgemv_avx2
#define SB_HGEMV_ISA Isa::Avx2
#include "engine/backends/cpu/hgemv_impl.inc"
