// qgemm_impl.inc built for ISA level avxvnni (target flags in engine/CMakeLists.txt).
#define SB_QGEMM_NS qgemm_avxvnni
#define SB_QGEMM_ISA Isa::AvxVnni
#include "engine/backends/cpu/qgemm_impl.inc"
